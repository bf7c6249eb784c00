"""The bot's HTTP server (aiohttp.web): Telegram's webhook, /healthz and /metrics.

The webhook follows python-telegram-bot's custom-webhook pattern: the handler checks
Telegram's secret token (X-Telegram-Bot-Api-Secret-Token, compared in constant time),
stores the update in the durable inbox with the same `accept` as polling, and only then
answers 200; the update is handled from the Application's queue. Missing or wrong secret:
403; a body over MAX_BODY_BYTES: 413; not a JSON object: 400 — nothing is stored then.
A store failure answers 500, so Telegram delivers the update again later.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram.ext import Application

from bot import metrics
from bot.pipeline import InboxBot, accept
from bot.store import Store

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# Telegram's updates are a few kB; a message with long entities stays far below this
MAX_BODY_BYTES = 1024 * 1024
# /healthz: in polling mode the last successful getUpdates must be this recent (seconds)
HEALTH_WINDOW_SECONDS = 60.0

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class WebServer:
    """Serves /healthz and /metrics, and with `webhook_secret` the webhook at
    `webhook_path`, on host:port. `last_webhook` is the time.monotonic() of the latest
    accepted webhook request (None before the first)."""

    def __init__(
        self,
        app: AnyApplication,
        *,
        webhook_path: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        self.app = app
        self.webhook_path = webhook_path
        self._secret = webhook_secret.encode() if webhook_secret else None
        self._runner: web.AppRunner | None = None
        self.last_webhook: float | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port (port 0: any free port, see `port`)."""
        web_app = web.Application(client_max_size=MAX_BODY_BYTES)
        web_app.router.add_get("/healthz", self.healthz)
        web_app.router.add_get("/metrics", self.metrics)
        if self.webhook_path is not None:
            web_app.router.add_post(self.webhook_path, self.webhook)
        self._runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or ()
        self.port = int(sockets[0].getsockname()[1]) if sockets else port
        logger.info("HTTP server on %s:%s", host, self.port)

    async def stop(self) -> None:
        """Stop accepting requests and close the connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def store(self) -> Store | None:
        """The open store (None before post_init)."""
        store: Store | None = self.app.bot_data.open_store
        return store

    async def webhook(self, request: web.Request) -> web.Response:
        """POST from Telegram: one update; see the module for the answers."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if self._secret is None or not hmac.compare_digest(given, self._secret):
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return web.json_response({"ok": False, "error": "too large"}, status=413)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"ok": False, "error": "too large"}, status=413)
        try:
            raw = json.loads(body)
        except ValueError:
            raw = None
        if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        store = self.store
        if store is None:
            return web.json_response({"ok": False, "error": "starting"}, status=503)
        try:
            updates = await accept(store, self.app.bot, [raw])
        except Exception as exc:  # the store failed: Telegram will deliver it again
            logger.warning("Webhook: cannot store update %s (%s)", raw["update_id"], exc)
            return web.json_response({"ok": False, "error": "not stored"}, status=500)
        self.last_webhook = time.monotonic()
        for update in updates:
            await self.app.update_queue.put(update)
        return web.json_response({"ok": True})

    async def healthz(self, request: web.Request) -> web.Response:
        """200 or 503 with a short JSON body: database reachable, seconds since the last
        successful poll or webhook, inbox depth."""
        store = self.store
        database = False
        depth = None
        if store is not None:
            try:
                await store.ping()
                depth = await store.inbox.depth()
                database = True
            except Exception as exc:  # reported in the answer, one line in the log
                logger.warning("Health check: database unreachable (%s)", exc)
        last = self.last_webhook if self.webhook_path is not None else _last_poll(self.app)
        age = None if last is None else round(time.monotonic() - last, 1)
        # a webhook is quiet while nobody writes; polling answers at least every poll timeout
        fresh = self.webhook_path is not None or (age is not None and age <= HEALTH_WINDOW_SECONDS)
        ok = database and fresh
        body = {
            "ok": ok,
            "database": database,
            "mode": "webhook" if self.webhook_path is not None else "polling",
            "last_update_seconds": age,
            "inbox_depth": depth,
        }
        return web.json_response(body, status=200 if ok else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        """Prometheus text format (bot/metrics.py)."""
        store = self.store
        if store is not None:
            try:
                metrics.INBOX_DEPTH.set(await store.inbox.depth())
            except Exception as exc:  # the gauge keeps its last value
                logger.warning("Metrics: inbox depth unavailable (%s)", exc)
        return web.Response(
            body=metrics.exposition(), headers={"Content-Type": "text/plain; version=0.0.4"}
        )


def webhook_path(url: str) -> str:
    """The path Telegram posts to, from WEBHOOK_URL ("/" when it has none)."""
    return urlsplit(url).path or "/"


def _last_poll(app: AnyApplication) -> float | None:
    return app.bot.last_poll if isinstance(app.bot, InboxBot) else None
