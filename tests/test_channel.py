"""The channel post with live tallies, the comment thread, deep links, membership
changes and group migration — through the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Settings
from bot.emulator import Emulator
from tests.conftest import Harness, buttons, plain

CHANNEL_ID = -1001111
DISCUSSION_ID = -1002222
# seconds between tally edits: an hour, so that no scheduled edit runs by itself; the tests
# run the scheduled edits with run_tally
INTERVAL = 3600.0
SLUG = "talent-hub-2030"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The common settings with a channel and a short tally interval."""
    return settings.model_copy(
        update={"channel_id": "@beijing_ai_news", "tally_interval_seconds": INTERVAL}
    )


@pytest.fixture
def channel(emu: Emulator) -> dict[str, Any]:
    """The public channel; the bot is an administrator allowed to post and edit."""
    return emu.channel(CHANNEL_ID, "Beijing AI news", username="beijing_ai_news")


@pytest.fixture
def discussion(emu: Emulator) -> dict[str, Any]:
    """The channel's linked discussion group."""
    return emu.group(DISCUSSION_ID, "Beijing AI news — comments", supergroup=True)


@pytest.fixture
def carol(emu: Emulator) -> dict[str, Any]:
    """A reader who never started the bot: Telegram refuses private messages to her."""
    user = emu.user(103, "Carol", language_code="en")
    emu.never_started(103)
    return user


async def qid(harness: Harness) -> int:
    question = await harness.store.questions.default()
    assert question is not None
    return question.id


async def post(harness: Harness, admin: dict[str, Any]) -> dict[str, Any]:
    """/post as the admin; returns the channel post as it is now."""
    step = await harness.send(admin, "/post")
    assert "Posted" in step.text, step.text
    return harness.emu.last_sent(CHANNEL_ID)


def edits_of(emu: Emulator, message_id: int) -> list[Any]:
    """editMessageText calls (failed ones too) on a channel post."""
    return [
        c
        for c in emu.calls_to("editMessageText")
        if c.params.get("chat_id") == CHANNEL_ID and c.params.get("message_id") == message_id
    ]


async def run_tally(harness: Harness, message_id: int | None = None, count: int = 0) -> None:
    """Run the scheduled tally edits now, as if the interval had passed (the edits already
    made count as an interval ago). With `message_id`: assert that the post has had exactly
    `count` successful edits since it was posted."""
    app = harness.app
    state = app.bot_data.channel_tally
    if state is not None:
        for key in state.last_edit:
            state.last_edit[key] -= INTERVAL
    for job in harness.job_queue.jobs():
        if job.name and job.name.startswith("tally:") and job.name != "tally:all":
            job.schedule_removal()
            await job.run(app)
    if message_id is not None:
        done = [c for c in edits_of(harness.emu, message_id) if not c.error]
        assert len(done) == count


def auto_forward(emu: Emulator, channel: dict[str, Any], discussion: dict[str, Any]) -> Any:
    """The channel post as Telegram forwards it into the discussion group."""
    text = emu.last_sent(CHANNEL_ID)["text"]
    return emu.message(
        None,
        discussion,
        text,
        sender_chat=channel,
        is_automatic_forward=True,
        forward_origin_chat=channel,
    )


# --- /post ----------------------------------------------------------------------------------


async def test_admin_posts_the_card_with_buttons_and_deep_links(
    harness: Harness, admin: dict[str, Any], channel: dict[str, Any]
) -> None:
    card = await post(harness, admin)
    text = plain(card["text"])
    assert "Будет ли Пекин" in text or "Пекин" in text  # the channel's language: ru
    assert "Ключевые цифры" in text and "183" in text
    assert "Прогнозов пока нет" in text
    found = buttons(card)
    question_id = await qid(harness)
    assert [data for _, data in found[:5]] == [
        f"fc:{question_id}:{p}" for p in (5, 25, 50, 75, 95)
    ]
    urls = [data for _, data in found if data.startswith("https://")]
    assert urls == [
        f"https://t.me/beijing_ai_bot?start=exact_{SLUG}",
        f"https://t.me/beijing_ai_bot?start=reason_{SLUG}",
    ]
    assert found[-1][1] == f"rs:{question_id}"
    reply = plain(harness.emu.last_sent(admin["id"])["text"])
    assert "https://t.me/beijing_ai_news/" in reply


