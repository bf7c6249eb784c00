"""build_application: the one place where every handler, job and the error handler is wired."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot import metrics
from bot.config import Settings
from bot.handlers import (
    admin,
    channel,
    criteria,
    export,
    forecast,
    inline,
    membership,
    moderation,
    newquestion,
    privacy,
    questions,
    resolution,
    results,
    start,
    stats,
    stats_admin,
    thread,
)
from bot.handlers.common import BotContext, BotData, ReaderData, button, command, remember_reader
from bot.handlers.errors import on_error
from bot.pipeline import (
    ChatFloodRateLimiter,
    ChatOrderedProcessor,
    InboxBot,
    LeanApplication,
    UpdateQueue,
)
from bot.services.dataset import DEFAULT_DATASET, load_dataset
from bot.store import Store
from bot.store.secrets import EXPORT_SALT
from bot.telegram_policy import PolicyRequest
from bot.texts import LANGUAGES, set_display_timezone, t
from bot.texts.callbacks import (
    ConfirmOffer,
    DeleteMe,
    ExactPrompt,
    ForecastPreset,
    GreetingChoice,
    LanguageChoice,
    NamingConsent,
    NewQuestionStep,
    OpenCard,
    QuestionAction,
    ReasonPrompt,
    ResolveConfirm,
    ShowResults,
    StatsCard,
    WithdrawConfirm,
)

logger = logging.getLogger(__name__)

# handled updates kept in the inbox (so a late redelivery is still recognised)
INBOX_KEEP_AGE = timedelta(days=1)
INBOX_KEEP_ROWS = 10_000
INBOX_PRUNE_SECONDS = 3600

# Without a token (console, tests) the emulator answers; PTB still wants a well-formed one.
EMULATOR_TOKEN = "1:EMULATOR"  # noqa: S105 - a placeholder, not a secret

# the command menus (setMyCommands); descriptions are the catalogs' cmd.<name> messages
PRIVATE_COMMANDS = (
    "start",
    "questions",
    "forecast",
    "results",
    "myforecast",
    "withdraw",
    "stats",
    "models",
    "sources",
    "leaderboard",
    "language",
    "deleteme",
    "help",
    "cancel",
)
GROUP_COMMANDS = (
    "questions",
    "forecast",
    "results",
    "myforecast",
    "stats",
    "models",
    "sources",
    "leaderboard",
    "help",
)
ADMIN_COMMANDS = (
    "admin",
    "export",
    "newquestion",
    "criteria",
    "resolve",
    "setstat",
    "stathistory",
    "post",
    "hide",
    "unhide",
)


# the update types the handlers below use; getUpdates and setWebhook ask for exactly these
ALLOWED_UPDATES = (
    Update.MESSAGE,
    Update.EDITED_MESSAGE,  # an edited automatic forward in a discussion group
    Update.CALLBACK_QUERY,
    Update.INLINE_QUERY,
    Update.MY_CHAT_MEMBER,
)
# updates waiting in the Application's queue (beyond those being handled)
UPDATE_QUEUE_SIZE = 100


def http_pool_size(settings: Settings) -> int:
    """Connections for Bot API calls: one per concurrently handled update, plus a few for
    jobs (tally edits) and the start-up calls."""
    return settings.max_concurrent_updates + 8


def build_application(
    settings: Settings,
    request: BaseRequest | None = None,
    *,
    rate_limit: bool | AIORateLimiter = True,
    retry_backoff: float = 0.5,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot: settings in bot_data (BotData), store opened in post_init, every handler
    registered.

    `request` replaces the HTTP transport (the emulator passes its own; otherwise
    HTTP_TRANSPORT picks aiohttp or PTB's httpx, with a connection pool sized to
    MAX_CONCURRENT_UPDATES); every call but getUpdates goes through the Bot API policy
    (bot.telegram_policy.PolicyRequest: retries after transient failures starting at
    `retry_backoff` seconds, supergroup migrations, benign answers). `rate_limit` adds the
    rate limiter (PTB's AIORateLimiter with flood control per chat, or the one given; none
    with RATE_LIMITER=false), which
    waits out flood-control (RetryAfter) answers. Every send may go out without its reply
    target when that message was deleted meanwhile (Defaults). Updates from the Updater or
    the webhook go through the inbox and a ChatOrderedProcessor (bot/pipeline.py).
    """
    set_display_timezone(settings.display_timezone)
    token = settings.bot_token.get_secret_value() if settings.bot_token else EMULATOR_TOKEN
    transports: tuple[BaseRequest, ...] = ()
    pool = http_pool_size(settings)
    if request is not None:
        sender, updates = request, request
    elif settings.http_transport == "aiohttp":
        from bot.transport import AiohttpRequest

        sender, updates = AiohttpRequest(pool), AiohttpRequest(1)
        transports = (sender, updates)
    else:
        sender, updates = HTTPXRequest(connection_pool_size=pool), HTTPXRequest()
    policy = PolicyRequest(sender, backoff=retry_backoff)
    limiter: AIORateLimiter | None = None
    if isinstance(rate_limit, AIORateLimiter):
        limiter = rate_limit
    elif rate_limit and settings.rate_limiter:
        limiter = ChatFloodRateLimiter(settings.rate_limit_overall_per_second)
    bot = InboxBot(
        token=token,
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_file_base_url,
        defaults=Defaults(
            parse_mode=ParseMode.HTML, link_preview_options=None, allow_sending_without_reply=True
        ),
        request=policy,
        get_updates_request=updates,
        rate_limiter=limiter,
    )
    processor = ChatOrderedProcessor(
        settings.max_concurrent_updates, max(settings.max_pending_updates, 1)
    )
    app = (
        ApplicationBuilder()
        .application_class(LeanApplication)
        .bot(bot)
        .update_queue(UpdateQueue(UPDATE_QUEUE_SIZE, processor.slots))
        .concurrent_updates(processor)
        .context_types(ContextTypes(context=BotContext, bot_data=BotData, user_data=ReaderData))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    policy.on_migrated = lambda old, new: membership.migrate_chat(app, old, new)
    app.bot_data.settings = settings
    app.bot_data.transports = transports
    _register(app)
    return app


def _register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    # group -2: an admin's answers while creating a question (/newquestion), before anything
    # else reads the text; -1: keep the reader's row and language current for every update
    admins = filters.User(user_id=list(app.bot_data.settings.admin_ids))
    drafts = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & filters.TEXT & admins
    app.add_handler(MessageHandler(drafts & ~filters.COMMAND, newquestion.draft_input), group=-2)
    app.add_handler(TypeHandler(Update, remember_reader), group=-1)

    # group 0: the first matching handler answers
    app.add_handler(command("start", start.start_command))
    app.add_handler(command("help", start.help_command))
    app.add_handler(command("language", start.language_command))
    app.add_handler(button(start.language_button, LanguageChoice))
    app.add_handler(button(start.go_button, GreetingChoice))

    app.add_handler(command("stats", stats.stats_command))
    app.add_handler(command("models", stats.models_command))
    app.add_handler(command("sources", stats.sources_command))
    app.add_handler(button(stats.stats_button, StatsCard))

    app.add_handler(command("forecast", forecast.forecast_command))
    app.add_handler(command("myforecast", forecast.myforecast_command))
    app.add_handler(command("withdraw", forecast.withdraw_command))
    app.add_handler(command("results", results.results_command))
    app.add_handler(command("cancel", forecast.cancel_command))
    app.add_handler(button(forecast.preset_button, ForecastPreset))
    app.add_handler(button(forecast.prompt_button, ExactPrompt))
    app.add_handler(button(forecast.prompt_button, ReasonPrompt))
    app.add_handler(button(forecast.open_card_button, OpenCard))
    app.add_handler(button(forecast.consent_button, NamingConsent))
    app.add_handler(button(forecast.withdraw_button, WithdrawConfirm))
    app.add_handler(button(results.results_button, ShowResults))

    app.add_handler(command("admin", admin.admin_command))
    app.add_handler(command("questions", questions.questions_command))
    app.add_handler(command("newquestion", newquestion.newquestion_command))
    app.add_handler(command("resolve", resolution.resolve_command))
    app.add_handler(command("criteria", criteria.criteria_command))
    app.add_handler(command("leaderboard", resolution.leaderboard_command))
    app.add_handler(command("setstat", stats_admin.setstat_command))
    app.add_handler(command("stathistory", stats_admin.stathistory_command))
    app.add_handler(button(admin.question_button, QuestionAction))
    app.add_handler(button(newquestion.newquestion_button, NewQuestionStep))
    app.add_handler(button(resolution.resolve_button, ResolveConfirm))
    app.add_handler(command("export", export.export_command))
    app.add_handler(command("deleteme", privacy.deleteme_command))
    app.add_handler(command("hide", moderation.hide_command))
    app.add_handler(command("unhide", moderation.unhide_command))
    app.add_handler(button(privacy.deleteme_button, DeleteMe))

    app.add_handler(command("post", channel.post_command))
    app.add_handler(button(thread.confirm_button, ConfirmOffer))
    app.add_handler(
        ChatMemberHandler(membership.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    app.add_handler(InlineQueryHandler(inline.inline_query))

    # answers to prompts: any new text that is not a command (groups: replies to the bot
    # only, privacy mode); what is not a prompt answer goes to the comment-thread handler
    text = filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(text, forecast.text_input))
    app.bot_data.thread_reply = thread.thread_reply

    # last in group 0: unknown commands in private chats get a pointer to /help, and
    # buttons of older versions or unknown data a short alert
    unknown = filters.COMMAND & filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(unknown, start.unknown_command))
    app.add_handler(CallbackQueryHandler(stats.unknown_button))

    # group 1, after the prompt answers: channel posts forwarded into the discussion group,
    # and group-to-supergroup migrations
    app.add_handler(MessageHandler(filters.IS_AUTOMATIC_FORWARD, thread.on_auto_forward), group=1)
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, membership.on_migrate), group=1)

    # every forecast write schedules the (coalesced) edit of the channel posts' live tally;
    # after a start, tallies whose edit was lost in a restart are caught up
    app.bot_data.forecast_listeners = [channel.on_forecast_changed, count_forecast]
    if app.job_queue is not None:
        app.job_queue.run_once(
            channel.refresh_all_job, when=channel.STARTUP_REFRESH_SECONDS, name="tally:all"
        )

    app.bot_data.go_routes = {"stats": stats.stats_command, "forecast": forecast.go_forecast}
    app.bot_data.deep_links = {  # /start <action>[_<arg>]
        "forecast": forecast.deep_link_forecast,
        "results": results.deep_link_results,
        "exact": channel.deep_link_exact,
        "reason": channel.deep_link_reason,
        "stats": channel.deep_link_stats,
        "export": export.deep_link_export,
        "admin": admin.deep_link_admin,
        "questions": admin.deep_link_questions,
        "stathistory": stats_admin.deep_link_stathistory,
        "hide": moderation.deep_link_hide,
        "unhide": moderation.deep_link_unhide,
        "deleteme": privacy.deep_link_deleteme,
    }
    app.add_error_handler(on_error)


