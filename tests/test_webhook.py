"""`python -m bot run --webhook` (and /healthz, /metrics) end to end: real HTTP requests to
the bot's server on 127.0.0.1; replies go to the HTTP emulator."""

from __future__ import annotations

import io
import json
import socket
import sqlite3
from pathlib import Path

import aiohttp

from bot.emulator.http import EmulatorServer
from tests import test_pipeline
from tests.test_pipeline import BotProcess, readers, recorded_replies

server = test_pipeline.server  # the fixtures: the HTTP emulator, the bot processes started
bots = test_pipeline.bots

SECRET = "s3cret_Token-for-the-webhook"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stored_ids(folder: Path) -> set[int]:
    with sqlite3.connect(folder / "data" / "bot.inbox.sqlite3") as db:
        return {r[0] for r in db.execute("SELECT update_id FROM inbox")}


async def test_webhook_refuses_forgeries_and_handles_an_update_once(
    tmp_path: Path, server: EmulatorServer, bots: list[BotProcess]
) -> None:
    emu = server.emulator
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg/hook"
    bot = BotProcess(
        tmp_path, server, WEBHOOK_URL=url, WEBHOOK_SECRET=SECRET, WEBHOOK_PORT=str(port)
    )
    bots.append(bot)
    bot.start_args = ["--webhook"]
    bot.start()
    assert await server.wait_for(lambda: bool(emu.calls_to("setWebhook")), 30), bot.log
    hook = emu.calls_to("setWebhook")[0].params
    assert hook["url"] == url and hook["secret_token"] == SECRET
    assert "message" in hook["allowed_updates"] and "poll_answer" not in hook["allowed_updates"]

    reader = readers(emu, 1)[0]
    update = emu.message(reader, emu.private_chat(reader), "/forecast 70")
    body = json.dumps(update).encode()
    good = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:

        async def post(data: bytes | io.BytesIO, headers: dict[str, str]) -> int:
            async with http.post(url, data=data, headers=headers) as answer:
                return answer.status

        assert await post(body, {**good, "X-Telegram-Bot-Api-Secret-Token": "forged"}) == 403
        assert await post(body, {"Content-Type": "application/json"}) == 403
        big = json.dumps({**update, "pad": "x" * 2_000_000}).encode()
        assert await post(io.BytesIO(big), good) == 413
        assert await post(b'{"update_id": 5, "message":', good) == 400
        assert await post(b"[1, 2]", good) == 400
        assert stored_ids(tmp_path) == set()  # nothing stored from any of those

        assert await post(body, good) == 200
        assert await server.wait_for(lambda: recorded_replies(emu)[reader["id"]] == 1, 30)
        assert await post(body, good) == 200  # Telegram retries: a no-op
        async with http.get(f"http://127.0.0.1:{port}/healthz") as answer:
            health = await answer.json()
            assert answer.status == 200, health
        async with http.get(f"http://127.0.0.1:{port}/metrics") as answer:
            exposition = await answer.text()
    assert health["database"] is True and health["mode"] == "webhook"
    assert 'bot_updates_total{type="message"} 1.0' in exposition
    assert "bot_forecasts_recorded_total 1.0" in exposition
    assert "bot_handler_seconds_count" in exposition
    code, _ = await bot.terminate(within=15)
    assert code == 0, bot.log
    assert recorded_replies(emu)[reader["id"]] == 1
    assert stored_ids(tmp_path) == {update["update_id"]}
    with bot.db() as db:
        assert db.execute("SELECT COUNT(*) FROM forecast_history").fetchone()[0] == 1
    assert SECRET not in bot.log and "Traceback" not in bot.log


async def test_polling_serves_health_on_http_port(
    tmp_path: Path, server: EmulatorServer, bots: list[BotProcess]
) -> None:
    emu = server.emulator
    port = free_port()
    bot = BotProcess(tmp_path, server, HTTP_PORT=str(port))
    bots.append(bot)
    bot.start()
    assert await server.wait_for(lambda: bool(emu.calls_to("getUpdates")), 30), bot.log
    # the server starts right after the first poll and logs when it listens
    assert await server.wait_for(lambda: f"HTTP server on 127.0.0.1:{port}" in bot.log, 30), (
        bot.log
    )
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as answer,
    ):
        health = await answer.json()
        status = answer.status
    assert status == 200 and health["mode"] == "polling" and health["inbox_depth"] == 0
    assert (await bot.terminate(within=15))[0] == 0
