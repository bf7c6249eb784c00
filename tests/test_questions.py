"""Several questions: the reader's /questions list, typed commands that name a question
(before or after the number), the current question kept in the database across restarts,
and replies that name their question when more than one is open."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.services.dataset import QuestionEntry
from tests.conftest import Harness, buttons, plain

SLUG = "kimi-users-2027"


async def add_second(harness: Harness) -> int:
    """A second open question; returns its id."""
    entry = QuestionEntry(
        slug=SLUG, text_ru="Будет ли у Kimi 100 млн пользователей?",
        text_en="Will Kimi have 100 million users?", criteria_ru="к", criteria_en="c",
        opened_at=datetime(2026, 1, 1, tzinfo=UTC), closes_at=datetime(2030, 1, 1, tzinfo=UTC),
        resolve_by=datetime(2030, 6, 1, tzinfo=UTC),
    )  # fmt: skip
    question = await harness.store.questions.create(entry)
    return question.id


async def standing(harness: Harness, question_id: int, user_id: int) -> int | None:
    forecast = await harness.store.forecasts.current(question_id, user_id)
    return forecast.probability if forecast and not forecast.withdrawn else None


async def test_reader_lists_questions_with_buttons_and_admin_keeps_the_view(
    harness: Harness, bob: dict[str, Any], admin: dict[str, Any]
) -> None:
    second = await add_second(harness)
    default = await harness.store.questions.default()
    assert default is not None
    await harness.send(bob, "/forecast 40")
    step = await harness.send(bob, "/questions")
    text = plain(step.text)
    assert "Open for forecasts" in text and "Will Kimi have 100 million users?" in text
    assert f"{SLUG} · forecasts until Jan 1, 2030" in text
    assert "Your forecast: 40%" in text
    assert [data for _, data in buttons(step.last)] == [f"fo:{default.id}", f"fo:{second}"]
    card = await harness.tap(bob, step.last, f"fo:{second}")
    assert "Will Kimi have 100 million users?" in card.text
    assert "admins" not in text
    admin_view = await harness.send(admin, "/questions")
    assert any(data.startswith("aq:") for _, data in buttons(admin_view.last))


async def test_slug_before_or_after_the_number_is_the_question_never_the_reason(
    harness: Harness, bob: dict[str, Any]
) -> None:
    second = await add_second(harness)
    default = await harness.store.questions.default()
    assert default is not None
    step = await harness.send(bob, f"/forecast {SLUG} 30")
    assert "Recorded: 30%" in step.text and "Question: Will Kimi" in step.text
    step = await harness.send(bob, f"/forecast 35 {SLUG} cheap tokens")
    assert "Recorded: 35%" in step.text and "Question: Will Kimi" in step.text
    forecast = await harness.store.forecasts.current(second, bob["id"])
    assert forecast and forecast.probability == 35 and forecast.reason == "cheap tokens"
    assert await standing(harness, default.id, bob["id"]) is None
    # a default-question forecast names its question too, since two are open
    step = await harness.send(bob, "/forecast talent-hub-2030 60")
    assert "Question: Will Beijing" in step.text
    text = (await harness.send(bob, "/forecast no-such-question 30")).text
    assert "There is no question “no-such-question”" in text and SLUG in text
    text = (await harness.send(bob, "/forecast 30 kimi-users-2028")).text
    assert "There is no question “kimi-users-2028”" in text
    step = await harness.send(bob, "/forecast 30 long-term")
    assert "Your reason: long-term" in step.text


async def test_myforecast_results_withdraw_take_a_slug(
    harness: Harness, bob: dict[str, Any]
) -> None:
    second = await add_second(harness)
    await harness.send(bob, f"/forecast {SLUG} 30")
    await harness.send(bob, "/forecast talent-hub-2030 70")
    text = plain((await harness.send(bob, f"/myforecast {SLUG}")).text)
    assert "Will Kimi" in text and "30%" in text and "70%" not in text
    text = plain((await harness.send(bob, f"/results {SLUG}")).texts[0])
    assert "Will Kimi" in text
    step = await harness.send(bob, f"/withdraw {SLUG}")
    assert "30%" in step.text and "Question: Will Kimi" in step.text
    done = await harness.tap(bob, step.last, f"fw:{second}:1")
    assert "Question: Will Kimi" in "\n".join(e.get("text", "") for e in done.edits)
    assert await standing(harness, second, bob["id"]) is None
    assert "There is no question “nope”" in (await harness.send(bob, "/myforecast nope")).text


async def test_current_question_survives_a_restart(harness: Harness, bob: dict[str, Any]) -> None:
    second = await add_second(harness)
    await harness.send(bob, f"/start forecast_{SLUG}")
    await harness.restart()
    step = await harness.send(bob, "/forecast 20")
    assert "Question: Will Kimi" in step.text
    assert await standing(harness, second, bob["id"]) == 20
    assert "Will Kimi" in (await harness.send(bob, "/myforecast")).text


async def test_once_the_opened_question_closes_typed_forecasts_go_to_the_default(
    harness: Harness, bob: dict[str, Any]
) -> None:
    second = await add_second(harness)
    await harness.send(bob, f"/start forecast_{SLUG}")
    assert await standing(harness, second, bob["id"]) is None
    await harness.store.conn.execute(
        "UPDATE questions SET closes_at = '2020-01-01T00:00:00.000000+00:00' WHERE id = ?",
        (second,),
    )
    await harness.store.conn.commit()
    default = await harness.store.questions.default()
    assert default is not None and default.id != second
    step = await harness.send(bob, "/forecast 20")
    assert "Recorded" in step.text and "Will Kimi" not in step.text
    assert await standing(harness, default.id, bob["id"]) == 20
    # named explicitly, the closed question still says so and where the open ones are
    step = await harness.send(bob, f"/forecast {SLUG} 30")
    assert "no longer takes forecasts" in step.text and "/questions" in step.text
    assert await standing(harness, second, bob["id"]) is None


async def test_a_button_on_an_older_card_makes_its_question_current_again(
    harness: Harness, bob: dict[str, Any]
) -> None:
    second = await add_second(harness)
    card = (await harness.send(bob, f"/forecast {SLUG}")).last
    await harness.send(bob, "/forecast talent-hub-2030 60")  # now the default is current
    step = await harness.tap(bob, card, f"fc:{second}:40")
    assert "Recorded: <b>40%</b>" in "\n".join(e.get("text", "") for e in step.edits)
    await harness.restart()  # stored with the forecast, in the same commit
    step = await harness.send(bob, "/forecast 20")
    assert "Question: Will Kimi" in step.text
    assert await standing(harness, second, bob["id"]) == 20
