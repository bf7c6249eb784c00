"""`python -m bot run [--webhook]`: start the Application, handle the inbox's backlog,
receive updates (polling, or the webhook), and stop within the shutdown budget on
SIGTERM/SIGINT.

Start: hand the GIL to other threads more often (GIL_SWITCH_SECONDS), initialize (getMe),
open the store (post_init), start the Application, queue the updates left unhandled in the
inbox (in update_id order), then start PTB's Updater with exactly the update types the bot
handles; the command menu is published alongside.

Stop (SIGTERM or SIGINT), within SHUTDOWN_TIMEOUT_SECONDS: stop polling (the Updater's last
getUpdates acknowledges what is stored), start no further update, let those running finish,
cancel them when the budget is spent; what was not handled stays in the inbox and is handled
at the next start. A watchdog ends the process if even that does not finish in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from telegram.error import TelegramError
from telegram.ext import Application

from bot.app import ALLOWED_UPDATES, build_application, publish_in_background
from bot.config import Settings
from bot.pipeline import ChatOrderedProcessor, InboxBot, UpdateQueue, parse
from bot.services import chart
from bot.store import Store

if TYPE_CHECKING:  # the HTTP server (aiohttp.web) is imported only when there is one
    from bot.web import WebServer

logger = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
# long-poll timeout of getUpdates (seconds)
POLL_TIMEOUT = 10
# kept from the shutdown budget for closing the store and the HTTP clients
CLOSE_RESERVE = 1.0
# How long the event loop's thread may run Python before it must hand the GIL to a waiting
# thread (sys.setswitchinterval). The store's and the inbox's database threads need the GIL
# after every statement; with Python's default of 5 ms a busy loop makes each statement of a
# burst wait up to that long (the burst benchmark's p95: about 20 % lower at 1 ms, 4 paired runs).
GIL_SWITCH_SECONDS = 0.001


def polling_error(exc: TelegramError) -> None:
    """The Updater's error callback: one line per failed getUpdates (it backs off itself)."""
    logger.warning("Polling failed: %s (retrying)", exc)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop `python -m bot run` runs on: uvloop's (a dependency on Linux and macOS;
    about a tenth less CPU per update in the burst benchmark), or None for asyncio's own where
    uvloop is not installed (Windows)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def serve(settings: Settings, *, webhook: bool = False) -> int:
    """Run the bot with long polling (or, with `webhook`, Telegram's webhook on
    WEBHOOK_LISTEN:WEBHOOK_PORT) until SIGTERM/SIGINT; returns the exit code (0).
    /healthz and /metrics are served in webhook mode, and in polling mode on HTTP_PORT.

    Raises what initialize raises (InvalidToken, NetworkError) before anything started.
    """
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    app = build_application(settings)
    server: WebServer | None = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await app.initialize()
    except BaseException:
        # e.g. a rejected token: PTB leaves our HTTP sessions open when getMe fails
        for request in app.bot_data.transports:
            await request.shutdown()
        raise
    started = False
    menu: asyncio.Task[None] | None = None
    chart.use_worker_process()  # matplotlib's memory and CPU in a process of their own
    try:
        if app.post_init:
            await app.post_init(app)
        await app.start()
        started = True
        backlog = asyncio.create_task(queue_backlog(app))
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait((backlog, waiter), return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            await backlog
            server = await start_receiving(app, settings, webhook)
            menu = publish_in_background(app)  # needs no answer before updates arrive
            await waiter
        backlog.cancel()
        waiter.cancel()
    finally:
        if menu is not None:
            menu.cancel()
        if server is not None:
            await server.stop()  # no new webhook requests; Telegram keeps them for later
        await stop_within_budget(app, settings.shutdown_timeout_seconds, started)
        chart.use_worker_process(False)  # stops the worker; charts on threads again
    return 0


async def start_receiving(
    app: AnyApplication, settings: Settings, webhook: bool
) -> WebServer | None:
    """Start the webhook (setWebhook with the secret and allowed_updates) or polling, and
    the HTTP server when there is one; returns the server."""
    if webhook:
        from bot.web import WebServer, webhook_path

        assert settings.webhook_url and settings.webhook_secret
        secret = settings.webhook_secret.get_secret_value()
        server = WebServer(
            app, webhook_path=webhook_path(settings.webhook_url), webhook_secret=secret
        )
        await server.start(settings.webhook_listen, settings.webhook_port)
        await app.bot.set_webhook(
            url=settings.webhook_url,
            secret_token=secret,
            allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=False,
        )
        logger.info("Webhook set; updates arrive on port %s", server.port)
        return server
    assert app.updater is not None
    await app.updater.start_polling(
        timeout=POLL_TIMEOUT,
        allowed_updates=list(ALLOWED_UPDATES),
        drop_pending_updates=False,
        error_callback=polling_error,
    )
    logger.info("Polling for updates")
    if settings.http_port is None:
        return None
    from bot.web import WebServer

    server = WebServer(app)
    await server.start(settings.webhook_listen, settings.http_port)
    return server


async def queue_backlog(app: AnyApplication) -> int:
    """Put the inbox's unhandled updates in the update queue, oldest first (waiting while the
    queue is full); returns how many were queued."""
    store: Store = app.bot_data.store
    rows = await store.inbox.unhandled()
    if rows:
        logger.info("Handling %s updates left from the last run", len(rows))
    queued = 0
    for row in rows:
        update = parse(row, app.bot)
        if update is None:
            await store.inbox.mark_handled([row.update_id])
            continue
        await app.update_queue.put(update)
        queued += 1
    return queued


async def stop_within_budget(app: AnyApplication, budget: float, started: bool) -> None:
    """Stop polling and the Application within `budget` seconds (see the module)."""
    deadline = time.monotonic() + budget
    watchdog = threading.Timer(budget + 2 * CLOSE_RESERVE, _hard_exit)
    watchdog.daemon = True
    watchdog.start()
    try:
        if isinstance(app.bot, InboxBot):
            app.bot.inbox.stopping = True
        if app.updater is not None and app.updater.running:
            await _bounded(app.updater.stop(), deadline - CLOSE_RESERVE, "stopping the poll")
        processor = app.update_processor
        if isinstance(processor, ChatOrderedProcessor):
            processor.stop_taking()
        if isinstance(app.update_queue, UpdateQueue):
            left = app.update_queue.drop_waiting()
            if left:
                logger.info("%s queued updates stay in the inbox for the next start", left)
        if started and app.running:
            stopping = asyncio.create_task(app.stop())
            await asyncio.wait(
                (stopping,), timeout=max(0, deadline - CLOSE_RESERVE * 2 - time.monotonic())
            )
            if not stopping.done() and isinstance(processor, ChatOrderedProcessor):
                cancelled = processor.cancel_running()
                logger.warning(
                    "Shutdown budget spent: %s updates cancelled, handled again at the next start",
                    cancelled,
                )
            await _bounded(stopping, deadline - CLOSE_RESERVE, "stopping the application")
        await _bounded(app.shutdown(), deadline, "closing the HTTP clients")
    finally:
        if app.post_shutdown:
            await _bounded(app.post_shutdown(app), deadline + CLOSE_RESERVE, "closing the store")
        watchdog.cancel()


async def _bounded(step: Awaitable[Any], deadline: float, what: str) -> None:
    """Await `step` until the monotonic `deadline`; log one line if it did not finish."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait((task,), timeout=max(0.0, deadline - time.monotonic()))
    if not done:
        task.cancel()
        logger.warning("Shutdown: gave up %s (out of time)", what)
        with contextlib.suppress(BaseException):
            await asyncio.wait((task,), timeout=CLOSE_RESERVE / 2)
        return
    with contextlib.suppress(asyncio.CancelledError):
        exc = task.exception()
        if exc is not None:
            logger.warning("Shutdown: %s failed: %s", what, exc)


def _hard_exit() -> None:
    """The watchdog: the orderly stop did not finish; end the process (unhandled updates
    stay in the inbox)."""
    logger.error("Shutdown did not finish within the budget: exiting")
    logging.shutdown()
    os._exit(1)
