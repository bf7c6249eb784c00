"""The one global error handler: one log line for Telegram's expected conditions, a
traceback only for our own bugs, at most one apology per update, and never a re-raise."""

from __future__ import annotations

import logging
import sqlite3

from telegram import Message, Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot import telegram_policy as policy
from bot.handlers.alerts import report_error
from bot.handlers.common import AfterStore, BotContext, in_private, is_reader, reply
from bot.texts import t

logger = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure, tell the reader once, and stop the update's remaining handler groups.

    Expected Telegram conditions (network failures after retries, Forbidden, refusals that
    depend on what readers did) are one INFO/WARNING line naming the Bot API method and the
    reason; anything else is our bug and is logged at ERROR with its traceback. A Forbidden
    answer in a private chat means the reader blocked the bot: that is recorded (no more
    messages are attempted to them) and nothing is sent. When the reader's data was stored
    and only the confirmation failed (AfterStore), the apology says it was recorded.
    """
    error: BaseException | None = context.error
    apology = "error.generic"
    if isinstance(error, AfterStore):
        apology, error = error.apology, error.__cause__ or error
    update_id = getattr(update, "update_id", "-")
    if isinstance(error, Forbidden):
        policy.count("forbidden")
        logger.info(
            "Update %s: %s refused: %s", update_id, policy.failed_method(), policy.reason(error)
        )
        if isinstance(update, Update) and in_private(update) and is_reader(update.effective_user):
            assert update.effective_user
            await context.store.users.set_blocked(update.effective_user.id)
            if context.user_data is not None:
                context.user_data.started = False
        _stop(update)
    if error is not None and policy.is_expected(error):
        logger.warning(
            "Update %s: %s failed: %s", update_id, policy.failed_method(), policy.reason(error)
        )
    elif isinstance(error, sqlite3.OperationalError):  # disk full, lock timeout: not a bug
        logger.error("Update %s: the database refused: %s", update_id, error)
    else:
        logger.error("Update %s failed", update_id, exc_info=error)
        await report_error(update, context)
    if isinstance(update, Update):
        await _apologise(update, context, apology)
    _stop(update)


def _stop(update: object) -> None:
    """One failure, one apology: the update's remaining handler groups do not run."""
    if isinstance(update, Update):
        raise ApplicationHandlerStop


async def _apologise(update: Update, context: BotContext, key: str) -> None:
    """The apology in the reader's language: an alert for a button not yet answered, else a
    message in the chat (private chats only for buttons, where nobody else reads it)."""
    lang = context.lang
    query = update.callback_query
    try:
        if query is not None and not policy.answered(query.id):
            await query.answer(t(lang, f"{key}_short"), show_alert=True)
        elif query is not None:
            if isinstance(query.message, Message) and in_private(update):
                await query.message.reply_text(t(lang, key))
        elif update.effective_message and update.effective_chat:
            await reply(update.effective_message, t(lang, key))
    except TelegramError as exc:
        logger.info("Could not tell the reader about the failure: %s", policy.reason(exc))
