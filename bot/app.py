"""build_application: the one place where every handler, job and the error handler is wired."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

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
from telegram.request import BaseRequest

from bot.config import Settings
from bot.handlers import (
    admin,
    channel,
    export,
    forecast,
    inline,
    membership,
    newquestion,
    privacy,
    resolution,
    results,
    start,
    stats,
    stats_admin,
    thread,
)
from bot.handlers.common import BotContext, command, remember_reader
from bot.handlers.errors import on_error
from bot.services.dataset import DEFAULT_DATASET, load_dataset
from bot.store import Store
from bot.texts import LANGUAGES, t

logger = logging.getLogger(__name__)

# Without a token (console, tests) the emulator answers; PTB still wants a well-formed one.
EMULATOR_TOKEN = "1:EMULATOR"  # noqa: S105 - a placeholder, not a secret

# the command menus (setMyCommands); descriptions are the catalogs' cmd.<name> messages
PRIVATE_COMMANDS = (
    "start",
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
    "questions",
    "newquestion",
    "resolve",
    "setstat",
    "stathistory",
    "post",
)


def build_application(
    settings: Settings, request: BaseRequest | None = None, *, rate_limit: bool = True
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot: settings in bot_data, store opened in post_init, every handler registered.

    `request` replaces the HTTP transport (the emulator passes its own; otherwise
    HTTP_TRANSPORT picks aiohttp or PTB's httpx); `rate_limit` adds
    PTB's AIORateLimiter, which also waits out flood-control (RetryAfter) answers, unless
    RATE_LIMITER=false.
    """
    token = settings.bot_token.get_secret_value() if settings.bot_token else EMULATOR_TOKEN
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=None))
        .context_types(ContextTypes(context=BotContext))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if rate_limit and settings.rate_limiter:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    elif settings.http_transport == "aiohttp":
        from bot.transport import SEND_POOL_SIZE, AiohttpRequest

        transports = (AiohttpRequest(SEND_POOL_SIZE), AiohttpRequest(1))
        builder = builder.request(transports[0]).get_updates_request(transports[1])
    app = builder.build()
    app.bot_data["settings"] = settings
    if request is None and settings.http_transport == "aiohttp":
        app.bot_data["transports"] = transports
    _register(app)
    return app


