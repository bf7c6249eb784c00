"""Reading quality: times in DISPLAY_TIMEZONE with its abbreviation, /help lists every menu
command, /language edits its own picker, the naming question is asked once, and a reason
given with the number shows in /myforecast's history."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app import ADMIN_COMMANDS, GROUP_COMMANDS, PRIVATE_COMMANDS
from bot.config import Settings
from bot.texts import moment, set_display_timezone
from tests.conftest import Harness, plain


def test_times_show_in_the_display_zone_with_its_abbreviation() -> None:
    noon_utc = datetime(2026, 11, 29, 12, 4, tzinfo=UTC)
    try:
        set_display_timezone("Europe/Moscow")
        assert re.sub(r"\s", " ", moment(noon_utc, "ru")) == "29 нояб. 2026 г., 15:04 MSK"
        assert moment(noon_utc, "en").endswith("3:04\u202fPM MSK")
        set_display_timezone("UTC")
        assert moment(noon_utc, "en").endswith("12:04\u202fPM UTC")
    finally:
        set_display_timezone(Settings.model_fields["display_timezone"].default)


def test_unknown_display_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="IANA time zone"):
        Settings(_env_file=None, display_timezone="Mars/Olympus")


async def test_help_lists_every_menu_command(
    harness: Harness, bob: dict[str, Any], admin: dict[str, Any]
) -> None:
    reader = set(re.findall(r"/(\w+)", (await harness.send(bob, "/help")).text))
    assert set(PRIVATE_COMMANDS) | set(GROUP_COMMANDS) <= reader
    everything = set(re.findall(r"/(\w+)", (await harness.send(admin, "/help")).text))
    assert set(ADMIN_COMMANDS) <= everything


async def test_language_picker_is_edited_in_place(harness: Harness, bob: dict[str, Any]) -> None:
    step = await harness.send(bob, "/language")
    pressed = await harness.tap(bob, step.last, "lang:ru")
    assert pressed.messages == []
    assert pressed.edits and "по-русски" in pressed.edits[-1]["text"]


async def test_naming_question_is_asked_once(harness: Harness, bob: dict[str, Any]) -> None:
    first = await harness.send(bob, "/forecast 60 universities")
    assert any("name" in text for text in first.texts[1:])
    second = await harness.send(bob, "/forecast 65 and money")
    assert len(second.texts) == 1  # the confirmation only, no second naming question


async def test_reason_given_with_the_number_is_in_the_history(
    harness: Harness, bob: dict[str, Any]
) -> None:
    await harness.send(bob, "/forecast 60 universities")
    await harness.send(bob, "/forecast 70 and money")
    await harness.send(bob, "/forecast 70 only money")
    text = plain((await harness.send(bob, "/myforecast")).text)
    assert "first forecast, 60%; reason — universities" in text
    assert "60% → 70%; reason — and money" in text
    assert "reason — only money" in text
    assert "MSK" in text
