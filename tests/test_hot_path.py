"""The lean hot path: dataset cards composed once per language and data revision, and the
reader's row written only when something about them changed."""

from __future__ import annotations

from typing import Any

from bot.store import Store
from tests.conftest import Harness, plain

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
