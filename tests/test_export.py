"""Export: /export for admins in private (CSV with BOM, JSON, history), the refusals,
the group button, empty and large exports, and `python -m bot export` giving the same bytes."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main
from bot.services.dataset import QuestionEntry
from bot.services.export_format import EXPORT_COLUMNS, HISTORY_COLUMNS, pseudonym
from bot.services.export_run import ExportSpec, exported_files
from tests.conftest import ADMIN_ID, Harness, buttons

REASONS = {
    101: 'Кадры растут, "но" медленно, — см. отчёт;\nвторая строка 🚀',
    102: 'Plain, with commas, "quotes" and a\r\nCRLF line; emoji 🤖🇨🇳',
}
SALT = "test-salt"


def documents(harness: Harness, since: int = 0) -> dict[str, bytes]:
    """File name → bytes of every document the bot uploaded (after call `since`)."""
    found = {}
    for call in harness.emu.calls_to("sendDocument")[since:]:
        if call.error is None:
            for name, data, _mime in call.files.values():
                found[name] = data
    return found


def utc_text(stored: datetime) -> str:
    """A stored time as the export writes it (whole seconds, Z)."""
    return stored.strftime("%Y-%m-%dT%H:%M:%SZ")


async def seed_forecasts(harness: Harness, anna: dict[str, Any], bob: dict[str, Any]) -> int:
    """Anna (ru) and Bob (en) forecast on the default question with awkward reasons; Bob then
    changes his mind and withdraws. Returns the question id."""
    for reader in (anna, bob):
        await harness.send(reader, "/start")
    question = await harness.store.questions.default()
    assert question
    forecasts = harness.store.forecasts
    await forecasts.set(question.id, 101, 35, language="ru", reason=REASONS[101])
    await forecasts.set(question.id, 102, 60, language="en", reason="first")
    await forecasts.set(question.id, 102, 75, language="en", reason=REASONS[102])
    await forecasts.withdraw(question.id, 102)
    return question.id


async def expected_rows(harness: Harness, question_id: int) -> list[dict[str, str]]:
    """The stored forecasts as the CSV should hold them (all values as text)."""
    rows = []
    for user_id in (101, 102):
        f = await harness.store.forecasts.current(question_id, user_id)
        assert f
        rows.append(
            {
                "question_slug": "talent-hub-2030",
                "pseudonym": pseudonym(user_id, SALT),
                "probability": str(f.probability),
                "reason": f.reason,
                "language": f.language,
                "created_at": utc_text(f.created_at),
                "updated_at": utc_text(f.updated_at),
                "revisions": str(f.revisions),
                "withdrawn": "true" if f.withdrawn else "false",
                "reason_hidden": "false",
            }
        )
    return rows


def parse_csv(data: bytes) -> list[dict[str, str]]:
    """A CSV export (must start with the UTF-8 BOM) as dicts."""
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def test_admin_exports_csv_json_and_history_that_parse_back_exactly(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    question_id = await seed_forecasts(harness, anna, bob)
    step = await harness.send(admin, "/export")
    today = datetime.now(UTC).date().isoformat()
    files = documents(harness)
    assert sorted(files) == sorted(
        [
            f"forecasts-talent-hub-2030-{today}.csv",
            f"forecasts-talent-hub-2030-{today}.json",
            f"forecast-history-talent-hub-2030-{today}.csv",
        ]
    )
    assert step.texts[:2] == ["talent-hub-2030: 2 rows"] * 2
    expected = await expected_rows(harness, question_id)

    rows = parse_csv(files[f"forecasts-talent-hub-2030-{today}.csv"])
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert rows == expected
    assert rows[0]["reason"] == REASONS[101] and rows[1]["reason"] == REASONS[102]

    document = json.loads(files[f"forecasts-talent-hub-2030-{today}.json"].decode("utf-8"))
    assert document["question"] == "talent-hub-2030"
    as_text = [
        {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in r.items()}
        for r in document["forecasts"]
    ]
    assert as_text == expected
    assert document["forecasts"][1]["withdrawn"] is True

    history = parse_csv(files[f"forecast-history-talent-hub-2030-{today}.csv"])
    assert list(history[0]) == list(HISTORY_COLUMNS)
    stored = [
        e for uid in (101, 102) for e in await harness.store.forecasts.history(question_id, uid)
    ]
    stored.sort(key=lambda e: (e.at, e.id))

    def text(value: int | None) -> str:
        return "" if value is None else str(value)

    got = [(h["action"], h["old_probability"], h["new_probability"], h["reason"]) for h in history]
    assert got == [
        (e.action, text(e.old_probability), text(e.new_probability), e.reason) for e in stored
    ]
    assert {h["pseudonym"] for h in history} == {pseudonym(101, SALT), pseudonym(102, SALT)}
    # no Telegram ids, usernames or names in the pseudonymous files
    for data in files.values():
        assert b"anna" not in data and "Анна".encode() not in data and b"101" not in data


async def test_export_variants_choose_files(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    await seed_forecasts(harness, anna, bob)
    before = len(harness.emu.calls_to("sendDocument"))
    await harness.send(admin, "/export json")
    assert [n.rsplit(".", 1)[1] for n in documents(harness, before)] == ["json"]
    before = len(harness.emu.calls_to("sendDocument"))
    await harness.send(admin, "/export talent-hub-2030 csv")
    names = list(documents(harness, before))
    assert len(names) == 1 and names[0].startswith("forecasts-talent-hub-2030-")
    before = len(harness.emu.calls_to("sendDocument"))
    await harness.send(admin, "/export history")
    (name,) = documents(harness, before)
    assert name.startswith("forecast-history-talent-hub-2030-")


async def test_bad_export_words_get_usage_and_unknown_slug_lists_questions(
    harness: Harness, admin: dict[str, Any]
) -> None:
    step = await harness.send(admin, "/export one two")
    assert "/export [SLUG] [csv] [json] [history] [full]" in step.text
    step = await harness.send(admin, "/export nope")
    assert "There is no question “nope”" in step.text and "talent-hub-2030" in step.text
    assert documents(harness) == {}


async def test_non_admin_and_anonymous_admin_get_nothing_and_are_logged(
    harness: Harness,
    anna: dict[str, Any],
    group: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.handlers.admin")
    step = await harness.send(anna, "/export")
    assert step.texts == ["Извините, эта команда только для администраторов бота."]
    anonymous = harness.emu.message(None, group, "/export", sender_chat=group)
    step = await harness.process(anonymous)
    assert "anonymously" in step.text or "анонимно" in step.text
    assert buttons(step.last) == []
    assert documents(harness) == {}
    logged = [r.getMessage() for r in caplog.records]
    # logged without the reader's id (readers' identities never reach the log)
    assert any("Refused /export for a non-admin user in a private chat" in m for m in logged)
    assert any("Refused /export for an anonymous admin in a supergroup chat" in m for m in logged)
    assert not any("101" in m for m in logged)


async def test_export_in_a_group_sends_a_private_button_and_no_file(
    harness: Harness, admin: dict[str, Any], group: dict[str, Any]
) -> None:
    step = await harness.send(admin, "/export talent-hub-2030", chat=group)
    assert documents(harness) == {}
    assert [m["chat"]["id"] for m in step.messages] == [group["id"]]
    (label, url), *_ = buttons(step.last)
    assert label == "Continue in private"
    assert url == f"https://t.me/{harness.app.bot.username}?start=export_talent-hub-2030"
    # the button's deep link exports in private
    step = await harness.send(admin, "/start export_talent-hub-2030")
    assert len(documents(harness)) == 3
    assert {m["chat"]["id"] for m in step.messages} == {ADMIN_ID}


async def test_empty_question_exports_header_only_and_says_so(
    harness: Harness, admin: dict[str, Any]
) -> None:
    step = await harness.send(admin, "/export")
    files = documents(harness)
    csv_name = next(n for n in files if n.startswith("forecasts-") and n.endswith(".csv"))
    assert files[csv_name] == b"\xef\xbb\xbf" + ",".join(EXPORT_COLUMNS).encode() + b"\r\n"
    json_name = next(n for n in files if n.endswith(".json"))
    assert json.loads(files[json_name])["forecasts"] == []
    assert "has no forecasts yet: the files hold only the header" in step.text


async def test_full_export_refused_unless_allowed(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    await seed_forecasts(harness, anna, bob)
    step = await harness.send(admin, "/export full")
    assert "EXPORT_ALLOW_FULL=true" in step.text and documents(harness) == {}
    harness.settings.export_allow_full = True
    await harness.send(admin, "/export full csv")
    ((name, data),) = documents(harness).items()
    assert name.startswith("forecasts-full-talent-hub-2030-")
    rows = parse_csv(data)
    assert [(r["user_id"], r["username"], r["name"]) for r in rows] == [
        ("101", "anna", "Анна"),
        ("102", "bob", "Bob"),
    ]


async def test_cli_export_matches_the_chat_export(
    harness: Harness,
    admin: dict[str, Any],
    anna: dict[str, Any],
    bob: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed_forecasts(harness, anna, bob)
    await harness.send(admin, "/export")
    chat = documents(harness)
    today = datetime.now(UTC).date().isoformat()
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("DATABASE_URL", harness.settings.database_url)
    monkeypatch.setenv("EXPORT_SALT", SALT)
    for extra, name in (
        (["--format", "csv"], f"forecasts-talent-hub-2030-{today}.csv"),
        (["--format", "json"], f"forecasts-talent-hub-2030-{today}.json"),
        (["--history"], f"forecast-history-talent-hub-2030-{today}.csv"),
    ):
        out = tmp_path / name
        argv = ["export", "--question", "talent-hub-2030", *extra, "--out", str(out)]
        assert await asyncio.to_thread(main, argv) == 0
        if name.endswith(".json"):
            cli_doc, chat_doc = json.loads(out.read_bytes()), json.loads(chat[name])
            assert cli_doc["forecasts"] == chat_doc["forecasts"]
            assert cli_doc["question"] == chat_doc["question"]
        else:
            assert out.read_bytes() == chat[name]
    # refusals: unknown question, history as JSON, full without permission
    for argv in (
        ["export", "--question", "nope", "--out", str(tmp_path / "x")],
        ["export", "--history", "--format", "json"],
        ["export", "--full"],
    ):
        assert await asyncio.to_thread(main, argv) == 1
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()


async def test_cli_export_to_stdout(
    harness: Harness,
    anna: dict[str, Any],
    bob: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfdbinary: pytest.CaptureFixture[bytes],
) -> None:
    question_id = await seed_forecasts(harness, anna, bob)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", harness.settings.database_url)
    monkeypatch.setenv("EXPORT_SALT", SALT)
    assert await asyncio.to_thread(main, ["export"]) == 0
    captured = capfdbinary.readouterr()
    assert parse_csv(captured.out) == await expected_rows(harness, question_id)
    assert b"2 rows of talent-hub-2030 exported" in captured.err


async def test_large_export_streams_to_a_temp_file_and_is_zipped_over_the_limit(
    harness: Harness, tmp_path: Path
) -> None:
    """100,000 forecasts: written row by row to a temporary file, zipped when over the limit
    (a small limit here stands in for Telegram's 50 MB)."""
    store = harness.store
    now = datetime.now(UTC)
    question = await store.questions.create(
        QuestionEntry("big", "Вопрос", "Question", "к", "c", now, now + timedelta(days=9),
                      now + timedelta(days=10))
    )  # fmt: skip
    stamp = now.isoformat()
    n = 100_000
    await store.conn.executemany(
        "INSERT INTO users (user_id, first_name, created_at, updated_at) VALUES (?, ?, ?, ?)",
        ((1_000_000 + i, f"r{i}", stamp, stamp) for i in range(n)),
    )
    await store.conn.executemany(
        "INSERT INTO forecasts (question_id, user_id, probability, reason, language,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, 'ru', ?, ?)",
        ((question.id, 1_000_000 + i, 1 + i % 99, f"причина, \"{i}\"", stamp, stamp)
         for i in range(n)),
    )  # fmt: skip
    await store.conn.commit()
    spec = ExportSpec("forecasts", "csv")
    async with exported_files(
        store, question, [spec], salt=SALT, now=now, limit_bytes=3_000_000
    ) as files:
        (file,) = files
        assert file.rows == n and file.zipped and file.path.stat().st_size <= 3_000_000
        folder = file.path.parent
        with zipfile.ZipFile(file.path) as archive:
            (inner,) = archive.namelist()
            data = archive.read(inner)
    assert not folder.exists()  # the temporary folder is gone
    assert re.fullmatch(r"forecasts-big-\d{4}-\d\d-\d\d\.csv", inner)
    rows = parse_csv(data)
    assert len(rows) == n and rows[-1]["reason"] == f'причина, "{n - 1}"'
