"""Readers' identities never reach the log: not their Telegram ids, names or usernames,
whatever they do (refused admin commands, forecasts, blocking the bot, deleting their data,
a score that can't be delivered)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import Harness

READER_ID = 70_123_456


def first_button(message: dict[str, Any]) -> str:
    """The label of the message's first inline button (confirm, delete)."""
    return str(message["reply_markup"]["inline_keyboard"][0][0]["text"])


async def test_no_reader_identity_in_any_log_line(
    harness: Harness, admin: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # LOG_LEVEL as shipped (DEBUG adds the libraries' traces)
    emu = harness.emu
    zoe = emu.user(READER_ID, "Zoeidentity", language_code="en", username="zoe_secret_name")
    await harness.send(zoe, "/start")
    await harness.send(zoe, "/admin")
    await harness.send(zoe, "/export csv")
    await harness.send(zoe, "/forecast 63 because of talent")
    await harness.send(zoe, "/results")
    question = await harness.store.questions.default()
    assert question is not None
    emu.block_user(READER_ID)  # the score can't be delivered
    step = await harness.send(admin, f"/resolve {question.slug} yes")
    await harness.press(admin, step.last, first_button(step.last))
    emu.unblock_user(READER_ID)
    await harness.process(emu.my_chat_member(emu.private_chat(zoe), zoe, "kicked"))
    await harness.process(emu.my_chat_member(emu.private_chat(zoe), zoe, "member"))
    step = await harness.send(zoe, "/deleteme")
    await harness.press(zoe, step.last, first_button(step.last))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Refused /admin" in logged and "deleted their data" in logged  # the lines exist
    for identity in (str(READER_ID), "Zoeidentity", "zoe_secret_name"):
        assert identity not in logged
