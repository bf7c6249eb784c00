"""A light fake Bot API over HTTP on 127.0.0.1 for the benchmark (`python -m bot.bench`).

It serves queued updates through getUpdates (long polling, woken as soon as updates are
queued) and answers every other method with the smallest well-formed result, after
`call_delay` seconds (Telegram's latency; 0 by default). It measures the bot, so it does as
little as it can: no checks, no state beyond the queue and the completion counters. `queue`
registers, per chat, the method whose call marks an update as handled (e.g. sendMessage for
/stats); `answered` keeps when each arrived (time.monotonic(), after the delay) and `done`
is set when all of them did.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
BATCH = 100  # getUpdates' default limit


class FakeBotApi:
    """The server's state: queued updates, first-poll time, expected replies."""

    def __init__(self, call_delay: float = 0.0) -> None:
        self.call_delay = call_delay
        self.answered: dict[int, float] = {}
        self.updates: list[dict[str, Any]] = []
        self.next_id = 1
        self.first_poll: float | None = None
        self.calls = 0
        self._arrived = asyncio.Event()
        self._expected: dict[int, str] = {}
        self._remaining = 0
        self.done = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def queue(self, updates: list[dict[str, Any]], terminal: list[tuple[int, str]]) -> None:
        """Queue updates (update_id filled in) and the (chat id, method) call that marks each
        one handled; `done` is set when every such call arrived."""
        for update in updates:
            update["update_id"] = self.next_id
            self.next_id += 1
        self._expected = dict(terminal)
        self._remaining = len(self._expected)
        self.done = asyncio.Event()
        self.updates.extend(updates)
        self._arrived.set()

    async def start(self) -> str:
        """Listen on 127.0.0.1 (a free port); returns the base URL (token appended by PTB)."""
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{self.port}/bot"

    async def stop(self) -> None:
        """Close the server."""
        self._arrived.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        form = await request.post()
        self.calls += 1
        if method == "getUpdates":
            return await self._get_updates(form)
        if self.call_delay:
            await asyncio.sleep(self.call_delay)
        chat = form.get("chat_id")
        result: Any = True
        if chat is not None:
            chat_id = int(str(chat))
            if self._expected.get(chat_id) == method:
                self.answered[chat_id] = time.monotonic()
                del self._expected[chat_id]
                self._remaining -= 1
                if self._remaining == 0:
                    self.done.set()
            if method.startswith("send") or method.startswith("edit"):
                result = {
                    "message_id": self.calls, "date": 0, "text": "ok", "from": BOT_USER,
                    "chat": {"id": chat_id, "type": "private"},
                }  # fmt: skip
                if method == "sendPhoto":
                    result["photo"] = [
                        {"file_id": "P", "file_unique_id": "P", "width": 1, "height": 1}
                    ]
                if method == "sendDocument":
                    result["document"] = {"file_id": "D", "file_unique_id": "D"}
        elif method == "getMe":
            result = BOT_USER
        return _ok(result)

    async def _get_updates(self, form: Any) -> web.Response:
        if self.first_poll is None:
            self.first_poll = time.monotonic()
        offset = int(form.get("offset") or 0)
        if offset:
            drop = 0
            while drop < len(self.updates) and self.updates[drop]["update_id"] < offset:
                drop += 1
            del self.updates[:drop]
        if not self.updates:
            self._arrived.clear()
            wait = min(float(form.get("timeout") or 0), 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), wait)
        limit = int(form.get("limit") or BATCH)
        return _ok(self.updates[:limit])


def _ok(result: Any) -> web.Response:
    return web.Response(
        body=json.dumps({"ok": True, "result": result}), content_type="application/json"
    )


def user(uid: int) -> dict[str, Any]:
    """A reader (English app)."""
    return {"id": uid, "is_bot": False, "first_name": f"R{uid}", "language_code": "en"}


def message(uid: int, text: str) -> dict[str, Any]:
    """A private-chat message from reader `uid` (a command gets its entity)."""
    msg: dict[str, Any] = {
        "message_id": 1, "date": int(time.time()), "text": text, "from": user(uid),
        "chat": {"id": uid, "type": "private", "first_name": f"R{uid}"},
    }  # fmt: skip
    if text.startswith("/"):
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"message": msg}


def press(uid: int, data: str) -> dict[str, Any]:
    """Reader `uid` presses a button with callback `data` under a bot message."""
    chat = {"id": uid, "type": "private", "first_name": f"R{uid}"}
    shown = {"message_id": 1, "date": int(time.time()), "text": "card", "chat": chat,
             "from": BOT_USER}  # fmt: skip
    return {
        "callback_query": {
            "id": str(uid), "from": user(uid), "chat_instance": str(uid), "data": data,
            "message": shown,
        }
    }  # fmt: skip
