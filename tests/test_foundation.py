"""Foundations: settings, migrations, seeding, catalogs, logging without the token."""

from __future__ import annotations

import asyncio
import http.server
import io
import logging
import os
import re
import string
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import aiosqlite
import pytest
from babel.messages.pofile import read_po

from bot.__main__ import main
from bot.config import SettingsError, load_settings
from bot.logs import RedactTokenFilter, setup_logging
from bot.services.dataset import DEFAULT_DATASET, DatasetError, load_dataset, parse_dataset
from bot.store import SchemaTooNewError, Store
from bot.store.migrations import MIGRATIONS
from bot.texts import LANGUAGES, catalog_files
from tests.conftest import UnauthorizedBotApi

TOKEN = "123456789:AAE-secretsecretsecretsecretsecret12"


# --- settings -----------------------------------------------------------------------------


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ADMIN_IDS", "1, 2,3")
    monkeypatch.setenv("DEFAULT_LANGUAGE", "en")
    settings = load_settings()
    assert settings.admin_ids == [1, 2, 3]
    assert settings.database_path == Path("data/bot.sqlite3")
    assert settings.bot_token is None


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("ADMIN_IDS", "12,abc", "ADMIN_IDS"),
        ("DEFAULT_LANGUAGE", "de", "DEFAULT_LANGUAGE"),
        ("DATABASE_URL", "postgres://x", "DATABASE_URL"),
        ("RESULTS_REVEAL_MIN", "-1", "RESULTS_REVEAL_MIN"),
        ("CHANNEL_ID", "beijing_ai", "CHANNEL_ID"),
    ],
)
def test_invalid_setting_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, named: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert named in message and "\n" not in message


