"""Shared fixtures: the real Application on the offline emulator with a temporary SQLite file.

`harness` is the entry point: `step = await harness.send(ANNA, "/stats")` returns what the
bot did in answer (`step.texts`, `step.messages`, `step.alert`, `step.edits`, `step.calls`).
"""

from __future__ import annotations

import http.server
import json
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from telegram.ext import Application, JobQueue

from bot.app import build_application, running
from bot.config import Settings
from bot.emulator import ApiCall, Emulator
from bot.store import Store

# PTB 22 warns on every RetryAfter unless durations are timedeltas (PTB 23's default);
# `python -m bot` opts in the same way.
os.environ.setdefault("PTB_TIMEDELTA", "true")

ADMIN_ID = 42
SENT = ("sendMessage", "sendPhoto", "sendDocument")


@dataclass
class Step:
    """What the bot did in answer to one update."""

    calls: list[ApiCall]
    update: dict[str, Any] = field(default_factory=dict)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Messages the bot sent (results of sendMessage/sendPhoto/sendDocument)."""
        return [c.result for c in self.calls if c.method in SENT and c.result]

    @property
    def texts(self) -> list[str]:
        """Plain text (or caption) of every message sent; Babel's no-break spaces as spaces."""
        return [plain(m.get("text") or m.get("caption") or "") for m in self.messages]

    @property
    def text(self) -> str:
        """All sent texts joined, for `in` assertions."""
        return "\n".join(self.texts)

    @property
    def edits(self) -> list[dict[str, Any]]:
        """Parameters of editMessageText calls that succeeded."""
        return [c.params for c in self.calls if c.method == "editMessageText" and not c.error]

    @property
    def alert(self) -> str | None:
        """The text of the callback-query answer, if any."""
        answers = [c.params for c in self.calls if c.method == "answerCallbackQuery"]
        return answers[-1].get("text") if answers else None

    @property
    def errors(self) -> list[str]:
        """Descriptions of calls Telegram (the emulator) refused."""
        return [c.error for c in self.calls if c.error]

    @property
    def last(self) -> dict[str, Any]:
        """The last message sent."""
        return self.messages[-1]


class Harness:
    """The bot as readers meet it: real handlers, real store, emulated Telegram."""

    def __init__(self, settings: Settings, emu: Emulator) -> None:
        self.settings = settings
        self.emu = emu
        self.app: Application[Any, Any, Any, Any, Any, Any]  # set by start()
        self._running: AbstractAsyncContextManager[None] | None = None

    async def start(self) -> None:
        """Build and start a fresh application on the same database and emulator."""
        # PTB's rate limiter on, as in production; retries after transient failures fast
        self.app = build_application(self.settings, self.emu.request, retry_backoff=0.001)
        self._running = running(self.app)
        await self._running.__aenter__()

    async def stop(self) -> None:
        """Stop the application (closing the store)."""
        assert self._running is not None, "stop() before start()"
        await self._running.__aexit__(None, None, None)
        self._running = None

    async def restart(self) -> None:
        """Simulate a bot restart: everything in memory is lost, SQLite stays."""
        await self.stop()
        await self.start()

    @property
    def job_queue(self) -> JobQueue[Any]:
        """The running application's job queue: tests run its jobs with `job.run(app)`
        instead of waiting for their interval."""
        assert self.app.job_queue is not None
        return self.app.job_queue

    @property
    def store(self) -> Store:
        """The running application's store."""
        store: Store = self.app.bot_data.store
        return store

    async def process(self, update: dict[str, Any]) -> Step:
        """Feed any update. A callback query must be answered exactly once
        (answerCallbackQuery; a failed call is accepted only when no call succeeded, e.g.
        when the test makes the emulator refuse it)."""
        step = Step(await self.emu.process(self.app, update), update)
        query = update.get("callback_query")
        if query is not None:
            answers = [
                c
                for c in step.calls
                if c.method == "answerCallbackQuery"
                and str(c.params.get("callback_query_id")) == str(query["id"])
            ]
            done = [c for c in answers if not c.error]
            assert len(done) == 1 or (not done and answers), (
                f"callback query {query.get('data')!r} answered {len(done)} times"
            )
        return step

    async def send(
        self, user: dict[str, Any], text: str, chat: dict[str, Any] | None = None, **kw: Any
    ) -> Step:
        """`user` writes `text` in `chat` (their private chat by default)."""
        chat = chat or self.emu.private_chat(user)
        return await self.process(self.emu.message(user, chat, text, **kw))

    async def tap(self, user: dict[str, Any], message: dict[str, Any], data: str) -> Step:
        """`user` presses a button with callback `data` under `message`."""
        return await self.process(self.emu.callback(user, message, data))

    async def press(
        self, user: dict[str, Any], message: dict[str, Any], button: str | int
    ) -> Step:
        """`user` presses the button labelled `button` (or the n-th, 1-based)."""
        return await self.process(self.emu.press(user, message, button))


