"""The one global error handler: log with the traceback, apologise, never re-raise."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.handlers.alerts import report_error
from bot.handlers.common import BotContext, in_private, is_reader, reply
from bot.texts import t

logger = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure with its traceback and tell the reader, in their language.

    A Forbidden answer in a private chat means the reader blocked the bot: that is recorded
    (no more messages are attempted to them) and nothing is sent.
    """
    if isinstance(context.error, Forbidden):
        logger.warning("Telegram refused a message: %s", context.error)
        if isinstance(update, Update) and in_private(update) and is_reader(update.effective_user):
            assert update.effective_user
            await context.store.users.set_blocked(update.effective_user.id)
            if context.user_data is not None:
                context.user_data.pop("started", None)
        return
    logger.error("Update %s failed", getattr(update, "update_id", "-"), exc_info=context.error)
    await report_error(update, context)
    if not isinstance(update, Update):
        return
    lang = context.lang
    try:
        if update.callback_query:
            await update.callback_query.answer(t(lang, "error.generic_short"), show_alert=True)
        elif update.effective_message and update.effective_chat:
            await reply(update.effective_message, t(lang, "error.generic"))
    except TelegramError:
        logger.warning("Could not tell the reader about the failure", exc_info=True)
