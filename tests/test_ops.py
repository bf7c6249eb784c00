"""Operations: backups taken while the bot runs, the health check, the export salt kept in
the database, and error reports to the operators' chat."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from telegram import Update
from telegram.ext import CommandHandler

from bot import ops
from bot.config import Settings
from bot.emulator import Emulator
from bot.handlers import alerts
from bot.handlers.common import BotContext
from bot.services.export_format import pseudonym
from bot.store import Store
from tests.conftest import ADMIN_ID, Harness, Step


def count(path: Path, sql: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


# --- backup ---------------------------------------------------------------------------------


async def test_backup_while_the_bot_runs_and_restore(
    harness: Harness, anna: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await harness.send(anna, "/forecast 70 universities")
    # a write in progress on the bot's connection is not in the copy, and does not block it
    await harness.store.conn.execute("UPDATE forecasts SET probability = 5")
    target = tmp_path / "copy.sqlite3"
    assert ops.backup(harness.settings, target) == 0
    await harness.store.conn.rollback()
    assert capsys.readouterr().out.startswith(f"Backup written: {target} (")
    assert not target.with_name("copy.sqlite3.partial").exists()

    # restore: the copy is a complete database the bot opens as it is
    restored = await Store.open(target)
    try:
        question = await restored.questions.default()
        assert question is not None
        mine = await restored.forecasts.current(question.id, anna["id"])
        assert mine is not None and mine.probability == 70 and mine.reason == "universities"
    finally:
        await restored.close()


def test_backup_into_a_folder_gets_a_dated_file(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(settings.database_path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(settings.database_path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    conn.commit()
    conn.close()
    folder = tmp_path / "backups"
    assert ops.backup(settings, f"{folder}/") == 0  # created
    (copy,) = folder.iterdir()
    assert copy.name.startswith("bot-") and copy.suffix == ".sqlite3"
    assert count(copy, "SELECT count(*) FROM schema_migrations") == 0


def test_backup_without_a_database_is_one_line(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ops.backup(settings, tmp_path / "copy.sqlite3") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("Backup failed: No database at") and "init-db" in err
    assert "\n" not in err and not (tmp_path / "copy.sqlite3").exists()


# --- health check ---------------------------------------------------------------------------


async def test_healthcheck(
    harness: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ops.healthcheck(harness.settings) == 0
    assert capsys.readouterr().out.startswith("healthy: database ")
    missing = harness.settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path / 'none.sqlite3'}"}
    )
    assert ops.healthcheck(missing) == 1
    assert capsys.readouterr().err.startswith("unhealthy: No database at")


# --- the export salt ------------------------------------------------------------------------


async def test_salt_generated_once_and_kept(settings: Settings, emu: Emulator) -> None:
    unset = settings.model_copy(update={"export_salt": SecretStr("")})
    harness = Harness(unset, emu)
    await harness.start()
    try:
        first = harness.app.bot_data.settings.export_salt.get_secret_value()
        await harness.restart()
        again = harness.app.bot_data.settings.export_salt.get_secret_value()
    finally:
        await harness.stop()
    assert len(first) >= 40 and first == again
    assert count(settings.database_path, "SELECT count(*) FROM bot_secrets") == 1
    assert pseudonym(101, first) != pseudonym(101, "test-salt")


async def test_a_set_salt_is_used_as_is(harness: Harness) -> None:
    assert harness.app.bot_data.settings.export_salt.get_secret_value() == "test-salt"


# --- error reports ----------------------------------------------------------------------------


async def boom(update: Update, context: BotContext) -> None:
    user = update.effective_user if update else None
    raise KeyError(f"secret detail of reader {user.id if user else '-'}")


@pytest.fixture
async def alerting(settings: Settings, emu: Emulator) -> AsyncIterator[Harness]:
    """The bot with ADMIN_ALERT_CHAT_ID set to the admin's chat, and a /boom that fails."""
    harness = Harness(settings.model_copy(update={"admin_alert_chat_id": ADMIN_ID}), emu)
    await harness.start()
    harness.app.add_handler(CommandHandler("boom", boom), group=-3)
    yield harness
    await harness.stop()


def reports(step: Step) -> list[str]:
    return [
        str(c.params["text"])
        for c in step.calls
        if c.method == "sendMessage" and str(c.params.get("chat_id")) == str(ADMIN_ID)
    ]


async def test_error_report_is_short_and_names_no_one(
    alerting: Harness, anna: dict[str, Any], admin: dict[str, Any]
) -> None:
    await alerting.send(admin, "/start")  # the admin's chat exists
    step = await alerting.send(anna, "/boom")
    (report,) = reports(step)
    assert "KeyError" in report and "tests/" not in report
    assert "test_ops.py" in report and "(boom)" in report and "message" in report
    assert str(anna["id"]) not in report and "Анна" not in report and "secret" not in report
    assert any("что-то пошло не так" in text.lower() for text in step.texts)  # the reader


async def test_error_reports_are_rate_limited_then_summed_up(
    alerting: Harness, anna: dict[str, Any], admin: dict[str, Any]
) -> None:
    await alerting.send(admin, "/start")
    assert len(reports(await alerting.send(anna, "/boom"))) == 1
    assert reports(await alerting.send(anna, "/boom")) == []
    assert reports(await alerting.send(anna, "/boom")) == []
    (job,) = alerting.job_queue.get_jobs_by_name(alerts.FLUSH_JOB)
    before = len(alerting.emu.calls)
    await job.run(alerting.app)
    job.schedule_removal()
    sent = [
        c.params["text"]
        for c in alerting.emu.calls[before:]
        if c.method == "sendMessage" and str(c.params.get("chat_id")) == str(ADMIN_ID)
    ]
    assert sent == ["⚠️ Ещё непредвиденных ошибок с прошлого сообщения: 2. "
                    "Подробности — в журнале бота."]  # fmt: skip