async def test_post_is_for_admins_in_private_only(
    harness: Harness, bob: dict[str, Any], admin: dict[str, Any], group: dict[str, Any],
    channel: dict[str, Any],
) -> None:  # fmt: skip
    assert "admins only" in (await harness.send(bob, "/post")).text
    assert "private chat" in (await harness.send(admin, "/post", chat=group)).text
    assert harness.emu.sent(CHANNEL_ID) == []


async def test_post_explains_what_to_fix(
    harness: Harness, admin: dict[str, Any], channel: dict[str, Any], group: dict[str, Any]
) -> None:
    emu = harness.emu
    base: Settings = harness.app.bot_data.settings

    harness.app.bot_data.settings = base.model_copy(update={"channel_id": None})
    assert "Set CHANNEL_ID" in (await harness.send(admin, "/post")).text

    harness.app.bot_data.settings = base.model_copy(update={"channel_id": "@no_such_channel"})
    assert "can't find the channel @no_such_channel" in (await harness.send(admin, "/post")).text

    harness.app.bot_data.settings = base.model_copy(update={"channel_id": str(group["id"])})
    assert "not a channel" in (await harness.send(admin, "/post")).text

    harness.app.bot_data.settings = base
    emu.set_chat_admin(CHANNEL_ID, emu.bot_id, can_post=False)
    text = (await harness.send(admin, "/post")).text
    assert "make me an administrator" in text and "Post messages" in text

    emu.remove_bot_from(CHANNEL_ID)
    assert "make me an administrator" in (await harness.send(admin, "/post")).text

    assert "no question “nope”" in (await harness.send(admin, "/post nope")).text
    assert emu.sent(CHANNEL_ID) == []


# --- live tally -----------------------------------------------------------------------------


async def test_three_readers_tap_and_the_tally_is_edited_once(
    harness: Harness,
    admin: dict[str, Any],
    anna: dict[str, Any],
    bob: dict[str, Any],
    carol: dict[str, Any],
    channel: dict[str, Any],
) -> None:
    emu = harness.emu
    card = await post(harness, admin)
    question_id = await qid(harness)
    for user, p in ((anna, 50), (bob, 75), (carol, 95)):
        step = await harness.tap(user, card, f"fc:{question_id}:{p}")
        assert step.alert and ("Recorded" in step.alert or "Записал" in step.alert)
        assert step.messages == []  # the channel stays quiet
    assert edits_of(emu, card["message_id"]) == []  # coalesced: not yet
    await run_tally(harness, card["message_id"], 1)
    assert len(edits_of(emu, card["message_id"])) == 1
    text = plain(emu.last_sent(CHANNEL_ID)["text"])
    assert "3 участника" in text and "медиана сообщества 75 %" in text
    assert buttons(emu.last_sent(CHANNEL_ID)) == buttons(card)  # the keyboard stays

    # the same tap again changes neither count nor median: no edit
    await harness.tap(anna, card, f"fc:{question_id}:50")
    await run_tally(harness)
    assert len(edits_of(emu, card["message_id"])) == 1

    # a change of the median: one more edit
    await harness.tap(anna, card, f"fc:{question_id}:95")
    await run_tally(harness, card["message_id"], 2)
    assert len(edits_of(emu, card["message_id"])) == 2
    assert "медиана сообщества 95 %" in plain(emu.last_sent(CHANNEL_ID)["text"])

    # Carol never started the bot: nothing was ever sent to her privately
    assert not [c for c in emu.calls if c.params.get("chat_id") == carol["id"]]
    reader = await harness.store.users.get(carol["id"])
    assert reader is not None and not reader.started


async def test_tally_lost_in_a_restart_is_caught_up_after_start(
    harness: Harness, admin: dict[str, Any], bob: dict[str, Any], channel: dict[str, Any]
) -> None:
    emu = harness.emu
    card = await post(harness, admin)
    await harness.tap(bob, card, f"fc:{await qid(harness)}:25")
    await harness.restart()  # the scheduled edit is lost with the job queue
    assert edits_of(emu, card["message_id"]) == []
    [job] = harness.job_queue.get_jobs_by_name("tally:all")
    await job.run(harness.app)
    assert len(edits_of(emu, card["message_id"])) == 1
    assert "1 участник" in plain(emu.last_sent(CHANNEL_ID)["text"])
    await job.run(harness.app)  # nothing changed since: no edit
    assert len(edits_of(emu, card["message_id"])) == 1


