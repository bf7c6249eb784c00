"""Public labels that reveal nothing: readers appear publicly under a random handle stored
with them, never under anything computable from their Telegram id; /deleteme removes the
handle too.

"Public" here is every text the bot sends that someone other than the reader can see:
messages, captions, edits, buttons and alerts in groups, the channel and its comment thread,
inline results, and private messages to other readers. The one place a reader's id goes out
is Telegram's own text mention of a reader the bot addresses in a chat where that reader
wrote (Telegram shows who wrote there anyway); the test checks that it goes nowhere else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.emulator import Emulator
from bot.store import users as users_store
from bot.store.admin import Score
from bot.store.users import HANDLE_ALPHABET, normalise_handle
from tests.conftest import ADMIN_ID, Harness, plain
from tests.test_channel import (  # noqa: F401 - fixtures: a channel and its discussion group
    channel,
    discussion,
    prompt_in_thread,
    settings,
)

# ids that cannot be confused with counts or percentages in the texts
ANNA_ID, BOB_ID, CARL_ID = 583920147, 771234509, 690011223
SALTS = ("test-salt", "change-me", "")
SHOWN = (
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "editMessageText",
    "editMessageCaption",
    "answerCallbackQuery",
    "answerInlineQuery",
)


def derived(user_id: int) -> list[str]:
    """What could be computed from a Telegram id: the id itself and 6-character windows of
    the start of its HMAC-SHA-256 (with the test salt, the old placeholder, no salt) and of
    plain hashes (the old public pseudonym was such a prefix)."""
    raw = str(user_id).encode()
    digests = [hmac.new(salt.encode(), raw, hashlib.sha256).hexdigest() for salt in SALTS]
    digests += [hashlib.sha256(raw).hexdigest(), hashlib.md5(raw).hexdigest()]  # noqa: S324
    windows = {d[i : i + 6] for d in digests for i in range(0, 11)}
    return [str(user_id), *sorted(windows)]


def shown_to_others(emu: Emulator, user_id: int) -> list[str]:
    """Every text the bot showed outside `user_id`'s own private chat and the admin's
    (alerts, which have no chat, included)."""
    found = []
    for call in emu.calls:
        if call.method not in SHOWN or call.error:
            continue
        chat = call.params.get("chat_id")
        if chat in (user_id, ADMIN_ID):
            continue
        found.append(json.dumps(call.params, ensure_ascii=False))
    return found


def chats_where_wrote(emu: Emulator, user_id: int) -> set[int]:
    """Chats in which `user_id` sent a message (Telegram shows them there)."""
    return {
        state.id
        for state in emu.chats.values()
        if any((m.get("from") or {}).get("id") == user_id for m in state.messages.values())
    }


async def test_no_public_text_carries_anything_computable_from_a_telegram_id(
    harness: Harness,
    emu: Emulator,
    admin: dict[str, Any],
    group: dict[str, Any],
    channel: dict[str, Any],  # noqa: F811
    discussion: dict[str, Any],  # noqa: F811
) -> None:
    anna = emu.user(ANNA_ID, "Анна", language_code="ru", username="anna")
    bob = emu.user(BOB_ID, "Bob", language_code="en", username="bob")
    carl = emu.user(CARL_ID, "Carl", language_code="en")
    await harness.send(admin, "/start")
    # Anna keeps anonymous, Bob agrees to be named, Carl is never asked
    step = await harness.send(anna, "/forecast 70 университеты сильные")
    await harness.press(anna, step.last, 2)  # "No, keep me anonymous"
    step = await harness.send(bob, "/forecast 40 visas are hard")
    await harness.press(bob, step.last, 1)
    prompt = await prompt_in_thread(harness, admin, channel, discussion)
    step = await harness.send(carl, "60 % labs keep growing", chat=discussion, reply_to=prompt)
    await harness.press(carl, step.last, 1)

    anna_row, bob_row = (
        await harness.store.users.get(ANNA_ID),
        await harness.store.users.get(BOB_ID),
    )
    assert anna_row and anna_row.handle and bob_row and bob_row.handle
    assert anna_row.named_consent == 0 and bob_row.named_consent == 1
    assert re.fullmatch(rf"r-[{HANDLE_ALPHABET}]{{6}}", anna_row.handle)
    assert anna_row.handle != bob_row.handle

    # /results in a group and in another reader's private chat: Anna under her handle
    for where in (group, None):
        text = plain((await harness.send(carl, "/results", chat=where)).text)
        assert f"a reader {anna_row.handle}: университеты сильные" in text
        assert "Bob: visas are hard" in text and "Анна" not in text
    await harness.process(emu.inline_query(carl, "results"))

    # the question resolves: the leaderboard names Bob, shows Anna and Carl by handle
    question = await harness.store.questions.default()
    assert question
    scores = [
        Score(question.id, uid, p, b, b, datetime(2026, 11, 30, tzinfo=UTC))
        for uid, p, b in ((ANNA_ID, 70, 0.09), (BOB_ID, 40, 0.36), (CARL_ID, 60, 0.16))
    ]
    await harness.store.admin.resolve(question.id, "yes", scores)
    board = plain((await harness.send(bob, "/leaderboard", chat=group)).text)
    carl_row = await harness.store.users.get(CARL_ID)
    assert carl_row and carl_row.handle
    assert f"1. a reader {anna_row.handle}" in board
    assert f"2. a reader {carl_row.handle}" in board and "3. Bob" in board

    for user_id in (ANNA_ID, BOB_ID, CARL_ID):
        texts = shown_to_others(emu, user_id)
        assert texts, "the scenario showed texts to others"
        allowed = chats_where_wrote(emu, user_id)
        for text in texts:
            if f"tg://user?id={user_id}" in text:
                assert json.loads(text).get("chat_id") in allowed, text
                text = text.replace(f"tg://user?id={user_id}", "")
            for value in derived(user_id):
                assert value not in text, (user_id, value, text)


async def test_handles_are_random_unique_and_deleted_with_the_reader(
    harness: Harness, emu: Emulator, anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    await harness.send(anna, "/forecast 70 причина")
    await harness.send(bob, "/start")
    first = await harness.store.users.get(101)
    other = await harness.store.users.get(102)
    assert first and first.handle and other and other.handle and first.handle != other.handle
    # the handle is not a function of the id: a reader stored again gets another one
    assert normalise_handle(first.handle.upper()) == first.handle
    assert normalise_handle("#" + first.handle[2:]) == first.handle
    assert normalise_handle("r-0o1il!") is None
    found = await harness.store.users.by_handle(first.handle)
    assert found and found.user_id == 101

    step = await harness.send(anna, "/deleteme")
    await harness.press(anna, step.last, 1)
    assert await harness.store.users.get(101) is None
    assert await harness.store.users.by_handle(first.handle) is None
    async with harness.store.conn.execute(
        "SELECT COUNT(*) FROM users WHERE handle = ?", (first.handle,)
    ) as cur:
        assert (await cur.fetchone())[0] == 0  # type: ignore[index]
    await harness.send(anna, "/start")
    again = await harness.store.users.get(101)
    assert again and again.handle and again.handle != first.handle


async def test_readers_stored_without_a_handle_get_one_at_start(
    harness: Harness, emu: Emulator
) -> None:
    question = await harness.store.questions.default()
    assert question
    rows = [(900 + i, 50, "2026-11-30T00:00:00+00:00") for i in range(30)]
    await harness.store.forecasts.bulk_insert(question.id, rows)  # an import: no handles
    assert await harness.store.users.assign_handles() == 30
    async with harness.store.conn.execute(
        "SELECT COUNT(DISTINCT handle), COUNT(*) FROM users WHERE user_id >= 900"
    ) as cur:
        assert tuple(await cur.fetchone()) == (30, 30)  # type: ignore[arg-type]


async def test_a_drawn_handle_that_is_taken_is_drawn_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws = iter(["r-aaaaaa", "r-aaaaaa", "r-bbbbbb", "r-bbbbbb", "r-cccccc"])
    monkeypatch.setattr(users_store, "new_handle", lambda: next(draws))
    users = harness.store.users
    first = await users.touch(301, username=None, first_name="A", tg_language="en")
    second = await users.touch(302, username=None, first_name="B", tg_language="en")
    assert (first.handle, second.handle) == ("r-aaaaaa", "r-bbbbbb")
    # a reader without a handle (an import) gets one at start; a taken draw is redrawn
    await harness.store.conn.execute(
        "INSERT INTO users (user_id, first_name, created_at, updated_at) VALUES (303, '', '', '')"
    )
    await harness.store.conn.commit()
    assert await users.assign_handles() == 1
    third = await users.get(303)
    assert third and third.handle == "r-cccccc"
