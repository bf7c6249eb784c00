"""Questions: /newquestion (guided, kept in SQLite), /questions with close, reopen and
default, /resolve with hand-checked Brier scores, notifications and /leaderboard."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.services.dataset import QuestionEntry
from bot.services.export_format import pseudonym
from bot.store.forecasts import Question
from tests.conftest import ADMIN_ID, Harness, buttons, plain


async def answer(harness: Harness, user: dict[str, Any], text: str) -> list[str]:
    """Send `text` and return what the bot said (exactly one message expected)."""
    step = await harness.send(user, text)
    assert len(step.texts) == 1, step.texts
    return step.texts


async def test_newquestion_guided_flow_validates_survives_restart_and_creates(
    harness: Harness, admin: dict[str, Any]
) -> None:
    step = await harness.send(admin, "/newquestion")
    assert "New question." in step.text and "1/7." in step.text
    assert buttons(step.last) == [("✖ Cancel", "nq:cancel")]
    (text,) = await answer(harness, admin, "Bad Slug!")
    assert "does not fit" in text and "1/7." in text
    (text,) = await answer(harness, admin, "talent-hub-2030")
    assert "already taken" in text
    (text,) = await answer(harness, admin, "ai-jobs-2031")
    assert text.startswith("2/7.")
    await answer(harness, admin, "Будет ли в Пекине <1 млн> ИИ-вакансий & больше?")
    await harness.restart()  # the draft is in SQLite, not in memory
    (text,) = await answer(harness, admin, "Will Beijing list <1M> AI jobs & more?")
    assert text.startswith("4/7.")
    await answer(harness, admin, "По данным бюро статистики.")
    (text,) = await answer(harness, admin, "Per the statistics bureau.")
    assert text.startswith("6/7.")
    (text,) = await answer(harness, admin, "31.12.2031")
    assert "YYYY-MM-DD" in text
    (text,) = await answer(harness, admin, "2020-01-01")
    assert "must be in the future" in text
    await answer(harness, admin, "2031-12-31")
    (text,) = await answer(harness, admin, "2031-01-01")
    assert "cannot be before the closing day" in text
    step = await harness.send(admin, "2032-03-31")
    summary = step.last
    assert "Will Beijing list <1M> AI jobs & more?" in step.text
    assert "Dec 31, 2031" in plain(step.text) and "Mar 31, 2032" in plain(step.text)
    assert [b for b, _ in buttons(summary)] == ["✅ Create", "★ Create as default", "✖ Cancel"]
    (text,) = await answer(harness, admin, "anything")
    assert "press a button" in text
    step = await harness.press(admin, summary, "★ Create as default")
    assert "ai-jobs-2031 is created, open and now the default question" in step.text
    question = await harness.store.questions.by_slug("ai-jobs-2031")
    assert question and question.is_default and question.status == "open"
    assert question.text_ru == "Будет ли в Пекине <1 млн> ИИ-вакансий & больше?"
    assert question.criteria_en == "Per the statistics bureau."
    assert question.closes_at == datetime(2031, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert question.resolve_by == datetime(2032, 3, 31, 23, 59, 59, tzinfo=UTC)
    assert await harness.store.admin.draft(ADMIN_ID, ADMIN_ID) is None
    old = await harness.store.questions.by_slug("talent-hub-2030")
    assert old and not old.is_default


async def test_newquestion_cancel_and_refusals(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any], group: dict[str, Any]
) -> None:
    step = await harness.send(admin, "/newquestion")
    step = await harness.press(admin, step.last, "✖ Cancel")
    assert "cancelled" in step.text
    assert await harness.store.admin.draft(ADMIN_ID, ADMIN_ID) is None
    # after cancelling, text goes to the forecast prompts again (nothing pending there)
    step = await harness.send(admin, "ai-jobs")
    assert "ai-jobs" not in step.text and "1/7." not in step.text
    await harness.send(admin, "/newquestion")
    assert (await answer(harness, admin, "/newquestion cancel")) == [
        "The new question is cancelled."
    ]
    step = await harness.send(anna, "/newquestion")
    assert step.texts == ["Извините, эта команда только для администраторов бота."]
    step = await harness.send(admin, "/newquestion", chat=group)
    assert step.texts == ["Please use this command in a private chat with me."]


async def test_questions_list_and_buttons_close_reopen_default(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    await harness.store.questions.create(
        QuestionEntry("second", "Второй?", "Second?", "к", "c", now, now + timedelta(days=30),
                      now + timedelta(days=40))
    )  # fmt: skip
    await harness.send(anna, "/forecast 40")
    step = await harness.send(admin, "/questions")
    text = plain(step.text)
    assert "talent-hub-2030 — open ★ default" in text and "standing forecasts: 1" in text
    assert "second — open\nSecond?" in text
    assert ("Close second", "aq:close:2") in buttons(step.last)
    step = await harness.press(admin, step.last, "Close second")
    assert step.alert == "Question second is closed: it takes no new forecasts."
    shown = harness.emu.last_sent(ADMIN_ID)
    assert "second — closed" in plain(shown["text"])
    q = await harness.store.questions.by_slug("second")
    assert q and q.status == "closed"
    await harness.press(admin, shown, "Reopen second")
    shown = harness.emu.last_sent(ADMIN_ID)
    await harness.press(admin, shown, "★ second")
    q = await harness.store.questions.by_slug("second")
    assert q and q.status == "open" and q.is_default
    step = await harness.send(admin, "/questions close talent-hub-2030")
    assert step.texts == ["Question talent-hub-2030 is closed: it takes no new forecasts."]
    step = await harness.send(admin, "/questions shut it")
    assert "/questions close SLUG" in step.text
    # a reader pressing an admin button is refused
    step = await harness.tap(anna, shown, "aq:close:2")
    assert step.alert == "Извините, эта команда только для администраторов бота."


async def make_scored_question(harness: Harness) -> Question:
    """A question open for 10 days so far (closing in 10 more) with three forecasters:

    Anna 30 % from the opening, 90 % from day 5; Bob 80 % from day 2; Carl 60 % from day 1,
    10 % from day 6.
    """
    now = datetime.now(UTC)
    opened = now - timedelta(days=10)
    question = await harness.store.questions.create(
        QuestionEntry("scored", "Вопрос для оценки?", "Scored question?", "к", "c", opened,
                      now + timedelta(days=10), now + timedelta(days=20))
    )  # fmt: skip
    fc = harness.store.forecasts
    day = timedelta(days=1)
    await fc.set(question.id, 101, 30, language="ru", at=opened)
    await fc.set(question.id, 101, 90, language="ru", at=opened + 5 * day)
    await fc.set(question.id, 102, 80, language="en", at=opened + 2 * day)
    await fc.set(question.id, 103, 60, language="en", at=opened + day)
    await fc.set(question.id, 103, 10, language="en", at=opened + 6 * day)
    return question


async def finish_notifications(harness: Harness) -> None:
    """Wait for the background score notifications."""
    await asyncio.gather(*list(harness.app.bot_data.notify_tasks))


async def test_resolve_scores_notifies_and_leaderboard(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    carl = harness.emu.user(103, "Carl", language_code="en")
    for reader in (anna, bob, carl):
        await harness.send(reader, "/start")
    await harness.store.users.set_named_consent(102, True)
    await harness.store.users.set_named_consent(103, True)
    question = await make_scored_question(harness)
    harness.emu.block_user(103)

    step = await harness.send(admin, "/resolve scored maybe")
    assert "/resolve SLUG yes" in step.text
    step = await harness.send(admin, "/resolve scored yes")
    assert "Resolve scored as YES?" in step.text and "3 forecasts will be scored" in step.text
    step = await harness.press(admin, step.last, "✅ Confirm")
    assert "Question scored resolved: YES. 3 forecasters scored" in step.text
    await finish_notifications(harness)

    resolved = await harness.store.questions.get(question.id)
    assert resolved and resolved.status == "resolved" and resolved.resolution == "yes"
    scores = {s.score.user_id: s.score for s in await harness.store.admin.scores(question.id)}
    # hand-checked: Anna (0.49·5 + 0.01·5)/10; Bob 0.2² throughout; Carl (0.16·5 + 0.81·4)/9
    assert scores[101].averaged_brier == pytest.approx(0.25, abs=1e-6)
    assert scores[101].final_brier == pytest.approx(0.01)
    assert scores[102].averaged_brier == pytest.approx(0.04, abs=1e-6)
    assert scores[102].final_brier == pytest.approx(0.04)
    assert scores[103].averaged_brier == pytest.approx(4.04 / 9, abs=1e-6)
    assert scores[103].final_brier == pytest.approx(0.81)
    assert (scores[101].final_probability, scores[103].final_probability) == (90, 10)

    to_anna = plain(harness.emu.last_sent(101)["text"])
    assert "Вопрос решён: ДА" in to_anna and "Ваш последний прогноз: 90 %" in to_anna
    assert "оценка Брайера 0,010" in to_anna and "открыт: 0,250" in to_anna
    assert "Ваше место: 2 из 3" in to_anna
    to_bob = plain(harness.emu.last_sent(102)["text"])
    assert "Brier score 0.040" in to_bob and "Your place: 1 of 3" in to_bob
    stored_carl = await harness.store.users.get(103)
    assert stored_carl and stored_carl.blocked == 1  # Forbidden: marked, and the loop went on
    assert "sent to readers: 2; could not be reached: 1" in plain(
        harness.emu.last_sent(ADMIN_ID)["text"]
    )

    step = await harness.send(anna, "/leaderboard scored")
    text = plain(step.text)
    anna_row = await harness.store.users.get(101)
    assert anna_row and anna_row.handle
    short = anna_row.handle  # her random public handle, not derived from her id
    assert pseudonym(101, "test-salt")[:8] not in text
    assert "1. Bob — 0,040 (оценка последнего прогноза: 0,040)" in text
    assert f"2. читатель {short} — 0,250 (оценка последнего прогноза: 0,010)" in text
    assert "3. Carl — 0,449 (оценка последнего прогноза: 0,810)" in text
    assert "Анна" not in text  # Anna did not agree to be named
    assert "Вы: 2-е место из 3" in text
    # without a slug: the newest resolved question
    assert "1. Bob — 0.040" in plain((await harness.send(bob, "/leaderboard")).text)
    step = await harness.send(admin, "/resolve scored no")
    assert "already resolved: YES" in step.text


async def test_annulled_question_is_not_scored(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    carl = harness.emu.user(103, "Carl", language_code="en")
    for reader in (anna, bob, carl):
        await harness.send(reader, "/start")
    question = await make_scored_question(harness)
    step = await harness.send(admin, "/resolve scored annulled")
    assert "Annul scored?" in step.text
    calls_before = len(harness.emu.sent(101))
    step = await harness.press(admin, step.last, "✅ Confirm")
    assert "annulled; it is not scored" in step.text
    await finish_notifications(harness)
    assert await harness.store.admin.scores(question.id) == []
    assert len(harness.emu.sent(101)) == calls_before
    step = await harness.send(bob, "/leaderboard scored")
    assert "was annulled: it is not scored" in step.text


async def test_resolve_cancel_unresolved_leaderboard_and_refusals(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any], group: dict[str, Any]
) -> None:
    step = await harness.send(admin, "/resolve talent-hub-2030 no")
    step = await harness.press(admin, step.last, "✖ Cancel")
    assert "Nothing changed" in step.text
    q = await harness.store.questions.by_slug("talent-hub-2030")
    assert q and q.status == "open"
    step = await harness.send(anna, "/leaderboard talent-hub-2030")
    assert "ещё не решён" in step.text
    step = await harness.send(anna, "/leaderboard")
    assert "Ни один вопрос ещё не решён" in step.text
    step = await harness.send(anna, "/resolve talent-hub-2030 yes")
    assert step.texts == ["Извините, эта команда только для администраторов бота."]
    anonymous = harness.emu.message(None, group, "/resolve talent-hub-2030 yes", sender_chat=group)
    step = await harness.process(anonymous)
    assert "anonymously" in step.text or "анонимно" in step.text
    step = await harness.send(admin, "/resolve nope yes")
    assert "There is no question “nope”" in step.text


async def test_cancel_also_stops_a_question_draft(harness: Harness, admin: dict[str, Any]) -> None:
    await harness.send(admin, "/newquestion")
    assert await harness.store.admin.draft(admin["id"], admin["id"]) is not None
    assert "Cancelled" in (await harness.send(admin, "/cancel")).text
    assert await harness.store.admin.draft(admin["id"], admin["id"]) is None
