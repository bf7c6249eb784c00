"""Readers' text at the edge and Telegram's length limits: invisible characters never change a
number, reasons and names cannot reorder or blank a shared message, and every message is
built within 4,096 UTF-16 units (captions 1,024) whatever readers write."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.emulator import Emulator
from bot.emulator.entities import parse_html, utf16_len
from bot.services.chart import render_chart
from bot.services.hygiene import display_name, shorten, tg_length
from bot.services.results import ResultsCache
from bot.texts import forecast as view
from tests.conftest import Harness, plain

pytestmark = pytest.mark.usefixtures("no_tracebacks")

RANGE = "The probability must be from 1 to 99% (0 and 100 would mean certainty). For example: 70."


async def current(harness: Harness, user: dict[str, Any]) -> Any:
    question = await harness.store.questions.default()
    assert question is not None
    return await harness.store.forecasts.current(question.id, user["id"])


def units(message: dict[str, Any]) -> int:
    """The length Telegram measured (the emulator parsed the HTML as Telegram does)."""
    return utf16_len(message.get("text") or message.get("caption") or "")


# --- hygiene ------------------------------------------------------------------------------


@pytest.mark.parametrize("invisible", ["\u200b", "\u2060", "\ufeff", "\u00ad"])
async def test_invisible_characters_do_not_change_the_number(
    harness: Harness, bob: dict[str, Any], invisible: str
) -> None:
    step = await harness.send(bob, f"/forecast 6{invisible}3")
    assert "Recorded: 63%" in plain(step.text)
    forecast = await current(harness, bob)
    assert forecast.probability == 63 and not forecast.reason


@pytest.mark.parametrize("digits", [28, 29, 40])
async def test_any_long_digit_string_gets_the_range_reply(
    harness: Harness, bob: dict[str, Any], digits: int
) -> None:
    step = await harness.send(bob, "/forecast " + "7" * digits)
    assert step.texts == [RANGE]
    assert await current(harness, bob) is None


async def test_digits_of_other_scripts_count(harness: Harness, bob: dict[str, Any]) -> None:
    assert "Recorded: 70%" in plain((await harness.send(bob, "/forecast ٧٠")).text)


async def test_reasons_lose_controls_and_bidi_overrides_only(
    harness: Harness, anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    await harness.send(bob, "/forecast 40 \u202eevil\x00 twist 👨\u200d👩\u200d👧 «ok»")
    forecast = await current(harness, bob)
    assert forecast.reason == "evil twist 👨\u200d👩\u200d👧 «ok»"
    await harness.send(anna, "/forecast 60")
    text = (await harness.send(anna, "/results")).texts[0]
    assert "\u202e" not in text and "evil twist 👨\u200d👩\u200d👧 «ok»" in text


async def test_a_name_with_nothing_visible_falls_back_to_reader_n(
    harness: Harness, emu: Emulator
) -> None:
    blank = emu.user(301, "\u2800\u200b", language_code="en")
    rtl = emu.user(302, "\u202eevil", language_code="en")
    for user, value in ((blank, 30), (rtl, 40)):
        await harness.send(user, f"/forecast {value} my reason {value}")
        consent = harness.emu.last_sent(user["id"])
        await harness.press(user, consent, 1)  # yes, show my name
    text = (await harness.send(blank, "/results")).texts[0]
    raw = harness.emu.last_sent(302)  # the isolates are there, the override is not
    assert "• 30%, reader 2: my reason 30" in plain(text)
    assert "• 40%, evil: my reason 40" in plain(text)
    assert "\u2068evil\u2069" in (await harness.send(rtl, "/results")).messages[0]["caption"]
    assert "\u202e" not in raw.get("text", "") + raw.get("caption", "")


def test_names_and_shortening_helpers() -> None:
    assert display_name("Анна") == "\u2068Анна\u2069"
    assert display_name("\u2800") is None and display_name("\u3164 \u200b") is None
    assert display_name(None) is None
    cut = shorten("🚀" * 10, 9)
    assert cut == "🚀" * 4 + "…" and tg_length(cut) == 9
    words = " ".join(f"word{n}" for n in range(100))
    assert shorten(words, 40) == "word0 word1 word2 word3 word4 word5…"  # never "word6…"
    assert shorten("x" * 50, 10) == "x" * 9 + "…"  # one long word: cut inside it
    assert tg_length("<b>a&amp;b</b> 🚀") == 6


# --- length budgets -----------------------------------------------------------------------


@pytest.mark.parametrize("filler", ["x" * 1000, "🚀" * 1000])
async def test_results_stay_within_the_limit_whatever_readers_write(
    harness: Harness, emu: Emulator, filler: str
) -> None:
    readers = [emu.user(400 + n, f"Reader{n}", language_code="en") for n in range(5)]
    for n, reader in enumerate(readers):
        await harness.send(reader, f"/forecast {50 + n} {filler}")
    step = await harness.send(readers[0], "/results")
    assert step.errors == [] and len(step.messages) == 2  # the text and the chart
    text = step.messages[0]
    assert units(text) <= 4096 and "Community forecast" in text["text"]
    assert "…" in text["text"]
    assert units(step.messages[1]) <= 1024


@pytest.mark.parametrize("changes", [5, 12])
async def test_a_long_history_shows_the_newest_changes_that_fit(
    harness: Harness, bob: dict[str, Any], changes: int
) -> None:
    settings = harness.app.bot_data.settings  # this reader edits faster than the limit
    harness.app.bot_data.settings = settings.model_copy(update={"revisions_per_minute": 0})
    await harness.send(bob, "/forecast 30")
    question = await harness.store.questions.default()
    assert question is not None
    for n in range(changes):  # the reason prompt, then a 1,000-character reason
        await harness.tap(bob, harness.emu.last_sent(bob["id"]), f"fr:{question.id}")
        await harness.send(bob, chr(0x41 + n) * 1000)
    step = await harness.send(bob, "/myforecast")
    assert step.errors == [] and units(step.last) <= 4096
    text = plain(step.text)
    assert chr(0x41 + changes - 1) * 1000 in text  # the standing reason in full
    assert ("earlier changes not shown" in text) == (changes > 5)


async def test_chart_titles_are_never_mathtext(harness: Harness, bob: dict[str, Any]) -> None:
    await harness.send(bob, "/forecast 50")
    question = await harness.store.questions.default()
    assert question is not None
    snap = await ResultsCache().get(harness.store, question)
    labels = replace(view.chart_labels(question, "en"), title=r"Will $\frac{x}{ cost $5 or $6?")
    assert render_chart(snap, labels).startswith(b"\x89PNG")
    caption = view.chart_caption(snap, "en")
    assert utf16_len(parse_html(caption)[0]) <= 1024