def plain(text: str) -> str:
    """`text` with no-break and narrow no-break spaces (Babel's separators) as spaces, and
    without the invisible isolates (U+2068, U+2069) around readers' names."""
    return (
        text.replace("\xa0", " ")
        .replace("\u202f", " ")
        .replace("\u2068", "")
        .replace("\u2069", "")
    )


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, callback data or url) of every inline button of a message."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [
        (plain(b["text"]), b.get("callback_data") or b.get("url", "")) for row in rows for b in row
    ]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """CLI tests configure logging on pytest's captured streams: undo that after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a test: a temp database, one admin, results always shown and never
    reused across changes."""
    for name in ("BOT_TOKEN", "ADMIN_IDS", "DATABASE_URL", "DEFAULT_LANGUAGE", "CHANNEL_ID"):
        monkeypatch.delenv(name, raising=False)
    return Settings(
        _env_file=None,
        database_url=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        admin_ids=[ADMIN_ID],
        results_reveal_min=0,
        results_cache_seconds=0,  # every change visible at once; tests of reuse set their own
        export_salt=SecretStr("test-salt"),
    )


@pytest.fixture
def emu() -> Emulator:
    """A fresh emulated Telegram."""
    return Emulator()


@pytest.fixture
async def harness(settings: Settings, emu: Emulator) -> AsyncIterator[Harness]:
    """The running bot; stopped (store closed) after the test."""
    h = Harness(settings, emu)
    await h.start()
    try:
        yield h
    finally:
        await h.stop()


@pytest.fixture
def anna(emu: Emulator) -> dict[str, Any]:
    """A Russian-speaking reader."""
    return emu.user(101, "Анна", language_code="ru", username="anna")


@pytest.fixture
def bob(emu: Emulator) -> dict[str, Any]:
    """An English-speaking reader."""
    return emu.user(102, "Bob", language_code="en", username="bob")


@pytest.fixture
def admin(emu: Emulator) -> dict[str, Any]:
    """The admin (listed in ADMIN_IDS), English-speaking."""
    return emu.user(ADMIN_ID, "Admin", language_code="en", username="boss")


@pytest.fixture
def group(emu: Emulator) -> dict[str, Any]:
    """A supergroup where the bot is a member (privacy mode: commands and replies only)."""
    return emu.group(-1001234, "Readers' club", supergroup=True)


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails the test if anything was logged with a traceback, or at ERROR (except the
    database refusing a write): expected conditions are one INFO/WARNING line."""
    caplog.set_level(logging.INFO)
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")
    bugs = [
        r
        for r in records
        if r.exc_info or (r.levelno >= logging.ERROR and "database refused" not in r.getMessage())
    ]
    assert not bugs, [r.getMessage() for r in bugs]


class UnauthorizedBotApi(http.server.BaseHTTPRequestHandler):
    """A Bot API server that rejects every token, as Telegram does for a revoked one."""

    def do_POST(self) -> None:
        body = json.dumps({"ok": False, "error_code": 401, "description": "Unauthorized"})
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        """Quiet."""
