"""`python -m bot run` end to end: a real process polling a stub Bot API server over HTTP
(a self-hosted-Bot-API-style base URL), answering a /stats update, stopping on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs

import pytest

from bot.runner import event_loop_factory

TOKEN = "424242:RUN-secretsecretsecretsecretsecret"
BOT = {"id": 424242, "is_bot": True, "first_name": "Beijing AI", "username": "beijing_ai_bot"}
READER = {"id": 7, "is_bot": False, "first_name": "Ivan", "language_code": "en"}


class StubBotApi(BaseHTTPRequestHandler):
    """Answers the methods `run` uses; hands out one /stats update; records what it got."""

    calls: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    delivered = False
    answered: ClassVar[threading.Event] = threading.Event()  # set by the first sendMessage

    def do_POST(self) -> None:
        method = self.path.rsplit("/", 1)[-1]
        length = int(self.headers.get("Content-Length", 0))
        form = parse_qs(self.rfile.read(length).decode())
        params = {k: v[0] for k, v in form.items()}
        StubBotApi.calls.append((method, params))
        self._answer(self._result(method, params))

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT
        if method == "getUpdates":
            if not StubBotApi.delivered:
                StubBotApi.delivered = True
                return [{"update_id": 1, "message": {
                    "message_id": 1, "date": int(time.time()), "text": "/stats",
                    "chat": {"id": 7, "type": "private", "first_name": "Ivan"}, "from": READER,
                    "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                }}]  # fmt: skip
            time.sleep(0.2)  # long polling: an empty answer after a short hold
            return []
        if method == "sendMessage":
            StubBotApi.answered.set()
            return {"message_id": 2, "date": int(time.time()), "text": params["text"],
                    "chat": {"id": 7, "type": "private"}, "from": BOT}  # fmt: skip
        return True

    def _answer(self, result: Any) -> None:
        body = json.dumps({"ok": True, "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_run_polls_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubBotApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("ADMIN_IDS", "CHANNEL_ID")},
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{server.server_port}/bot",
        "LOG_LEVEL": "DEBUG",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    log = (tmp_path / "bot.log").open("w")  # a file, not a pipe: DEBUG output must not block
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, stdout=log, stderr=log
    )
    try:
        StubBotApi.answered.wait(timeout=30)  # the answer to /stats (asserted below)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        server.shutdown()
        server.server_close()
        log.close()
    stderr = (tmp_path / "bot.log").read_text()
    assert process.returncode == 0, stderr[-2000:]
    answers = [p["text"] for m, p in StubBotApi.calls if m == "sendMessage"]
    assert answers and "183 models" in answers[0], stderr[-3000:]
    assert any(m == "setMyCommands" for m, _ in StubBotApi.calls)
    assert TOKEN not in stderr and "RUN-secret" not in stderr  # DEBUG log, no token
    assert (tmp_path / "data" / "bot.sqlite3").exists()


def test_the_bot_runs_on_uvloop_where_it_is_installed() -> None:
    """`python -m bot run` gets uvloop's event loop (a dependency off Windows)."""
    uvloop = pytest.importorskip("uvloop")
    factory = event_loop_factory()
    assert factory is uvloop.new_event_loop
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
