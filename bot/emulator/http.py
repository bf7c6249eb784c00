"""The in-process `Emulator` served over HTTP on 127.0.0.1 (aiohttp.web), so that a real
`python -m bot run` talks to it with TELEGRAM_API_BASE_URL=http://127.0.0.1:PORT/bot.

It also keeps what real Telegram would know about polling: which updates it served and
which of those the bot acknowledged (asked for an offset above them) — `delivered()`, the
updates Telegram considers delivered and will never send again. Extras for tests and the
burst benchmark: a delay before every Bot API call, flood control (429) for one chat, and
`wait_for(condition)`, woken after every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.emulator.core import Emulator
from bot.emulator.errors import ApiError, UnsupportedMethodError
from bot.emulator.request import _JSON_PARAMS
from bot.emulator.state import FileMap, JSONDict

# parameters that stay text even when they look like a number or JSON (e.g. a text "70")
_TEXT_PARAMS = {
    "text",
    "caption",
    "callback_query_id",
    "inline_query_id",
    "url",
    "title",
    "description",
    "short_description",
    "name",
    "next_offset",
    "language_code",
    "file_id",
    "emoji",
    "secret_token",
    "switch_pm_text",
    "switch_pm_parameter",
}


def decode_form(values: dict[str, str]) -> JSONDict:
    """PTB's form fields (every value a string, objects as JSON) back as JSON values."""
    params: JSONDict = {}
    for key, value in values.items():
        if key in _TEXT_PARAMS and key not in _JSON_PARAMS:
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


class EmulatorServer:
    """Serve `emulator` on http://127.0.0.1:<port>/bot<token>/<method>; files on /file/bot.

    `call_delay` (seconds) is waited before every Bot API call except getUpdates (as a
    network round trip would). Start with `await start()` (returns the base URL), stop with
    `await stop()`.
    """

    def __init__(self, emulator: Emulator, *, call_delay: float = 0.0, port: int = 0) -> None:
        self.emulator = emulator
        self.call_delay = call_delay
        self._port = port
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()
        self._flood: dict[int, float] = {}
        self.served: set[int] = set()
        self.acknowledged_below = 0
        self.port = 0
        self.in_flight = 0  # Bot API calls being answered now (getUpdates aside)
        self.flood_refusals = 0  # 429 answers given by flood_chat
        self.first_sent: dict[int, float] = {}  # chat id -> time.monotonic() of 1st message

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on 127.0.0.1; returns the Bot API base URL (token to be appended)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self.base_url

    @property
    def base_url(self) -> str:
        """TELEGRAM_API_BASE_URL for the bot."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_base_url(self) -> str:
        """TELEGRAM_FILE_BASE_URL for the bot."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- what Telegram knows -----------------------------------------------------------------

    def delivered(self) -> set[int]:
        """update_ids served by getUpdates and acknowledged (a later offset above them)."""
        return {u for u in self.served if u < self.acknowledged_below}

    def flood_chat(self, chat_id: int, seconds: float) -> None:
        """For `seconds` from now, sends to `chat_id` get 429 with retry_after."""
        self._flood[chat_id] = time.monotonic() + seconds

    async def wait_for(
        self, condition: Callable[[], bool], seconds: float, every: float = 0.02
    ) -> bool:
        """Wait until `condition()` holds, re-checked after Bot API calls (at most once per
        `every` seconds); False when `seconds` passed first."""
        deadline = time.monotonic() + seconds
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
            await asyncio.sleep(every)  # let a burst of calls through between checks
        return True

    # -- requests ----------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        counted = method != "getUpdates"
        self.in_flight += counted
        try:
            return await self._answer(method, request)
        finally:
            self.in_flight -= counted

    async def _answer(self, method: str, request: web.Request) -> web.Response:
        params, files = await self._read(request)
        if method != "getUpdates" and self.call_delay:
            await asyncio.sleep(self.call_delay)
        try:
            flood = self._flood_error(params)
            if flood is not None:
                self.flood_refusals += 1
                status, body = flood.code, flood.payload()
            else:
                status, body = await self.emulator.dispatch(method, params, files)
        except UnsupportedMethodError as exc:
            status = 400
            body = {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}
        if method == "getUpdates":
            self._note_poll(params, body)
        elif (
            method.startswith("send") and status == 200 and isinstance(params.get("chat_id"), int)
        ):
            self.first_sent.setdefault(params["chat_id"], time.monotonic())
        self._changed.set()
        return web.json_response(body, status=status)

    async def _read(self, request: web.Request) -> tuple[JSONDict, FileMap]:
        files: FileMap = {}
        fields: dict[str, str] = {}
        if request.content_type == "application/json":
            data: Any = await request.json()
            return (data if isinstance(data, dict) else {}), files
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = (value.filename, value.file.read(), value.content_type)
            elif isinstance(value, bytes | bytearray):
                fields[key] = bytes(value).decode()
            else:
                fields[key] = str(value)
        return decode_form(fields), files

    def _flood_error(self, params: JSONDict) -> ApiError | None:
        chat_id = params.get("chat_id")
        until = self._flood.get(chat_id) if isinstance(chat_id, int) else None
        if until is None:
            return None
        left = until - time.monotonic()
        if left <= 0:
            del self._flood[chat_id]  # type: ignore[arg-type]
            return None
        seconds = max(1, math.ceil(left))
        return ApiError(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})

    def _note_poll(self, params: JSONDict, body: JSONDict) -> None:
        offset = params.get("offset")
        if isinstance(offset, int) and offset > 0:
            self.acknowledged_below = max(self.acknowledged_below, offset)
        for update in body.get("result") or []:
            self.served.add(int(update["update_id"]))

    async def _file(self, request: web.Request) -> web.Response:
        try:
            return web.Response(body=self.emulator.download(str(request.url)))
        except KeyError:
            raise web.HTTPNotFound() from None
