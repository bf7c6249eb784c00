"""The one notification point for writes that change what readers see of a question.

Every such write — a forecast, a withdrawal, a reader's deletion, close, reopen, resolve,
annul, a criteria edit — calls `question_changed` afterwards. Listeners registered in
`bot_data.forecast_listeners` (the channel post's tally and text) follow; the results
cache and charts follow the question's `version`, which those writes increase.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from bot.store import Store

Listener = Callable[[Any, int], Awaitable[None]]


class ServiceContext(Protocol):
    """What the services that write need of the callback context: the open store and the
    application state the notification listeners are registered in."""

    @property
    def store(self) -> Store:
        """The open store."""
        ...

    @property
    def bot_data(self) -> Any:
        """The application state (`forecast_listeners`, see services.notify)."""
        ...


async def question_changed(context: Any, question_id: int) -> None:
    """Tell every listener that question `question_id` changed (listeners get the callback
    context and the id)."""
    listeners: Iterable[Listener] = context.bot_data.forecast_listeners
    for listener in listeners:
        await listener(context, question_id)


async def questions_changed(context: Any, question_ids: Iterable[int]) -> None:
    """`question_changed` for each id (e.g. after a reader's data was deleted)."""
    for question_id in question_ids:
        await question_changed(context, question_id)
