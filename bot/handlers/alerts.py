"""Short reports of unexpected errors to the operators' chat (ADMIN_ALERT_CHAT_ID).

A report names the exception type, the place in the bot's code and the kind of update; never
the exception's text, the update's content or who sent it (those may hold a secret or a
reader's identity): the details are in the log. At most one report per ALERT_INTERVAL_SECONDS;
errors in between are counted and summed up in one follow-up report when the interval ends.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.error import TelegramError

from bot.handlers.common import BotContext
from bot.texts import t_plain

logger = logging.getLogger(__name__)

ALERT_INTERVAL_SECONDS = 600.0
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the `bot` package
FLUSH_JOB = "alerts:flush"
UPDATE_KINDS = (
    "message",
    "edited_message",
    "callback_query",
    "inline_query",
    "chosen_inline_result",
    "channel_post",
    "edited_channel_post",
    "my_chat_member",
    "chat_member",
)


@dataclass
class AlertState:
    """Per application: when the last report went out (monotonic seconds) and how many
    errors happened since without a report."""

    last_sent: float | None = None
    pending: int = 0


def where(error: BaseException) -> str:
    """The innermost frame of the bot's own code in `error`'s traceback, as
    "bot/handlers/forecast.py:120 (forecast_command)"; the innermost frame of all (file name
    only) when none is ours; "unknown place" without a traceback."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if Path(f.filename).is_relative_to(PACKAGE_DIR)]
    if ours:
        frame = ours[-1]
        name = Path(frame.filename).relative_to(PACKAGE_DIR.parent).as_posix()
    elif frames:
        frame = frames[-1]
        name = Path(frame.filename).name
    else:
        return "unknown place"
    return f"{name}:{frame.lineno} ({frame.name})"


def update_kind(update: object) -> str:
    """The Bot API name of what failed: "message", "callback_query", ..., or "job" for a
    job or background task."""
    if isinstance(update, Update):
        return next((kind for kind in UPDATE_KINDS if getattr(update, kind, None)), "update")
    return "job"


async def report_error(update: object, context: BotContext) -> None:
    """Send a short report of `context.error` to ADMIN_ALERT_CHAT_ID (when set), or count it
    for the follow-up report when one was sent less than ALERT_INTERVAL_SECONDS ago."""
    chat_id = context.settings.admin_alert_chat_id
    if chat_id is None or context.error is None:
        return
    state = alert_state(context)
    now = time.monotonic()
    if state.last_sent is not None and now - state.last_sent < ALERT_INTERVAL_SECONDS:
        state.pending += 1
        job_queue: Any = context.job_queue
        if job_queue is not None and not job_queue.get_jobs_by_name(FLUSH_JOB):
            delay = state.last_sent + ALERT_INTERVAL_SECONDS - now
            job_queue.run_once(flush_job, when=delay, name=FLUSH_JOB)
        return
    state.last_sent = now
    text = t_plain(
        context.settings.default_language,
        "alert.error",
        error=type(context.error).__name__,
        where=where(context.error),
        kind=update_kind(update),
    )
    await _send(context, chat_id, text)


def alert_state(context: BotContext) -> AlertState:
    """The application's AlertState."""
    data = context.bot_data
    if data.error_alerts is None:
        data.error_alerts = AlertState()
    return data.error_alerts


async def flush_job(context: BotContext) -> None:
    """End of an interval: one report with the number of errors not reported yet."""
    state = alert_state(context)
    chat_id = context.settings.admin_alert_chat_id
    if not state.pending or chat_id is None:
        return
    count, state.pending, state.last_sent = state.pending, 0, time.monotonic()
    text = t_plain(context.settings.default_language, "alert.more", count=count)
    await _send(context, chat_id, text)


async def _send(context: BotContext, chat_id: int, text: str) -> None:
    try:
        await context.bot.send_message(chat_id, text, parse_mode=None)
    except TelegramError as exc:
        logger.warning("Could not send the error report to ADMIN_ALERT_CHAT_ID: %s", exc)