def test_cli_invalid_setting_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEFAULT_LANGUAGE", "xx")
    assert main(["init-db"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Invalid setting DEFAULT_LANGUAGE") and "\n" not in err


def test_run_without_token_exits_2_and_points_to_botfather(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "@BotFather" in err and "python -m bot shell" in err


# --- store: migrations and seeding ----------------------------------------------------------


async def test_fresh_database_and_rerun(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "bot.sqlite3"
    store = await Store.open(path)
    async with store.conn.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone())[0] == "wal"  # type: ignore[index]
    async with store.conn.execute("PRAGMA foreign_keys") as cur:
        assert (await cur.fetchone())[0] == 1  # type: ignore[index]
    await store.close()
    store = await Store.open(path)  # re-run: nothing to apply, no error
    async with store.conn.execute("SELECT MAX(version) FROM schema_migrations") as cur:
        assert (await cur.fetchone())[0] == max(MIGRATIONS)  # type: ignore[index]
    await store.close()


async def _future_database(path: Path) -> None:
    await (await Store.open(path)).close()
    async with aiosqlite.connect(path) as conn:
        await conn.execute("INSERT INTO schema_migrations VALUES (999, 'future')")
        await conn.commit()


async def test_database_newer_than_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    await _future_database(path)
    with pytest.raises(SchemaTooNewError, match="schema version 999"):
        await Store.open(path)


def test_cli_refuses_database_newer_than_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bot.sqlite3"
    asyncio.run(_future_database(path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    assert main(["init-db"]) == 1
    assert "schema version 999" in capsys.readouterr().err


async def test_seeding_is_idempotent_and_keeps_admin_edits(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    dataset = load_dataset()
    first = await store.stats.seed(dataset)
    assert "registered_models" in first.inserted and len(first.inserted) == 6
    again = await store.stats.seed(dataset)
    assert again.inserted == () and again.updated == ()
    await store.stats.set_value("ai_companies", 2600, by=42, via="chat")
    third = await store.stats.seed(dataset)
    assert third.kept_edited == ("ai_companies",)
    stat = await store.stats.get("ai_companies")
    assert stat is not None and stat.value == 2600
    assert [q for q in await store.questions.seed(dataset.questions)] == ["talent-hub-2030"]
    assert await store.questions.seed(dataset.questions) == []
    await store.close()


def test_dataset_has_every_figure_of_the_story() -> None:
    dataset = load_dataset()
    values = {s.key: (s.value, s.unit, s.qualifier) for s in dataset.stats}
    assert values["registered_models"] == (183, "models", "exact")
    assert values["ai_companies"] == (2500, "companies", "more_than")
    assert values["industry_size_2025"] == (450, "bn_yuan", "above")
    assert values["core_growth_h1_2025"] == (25.3, "percent", "exact")
    assert values["digital_economy_growth_2025"] == (8.7, "percent", "exact")
    assert values["industry_target_2027"] == (1, "trn_yuan", "exact")
    assert {m.maker for m in dataset.models} == {"Baidu", "ByteDance", "Zhipu AI", "Moonshot AI"}
    assert all(s.source and s.period_ru and s.period_en for s in dataset.stats)


def test_invalid_dataset_names_the_entry(tmp_path: Path) -> None:
    raw = tomllib.loads(DEFAULT_DATASET.read_text(encoding="utf-8"))
    raw["stats"][1]["unit"] = "parsecs"
    with pytest.raises(DatasetError, match=r"stats\[1\]: unit must be one of"):
        parse_dataset(raw)
    broken = tmp_path / "broken.toml"
    broken.write_text("name = ", encoding="utf-8")
    with pytest.raises(DatasetError, match="not valid TOML"):
        load_dataset(broken)


# --- catalogs ---------------------------------------------------------------------------------


def _catalog(lang: str) -> dict[str, list[str]]:
    messages: dict[str, list[str]] = {}
    for path in catalog_files(lang):
        with path.open("rb") as fp:
            for message in read_po(fp, locale=lang):
                if message.id:
                    key = message.id if isinstance(message.id, str) else message.id[0]
                    raw = (
                        message.string
                        if isinstance(message.string, tuple | list)
                        else (message.string,)
                    )
                    strings = [text for text in raw if isinstance(text, str)]
                    assert len(strings) == len(raw), f"{key} has a missing translation in {lang}"
                    assert key not in messages, f"{key} is defined twice in {lang}"
                    messages[key] = strings
    return messages


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_catalogs_have_every_message_with_matching_placeholders() -> None:
    ru, en = _catalog("ru"), _catalog("en")
    assert set(ru) == set(en), set(ru) ^ set(en)
    for key in en:
        assert all(s.strip() for s in ru[key] + en[key]), f"{key} has an empty translation"
        expected = _placeholders(en[key][0])
        for text in ru[key] + en[key]:
            assert _placeholders(text) <= expected | {"count"}, (key, text)
        assert _placeholders(ru[key][-1]) == _placeholders(en[key][-1]), key


def test_catalog_html_uses_only_telegram_tags() -> None:
    allowed = {"b", "i", "u", "s", "code", "pre", "a", "blockquote"}
    for lang in LANGUAGES:
        for key, strings in _catalog(lang).items():
            for text in strings:
                tags = set(re.findall(r"</?([a-z-]+)", text))
                assert tags <= allowed, (lang, key, tags)


# --- logging ------------------------------------------------------------------------------


def test_debug_log_never_contains_the_token() -> None:
    stream = io.StringIO()
    setup_logging("DEBUG", TOKEN)
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)  # type: ignore[attr-defined]
    log = logging.getLogger("telegram.test")
    log.debug("POST https://api.telegram.org/bot%s/getMe", TOKEN)
    log.info("token is %s", TOKEN)
    try:
        raise RuntimeError(f"failed https://api.telegram.org/bot{TOKEN}/sendMessage")
    except RuntimeError:
        log.exception("boom")
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot%s/x", TOKEN)
    output = stream.getvalue()
    assert TOKEN not in output and "AAE-secret" not in output
    assert "bot***/getMe" in output and "boom" in output
    assert "HTTP Request" not in output  # httpx sits at WARNING


def test_redaction_of_token_shaped_text_without_configured_token() -> None:
    assert RedactTokenFilter(None).redact(f"url /bot{TOKEN}/getMe") == "url /bot***/getMe"


def test_console_from_a_pipe_prints_stats_and_kimi(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "DEFAULT_LANGUAGE")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "shell"],
        input="/stats\n/models kimi\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.replace("\xa0", " ").replace("\u202f", " ")
    assert "183 модели" in out and "более 2 500 компаний" in out and "25,3 %" in out
    assert "источник: PRC.TODAY" in out and "первое полугодие 2025 года" in out
    assert "Kimi (Moonshot AI)" in out
    assert (tmp_path / "data" / "bot.sqlite3").exists()


def test_rejected_token_is_one_line_and_never_printed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), UnauthorizedBotApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("BOT_TOKEN", TOKEN)
        monkeypatch.setenv("LOG_LEVEL", "DEBUG")
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", f"http://127.0.0.1:{server.server_port}/bot")
        assert main(["run"]) == 2
    finally:
        server.shutdown()
        server.server_close()
    captured = capsys.readouterr()
    assert TOKEN not in captured.err + captured.out and "AAE-secret" not in captured.err
    assert captured.err.strip().splitlines()[-1].startswith("Telegram rejected BOT_TOKEN")


async def test_concurrent_writers_never_mix_their_transactions(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    dataset = load_dataset()
    await store.questions.seed(dataset.questions)
    question = await store.questions.default()
    assert question is not None

    async def reader(user_id: int) -> None:
        await store.users.touch(user_id, username=None, first_name="R", tg_language="ru")
        await store.forecasts.set(question.id, user_id, user_id % 99 + 1, language="ru")
        await store.users.set_language(user_id, "en")

    await asyncio.gather(*(reader(uid) for uid in range(1, 61)))
    assert sum((await store.forecasts.histogram(question.id)).values()) == 60
    async with store.conn.execute("SELECT COUNT(*) FROM forecast_history") as cur:
        assert (await cur.fetchone())[0] == 60  # type: ignore[index]
    await store.close()
