"""The "📊 Community forecast" button (callback data `rs:<question id>`): what a reader sees
when they tap it in a private chat (the results and the chart, or the anti-anchoring gate)
and in a group (a short alert for the tapper only; the group stays quiet)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.config import Settings
from bot.emulator import Emulator
from tests.conftest import Harness, Step, buttons, plain

RESULTS = "📊 Community forecast"
REVEAL_MIN = 3  # the community forecast is shown to everyone once three readers have forecast
GATE = (
    "So that other readers' numbers do not sway yours, the community forecast is shown once "
    "you have made your own (or once 3 readers have forecast)."
)


@pytest.fixture
async def gated(settings: Settings, emu: Emulator) -> AsyncIterator[Harness]:
    """The bot with the anti-anchoring gate at REVEAL_MIN readers."""
    harness = Harness(settings.model_copy(update={"results_reveal_min": REVEAL_MIN}), emu)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
def carol(emu: Emulator) -> dict[str, Any]:
    """A third English-speaking reader."""
    return emu.user(103, "Carol", language_code="en", username="carol")


def labels(message: dict[str, Any]) -> list[str]:
    """The labels of a message's inline buttons."""
    return [label for label, _ in buttons(message)]


def answer(step: Step) -> dict[str, Any]:
    """The parameters of the step's one answerCallbackQuery."""
    [call] = [c for c in step.calls if c.method == "answerCallbackQuery"]
    return call.params


async def test_the_button_in_a_private_chat_shows_the_gate_then_the_chart(
    gated: Harness, anna: dict[str, Any], bob: dict[str, Any], carol: dict[str, Any]
) -> None:
    await gated.send(anna, "/forecast 25")

    # Bob has not forecast and only one reader has: the gate, with the buttons to forecast
    card = (await gated.send(bob, "/forecast")).last
    assert RESULTS in labels(card)
    [data] = [data for label, data in buttons(card) if label == RESULTS]
    assert data.startswith("rs:")
    gate = await gated.press(bob, card, RESULTS)
    assert gate.alert is None  # answered without a toast: the message says it all
    assert [c.method for c in gate.calls] == ["answerCallbackQuery", "sendMessage"]
    assert gate.texts == [f"So far 1 reader has forecast. {GATE} Make yours first:"]
    assert "likely — 75%" in labels(gate.last) and RESULTS in labels(gate.last)

    # he forecasts from the gate's own buttons, then taps the button under the confirmation
    await gated.press(bob, gate.last, "likely — 75%")
    confirmation = gated.emu.last_sent(bob["id"])
    assert "Recorded: 75% (likely)" in plain(confirmation["text"])
    shown = await gated.press(bob, confirmation, RESULTS)
    assert [c.method for c in shown.calls] == ["answerCallbackQuery", "sendPhoto"]
    assert shown.alert is None
    (text,) = shown.texts  # the chart, with the results as its caption
    assert text.startswith("Community forecast: ") and "top five cities" in text
    assert "2 forecasters" in text and "Median: 50%" in text and "Mean: 50%" in text
    assert shown.calls[-1].files  # the chart, drawn for this question and uploaded
    assert shown.last["photo"]

    # Carol has not forecast: still the gate (two readers of three)
    card = (await gated.send(carol, "/forecast")).last
    assert "So far 2 readers have forecast." in (await gated.press(carol, card, RESULTS)).text
    # once a third reader forecasts, everyone sees the community forecast
    await gated.send(anna, "/forecast 30")  # a change, not a third reader
    assert "Make yours first:" in (await gated.press(carol, card, RESULTS)).text
    third = gated.emu.user(104, "Dan", language_code="en")
    await gated.send(third, "/forecast 90")
    shown = await gated.press(carol, card, RESULTS)
    assert "3 forecasters" in shown.texts[0] and "Median: 75%" in shown.texts[0]
    assert len(shown.texts) == 1 and shown.calls[-1].method == "sendPhoto"


async def test_the_button_in_a_group_answers_the_tapper_alone(
    gated: Harness, anna: dict[str, Any], bob: dict[str, Any], group: dict[str, Any]
) -> None:
    await gated.send(anna, "/forecast 25")
    card = (await gated.send(bob, "/forecast@beijing_ai_bot", chat=group)).last
    assert RESULTS in labels(card)

    hidden = await gated.press(bob, card, RESULTS)
    assert hidden.messages == []  # the group stays quiet
    assert answer(hidden)["show_alert"] is True
    assert hidden.alert == f"So far 1 reader has forecast. {GATE}"  # no buttons in an alert

    await gated.press(bob, card, "likely — 75%")
    shown = await gated.press(bob, card, RESULTS)
    assert shown.messages == []
    assert answer(shown)["show_alert"] is True
    assert shown.alert is not None
    assert plain(shown.alert).startswith(
        "Community forecast: 2 forecasters, median 50%, recency-weighted "
    )
    assert len(shown.alert) <= 200  # Telegram's limit for a callback answer

    # Anna forecast in private, so she sees it too, in her language
    ru = await gated.press(anna, card, RESULTS)
    assert ru.messages == [] and ru.alert is not None
    assert plain(ru.alert).startswith("Прогноз сообщества: 2 участника, медиана 50")


async def test_results_too_long_for_a_caption_come_as_text_then_the_chart(
    harness: Harness, anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    short = await harness.send(bob, "/forecast 40 short")
    assert short.texts
    (alone,) = (await harness.send(bob, "/results")).texts  # fits: one photo with its caption
    assert "Median: 40%" in alone and "short" in alone
    await harness.send(anna, "/forecast 60 " + "talent follows money and compute " * 12)
    await harness.send(bob, "/forecast 45 " + "the models need people who stay " * 12)
    step = await harness.send(bob, "/results")
    assert [c.method for c in step.calls] == ["sendMessage", "sendPhoto"]
    text, caption = step.texts
    assert "Median: 52.5%" in text and "talent follows money" in text
    assert caption.startswith("Community forecast: 2 forecasters, median 52.5%")
    assert len(caption) <= 1024 and len(text) > 1024
