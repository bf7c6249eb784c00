"""What every handler shares: the typed context, the reader's language, replies that stay
in the same thread, and command registration that ignores edited messages."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from telegram import Message, ReplyParameters, Update, User
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import CallbackContext, CallbackQueryHandler, CommandHandler, ExtBot, filters

from bot import telegram_policy as policy
from bot.config import Settings
from bot.domain import Question
from bot.services.notify import Listener
from bot.services.results import ChartCache, ResultsCache
from bot.store import Store
from bot.store.users import SERVICE_ACCOUNTS, Identity
from bot.texts import pick_language, t
from bot.texts.callbacks import BadCallbackData, CallbackData

if TYPE_CHECKING:
    from telegram.request import BaseRequest

    from bot.handlers.alerts import AlertState
    from bot.handlers.channel import TallyState

logger = logging.getLogger(__name__)

# Telegram's helper accounts: messages "sent on behalf of" a group (anonymous admins) or a
# channel come from these users; they are not readers.
GROUP_ANONYMOUS_BOT = 1087968824
CHANNEL_BOT = 136817688

# readers whose user_data stays in memory; a reader beyond them is read again from the store
# at their next update (user_data only caches the stored row)
READER_CACHE_SIZE = 10_000


@dataclass(eq=False)
class BotData:
    """The application's state (`context.bot_data`, `app.bot_data`), one named field each.

    bot.app.build_app sets the settings and wires the routes and listeners; post_init opens
    the store (and replaces the settings with the stored secrets filled in). The caches and
    pacing states are created by their handlers on first use. Nothing here is persisted.
    """

    _settings: Settings | None = None
    _store: Store | None = None
    # wiring (bot.app): the comment-thread handler for group texts that answer no prompt,
    # the listeners of bot.services.notify.question_changed, the greeting's buttons
    # ("go:<target>") and the /start deep-link payloads ("<action>[_<arg>]")
    thread_reply: Callback | None = None
    forecast_listeners: list[Listener] = field(default_factory=list)
    go_routes: dict[str, Callback] = field(default_factory=dict)
    deep_links: dict[str, DeepLink] = field(default_factory=dict)
    # HTTP transports the application owns (closed by bot.runner on the way out)
    transports: tuple[BaseRequest, ...] = ()
    # caches and in-memory states, created on first use by their handlers
    results_cache: ResultsCache | None = None
    chart_cache: ChartCache | None = None
    dataset_cards: dict[tuple[str, str], tuple[tuple[int, int], asyncio.Future[str]]] = field(
        default_factory=dict
    )  # (card, language) -> (data revision, the text once composed)
    revision_read: asyncio.Future[tuple[int, int]] | None = (
        None  # the data revision read under way
    )
    channel_tally: TallyState | None = None
    error_alerts: AlertState | None = None
    notify_tasks: set[asyncio.Task[Any]] = field(default_factory=set)  # score notifications
    # the readers whose user_data (a cache of their stored row) is kept, least recent first
    recent_readers: OrderedDict[int, None] = field(default_factory=OrderedDict)

    @property
    def settings(self) -> Settings:
        """The settings; RuntimeError before build_app has set them."""
        if self._settings is None:
            raise RuntimeError("settings are not set (build the application with build_app)")
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value

    @property
    def store(self) -> Store:
        """The open SQLite store; RuntimeError before post_init has opened it."""
        if self._store is None:
            raise RuntimeError("the store is not open yet (it opens in post_init)")
        return self._store

    @store.setter
    def store(self, value: Store | None) -> None:
        self._store = value

    @property
    def open_store(self) -> Store | None:
        """The store when it is open, else None (for shutdown and health checks)."""
        return self._store


@dataclass
class ReaderData:
    """What is kept in memory about one reader (PTB's `user_data`, typed): a cache of their
    stored row. `signature` is (username, first name, language code) as last written;
    `started` whether they have a private chat with the bot; `lang` the language replies
    use ("ru" or "en"; None until known)."""

    lang: str | None = None
    signature: tuple[str | None, str | None, str | None] | None = None
    started: bool = False

    def forget(self) -> None:
        """Drop everything cached (the reader deleted their data)."""
        self.lang, self.signature, self.started = None, None, False


class BotContext(CallbackContext[ExtBot[None], ReaderData, dict[Any, Any], BotData]):
    """CallbackContext with typed access to the store, the settings and the reader's language."""

    @property
    def store(self) -> Store:
        """The open SQLite store (opened in post_init)."""
        return self.bot_data.store

    @property
    def settings(self) -> Settings:
        """The settings the application was built with."""
        return self.bot_data.settings

    @property
    def lang(self) -> str:
        """The reader's language ("ru" or "en"); DEFAULT_LANGUAGE for updates without one."""
        if self.user_data is not None and self.user_data.lang is not None:
            return self.user_data.lang
        return self.settings.default_language


Callback = Callable[[Update, BotContext], Coroutine[Any, Any, Any]]
DeepLink = Callable[[Update, BotContext, str | None], Awaitable[None]]  # (update, context, arg)


def command(names: str | list[str], callback: Callback, **kwargs: Any) -> CommandHandler[Any, Any]:
    """A CommandHandler for new messages only: an edited message never re-runs a command.

    PTB already ignores `/cmd@OtherBot` (it compares with the username from getMe).
    """
    return CommandHandler(names, callback, filters=filters.UpdateType.MESSAGE, **kwargs)


def button(callback: Callback, kind: type[CallbackData]) -> CallbackQueryHandler[Any, Any]:
    """A CallbackQueryHandler for the buttons of `kind` (callback data with its prefix); the
    callback reads the data with `kind.parse`."""
    return CallbackQueryHandler(callback, pattern=kind.pattern)


def is_reader(user: User | None) -> bool:
    """True for a real person: not a bot and not one of Telegram's service accounts
    (auto-forwards, anonymous admins, channels writing in groups)."""
    return user is not None and not user.is_bot and user.id not in SERVICE_ACCOUNTS


async def remember_reader(update: Update, context: BotContext) -> None:
    """Runs first for every update: keep the reader's row current and cache their language.

    Writes only when something changed (compared with the cached signature, then with the
    stored row), so a busy chat costs no write per message; the readers of concurrent
    updates are read and written together (UsersRepo.sync). The cache (user_data) is kept
    for the READER_CACHE_SIZE most recent readers only, so memory stays bounded however
    many readers come.
    """
    user = update.effective_user
    if not is_reader(user) or context.user_data is None:
        return
    assert user is not None
    recent = context.bot_data.recent_readers
    recent[user.id] = None
    recent.move_to_end(user.id)
    while len(recent) > READER_CACHE_SIZE:
        context.application.drop_user_data(recent.popitem(last=False)[0])
    signature = (user.username, user.first_name, user.language_code)
    private = in_private(update)
    data = context.user_data
    if data.signature == signature and (data.started or not private):
        return
    # one shared read (and a shared write only for readers who changed) per burst of updates
    reader = await context.store.users.sync(Identity(user.id, *signature, started=private))
    data.signature, data.started = signature, bool(reader.started)
    data.lang = reader.language or pick_language(
        user.language_code, context.settings.default_language
    )


def in_private(update: Update) -> bool:
    """True when the update comes from a private chat."""
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


async def reply(message: Message, text: str, **kwargs: Any) -> None:
    """Answer `message` in its chat and thread, as `reply_message` does, for a caller that
    does not need the sent message (none is built from Telegram's answer: see
    telegram_policy.result_unused)."""
    with policy.result_unused():
        await reply_message(message, text, **kwargs)


async def reply_message(message: Message, text: str, **kwargs: Any) -> Message:
    """Answer `message` in its chat and thread; returns the sent message.

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
    """Edit a bot message in place.

    Telegram refuses an edit that changes nothing ("message is not modified", e.g. a second
    tap on the button already shown): that is not an error. When the message is gone or too
    old to edit, the text is sent as a fresh message in the same chat and thread. No message
    is built from Telegram's answer (telegram_policy.result_unused).
    """
    with policy.result_unused():
        await _edit(message, text, **kwargs)


async def _edit(message: Message, text: str, **kwargs: Any) -> None:
    try:
        await message.edit_text(text, **kwargs)
    except BadRequest as exc:
        lowered = exc.message.lower()
        if "not modified" in lowered:
            return
        if "message to edit not found" not in lowered and "can't be edited" not in lowered:
            raise
        policy.count("edit_target_missing")
        logger.info("editMessageText: %s; sending a new message", exc.message)
        thread = message.message_thread_id if message.is_topic_message else None
        await message.chat.send_message(text, message_thread_id=thread, **kwargs)


class AfterStore(Exception):
    """Telling the reader failed after their data was stored; `apology` is the catalog key
    of the truthful apology (with a `<key>_short` variant for alerts). The Telegram error is
    the __cause__."""

    def __init__(self, apology: str) -> None:
        super().__init__(apology)
        self.apology = apology


@asynccontextmanager
async def confirming(apology: str = "error.recorded") -> AsyncIterator[None]:
    """Wrap the confirmation sent after a write: a Telegram failure inside becomes
    AfterStore(apology), so the error handler says the data was kept instead of "try again"."""
    try:
        yield
    except TelegramError as exc:
        raise AfterStore(apology) from exc


class QuestionButton(Protocol):
    """Callback data that names a question by id (a class of bot/texts/callbacks.py)."""

    @property
    def question_id(self) -> int:
        """The id of the question the button is about."""
        ...

    @classmethod
    def parse(cls, data: str | None) -> Self:
        """The typed data; raises BadCallbackData for anything else."""
        ...


Pressed = TypeVar("Pressed", bound=QuestionButton)


async def pressed_question(
    update: Update, context: BotContext, kind: type[Pressed]
) -> tuple[Question, Pressed] | None:
    """The question a pressed button of `kind` names, and the button's parsed data. Stale or
    forged data (not of `kind`, or a question that no longer exists) gets the stale-button
    alert, and None is returned."""
    query = update.callback_query
    assert query
    try:
        data = kind.parse(query.data)
        question = await context.store.questions.get(data.question_id)
        if question is None:
            raise BadCallbackData(str(data.question_id))
    except BadCallbackData:
        await query.answer(t(context.lang, "error.stale_button"), show_alert=True)
        return None
    return question, data
