"""The aiohttp transport (bot/transport.py) against a small Bot API server on 127.0.0.1:
form parameters, uploads as multipart, timeouts and connection failures as PTB's errors."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import BodyPartReader, web
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from bot.config import Settings
from bot.transport import AiohttpRequest

TOKEN = "123:TRANSPORT"
ME = {"id": 123, "is_bot": True, "first_name": "Test", "username": "test_bot"}


class FakeApi:
    """Records what arrived; `stall` holds an answer until the test ends."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.stall = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        form: dict[str, Any] = {}
        if request.content_type == "multipart/form-data":
            async for part in await request.multipart():
                assert isinstance(part, BodyPartReader)
                data = await part.read()
                form[part.name or ""] = (
                    (part.filename, bytes(data), part.headers.get("Content-Type"))
                    if part.filename
                    else data.decode()
                )
        else:
            form = dict(await request.post())
        self.calls.append((method, form))
        if method == "getMe":
            result: Any = ME
        elif method == "slow":
            await self.stall.wait()
            result = True
        else:
            chat = {"id": int(form["chat_id"]), "type": "private"}
            result = {"message_id": len(self.calls), "date": 0, "chat": chat, "from": ME}
            if method == "sendMessage":
                result["text"] = form["text"]
            else:
                result["document"] = {"file_id": "F1", "file_unique_id": "U1"}
        return web.json_response({"ok": True, "result": result})


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeApi, str]]:
    fake = FakeApi()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield fake, f"http://127.0.0.1:{port}/bot"
    finally:
        fake.stall.set()
        await runner.cleanup()


async def test_messages_and_uploads_arrive_as_sent(api: tuple[FakeApi, str]) -> None:
    fake, base = api
    bot = Bot(
        TOKEN, base_url=base, request=AiohttpRequest(4), get_updates_request=AiohttpRequest()
    )
    async with bot:
        sent = await bot.send_message(7, "Привет & <b>hi</b>", parse_mode="HTML")
        assert sent.text == "Привет & <b>hi</b>"
        doc = await bot.send_document(
            7, b"a,b\n1,2\n", filename="export.csv", caption="Your export"
        )
        assert doc.document and doc.document.file_id == "F1"
    method, form = fake.calls[-1]
    assert method == "sendDocument" and form["caption"] == "Your export"
    filename, content, mime = form["document"]
    assert filename == "export.csv" and content == b"a,b\n1,2\n" and mime == "text/csv"
    assert fake.calls[1] == (
        "sendMessage",
        {"chat_id": "7", "text": "Привет & <b>hi</b>", "parse_mode": "HTML"},
    )


async def test_a_stalled_answer_times_out(api: tuple[FakeApi, str]) -> None:
    _, base = api
    request = AiohttpRequest(read_timeout=0.2)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.post(f"{base}{TOKEN}/slow")
        with pytest.raises(TimedOut):  # a per-call timeout wins over the default
            await request.post(f"{base}{TOKEN}/slow", read_timeout=0.1)
    finally:
        await request.shutdown()


async def test_a_refused_connection_is_a_network_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError, match=r"aiohttp\.ClientConnectorError"):
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    finally:
        await request.shutdown()
    with pytest.raises(RuntimeError):  # shut down: not usable until initialized again
        await request.do_request("http://127.0.0.1:1/", "POST")


async def test_the_transport_setting(settings: Settings) -> None:
    from bot.app import build_application

    app = build_application(settings)
    assert isinstance(app.bot.request.inner, AiohttpRequest)  # inside the Bot API policy
    httpx = build_application(settings.model_copy(update={"http_transport": "httpx"}))
    assert type(httpx.bot.request.inner).__name__ == "HTTPXRequest"
    assert json.dumps(ME)  # the fake's answers are plain JSON
