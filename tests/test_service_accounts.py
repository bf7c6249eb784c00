"""Telegram's service accounts are never readers: the channel's auto-forward (777000
"Telegram"), the anonymous group admin (1087968824) and a channel writing in a group
(136817688) are not stored or counted, and a database that stored them loses them on
migration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.emulator import Emulator
from bot.store import Store, db
from bot.store.inbox import connect_inbox
from bot.store.migrations import MIGRATIONS
from bot.store.users import SERVICE_ACCOUNTS
from bot.texts import t
from tests.conftest import Harness, plain

SERVICE_IDS = (777000, 1087968824, 136817688)


async def stored_ids(harness: Harness) -> set[int]:
    async with harness.store.conn.execute("SELECT user_id FROM users") as cur:
        return {int(row[0]) for row in await cur.fetchall()}


async def test_auto_forward_and_helper_accounts_are_not_readers(
    harness: Harness, emu: Emulator, admin: dict[str, Any], group: dict[str, Any]
) -> None:
    assert set(SERVICE_IDS) == SERVICE_ACCOUNTS
    channel = emu.channel(-1005555, "Beijing AI news", username="news")
    # the channel's post as Telegram forwards it into the discussion group: from 777000
    forward = emu.message(
        None,
        group,
        "A new post",
        sender_chat=channel,
        is_automatic_forward=True,
        forward_origin_chat=channel,
    )
    assert forward["message"]["from"]["id"] == 777000
    await harness.process(forward)
    # the same accounts writing commands, even if Telegram did not flag them as bots
    for user_id, name in ((1087968824, "Group"), (136817688, "Channel"), (777000, "Telegram")):
        helper = emu.user(user_id, name, language_code="en")
        step = await harness.send(helper, "/forecast 50 because", chat=group)
        assert step.texts == [t("ru", "forecast.anonymous")]  # DEFAULT_LANGUAGE: unknown
        await harness.send(helper, "/start")
    assert await stored_ids(harness) == set()
    text = plain((await harness.send(admin, "/admin")).text)
    assert "Readers: 1 (can be messaged: 1; blocked the bot: 0)" in text
    assert "standing: 0" in text
    with pytest.raises(ValueError, match="service account"):
        await harness.store.users.touch(777000, username=None, first_name="T", tg_language=None)


async def test_migration_removes_stored_service_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.sqlite3"
    # a database as the bot left it before this step: service accounts stored, one forecasting
    monkeypatch.setattr(db, "MIGRATIONS", {k: v for k, v in MIGRATIONS.items() if k < 10})
    conn = await db.connect(path)
    await db.migrate(conn)
    store = Store(conn, await connect_inbox(path))
    question = await store.questions.default()
    assert question is None  # nothing seeded: make a question by hand
    await store.conn.execute(
        "INSERT INTO questions (slug, text_ru, text_en, criteria_ru, criteria_en, opened_at,"
        " closes_at, resolve_by, is_default, created_at) VALUES ('q', 'в', 'q', 'к', 'c',"
        " '2026-01-01', '2099-01-01', '2099-01-01', 1, '2026-01-01')"
    )
    await store.conn.commit()
    for user_id in (*SERVICE_IDS, 101):
        await store.conn.execute(
            "INSERT INTO users (user_id, first_name, created_at, updated_at)"
            " VALUES (?, 'x', '2026-01-01', '2026-01-01')",
            (user_id,),
        )
    await store.conn.commit()
    question = await store.questions.default()
    assert question
    await store.forecasts.set(question.id, 777000, 10, language="ru")
    await store.forecasts.set(question.id, 101, 70, language="ru")
    await store.close()
    monkeypatch.undo()

    store = await Store.open(path)
    try:
        async with store.conn.execute("SELECT user_id, handle FROM users") as cur:
            rows = [tuple(row) for row in await cur.fetchall()]
        assert [r[0] for r in rows] == [101]
        assert rows[0][1] and rows[0][1].startswith("r-")  # the old reader got a handle
        assert await store.forecasts.count(question.id) == 1
        assert await store.forecasts.histogram(question.id) == {70: 1}
        assert await db.schema_version(store.conn) == max(MIGRATIONS)
    finally:
        await store.close()
