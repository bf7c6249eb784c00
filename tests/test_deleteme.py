"""Privacy: /deleteme removes a reader's forecasts, history, scores, pending steps
and preferences after a confirmation button; exports no longer contain them."""

from __future__ import annotations

from typing import Any

from bot.services.export_format import pseudonym
from tests.conftest import Harness, buttons


async def test_deleteme_removes_everything_of_that_reader_only(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    await harness.send(anna, "/language en")
    await harness.send(anna, "/forecast 70")
    await harness.send(anna, "/forecast 75")
    await harness.send(bob, "/forecast 20")
    store = harness.store
    question = await store.questions.default()
    assert question
    await store.users.set_named_consent(101, True)
    await store.forecasts.set_pending(101, 101, "reason", question.id)
    await store.admin.save_draft(101, 101, "slug", "{}")  # as if (formerly) an admin
    before = await store.admin.reader_footprint(101)
    assert before["users"] == before["forecasts"] == 1 and before["forecast_history"] == 2
    version = question.version

    step = await harness.send(anna, "/deleteme")
    assert "your 1 forecast with its history" in step.text
    assert [b for b, _ in buttons(step.last)] == ["🗑 Delete everything", "Keep"]
    step = await harness.press(anna, step.last, "🗑 Delete everything")
    assert "I deleted your data, including 1 forecast" in step.edits[-1]["text"]
    assert all(n == 0 for n in (await store.admin.reader_footprint(101)).values())
    assert await store.forecasts.current(question.id, 102) is not None  # Bob untouched
    refreshed = await store.questions.get(question.id)
    assert refreshed and refreshed.version > version  # cached results are recomputed

    await harness.send(admin, "/export csv")
    (call,) = harness.emu.calls_to("sendDocument")
    ((_, data, _),) = call.files.values()
    assert pseudonym(101, "test-salt").encode() not in data
    assert pseudonym(102, "test-salt").encode() in data

    # the reader can come back as new: stored again without the old preferences
    await harness.send(anna, "/start")
    reader = await store.users.get(101)
    assert reader and reader.language is None and reader.named_consent is None


async def test_deleteme_keep_group_and_anonymous(
    harness: Harness, anna: dict[str, Any], group: dict[str, Any]
) -> None:
    await harness.send(anna, "/forecast 70")
    step = await harness.send(anna, "/deleteme")
    step = await harness.press(anna, step.last, "Оставить")
    assert step.edits[-1]["text"] == "Ничего не удалено."
    assert (await harness.store.admin.reader_footprint(101))["forecasts"] == 1

    step = await harness.send(anna, "/deleteme", chat=group)
    assert "в личном чате" in step.text
    ((_label, url),) = buttons(step.last)
    assert url.endswith("?start=deleteme")
    step = await harness.send(anna, "/start deleteme")
    assert [b for b, _ in buttons(step.last)] == ["🗑 Удалить всё", "Оставить"]

    anonymous = harness.emu.message(None, group, "/deleteme", sender_chat=group)
    step = await harness.process(anonymous)
    assert step.texts == ["Вы пишете анонимно, поэтому я ничего о вас не храню."] or (
        "anonymously" in step.text
    )