async def test_tally_waits_out_flood_control(
    harness: Harness,
    admin: dict[str, Any],
    bob: dict[str, Any],
    channel: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # PTB 22 warns on every RetryAfter otherwise
    emu = harness.emu
    card = await post(harness, admin)
    emu.fail_next("editMessageText", 429, "Too Many Requests: retry after 1", retry_after=1)
    await harness.tap(bob, card, f"fc:{await qid(harness)}:25")
    await run_tally(harness, card["message_id"], 1)
    calls = edits_of(emu, card["message_id"])
    assert [c.error_code for c in calls] == [429, None]
    assert "1 участник" in plain(emu.last_sent(CHANNEL_ID)["text"])


async def test_bot_removed_from_channel_stops_the_tally(
    harness: Harness,
    admin: dict[str, Any],
    anna: dict[str, Any],
    bob: dict[str, Any],
    channel: dict[str, Any],
) -> None:
    emu = harness.emu
    card = await post(harness, admin)
    question_id = await qid(harness)
    emu.remove_bot_from(CHANNEL_ID, kicked=True)
    await harness.tap(anna, card, f"fc:{question_id}:25")  # still recorded for Anna
    await run_tally(harness)
    assert [c.error_code for c in edits_of(emu, card["message_id"])] == [403]
    await harness.tap(bob, card, f"fc:{question_id}:75")
    await run_tally(harness)
    assert len(edits_of(emu, card["message_id"])) == 1  # no retries into a lost channel
    assert (await harness.store.forecasts.current(question_id, bob["id"])) is not None


async def test_my_chat_member_left_channel_and_blocked_reader_are_recorded(
    harness: Harness,
    admin: dict[str, Any],
    bob: dict[str, Any],
    channel: dict[str, Any],
) -> None:
    emu = harness.emu
    card = await post(harness, admin)
    step = await harness.process(emu.my_chat_member(channel, admin, "left"))
    assert step.messages == [] and step.errors == []
    assert await harness.store.channel.chat_status(CHANNEL_ID) == "left"
    await harness.tap(bob, card, f"fc:{await qid(harness)}:75")
    await run_tally(harness)
    assert edits_of(emu, card["message_id"]) == []

    await harness.send(bob, "/start")
    emu.block_user(bob["id"])
    step = await harness.process(emu.my_chat_member(emu.private_chat(bob), bob, "kicked"))
    assert step.messages == []
    reader = await harness.store.users.get(bob["id"])
    assert reader is not None and reader.blocked and not reader.started
    emu.unblock_user(bob["id"])
    await harness.process(emu.my_chat_member(emu.private_chat(bob), bob, "member"))
    reader = await harness.store.users.get(bob["id"])
    assert reader is not None and not reader.blocked and reader.started


# --- the comment thread ---------------------------------------------------------------------


async def test_auto_forward_gets_exactly_one_prompt_also_after_edit_and_restart(
    harness: Harness,
    admin: dict[str, Any],
    channel: dict[str, Any],
    discussion: dict[str, Any],
) -> None:
    emu = harness.emu
    await post(harness, admin)
    forward = auto_forward(emu, channel, discussion)
    step = await harness.process(forward)
    assert len(step.messages) == 1
    prompt = step.last
    assert prompt["chat"]["id"] == DISCUSSION_ID
    assert prompt["reply_to_message"]["message_id"] == forward["message"]["message_id"]
    assert "Прогноз — прямо в комментариях" in plain(prompt["text"])
    assert "Прогнозов пока нет" in plain(prompt["text"])
    assert len([b for b in buttons(prompt) if b[1].startswith("fc:")]) == 5

    again = await harness.process(emu.edited_message(forward["message"], "edited post"))
    assert again.messages == []
    await harness.restart()
    again = await harness.process(emu.edited_message(forward["message"], "edited again"))
    assert again.messages == []
    assert len(emu.sent(DISCUSSION_ID)) == 1


async def test_auto_forward_of_a_foreign_post_is_ignored(
    harness: Harness,
    admin: dict[str, Any],
    channel: dict[str, Any],
    discussion: dict[str, Any],
) -> None:
    await post(harness, admin)
    forward = auto_forward(harness.emu, channel, discussion)
    forward["message"]["forward_origin"]["message_id"] = 999  # a post the bot did not make
    step = await harness.process(forward)
    assert step.messages == []


async def prompt_in_thread(
    harness: Harness, admin: dict[str, Any], channel: dict[str, Any], discussion: dict[str, Any]
) -> dict[str, Any]:
    await post(harness, admin)
    step = await harness.process(auto_forward(harness.emu, channel, discussion))
    return step.last


async def test_reply_with_a_probability_gets_a_personal_confirm_button(
    harness: Harness,
    admin: dict[str, Any],
    anna: dict[str, Any],
    bob: dict[str, Any],
    channel: dict[str, Any],
    discussion: dict[str, Any],
) -> None:
    prompt = await prompt_in_thread(harness, admin, channel, discussion)
    question_id = await qid(harness)
    step = await harness.send(bob, "70 % because of Tsinghua", chat=discussion, reply_to=prompt)
    assert len(step.messages) == 1
    offer = step.last
    assert "I read 70%" in plain(offer["text"]) and "because of Tsinghua" in offer["text"]
    assert offer["message_thread_id"] == prompt["message_thread_id"]
    [(label, data)] = buttons(offer)
    assert label == "✅ Record 70% as my forecast" and data.startswith("cc:")

    other = await harness.press(anna, offer, label)
    assert other.alert and "автора комментария" in other.alert
    assert await harness.store.forecasts.current(question_id, anna["id"]) is None

    mine = await harness.press(bob, offer, label)
    assert (
        mine.alert
        == "Recorded: 70%. You can change it any time — tap another probability or reply again."
    )
    stored = await harness.store.forecasts.current(question_id, bob["id"])
    assert stored is not None and stored.probability == 70
    assert stored.reason == "because of Tsinghua"
    shown = harness.emu.current(offer)
    assert "Bob's forecast is recorded: 70%" in plain(shown["text"])
    assert "reply_markup" not in shown

    again = await harness.tap(bob, offer, data)
    assert again.alert == "This forecast is already recorded."


async def test_a_confirmed_comment_closes_the_prompt_open_in_the_group(
    harness: Harness,
    admin: dict[str, Any],
    bob: dict[str, Any],
    channel: dict[str, Any],
    discussion: dict[str, Any],
) -> None:
    prompt = await prompt_in_thread(harness, admin, channel, discussion)
    card = (await harness.send(bob, "/forecast", chat=discussion)).last
    await harness.press(bob, card, "✏️ Exact %")
    assert await harness.store.forecasts.pending(bob["id"], DISCUSSION_ID) is not None
    offer = (await harness.send(bob, "70 %", chat=discussion, reply_to=prompt)).last
    await harness.press(bob, offer, "✅ Record 70% as my forecast")
    stored = await harness.store.forecasts.current(await qid(harness), bob["id"])
    assert stored is not None and stored.probability == 70
    assert await harness.store.forecasts.pending(bob["id"], DISCUSSION_ID) is None
    assert "nothing to cancel" in (await harness.send(bob, "/cancel", chat=discussion)).text


async def test_thread_russian_about_phrase_and_words_only_hint(
    harness: Harness,
    admin: dict[str, Any],
    anna: dict[str, Any],
    channel: dict[str, Any],
    discussion: dict[str, Any],
) -> None:
    prompt = await prompt_in_thread(harness, admin, channel, discussion)
    step = await harness.send(anna, "скорее да", chat=discussion, reply_to=prompt)
    assert len(step.messages) == 1 and buttons(step.last) == []
    assert "учитываю только явное число" in step.text and len(step.text) < 200

    step = await harness.send(anna, "думаю, процентов 60", chat=discussion, reply_to=prompt)
    assert "60 %" in step.text and "Причина: думаю" in step.text
    [(label, _)] = buttons(step.last)
    assert label == "✅ Записать 60 % как мой прогноз"

    step = await harness.send(anna, "60 или 70 %", chat=discussion, reply_to=prompt)
    assert "Не понимаю, какое число" in step.text and buttons(step.last) == []


async def test_other_comments_in_the_thread_get_no_answer(
    harness: Harness,
    admin: dict[str, Any],
    anna: dict[str, Any],
    bob: dict[str, Any],
    channel: dict[str, Any],
    discussion: dict[str, Any],
) -> None:
    emu = harness.emu
    prompt = await prompt_in_thread(harness, admin, channel, discussion)
    thread = prompt["message_thread_id"]
    comment = await harness.send(bob, "70 % great post", chat=discussion, thread_id=thread)
    assert comment.messages == []
    to_bob = await harness.send(
        anna, "80 % agree", chat=discussion, reply_to=comment.update["message"]
    )
    assert to_bob.messages == []
    # a reply to the bot outside any prompted thread (e.g. an old /stats card) is ignored too
    card = (await harness.send(bob, "/stats", chat=discussion)).last
    elsewhere = await harness.send(bob, "70 %", chat=discussion, reply_to=card)
    assert elsewhere.messages == []
    assert len(emu.sent(DISCUSSION_ID)) == 2  # the prompt and the /stats card


async def test_tap_on_the_thread_prompt_records_with_an_alert(
    harness: Harness,
    admin: dict[str, Any],
    carol: dict[str, Any],
    channel: dict[str, Any],
    discussion: dict[str, Any],
) -> None:
    prompt = await prompt_in_thread(harness, admin, channel, discussion)
    step = await harness.tap(carol, prompt, f"fc:{await qid(harness)}:25")
    assert step.alert and "Recorded" in step.alert and step.messages == []


# --- deep links -----------------------------------------------------------------------------


async def test_deep_link_exact_and_reason_from_the_channel(
    harness: Harness, bob: dict[str, Any]
) -> None:
    step = await harness.send(bob, f"/start exact_{SLUG}")
    assert "AI-talent" in step.text or "talent" in step.text.lower()
    assert "Send your probability" in step.text
    step = await harness.send(bob, "80 because of the universities")
    assert "Recorded: 80%" in step.text

    step = await harness.send(bob, f"/start reason_{SLUG}")
    assert "Why do you think so" in step.text
    step = await harness.send(bob, "Talent keeps coming")
    question_id = await qid(harness)
    stored = await harness.store.forecasts.current(question_id, bob["id"])
    assert stored is not None and stored.reason == "Talent keeps coming"


async def test_deep_link_reason_without_forecast_shows_the_card_first(
    harness: Harness, anna: dict[str, Any]
) -> None:
    step = await harness.send(anna, f"/start reason_{SLUG}")
    assert "Сначала сделайте прогноз" in step.text
    assert any(data.startswith("fc:") for _, data in buttons(step.last))


async def test_unknown_or_malformed_payloads_fall_back_to_the_greeting(
    harness: Harness, bob: dict[str, Any]
) -> None:
    greeting = (await harness.send(bob, "/start")).text
    for payload in ("exact_nope", "exact_!!", "reason_" + "x" * 70, "nothing_here"):
        assert (await harness.send(bob, f"/start {payload}")).text == greeting
    assert "183 models" in (await harness.send(bob, "/start stats")).text


# --- migration --------------------------------------------------------------------------------


async def test_group_migration_keeps_its_data(harness: Harness, anna: dict[str, Any]) -> None:
    emu = harness.emu
    old = emu.group(-555, "Readers", supergroup=False)
    card = (await harness.send(anna, "/forecast", chat=old)).last
    await harness.tap(anna, card, f"fx:{await qid(harness)}")
    assert await harness.store.forecasts.pending(anna["id"], -555) is not None
    harness.app.chat_data[-555]["note"] = "kept"
    for update in emu.migrate(old, -100555):
        step = await harness.process(update)
        assert step.errors == []
    assert await harness.store.forecasts.pending(anna["id"], -555) is None
    pending = await harness.store.forecasts.pending(anna["id"], -100555)
    assert pending is not None and pending.kind == "exact"
    assert harness.app.chat_data[-100555]["note"] == "kept"
    new = emu.chats[-100555].chat
    step = await harness.send(anna, "/forecast 65", chat=new)
    assert "65 %" in step.text


async def test_the_active_posts_a_forecast_edits_follow_every_change(harness: Harness) -> None:
    channel = harness.store.channel
    assert await channel.active_post_ids(1) == []
    kwargs: dict[str, Any] = {"language": "ru", "posted_by": None, "shown_count": 0}
    await channel.add_post(-1001, 5, 1, shown_median=None, **kwargs)
    await channel.add_post(-1002, 6, 1, shown_median=None, **kwargs)
    assert await channel.active_post_ids(1) == [(-1001, 5), (-1002, 6)]
    await channel.deactivate_post(-1001, 5)
    assert await channel.active_post_ids(1) == [(-1002, 6)]
    await channel.set_chat_status(-1002, "channel", "kicked")
    assert await channel.active_post_ids(1) == []
    assert await channel.active_posts() == []  # what the cache says is what is stored
