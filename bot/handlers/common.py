"""What every handler shares: the typed context, the reader's language, replies that stay
in the same thread, and command registration that ignores edited messages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Message, ReplyParameters, Update, User
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import CallbackContext, CommandHandler, ExtBot, filters

from bot.config import Settings
from bot.store import Store
from bot.texts import pick_language

logger = logging.getLogger(__name__)

# Telegram's helper accounts: messages "sent on behalf of" a group (anonymous admins) or a
# channel come from these users; they are not readers.
GROUP_ANONYMOUS_BOT = 1087968824
CHANNEL_BOT = 136817688


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """CallbackContext with typed access to the store, the settings and the reader's language."""

    @property
    def store(self) -> Store:
        """The open SQLite store (opened in post_init)."""
        store: Store = self.bot_data["store"]
        return store

    @property
    def settings(self) -> Settings:
        """The settings the application was built with."""
        settings: Settings = self.bot_data["settings"]
        return settings

    @property
    def lang(self) -> str:
        """The reader's language ("ru" or "en"); DEFAULT_LANGUAGE for updates without one."""
        if self.user_data is not None and "lang" in self.user_data:
            return str(self.user_data["lang"])
        return self.settings.default_language


Callback = Callable[[Update, BotContext], Coroutine[Any, Any, Any]]


def command(names: str | list[str], callback: Callback, **kwargs: Any) -> CommandHandler[Any, Any]:
    """A CommandHandler for new messages only: an edited message never re-runs a command.

    PTB already ignores `/cmd@OtherBot` (it compares with the username from getMe).
    """
    return CommandHandler(names, callback, filters=filters.UpdateType.MESSAGE, **kwargs)


def is_reader(user: User | None) -> bool:
    """True for a real person: not a bot and not Telegram's anonymous-admin/channel helper."""
    return (
        user is not None and not user.is_bot and user.id not in (GROUP_ANONYMOUS_BOT, CHANNEL_BOT)
    )


async def remember_reader(update: Update, context: BotContext) -> None:
    """Runs first for every update: keep the reader's row current and cache their language.

    Writes only when something changed (compared with the cached signature, then with the
    stored row), so a busy chat costs no write per message.
    """
    user = update.effective_user
    if not is_reader(user) or context.user_data is None:
        return
    assert user is not None
    signature = (user.username, user.first_name, user.language_code)
    private = in_private(update)
    data = context.user_data
    if data.get("signature") == signature and (data.get("started") or not private):
        return
    reader = await context.store.users.get(user.id)  # e.g. after a restart: often unchanged
    if (
        reader is None
        or (reader.username, reader.first_name, reader.tg_language) != signature
        or (private and (not reader.started or reader.blocked))
    ):
        reader = await context.store.users.touch(
            user.id,
            username=user.username,
            first_name=user.first_name,
            tg_language=user.language_code,
            started=private,
        )
    data.update(signature=signature, started=bool(reader.started))
    context.user_data["lang"] = reader.language or pick_language(
        user.language_code, context.settings.default_language
    )


def in_private(update: Update) -> bool:
    """True when the update comes from a private chat."""
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


async def reply(message: Message, text: str, **kwargs: Any) -> Message:
    """Answer `message` in its chat and thread.

    Forum topics keep their thread through message_thread_id (PTB adds it); a comment thread
    of a channel post is a chain of replies, so there the answer must quote the message.
    """
    if message.message_thread_id and not message.is_topic_message:
        kwargs.setdefault(
            "reply_parameters",
            ReplyParameters(message.message_id, allow_sending_without_reply=True),
        )
    return await message.reply_text(text, **kwargs)


async def edit(message: Message, text: str, **kwargs: Any) -> None:
    """Edit a bot message in place. Telegram refuses an edit that changes nothing ("message
    is not modified", e.g. a second tap on the button already shown): that is not an error."""
    try:
        await message.edit_text(text, **kwargs)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise
