"""Admin commands that show readers' data (counts, admins' ids, reasons) answer only in a
private chat: in a group the admin gets the same "Continue in private" button /export has,
and its deep link gives the answer in private."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ADMIN_ID, Harness, buttons, plain

KEY = "core_growth_h1_2025"
BOT = "beijing_ai_bot"


@pytest.mark.parametrize(
    ("command", "payload", "shown"),
    [
        ("/admin", "admin", "Readers: 2"),
        (f"/stathistory {KEY}", "stathistory_core-growth-h1-2025", f"by admin {ADMIN_ID}"),
        ("/stathistory", "stathistory", "/stathistory"),
        ("/questions", "questions", "talent-hub-2030"),
        ("/export csv", "export", "talent-hub-2030: 1 row"),
    ],
)
async def test_readers_data_only_in_private(
    harness: Harness,
    admin: dict[str, Any],
    anna: dict[str, Any],
    group: dict[str, Any],
    command: str,
    payload: str,
    shown: str,
) -> None:
    await harness.send(anna, "/forecast 70 причина")
    await harness.send(admin, f"/setstat {KEY} 26.1")
    step = await harness.send(admin, command, chat=group)
    assert [m["chat"]["id"] for m in step.messages] == [group["id"]]
    text = plain(step.text)
    assert shown not in text and str(ADMIN_ID) not in text and "Readers" not in text
    assert ("Continue in private", f"https://t.me/{BOT}?start={payload}") in buttons(step.last)
    # the button opens the private chat with /start <payload>: the answer comes there
    step = await harness.send(admin, f"/start {payload}")
    assert {m["chat"]["id"] for m in step.messages} == {ADMIN_ID}
    assert shown in plain(step.text)


async def test_readers_in_a_group_are_refused_without_a_button(
    harness: Harness, bob: dict[str, Any], group: dict[str, Any]
) -> None:
    for command in ("/admin", f"/stathistory {KEY}"):  # /questions: readers have their own
        step = await harness.send(bob, command, chat=group)
        assert step.texts == ["Sorry, this command is for the bot's admins only."]
        assert buttons(step.last) == []
    step = await harness.send(bob, "/start admin")
    assert step.texts == ["Sorry, this command is for the bot's admins only."]
