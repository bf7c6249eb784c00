"""The lean hot path: dataset cards composed once per language and data revision, and the
reader's row written only when something about them changed."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import telegram_policy as policy
from bot.handlers import common
from bot.keyboard import Keyboard, with_keyboard_text
from bot.store import Store, users
from bot.store.users import Identity
from tests.conftest import ADMIN_ID, Harness, plain
from tests.test_questions import add_second

KEY = "core_growth_h1_2025"


async def test_cards_are_reused_until_the_figures_change(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    card = (await harness.send(bob, "/stats")).last
    assert "25.3%" in plain(card["text"])
    before = await harness.store.stats.revision()
    topic = await harness.press(bob, card, "📈 Industry and growth")
    assert "25.3%" in plain(topic.edits[-1]["text"])
    assert "25,3" in plain((await harness.send(anna, "/stats")).text)
    assert await harness.store.stats.revision() == before  # reads change nothing

    await harness.send(admin, f"/setstat {KEY} 26.4")
    assert "26.4%" in plain((await harness.send(bob, "/stats")).text)
    assert "26,4" in plain((await harness.send(anna, "/stats")).text)
    back = await harness.press(bob, harness.emu.last_sent(bob["id"]), "📈 Industry and growth")
    assert "26.4%" in plain(back.edits[-1]["text"])


async def test_a_change_by_another_process_is_seen(harness: Harness, bob: dict[str, Any]) -> None:
    assert "25.3%" in plain((await harness.send(bob, "/stats")).text)
    other = await Store.open(harness.settings.database_path)  # like `bot stats import`
    await other.stats.set_value(KEY, 27.5, by=None, via="import")
    await other.close()
    assert "27.5%" in plain((await harness.send(bob, "/stats")).text)


async def test_the_reader_row_is_written_only_when_something_changed(
    harness: Harness, bob: dict[str, Any]
) -> None:
    await harness.send(bob, "/stats")
    stored = await harness.store.users.get(bob["id"])
    assert stored is not None and stored.started
    await harness.restart()  # the in-memory signature is gone
    await harness.send(bob, "/stats")
    again = await harness.store.users.get(bob["id"])
    assert again == stored  # not rewritten
    bob["first_name"] = "Robert"
    await harness.send(bob, "/stats")
    renamed = await harness.store.users.get(bob["id"])
    assert renamed is not None and renamed.first_name == "Robert"


async def test_readers_of_concurrent_updates_are_stored_together(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "readers.sqlite3")
    try:
        await store.users.touch(5, username="old", first_name="Eve", tg_language="en")
        await store.users.set_language(5, "ru")
        identities = [Identity(uid, None, f"R{uid}", "en", started=True) for uid in range(1, 60)]
        readers = await asyncio.gather(*(store.users.sync(i) for i in identities))
        assert [r.user_id for r in readers] == list(range(1, 60))
        for reader in readers:
            assert reader == await store.users.get(reader.user_id)  # as stored
            assert reader.started == 1 and reader.handle is not None
        assert len({r.handle for r in readers}) == 59
        assert readers[4].language == "ru" and readers[4].username is None  # kept, refreshed
        again = await asyncio.gather(*(store.users.sync(i) for i in identities))
        assert again == readers  # nothing changed: nothing rewritten
        with pytest.raises(ValueError):
            await store.users.sync(Identity(777000, None, "Telegram", None))
    finally:
        await store.close()


async def test_a_taken_handle_is_drawn_again_in_a_shared_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await Store.open(tmp_path / "readers.sqlite3")
    try:
        first = await store.users.touch(1, username=None, first_name="A", tg_language=None)
        draws = iter([first.handle, first.handle, *(f"r-{c}{c}{c}{c}{c}{c}" for c in "23456")])
        monkeypatch.setattr(users, "new_handle", lambda: next(draws))
        readers = await asyncio.gather(
            *(store.users.sync(Identity(uid, None, "B", None)) for uid in (2, 3))
        )
        handles = {r.handle for r in readers}
        assert len(handles) == 2 and first.handle not in handles
        assert [await store.users.get(uid) for uid in (2, 3)] == readers
    finally:
        await store.close()


async def test_only_recent_readers_stay_in_memory(
    harness: Harness,
    monkeypatch: pytest.MonkeyPatch,
    admin: dict[str, Any],
    anna: dict[str, Any],
    bob: dict[str, Any],
) -> None:
    monkeypatch.setattr(common, "READER_CACHE_SIZE", 2)
    await harness.send(anna, "/language en")  # a Russian speaker who chose English
    await harness.send(bob, "/stats")
    await harness.send(admin, "/stats")
    assert set(harness.app.user_data) == {bob["id"], ADMIN_ID}
    assert "25.3%" in plain((await harness.send(anna, "/stats")).text)  # read again: English
    assert set(harness.app.user_data) == {admin["id"], anna["id"]}


async def test_nothing_else_is_kept_per_reader(
    harness: Harness,
    monkeypatch: pytest.MonkeyPatch,
    admin: dict[str, Any],
    anna: dict[str, Any],
    bob: dict[str, Any],
) -> None:
    monkeypatch.setattr(common, "READER_CACHE_SIZE", 2)
    for reader in (anna, bob, admin, bob):
        assert "25" in plain((await harness.send(reader, "/stats")).text)
    app = harness.app
    assert set(app.user_data) == {bob["id"], ADMIN_ID}
    assert dict(app.chat_data) == {}  # private chats keep no chat_data
    # no persistence: no chat or user ids are noted for one (PTB would keep them forever)
    assert app.persistence is None
    assert not app._user_ids_to_be_updated_in_persistence
    assert not app._chat_ids_to_be_updated_in_persistence
    assert not app._user_ids_to_be_deleted_in_persistence


async def test_a_card_that_failed_to_compose_is_composed_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, bob: dict[str, Any]
) -> None:
    real = harness.store.stats.all
    calls = 0

    async def failing_once() -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return await real()

    monkeypatch.setattr(harness.store.stats, "all", failing_once)
    first = await harness.send(bob, "/stats")
    assert "25.3%" not in plain(first.text)  # the apology, not a card
    assert "25.3%" in plain((await harness.send(bob, "/stats")).text)


async def test_a_reply_whose_message_is_unused_reaches_telegram_whole(
    harness: Harness, bob: dict[str, Any]
) -> None:
    """`common.reply` builds no Message from Telegram's answer (python-telegram-bot gets
    True); the reader still gets the text and the kept keyboard exactly as composed."""
    step = await harness.send(bob, "/forecast 63")
    assert "Recorded: 63%" in step.text
    keyboard = step.last["reply_markup"]["inline_keyboard"]
    assert [button["text"] for row in keyboard for button in row] == [
        "💬 Add a reason", "🔁 Change forecast", "📊 Community forecast"
    ]  # fmt: skip
    bot = harness.app.bot
    with policy.result_unused():
        assert await bot.send_message(bob["id"], "unused") is True
    sent = await bot.send_message(bob["id"], "used")
    assert sent.text == "used"
    assert [m["text"] for m in harness.emu.sent(bob["id"])[-2:]] == ["unused", "used"]


def test_a_kept_keyboard_is_sent_as_python_telegram_bot_would_send_it() -> None:
    rows = [[InlineKeyboardButton("A & B", callback_data="x:1")],
            [InlineKeyboardButton("Ссылка", url="https://example.org/?a=1&b=2")]]  # fmt: skip
    kept, stock = Keyboard(rows), InlineKeyboardMarkup(rows)
    assert kept == stock and kept.to_dict() == stock.to_dict()
    assert kept.to_dict() is kept.to_dict()  # worked out once
    assert json.loads(kept.json_text) == stock.to_dict()
    data = {"chat_id": 1, "reply_markup": kept}
    assert with_keyboard_text(data) == {"chat_id": 1, "reply_markup": kept.json_text}
    plain_data = {"chat_id": 1, "reply_markup": stock}
    assert with_keyboard_text(plain_data) is plain_data


async def test_replies_name_the_question_as_questions_open_and_close(
    harness: Harness, bob: dict[str, Any]
) -> None:
    """The open-question count behind naming is kept in memory and follows every write."""
    assert "Question:" not in (await harness.send(bob, "/forecast 60")).text
    second = await add_second(harness)
    assert "Question: Will Beijing" in (await harness.send(bob, "/forecast 61")).text
    assert await harness.store.admin.set_status(second, "closed")
    assert "Question:" not in (await harness.send(bob, "/forecast 62")).text
    assert await harness.store.admin.set_status(second, "open")
    assert "Question: Will Beijing" in (await harness.send(bob, "/forecast 63")).text


async def test_a_forecast_clears_the_prompt_in_its_own_commit(
    harness: Harness, bob: dict[str, Any]
) -> None:
    """An answered exact-% prompt is gone once the forecast is stored, in the same commit."""
    card = (await harness.send(bob, "/forecast")).last
    await harness.press(bob, card, "✏️ Exact %")
    question = await harness.store.questions.default()
    assert question is not None
    assert await harness.store.forecasts.pending(bob["id"], bob["id"]) is not None
    commits = harness.store.forecasts.commits
    assert "Recorded: 44%" in (await harness.send(bob, "44")).text
    assert await harness.store.forecasts.pending(bob["id"], bob["id"]) is None
    assert harness.store.forecasts.commits == commits + 1
