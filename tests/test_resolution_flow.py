"""Resolution that can happen: criteria that name a city-level source with an annulment
rule, criteria edits with a visible note, /resolve with a link and a note shown wherever the
question appears, a warning before the closing date, and one notification point that keeps
the channel post in step (including /deleteme)."""

from __future__ import annotations

from typing import Any

from bot.services.dataset import load_dataset
from tests.conftest import Harness, buttons, plain
from tests.test_channel import (  # noqa: F401  (fixtures)
    CHANNEL_ID,
    carol,
    channel,
    discussion,
    post,
    prompt_in_thread,
    run_tally,
    settings,
)

SLUG = "talent-hub-2030"
LINK = "https://startupgenome.com/reports/gser2027"


def test_default_question_names_a_city_level_source_with_window_and_annulment() -> None:
    (question,) = load_dataset().questions
    text = question.criteria_en
    assert "Global Startup Ecosystem Report" in text and "Talent & Experience" in text
    assert "1 January 2026 to 31 December 2030" in text and "Annulled if" in text
    assert "MacroPolo" not in text and "Stanford" not in text
    assert "Resolves YES" in text and text.count("Resolves") == 2
    assert "аннулируется" in question.criteria_ru


async def test_reseeding_replaces_the_old_default_criteria_with_a_dated_note(
    harness: Harness, bob: dict[str, Any]
) -> None:
    dataset = load_dataset()
    (entry,) = dataset.questions
    await harness.send(bob, "/forecast 40")
    conn = harness.store.conn
    await conn.execute(
        "UPDATE questions SET criteria_en = ?, criteria_ru = ? WHERE slug = ?",
        (entry.replaces_criteria_en, entry.replaces_criteria_ru, SLUG),
    )
    await conn.commit()
    await harness.store.questions.seed(dataset.questions)
    question = await harness.store.questions.by_slug(SLUG)
    assert question and question.criteria_en == entry.criteria_en
    card = plain((await harness.send(bob, "/forecast")).text)
    assert "The criteria were changed on" in card


async def test_criteria_edit_silent_before_forecasts_noted_after(
    harness: Harness, admin: dict[str, Any], bob: dict[str, Any]
) -> None:
    step = await harness.send(admin, f"/criteria {SLUG} en Resolves YES if it rains.")
    assert "Nobody had forecast yet" in step.text
    card = plain((await harness.send(bob, "/forecast")).text)
    assert "Resolves YES if it rains." in card and "were changed" not in card
    await harness.send(bob, "/forecast 30")
    step = await harness.send(admin, f"/criteria {SLUG} ru ДА, если пойдёт дождь.")
    assert "changed on" in plain(step.text)
    card = plain((await harness.send(bob, "/forecast")).text)
    assert "The criteria were changed on" in card
    assert "/criteria SLUG en TEXT" in (await harness.send(admin, "/criteria")).text
    assert "admins only" in (await harness.send(bob, f"/criteria {SLUG} en x")).text


async def test_resolve_with_link_and_note_shows_everywhere_and_the_post_follows(
    harness: Harness,
    admin: dict[str, Any],
    anna: dict[str, Any],
    bob: dict[str, Any],
    channel: dict[str, Any],  # noqa: F811
) -> None:
    emu = harness.emu
    card = await post(harness, admin)
    question = await harness.store.questions.by_slug(SLUG)
    assert question is not None
    await harness.tap(anna, card, f"fc:{question.id}:75")
    await harness.send(bob, "/forecast 20")
    await run_tally(harness, card["message_id"], 1)

    step = await harness.send(admin, f"/resolve {SLUG} yes {LINK} Beijing 3rd on talent")
    assert "⚠️" in step.text and "closes it early" in step.text  # before closes_at
    assert LINK in step.text and "Beijing 3rd on talent" in step.text
    done = await harness.press(admin, step.last, "✅ Confirm")
    assert "resolved: YES" in done.text
    stored = await harness.store.questions.by_slug(SLUG)
    assert stored and stored.resolution_link == LINK
    assert stored.resolution_note == "Beijing 3rd on talent"

    listing = plain((await harness.send(bob, "/questions")).text)
    assert "resolved" in listing and "YES" in listing and LINK in listing
    assert "forecasts until" not in listing
    results = plain((await harness.send(bob, f"/results {SLUG}")).texts[0])
    assert "YES" in results and LINK in results
    deep = await harness.send(bob, f"/start forecast_{SLUG}")
    assert "YES" in plain(deep.text) and buttons(deep.last) == []
    board = plain((await harness.send(admin, f"/leaderboard {SLUG}")).text)
    assert LINK in board and "Beijing 3rd on talent" in board

    await run_tally(harness, card["message_id"], 2)
    shown = emu.last_sent(CHANNEL_ID)
    assert "ДА" in plain(shown["text"]) and LINK in plain(shown["text"])
    assert [data for _, data in buttons(shown)] == [f"rs:{question.id}"]  # no voting


async def test_resolve_after_closing_has_no_warning(
    harness: Harness, admin: dict[str, Any]
) -> None:
    conn = harness.store.conn
    await conn.execute(
        "UPDATE questions SET closes_at = '2020-01-01T00:00:00.000000+00:00' WHERE slug = ?",
        (SLUG,),
    )
    await conn.commit()
    step = await harness.send(admin, f"/resolve {SLUG} no")
    assert "⚠️" not in step.text and "Resolve talent-hub-2030 as NO?" in plain(step.text)
    step = await harness.send(admin, f"/resolve {SLUG} no www.example.org")
    assert "not a full web link" in step.text


async def test_deleteme_and_withdrawal_update_the_channel_tally(
    harness: Harness,
    admin: dict[str, Any],
    anna: dict[str, Any],
    bob: dict[str, Any],
    channel: dict[str, Any],  # noqa: F811
) -> None:
    emu = harness.emu
    card = await post(harness, admin)
    question = await harness.store.questions.by_slug(SLUG)
    assert question is not None
    await harness.tap(anna, card, f"fc:{question.id}:50")
    await harness.tap(bob, card, f"fc:{question.id}:75")
    await run_tally(harness, card["message_id"], 1)
    assert "2 участника" in plain(emu.last_sent(CHANNEL_ID)["text"])
    step = await harness.send(bob, "/deleteme")
    await harness.press(bob, step.last, "🗑 Delete everything")
    await run_tally(harness, card["message_id"], 2)
    assert "1 участник" in plain(emu.last_sent(CHANNEL_ID)["text"])
    step = await harness.send(anna, "/withdraw")
    await harness.tap(anna, step.last, f"fw:{question.id}:1")
    await run_tally(harness, card["message_id"], 3)
    assert "Прогнозов пока нет" in plain(emu.last_sent(CHANNEL_ID)["text"])


async def test_comment_thread_prompt_loses_its_voting_buttons_after_resolve(
    harness: Harness,
    admin: dict[str, Any],
    channel: dict[str, Any],  # noqa: F811
    discussion: dict[str, Any],  # noqa: F811
) -> None:
    prompt = await prompt_in_thread(harness, admin, channel, discussion)
    question = await harness.store.questions.by_slug(SLUG)
    assert question is not None
    assert len(buttons(prompt)) > 1
    step = await harness.send(admin, f"/resolve {SLUG} annulled")
    await harness.press(admin, step.last, "✅ Confirm")
    post_id = harness.emu.last_sent(CHANNEL_ID)["message_id"]
    await run_tally(harness, post_id, 1)
    assert [data for _, data in buttons(harness.emu.current(prompt))] == [f"rs:{question.id}"]