def _register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    # group -2: an admin's answers while creating a question (/newquestion), before anything
    # else reads the text; -1: keep the reader's row and language current for every update
    admins = filters.User(user_id=list(app.bot_data["settings"].admin_ids))
    drafts = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & filters.TEXT & admins
    app.add_handler(MessageHandler(drafts & ~filters.COMMAND, newquestion.draft_input), group=-2)
    app.add_handler(TypeHandler(Update, remember_reader), group=-1)

    # group 0: the first matching handler answers
    app.add_handler(command("start", start.start_command))
    app.add_handler(command("help", start.help_command))
    app.add_handler(command("language", start.language_command))
    app.add_handler(CallbackQueryHandler(start.language_button, pattern=r"^lang:"))
    app.add_handler(CallbackQueryHandler(start.go_button, pattern=r"^go:"))

    app.add_handler(command("stats", stats.stats_command))
    app.add_handler(command("models", stats.models_command))
    app.add_handler(command("sources", stats.sources_command))
    app.add_handler(CallbackQueryHandler(stats.stats_button, pattern=r"^st:"))

    app.add_handler(command("forecast", forecast.forecast_command))
    app.add_handler(command("myforecast", forecast.myforecast_command))
    app.add_handler(command("withdraw", forecast.withdraw_command))
    app.add_handler(command("results", results.results_command))
    app.add_handler(command("cancel", forecast.cancel_command))
    app.add_handler(CallbackQueryHandler(forecast.preset_button, pattern=r"^fc:"))
    app.add_handler(CallbackQueryHandler(forecast.prompt_button, pattern=r"^f[xr]:"))
    app.add_handler(CallbackQueryHandler(forecast.open_card_button, pattern=r"^fo:"))
    app.add_handler(CallbackQueryHandler(forecast.consent_button, pattern=r"^fn:"))
    app.add_handler(CallbackQueryHandler(forecast.withdraw_button, pattern=r"^fw:"))
    app.add_handler(CallbackQueryHandler(results.results_button, pattern=r"^rs:"))

    app.add_handler(command("admin", admin.admin_command))
    app.add_handler(command("questions", admin.questions_command))
    app.add_handler(command("newquestion", newquestion.newquestion_command))
    app.add_handler(command("resolve", resolution.resolve_command))
    app.add_handler(command("leaderboard", resolution.leaderboard_command))
    app.add_handler(command("setstat", stats_admin.setstat_command))
    app.add_handler(command("stathistory", stats_admin.stathistory_command))
    app.add_handler(CallbackQueryHandler(admin.question_button, pattern=r"^aq:"))
    app.add_handler(CallbackQueryHandler(newquestion.newquestion_button, pattern=r"^nq:"))
    app.add_handler(CallbackQueryHandler(resolution.resolve_button, pattern=r"^rv:"))
    app.add_handler(command("export", export.export_command))
    app.add_handler(command("deleteme", privacy.deleteme_command))
    app.add_handler(CallbackQueryHandler(privacy.deleteme_button, pattern=r"^dm:"))

    app.add_handler(command("post", channel.post_command))
    app.add_handler(CallbackQueryHandler(thread.confirm_button, pattern=r"^cc:"))
    app.add_handler(
        ChatMemberHandler(membership.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    app.add_handler(InlineQueryHandler(inline.inline_query))

    # answers to prompts: any new text that is not a command (groups: replies to the bot
    # only, privacy mode); what is not a prompt answer goes to the comment-thread handler
    text = filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(text, forecast.text_input))
    app.bot_data["thread_reply"] = thread.thread_reply

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
    app.bot_data["forecast_listeners"] = [channel.on_forecast_changed]
    if app.job_queue is not None:
        app.job_queue.run_once(
            channel.refresh_all_job, when=channel.STARTUP_REFRESH_SECONDS, name="tally:all"
        )

    app.bot_data["go_routes"] = {"stats": stats.stats_command, "forecast": forecast.go_forecast}
    app.bot_data["deep_links"] = {  # /start <action>[_<arg>]
        "forecast": forecast.deep_link_forecast,
        "results": results.deep_link_results,
        "exact": channel.deep_link_exact,
        "reason": channel.deep_link_reason,
        "stats": channel.deep_link_stats,
        "export": export.deep_link_export,
        "deleteme": privacy.deep_link_deleteme,
    }
    app.add_error_handler(on_error)


async def _post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Open the store, seed the dataset, publish the command menu."""
    settings: Settings = app.bot_data["settings"]
    store = await Store.open(settings.database_path)
    app.bot_data["store"] = store
    await seed(store)
    await publish_commands(app)
    logger.info("Bot @%s ready on %s", app.bot.username, settings.database_path)


async def seed(store: Store) -> None:
    """Load the bundled dataset unless a newer one was imported since."""
    if not DEFAULT_DATASET.exists():  # e.g. an empty folder mounted over data/
        logger.warning("No dataset at %s: figures are served as stored", DEFAULT_DATASET)
        return
    dataset = load_dataset(DEFAULT_DATASET)
    if dataset.version >= await store.stats.dataset_version(dataset.name):
        report = await store.stats.seed(dataset)
        if report.inserted or report.updated:
            logger.info(
                "Seeded %s new, %s updated figures", len(report.inserted), len(report.updated)
            )
    await store.questions.seed(dataset.questions)


async def publish_commands(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """setMyCommands per language and scope: private chats, groups, and each admin's chat
    (readers' commands plus the admin ones); the entry without a language is the default."""
    settings: Settings = app.bot_data["settings"]
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


def close_transports(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """After `run_polling(close_loop=False)`: close the HTTP sessions (PTB leaves them open
    when start-up fails, e.g. on a rejected token), then the event loop."""
    loop = asyncio.get_event_loop()
    for request in app.bot_data.get("transports", ()):
        loop.run_until_complete(request.shutdown())
    loop.close()


@asynccontextmanager
async def running(app: Application[Any, Any, Any, Any, Any, Any]) -> AsyncIterator[None]:
    """Run `app` without polling (console, tests, benchmarks): initialize, post_init, start
    the job queue; on exit stop and shut down in reverse, closing the store."""
    await app.initialize()
    try:
        if app.post_init:
            await app.post_init(app)
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
    store: Store | None = app.bot_data.get("store")
    if store is not None:
        await store.close()