async def _post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Open the store, seed the dataset, connect the inbox. The command menu is published
    once updates are being received (`publish_in_background`), or by `running`."""
    settings: Settings = app.bot_data.settings
    store = await Store.open(settings.database_path)
    app.bot_data.store = store
    app.bot_data.settings = settings = await with_stored_secrets(settings, store)
    await seed(store)
    _connect_inbox(app, store)
    logger.info("Bot @%s ready on %s", app.bot.username, settings.database_path)


async def with_stored_secrets(settings: Settings, store: Store) -> Settings:
    """`settings` with EXPORT_SALT filled in when it is not set: a random secret generated
    on first use and kept in the database (so pseudonyms stay stable across restarts)."""
    if settings.export_salt.get_secret_value():
        return settings
    salt = await store.secrets.get_or_create(EXPORT_SALT)
    return settings.model_copy(update={"export_salt": SecretStr(salt)})


def _connect_inbox(app: Application[Any, Any, Any, Any, Any, Any], store: Store) -> None:
    """Polling goes through the inbox; each handled update is marked so in it."""
    if isinstance(app.bot, InboxBot):
        app.bot.inbox.store = store
    processor = app.update_processor
    if isinstance(processor, ChatOrderedProcessor):

        async def handled(update: Update) -> None:
            # awaited: the update keeps its slot until its journal and done mark are
            # committed, so replies Telegram accepted but the inbox has not recorded stay
            # few (the ones a crash could double)
            await store.inbox.mark_handled([update.update_id])

        processor.on_handled = handled
    if app.job_queue is not None:
        app.job_queue.run_repeating(
            prune_inbox, interval=INBOX_PRUNE_SECONDS, first=INBOX_PRUNE_SECONDS, name="inbox"
        )


async def count_forecast(context: BotContext, question_id: int) -> None:
    """Forecast listener: count the write for /metrics."""
    metrics.FORECASTS.inc()


async def prune_inbox(context: BotContext) -> None:
    """Job: delete handled inbox rows older than a day, keeping the newest ones."""
    store: Store = context.bot_data.store
    before = datetime.now(UTC) - INBOX_KEEP_AGE
    deleted = await store.inbox.prune(before, keep=INBOX_KEEP_ROWS)
    if deleted:
        logger.info("Inbox: %s handled updates pruned", deleted)


async def seed(store: Store) -> None:
    """Load the bundled dataset (package data) unless a newer one was imported since."""
    dataset = load_dataset(DEFAULT_DATASET)
    if dataset.version >= await store.stats.dataset_version(dataset.name):
        report = await store.stats.seed(dataset)
        if report.inserted or report.updated:
            logger.info(
                "Seeded %s new, %s updated figures", len(report.inserted), len(report.updated)
            )
    await store.questions.seed(dataset.questions)


def publish_in_background(app: Application[Any, Any, Any, Any, Any, Any]) -> asyncio.Task[None]:
    """Start `publish_commands` as a task and return it: nothing waits for the menu, so the
    bot receives updates without first paying its round trips (and the catalogs' first
    load). A Bot API failure is logged in one line; the menu stays as it was."""

    async def publish() -> None:
        try:
            await publish_commands(app)
        except TelegramError as exc:
            logger.warning("Command menu not published: %s", exc)

    return asyncio.create_task(publish(), name="command-menu")


async def publish_commands(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """setMyCommands per language and scope: private chats, groups, and each admin's chat
    (readers' commands plus the admin ones); the entry without a language is the default."""
    settings: Settings = app.bot_data.settings
    for lang in (*LANGUAGES, None):
        text_lang = lang or settings.default_language

        def menu(names: tuple[str, ...], lang: str = text_lang) -> list[BotCommand]:
            return [BotCommand(name, t(lang, f"cmd.{name}")) for name in names]

        await app.bot.set_my_commands(
            menu(PRIVATE_COMMANDS), scope=BotCommandScopeAllPrivateChats(), language_code=lang
        )
        await app.bot.set_my_commands(
            menu(GROUP_COMMANDS), scope=BotCommandScopeAllGroupChats(), language_code=lang
        )
        for admin_id in settings.admin_ids:
            try:
                await app.bot.set_my_commands(
                    menu(PRIVATE_COMMANDS + ADMIN_COMMANDS),
                    scope=BotCommandScopeChat(admin_id),
                    language_code=lang,
                )
            except TelegramError as exc:  # e.g. the admin has not opened a chat with the bot yet
                logger.warning("No admin command menu for %s: %s", admin_id, exc)


@asynccontextmanager
async def running(app: Application[Any, Any, Any, Any, Any, Any]) -> AsyncIterator[None]:
    """Run `app` without polling (console, tests, benchmarks): initialize, post_init,
    publish the command menu, start the job queue; on exit stop and shut down in reverse,
    closing the store."""
    await app.initialize()
    try:
        if app.post_init:
            await app.post_init(app)
        await publish_commands(app)
        await app.start()
        try:
            yield
        finally:
            await app.stop()
    finally:
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)


async def _post_shutdown(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    store: Store | None = app.bot_data.open_store
    if store is not None:
        await store.close()
