"""The domain step every way of forecasting ends in: `record_forecast`.

A reader's forecast arrives typed (`/forecast 70`, an answered exact-% prompt, a private
message with one percentage), as a one-tap button, or confirmed from a comment in a channel
post's discussion thread; each handler checks what only it can check (closed question,
anonymous sender, revision limit) and then calls `record_forecast` once.
"""

from __future__ import annotations

from bot.domain import Forecast
from bot.services.notify import ServiceContext, question_changed


async def record_forecast(
    context: ServiceContext,
    question_id: int,
    user_id: int,
    chat_id: int | None,
    probability: int,
    *,
    language: str,
    reason: str | None = None,
    make_current: bool = False,
) -> tuple[Forecast, Forecast | None]:
    """Store `probability` (whole percent, 1..99) as the reader's forecast on the question,
    forget the prompt the bot was waiting on from this reader in `chat_id` (None: no chat;
    in the same transaction; with `make_current` the question also becomes the reader's
    current one there), and notify through `services.notify.question_changed` (the
    channel post's tally follows).

    `reason=None` keeps the reason of the standing forecast (see ForecastsRepo.set).
    Returns (new, previous-or-None) as stored. Raises ValueError for a probability outside
    1..99 (nothing is stored then), aiosqlite.IntegrityError for an unknown reader or
    question.
    """
    store = context.store
    new, old = await store.forecasts.set(
        question_id, user_id, probability, language=language, reason=reason,
        clear_pending_in=chat_id, make_current=make_current,
    )  # fmt: skip
    await question_changed(context, question_id)
    return new, old
