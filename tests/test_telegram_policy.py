"""Every Bot API answer handled on purpose: refusals the emulator gives as Telegram does, the
one error policy (retries, migrations, benign answers, truthful apologies), and logs with one
line per expected condition — never a traceback (checked after every test in this file)."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import pytest

from bot import telegram_policy as policy
from bot.emulator import Emulator
from tests.conftest import Harness, buttons, plain

# the reader's language is not known yet when their row cannot be written: DEFAULT_LANGUAGE
APOLOGY_RU = "Извините, у меня что-то пошло не так. Попробуйте ещё раз чуть позже."


pytestmark = pytest.mark.usefixtures("no_tracebacks")


async def qid(harness: Harness) -> int:
    question = await harness.store.questions.default()
    assert question is not None
    return question.id


# --- the emulator refuses what Telegram refuses -------------------------------------------


async def test_emulator_refuses_a_second_or_late_callback_answer(emu: Emulator) -> None:
    user = emu.user(7, "Ann")
    chat = emu.private_chat(user)
    emu.message(user, chat, "hi")
    first = emu.callback(user, emu.chat_messages(7)[-1], "x")["callback_query"]["id"]
    assert (await emu.dispatch("answerCallbackQuery", {"callback_query_id": first}, {}))[0] == 200
    again = await emu.dispatch("answerCallbackQuery", {"callback_query_id": first}, {})
    assert again[0] == 400 and "query is too old" in again[1]["description"]
    late = emu.callback(user, emu.chat_messages(7)[-1], "x")["callback_query"]["id"]
    emu.advance(15.5)
    answer = await emu.dispatch("answerCallbackQuery", {"callback_query_id": late}, {})
    assert answer[0] == 400 and "query is too old" in answer[1]["description"]


async def test_emulator_refuses_strangers_migrated_groups_floods_and_unknown_files(
    emu: Emulator,
) -> None:
    stranger = emu.user(8, "Stranger", started=False)
    status, body = await emu.dispatch("sendMessage", {"chat_id": 8, "text": "hi"}, {})
    assert (status, body["description"]) == (
        403,
        "Forbidden: bot can't initiate conversation with a user",
    )
    emu.message(stranger, emu.private_chat(stranger), "/start")  # writing starts the bot
    assert (await emu.dispatch("sendMessage", {"chat_id": 8, "text": "hi"}, {}))[0] == 200

    old = emu.group(-5, "Old")
    emu.migrate(old, -1005)
    status, body = await emu.dispatch("sendMessage", {"chat_id": -5, "text": "hi"}, {})
    assert status == 400 and body["parameters"] == {"migrate_to_chat_id": -1005}

    emu.flood_chat(-1005, retry_after=2)
    status, body = await emu.dispatch("sendMessage", {"chat_id": -1005, "text": "hi"}, {})
    assert status == 429 and body["parameters"] == {"retry_after": 2}
    assert (await emu.dispatch("sendMessage", {"chat_id": -1005, "text": "hi"}, {}))[0] == 200

    status, body = await emu.dispatch(
        "sendMessage",
        {"chat_id": -1005, "text": "hi", "reply_parameters": {"message_id": 999}},
        {},
    )
    assert (status, body["description"]) == (400, "Bad Request: message to be replied not found")
    too_long = "<b>x</b>" * 4097  # 4,097 characters once the tags are parsed
    status, body = await emu.dispatch(
        "sendMessage", {"chat_id": -1005, "text": too_long, "parse_mode": "HTML"}, {}
    )
    assert (status, body["description"]) == (400, "Bad Request: message is too long")
    status, body = await emu.dispatch("sendPhoto", {"chat_id": -1005, "photo": "AgACAgIAAxk"}, {})
    assert (status, body["description"]) == (
        400,
        "Bad Request: wrong file identifier/HTTP URL specified",
    )


# --- the policy, through the real Application -------------------------------------------------


async def test_an_expired_button_answer_still_shows_the_results(
    harness: Harness, bob: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    await harness.send(bob, "/forecast 60")
    card = (await harness.send(bob, "/forecast")).last
    update = harness.emu.press(bob, card, "📊 Community forecast")
    harness.emu.advance(20)  # a slow handler or a restart backlog: the answer comes too late
    step = await harness.process(update)
    assert "Community forecast" in step.texts[0]
    answers = [c for c in step.calls if c.method == "answerCallbackQuery"]
    assert len(answers) == 1  # no second answer from the error handler
    lines = [r for r in caplog.records if "query is too old" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert policy.counts()["query_expired"] >= 1


async def test_a_late_update_from_an_upgraded_group_is_answered_in_the_supergroup(
    harness: Harness, anna: dict[str, Any]
) -> None:
    emu = harness.emu
    old = emu.group(-777, "Readers", supergroup=False)
    await harness.send(anna, "/forecast", chat=old)
    harness.app.chat_data[-777]["note"] = "kept"
    late = emu.message(anna, old, "/stats")  # sent before the upgrade, delivered after it
    emu.migrate(old, -100777)  # the migration updates themselves are not delivered yet
    step = await harness.process(late)
    assert [c.error_code for c in step.calls] == [400, None]
    assert step.messages[0]["chat"]["id"] == -100777 and "183" in step.text
    assert harness.app.chat_data[-100777]["note"] == "kept"


async def test_transient_failures_are_retried_and_the_reader_told_once(
    harness: Harness, bob: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    emu = harness.emu
    emu.fail_next("sendMessage", 502, "Bad Gateway", times=2)
    emu.fail_next("sendMessage", 0, "Connection reset by peer")
    step = await harness.send(bob, "/forecast 70 universities")
    assert "Recorded: 70%" in step.text
    assert [c.error_code for c in step.calls if c.method == "sendMessage"][:4] == [
        502,
        502,
        0,
        None,
    ]
    emu.fail_next("sendMessage", 0, "Connection reset by peer")
    assert "183 models" in (await harness.send(bob, "/stats")).text
    assert "Traceback" not in caplog.text and "failed after" not in caplog.text


async def test_a_stored_forecast_whose_confirmation_fails_is_reported_as_recorded(
    harness: Harness, bob: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    harness.emu.fail_next("sendMessage", 500, "Internal Server Error", times=4)
    step = await harness.send(bob, "/forecast 35")
    assert step.texts == [
        "Your forecast is recorded, but I could not show the confirmation. /myforecast shows it."
    ]
    forecast = await harness.store.forecasts.current(await qid(harness), bob["id"])
    assert forecast is not None and forecast.probability == 35
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "sendMessage failed after 4 attempts: Internal Server Error",
        f"Update {step.update['update_id']}: sendMessage failed: Internal Server Error",
    ]


async def test_a_tap_whose_confirmation_fails_is_reported_as_recorded(
    harness: Harness, bob: dict[str, Any]
) -> None:
    card = (await harness.send(bob, "/forecast")).last
    harness.emu.fail_next("editMessageText", 500, "Internal Server Error", times=4)
    step = await harness.press(bob, card, "likely — 75%")
    assert step.alert == "Recorded: 75%"  # the tap was answered before the edit failed
    assert step.texts == [
        "Your forecast is recorded, but I could not show the confirmation. /myforecast shows it."
    ]


async def test_a_failed_write_gets_one_apology_and_stops_the_update(
    harness: Harness,
    bob: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def disk_full(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(harness.store.users, "touch", disk_full)
    step = await harness.send(bob, "/stats")
    assert step.texts == [APOLOGY_RU]  # /stats (group 0) did not run after group -1 failed
    lines = [r for r in caplog.records if "disk is full" in r.getMessage()]
    assert len(lines) == 1 and not lines[0].exc_info


async def test_an_edit_of_a_deleted_message_sends_a_fresh_one(
    harness: Harness, bob: dict[str, Any]
) -> None:
    card = (await harness.send(bob, "/forecast")).last
    update = harness.emu.press(bob, card, "likely — 75%")
    del harness.emu.chats[bob["id"]].messages[card["message_id"]]  # deleted meanwhile
    step = await harness.process(update)
    assert "Recorded: 75% (likely)" in step.text
    assert "💬 Add a reason" in [label for label, _ in buttons(step.last)]
    assert policy.counts()["edit_target_missing"] >= 1


async def test_a_reply_to_a_deleted_message_is_still_sent(
    harness: Harness, anna: dict[str, Any], group: dict[str, Any]
) -> None:
    await harness.send(anna, "/forecast 40", chat=group)
    for command in ("/stats", "/results"):  # a text reply, then a text and a chart
        update = harness.emu.message(anna, group, command)
        del harness.emu.chats[group["id"]].messages[update["message"]["message_id"]]
        step = await harness.process(update)
        assert step.errors == [] and step.messages


async def test_a_refused_cached_chart_is_uploaded_again(
    harness: Harness, bob: dict[str, Any]
) -> None:
    await harness.send(bob, "/forecast 60")
    first = await harness.send(bob, "/results")
    file_id = first.messages[-1]["photo"][-1]["file_id"]
    for size in first.messages[-1]["photo"]:
        harness.emu.files.pop(size["file_id"])  # Telegram no longer knows the file
    step = await harness.send(bob, "/results")
    photos = [c for c in step.calls if c.method == "sendPhoto"]
    assert photos[0].params["photo"] == file_id and photos[0].error_code == 400
    assert photos[1].files and photos[1].result is not None and step.errors == [step.errors[0]]
    third = await harness.send(bob, "/results")  # the new file_id is cached again
    assert not next(c for c in third.calls if c.method == "sendPhoto").files


async def test_a_blocked_reader_is_marked_and_never_retried(
    harness: Harness, bob: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    await harness.send(bob, "/start")
    harness.emu.block_user(bob["id"])
    step = await harness.send(bob, "/forecast 55")
    assert len([c for c in step.calls if c.method == "sendMessage"]) == 1
    reader = await harness.store.users.get(bob["id"])
    assert reader is not None and reader.blocked == 1
    lines = [r.getMessage() for r in caplog.records if "blocked" in r.getMessage()]
    update_id = step.update["update_id"]
    assert lines == [
        f"Update {update_id}: sendMessage refused: Forbidden: bot was blocked by the user"
    ]


async def test_flood_control_is_waited_out_by_the_rate_limiter(
    harness: Harness, bob: dict[str, Any]
) -> None:
    harness.emu.flood_chat(bob["id"], retry_after=1)
    step = await harness.send(bob, "/stats")
    assert [c.error_code for c in step.calls] == [429, None]
    assert "183 models" in plain(step.text)
