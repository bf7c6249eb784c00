"""Moderation: /hide and /unhide a reader's reasons (by handle or by reply), hidden reasons
never shown publicly but kept and marked in exports, the per-reader revision limit with its
polite reply, and both logged on the /admin dashboard."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from bot.config import Settings
from bot.emulator import Emulator
from tests.conftest import ADMIN_ID, Harness, buttons, plain
from tests.test_channel import (  # noqa: F401 - fixtures: a channel and its discussion group
    channel,
    discussion,
    prompt_in_thread,
)
from tests.test_export import documents

ABUSE = "all of you are idiots"


async def handle_of(harness: Harness, user_id: int) -> str:
    reader = await harness.store.users.get(user_id)
    assert reader and reader.handle
    return reader.handle


def shown_publicly(emu: Emulator, since: int) -> str:
    """Every text the bot sent or edited after call number `since`, except to the admin."""
    texts = []
    for call in emu.calls[since:]:
        if call.params.get("chat_id") != ADMIN_ID and not call.error:
            texts.append(json.dumps(call.params, ensure_ascii=False))
    return "\n".join(texts)


async def test_hide_and_unhide_by_handle(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any], bob: dict[str, Any],
    group: dict[str, Any],
) -> None:  # fmt: skip
    await harness.send(admin, "/start")
    await harness.send(anna, f"/forecast 70 {ABUSE}")
    step = await harness.send(bob, "/forecast 40 visas are hard")
    await harness.press(bob, step.last, 1)  # Bob agrees to be named
    anna_handle = await handle_of(harness, 101)
    assert f"{anna_handle}: {ABUSE}" in plain((await harness.send(bob, "/results")).text)

    # /hide alone, in private: the reasons shown now, with handles (named ones with names)
    listing = plain((await harness.send(admin, "/hide")).text)
    assert "/hide r-k7q2m9" in listing
    assert f"• {anna_handle}: {ABUSE}" in listing
    assert f"• {await handle_of(harness, 102)} (Bob): visas are hard" in listing

    step = await harness.send(admin, f"/hide {anna_handle.upper()}")
    assert plain(step.text) == (
        f"Done: the reasons of reader {anna_handle} (Анна) are hidden from /results, the "
        "comment threads and posts. They stay in exports, marked in the reason_hidden column."
        f"\n/unhide {anna_handle} shows them again."
    )
    mark = len(harness.emu.calls)
    for where in (None, group):
        text = plain((await harness.send(bob, "/results", chat=where)).text)
        assert "visas are hard" in text and ABUSE not in text and "2 forecasters" in text
    await harness.process(harness.emu.inline_query(bob, ""))
    assert ABUSE not in shown_publicly(harness.emu, mark)
    assert "already hidden" in (await harness.send(admin, f"/hide {anna_handle}")).text

    # exports keep the reason and mark it
    await harness.send(admin, "/export")
    files = documents(harness)
    forecasts_csv = next(d for n, d in files.items() if n.startswith("forecasts-") and "csv" in n)
    rows = list(csv.DictReader(io.StringIO(forecasts_csv.decode("utf-8-sig"), newline="")))
    assert {(r["reason"], r["reason_hidden"]) for r in rows} == {
        (ABUSE, "true"),
        ("visas are hard", "false"),
    }
    history_csv = next(d for n, d in files.items() if n.startswith("forecast-history-"))
    history = list(csv.DictReader(io.StringIO(history_csv.decode("utf-8-sig"), newline="")))
    assert {r["reason_hidden"] for r in history if r["reason"] == ABUSE} == {"true"}
    document = json.loads(next(d for n, d in files.items() if n.endswith(".json")))
    assert {(f["reason"], f["reason_hidden"]) for f in document["forecasts"]} == {
        (ABUSE, True),
        ("visas are hard", False),
    }

    # /unhide alone lists the hidden; /unhide shows the reasons again
    listing = plain((await harness.send(admin, "/unhide")).text)
    assert f"• {anna_handle} (Анна), hidden " in listing and f"by admin {ADMIN_ID}" in listing
    step = await harness.send(admin, f"/unhide {anna_handle}")
    assert plain(step.text) == f"Done: the reasons of reader {anna_handle} (Анна) are shown again."
    assert ABUSE in plain((await harness.send(bob, "/results")).text)
    assert "are not hidden" in (await harness.send(admin, f"/unhide {anna_handle}")).text

    # logged for /admin
    dashboard = plain((await harness.send(admin, "/admin")).text)
    assert "Moderation, last 24 h — hidden: 1, shown again: 1, revision limit reached: 0" in (
        dashboard
    )
    assert f"{anna_handle} hidden by admin {ADMIN_ID}" in dashboard
    assert f"{anna_handle} shown again by admin {ADMIN_ID}" in dashboard


async def test_hide_refusals_and_bad_handles(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any], bob: dict[str, Any],
    group: dict[str, Any],
) -> None:  # fmt: skip
    await harness.send(anna, f"/forecast 70 {ABUSE}")
    handle = await handle_of(harness, 101)
    step = await harness.send(bob, f"/hide {handle}")
    assert step.texts == ["Sorry, this command is for the bot's admins only."]
    assert not await harness.store.moderation.is_hidden(101)
    step = await harness.send(admin, "/hide r-zzzzzz")
    assert "No reader has the handle “r-zzzzzz”" in plain(step.text)
    step = await harness.send(admin, "/hide <b>")
    assert "“<b>”" in plain(step.text)  # escaped, shown as typed
    # in a group: the lists continue in private
    step = await harness.send(admin, "/hide", chat=group)
    assert ("Continue in private", "https://t.me/beijing_ai_bot?start=hide") in buttons(step.last)
    assert ABUSE not in step.text
    step = await harness.send(admin, "/start unhide")
    assert "Hidden now:\nnobody." in plain(step.text)


async def test_hide_by_reply_in_the_comment_thread(
    harness: Harness,
    admin: dict[str, Any],
    emu: Emulator,
    channel: dict[str, Any],  # noqa: F811
    discussion: dict[str, Any],  # noqa: F811
) -> None:
    harness.app.bot_data.settings = harness.settings.model_copy(
        update={"channel_id": "@beijing_ai_news", "tally_interval_seconds": 0.2}
    )
    carl = emu.user(103, "Carl", language_code="en")
    prompt = await prompt_in_thread(harness, admin, channel, discussion)
    step = await harness.send(carl, f"60 % {ABUSE}", chat=discussion, reply_to=prompt)
    comment = step.update["message"]
    assert ABUSE in plain(step.text)  # before moderation the offer repeats the reason
    await harness.press(carl, step.last, 1)
    handle = await handle_of(harness, 103)

    # replying /hide to a bot message names no reader
    step = await harness.send(admin, "/hide", chat=discussion, reply_to=prompt)
    assert "not from a reader I know" in step.text
    step = await harness.send(admin, "/hide", chat=discussion, reply_to=comment)
    assert plain(step.text).startswith("Done: the reasons of this reader are hidden")
    assert handle not in step.text and "Carl" not in step.text  # no link handle ↔ person
    assert await harness.store.moderation.is_hidden(103)

    mark = len(harness.emu.calls)
    step = await harness.send(carl, f"65 % {ABUSE} again", chat=discussion, reply_to=prompt)
    assert "I read 65%" in plain(step.text)
    await harness.press(carl, step.last, 1)
    stored = await harness.store.forecasts.current((await qid(harness)), 103)
    assert stored and stored.probability == 65 and stored.reason == f"{ABUSE} again"
    await harness.send(carl, "/results", chat=discussion)
    assert ABUSE not in shown_publicly(harness.emu, mark)


async def qid(harness: Harness) -> int:
    question = await harness.store.questions.default()
    assert question
    return question.id


async def test_revision_limit_refuses_politely_and_is_logged(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    assert harness.settings.revisions_per_minute == 5
    for value in (10, 20, 30, 40, 50):
        assert "Recorded" in (await harness.send(bob, f"/forecast {value}")).text
    step = await harness.send(bob, "/forecast 60 one more")
    text = plain(step.text)
    assert text.startswith("You are changing your forecast very often (limit per minute: 5).")
    assert "your current forecast stands" in text
    question_id = await qid(harness)
    stored = await harness.store.forecasts.current(question_id, 102)
    assert stored and stored.probability == 50 and stored.reason == ""
    # a one-tap button gets the same answer as an alert; the reason prompt too
    card = (await harness.send(bob, "/forecast")).last
    step = await harness.tap(bob, card, f"fc:{question_id}:75")
    assert step.alert and "limit per minute: 5" in step.alert
    await harness.tap(bob, card, f"fr:{question_id}")
    assert "limit per minute" in (await harness.send(bob, "a reason")).text
    # other readers are not affected; withdrawing is always possible
    assert "✅" in (await harness.send(anna, "/forecast 30")).text
    step = await harness.send(bob, "/withdraw")
    await harness.press(bob, step.last, 1)
    stored = await harness.store.forecasts.current(question_id, 102)
    assert stored and stored.withdrawn

    dashboard = plain((await harness.send(admin, "/admin")).text)
    assert "revision limit reached: 1 (readers: 1)" in dashboard  # one entry per minute
    assert f"{await handle_of(harness, 102)} reached the revision limit" in dashboard

    # a minute later (the history moved back) the reader may change it again
    await harness.store.conn.execute(
        "UPDATE forecast_history SET at = '2026-01-01T00:00:00+00:00' WHERE user_id = 102"
    )
    await harness.store.conn.commit()
    assert "Recorded: 60%" in (await harness.send(bob, "/forecast 60 one more")).text


@pytest.fixture
def unlimited(settings: Settings) -> Settings:
    return settings.model_copy(update={"revisions_per_minute": 0})


async def test_revision_limit_zero_means_no_limit(
    unlimited: Settings, emu: Emulator, bob: dict[str, Any]
) -> None:
    harness = Harness(unlimited, emu)
    await harness.start()
    try:
        for value in range(10, 90, 10):
            assert "Recorded" in (await harness.send(bob, f"/forecast {value}")).text
    finally:
        await harness.stop()


async def test_deleteme_removes_moderation_entries(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any]
) -> None:
    await harness.send(anna, f"/forecast 70 {ABUSE}")
    await harness.send(admin, f"/hide {await handle_of(harness, 101)}")
    step = await harness.send(anna, "/deleteme")
    await harness.press(anna, step.last, 1)
    for table in ("hidden_readers", "moderation_log", "users"):
        async with harness.store.conn.execute(
            f"SELECT COUNT(*) FROM {table} WHERE user_id = 101"  # noqa: S608
        ) as cur:
            assert (await cur.fetchone())[0] == 0, table  # type: ignore[index]
    assert "a reader who deleted their data" not in plain(
        (await harness.send(admin, "/admin")).text
    )  # the log entry went with her


async def test_thread_offers_are_limited_too(
    harness: Harness,
    admin: dict[str, Any],
    emu: Emulator,
    channel: dict[str, Any],  # noqa: F811
    discussion: dict[str, Any],  # noqa: F811
) -> None:
    harness.app.bot_data.settings = harness.settings.model_copy(
        update={"channel_id": "@beijing_ai_news", "tally_interval_seconds": 0.2}
    )
    carl = emu.user(103, "Carl", language_code="en")
    prompt = await prompt_in_thread(harness, admin, channel, discussion)
    answered = []
    for value in range(20, 80, 10):  # six replies within a minute
        step = await harness.send(carl, f"{value} %", chat=discussion, reply_to=prompt)
        answered.append(len(step.messages))
    assert answered == [1, 1, 1, 1, 1, 0]  # the sixth gets no answer: no flood from the bot
    dashboard = plain((await harness.send(admin, "/admin")).text)
    assert "revision limit reached: 1 (readers: 1)" in dashboard


async def test_hide_alone_in_a_forum_topic_is_not_a_reply_to_the_topic_starter(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any], emu: Emulator
) -> None:
    forum = emu.group(-1007777, "Forum", forum=True)
    await harness.send(anna, "/forecast 70 причина")
    # the topic's first message, which every message in the topic "replies" to
    starter = (await harness.send(anna, "topic", chat=forum)).update["message"]
    emu.current(starter)["forum_topic_created"] = {"name": "Talk", "icon_color": 0}
    step = await harness.send(admin, "/hide", chat=forum, reply_to=starter, thread_id=9)
    assert ("Continue in private", "https://t.me/beijing_ai_bot?start=hide") in buttons(step.last)
    assert not await harness.store.moderation.is_hidden(101)
