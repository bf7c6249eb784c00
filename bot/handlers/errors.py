"""The one global error handler: log with the traceback, apologise, never re-raise."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.handlers.common import BotContext
from bot.texts import t

logger = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure with its traceback and tell the reader, in their language."""
    logger.error("Update %s failed", getattr(update, "update_id", "-"), exc_info=context.error)
    if not isinstance(update, Update) or isinstance(context.error, Forbidden):
        return
    lang = context.lang
    try:
        if update.callback_query:
            await update.callback_query.answer(t(lang, "error.generic_short"), show_alert=True)
        elif update.effective_message and update.effective_chat:
            await update.effective_message.reply_text(t(lang, "error.generic"))
    except TelegramError:
        logger.warning("Could not tell the reader about the failure", exc_info=True)
