"""The bot's membership: removed from or added to a chat, blocked or unblocked by a reader,
and a group upgraded to a supergroup (its data moves to the new chat id). Logged and
stored; nothing is sent."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import Application

from bot.handlers.common import BotContext

logger = logging.getLogger(__name__)


async def on_my_chat_member(update: Update, context: BotContext) -> None:
    """The bot's status changed: a reader blocked or restarted it (private chat), or it was
    added to or removed from a group or channel. Logged and stored; nothing is sent."""
    change = update.my_chat_member
    if change is None:
        return
    chat, status = change.chat, change.new_chat_member.status
    store = context.store
    if chat.type == ChatType.PRIVATE:
        user = change.from_user
        if status == ChatMemberStatus.BANNED:
            logger.info("A reader blocked the bot")
            await store.users.set_blocked(user.id)
            if context.user_data is not None:
                context.user_data.started = False
        elif status == ChatMemberStatus.MEMBER:
            await store.users.touch(
                user.id,
                username=user.username,
                first_name=user.first_name,
                tg_language=user.language_code,
                started=True,
            )
            if context.user_data is not None:
                context.user_data.started = True
        return
    if status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
        logger.warning("Bot removed from %s %s (%s)", chat.type, chat.id, status)
    else:
        logger.info("Bot is %s in %s %s", status, chat.type, chat.id)
    await store.channel.set_chat_status(chat.id, chat.type, status)


async def on_migrate(update: Update, context: BotContext) -> None:
    """A group became a supergroup: keep its data under the new chat id."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old, new = message.chat_id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat_id
    else:
        return
    logger.info("Group %s migrated to supergroup %s", old, new)
    await migrate_chat(context.application, old, new)


async def migrate_chat(app: Application[Any, Any, Any, Any, Any, Any], old: int, new: int) -> None:
    """Move what the bot keeps about group `old` (store rows, chat_data) to supergroup `new`.

    Idempotent: the migration update and a send answered with ChatMigrated both call it.
    """
    await app.bot_data.store.channel.migrate_chat(old, new)
    if old in app.chat_data and new not in app.chat_data:
        app.migrate_chat_data(old_chat_id=old, new_chat_id=new)
