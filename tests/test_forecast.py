"""Readers' forecasts — one tap, typed values, prompts, history, withdrawal, groups,
restarts, deep links and the community forecast."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.config import Settings
from bot.emulator import Emulator
from bot.services.dataset import QuestionEntry
from tests.conftest import Harness, buttons, plain


async def question_id(harness: Harness) -> int:
    question = await harness.store.questions.default()
    assert question is not None
    return question.id


async def stored(harness: Harness, user: dict[str, Any]) -> int | None:
    forecast = await harness.store.forecasts.current(await question_id(harness), user["id"])
    return None if forecast is None or forecast.withdrawn else forecast.probability


async def test_one_tap_records_and_confirms(harness: Harness, bob: dict[str, Any]) -> None:
    card = (await harness.send(bob, "/forecast")).last
    text = plain(card["text"])
    assert "top five cities" in text and "How it resolves" in text and "Dec 31, 2030" in text
    labels = [label for label, _ in buttons(card)]
    assert labels[:5] == [
        "almost certainly not — 5%", "unlikely — 25%", "toss-up — 50%", "likely — 75%",
        "almost certainly — 95%",
    ]  # fmt: skip
    assert "✏️ Exact %" in labels and "💬 Add a reason" in labels
    step = await harness.press(bob, card, "likely — 75%")
    assert step.alert == "Recorded: 75%"
    assert await stored(harness, bob) == 75
    shown = harness.emu.last_sent(bob["id"])
    assert "Recorded: 75% (likely)" in plain(shown["text"])
    assert "💬 Add a reason" in [label for label, _ in buttons(shown)]


@pytest.mark.parametrize(
    ("typed", "expected", "said"),
    [
        ("/forecast 70", 70, "Recorded: 70% (likely)"),
        (
            "/forecast 70 % they have the universities",
            70,
            "Your reason: they have the universities",
        ),
        ("/forecast 70,5", 71, "70,5 became 71%"),
        ("/forecast 3%", 3, "Recorded: 3% (almost certainly not)"),
    ],
)
async def test_typed_forecasts(
    harness: Harness, bob: dict[str, Any], typed: str, expected: int, said: str
) -> None:
    step = await harness.send(bob, typed)
    assert said in step.text
    assert await stored(harness, bob) == expected


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("/forecast 0", "must be from 1 to 99"),
        ("/forecast 100", "must be from 1 to 99"),
        ("/forecast 150", "must be from 1 to 99"),
        ("/forecast -5", "must be from 1 to 99"),
        ("/forecast seventy", "as digits, from 1 to 99"),
        ("/forecast 0.7", "not 0.7"),
        ("/forecast 60 or 70", "one probability"),
    ],
)
async def test_bad_values_are_explained_and_nothing_is_stored(
    harness: Harness, bob: dict[str, Any], typed: str, said: str
) -> None:
    step = await harness.send(bob, typed)
    assert said in step.text
    assert await stored(harness, bob) is None


async def test_too_long_reason_is_refused_not_cut(harness: Harness, bob: dict[str, Any]) -> None:
    step = await harness.send(bob, "/forecast 40 " + "x" * 1001)
    assert "longer than 1000 characters" in step.text
    assert await stored(harness, bob) is None


async def test_exact_prompt_in_private(harness: Harness, anna: dict[str, Any]) -> None:
    card = (await harness.send(anna, "/forecast")).last
    step = await harness.press(anna, card, "✏️ Точный %")
    assert "целым числом от 1 до 99" in step.text
    step = await harness.send(anna, "не знаю")
    assert "цифрами, от 1 до 99" in step.text  # prompt stays open
    assert await stored(harness, anna) is None
    step = await harness.send(anna, "64")
    assert "Записал: 64 % (вероятно)" in step.text
    assert await stored(harness, anna) == 64
    # the prompt is answered: other text gets a hint, a bare number is a new forecast
    assert "Не понял" in (await harness.send(anna, "спасибо")).text
    assert await stored(harness, anna) == 64
    assert "Записал: 55 %" in (await harness.send(anna, "55")).text


async def test_reason_flow_with_consent_and_change(harness: Harness, anna: dict[str, Any]) -> None:
    after = (await harness.send(anna, "/forecast 80")).last
    await harness.press(anna, after, "💬 Добавить причину")
    too_long = await harness.send(anna, "я" * 1001)
    assert "Здесь 1001 символ," in too_long.text and "ничего не сохранил" in too_long.text
    step = await harness.send(anna, "Цинхуа и Пекинский университет <b>сильны</b>")
    assert "Причина сохранена" in step.text
    assert "Можно показывать ваше имя" in step.text
    consent = step.last
    await harness.press(anna, consent, "Да, указывать имя")
    forecast = await harness.store.forecasts.current(await question_id(harness), anna["id"])
    assert (
        forecast is not None and forecast.reason == "Цинхуа и Пекинский университет <b>сильны</b>"
    )
    results = await harness.send(anna, "/results")
    assert "80 %, Анна: Цинхуа и Пекинский университет <b>сильны</b>" in results.text
    # changing the reason keeps the probability; consent is asked only once
    shown = harness.emu.sent(anna["id"])[-3]
    await harness.tap(anna, shown, f"fr:{forecast.question_id}")
    step = await harness.send(anna, "Передумала объяснять иначе")
    assert "Можно показывать" not in step.text
    assert await stored(harness, anna) == 80


async def test_myforecast_history_and_withdraw(harness: Harness, bob: dict[str, Any]) -> None:
    assert "haven't forecast yet" in (await harness.send(bob, "/myforecast")).text
    await harness.send(bob, "/forecast 30")
    await harness.send(bob, "/forecast 45 new data")
    text = (await harness.send(bob, "/myforecast")).text
    assert "Your forecast: 45% (toss-up)" in text
    assert "first forecast, 30%" in text and "30% → 45%" in text
    ask = await harness.send(bob, "/withdraw")
    assert "Withdraw your forecast of 45%?" in ask.text
    await harness.press(bob, ask.last, "No, keep it")
    assert await stored(harness, bob) == 45
    ask = await harness.send(bob, "/withdraw")
    await harness.press(bob, ask.last, "Yes, withdraw")
    assert await stored(harness, bob) is None
    text = (await harness.send(bob, "/myforecast")).text
    assert "withdrawn" in text and "30% → 45%" in text
    assert "no standing forecast" in (await harness.send(bob, "/withdraw")).text
    assert (await harness.store.forecasts.count(await question_id(harness))) == 0


async def test_group_two_readers_each_with_their_own_forecast(
    harness: Harness, anna: dict[str, Any], bob: dict[str, Any], group: dict[str, Any]
) -> None:
    card = (await harness.send(bob, "/forecast@beijing_ai_bot", chat=group)).last
    anna_tap = await harness.press(anna, card, "unlikely — 25%")
    bob_tap = await harness.press(bob, card, "likely — 75%")
    assert anna_tap.alert == "✅ Записал ваш прогноз: 25\xa0% (маловероятно)."
    assert bob_tap.alert == "✅ Recorded for you: 75% (likely)."  # plain: alerts show no HTML
    assert anna_tap.messages == [] and bob_tap.messages == []  # the group stays quiet
    assert await stored(harness, anna) == 25 and await stored(harness, bob) == 75

    # Bob asks for an exact value: a selective ForceReply that mentions him
    await harness.press(bob, card, "✏️ Exact %")
    prompt = harness.emu.last_sent(group["id"])
    assert plain(prompt["html"]).startswith('<a href="tg://user?id=102">Bob</a>')
    assert prompt["force_reply"]["selective"] is True
    # Anna's reply to Bob's prompt does not count
    ignored = await harness.send(anna, "10", chat=group, reply_to=prompt)
    assert ignored.messages == []
    assert await stored(harness, anna) == 25 and await stored(harness, bob) == 75
    done = await harness.send(bob, "60", chat=group, reply_to=prompt)
    assert "Recorded: 60%" in done.text
    assert await stored(harness, bob) == 60


async def test_pending_step_survives_restart(harness: Harness, bob: dict[str, Any]) -> None:
    card = (await harness.send(bob, "/forecast")).last
    await harness.press(bob, card, "✏️ Exact %")
    await harness.restart()
    step = await harness.send(bob, "42")
    assert "Recorded: 42%" in step.text
    assert await stored(harness, bob) == 42


async def test_cancel_clears_the_prompt(harness: Harness, bob: dict[str, Any]) -> None:
    card = (await harness.send(bob, "/forecast")).last
    await harness.press(bob, card, "✏️ Exact %")
    assert "Cancelled" in (await harness.send(bob, "/cancel")).text
    assert "didn't understand" in (await harness.send(bob, "hmm")).text
    assert await stored(harness, bob) is None


async def test_a_tapped_probability_closes_the_open_prompt(
    harness: Harness, bob: dict[str, Any]
) -> None:
    card = (await harness.send(bob, "/forecast")).last
    await harness.press(bob, card, "✏️ Exact %")
    await harness.press(bob, card, "likely — 75%")
    assert await stored(harness, bob) == 75
    assert await harness.store.forecasts.pending(bob["id"], bob["id"]) is None
    # the exact-% prompt no longer waits: words get the hint, /cancel finds nothing
    assert "didn't understand" in (await harness.send(bob, "hmm")).text
    assert "nothing to cancel" in (await harness.send(bob, "/cancel")).text
    assert await stored(harness, bob) == 75


async def test_deep_links(harness: Harness, bob: dict[str, Any]) -> None:
    assert "How it resolves" in (await harness.send(bob, "/start forecast")).text
    assert "How it resolves" in (await harness.send(bob, "/start forecast_talent-hub-2030")).text
    await harness.send(bob, "/forecast 55")
    assert "Community forecast" in (await harness.send(bob, "/start results_talent-hub-2030")).text


async def test_results_with_chart_cached_until_forecasts_change(
    harness: Harness, anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    await harness.send(anna, "/forecast 20")
    await harness.send(bob, "/forecast 60")
    step = await harness.send(bob, "/results")
    text = step.texts[0]
    assert "2 forecasters" in text and "Median: 40%" in text and "Mean: 40%" in text
    assert "interquartile range: 30% – 50%" in text
    photo = step.calls[-1]
    assert photo.method == "sendPhoto" and photo.files  # drawn and uploaded
    assert len(step.calls) == 1 and len(step.texts) == 1  # the text is the chart's caption
    again = await harness.send(bob, "/results")
    assert again.calls[-1].method == "sendPhoto" and not again.calls[-1].files  # file_id reused
    await harness.send(anna, "/forecast 30")
    redrawn = await harness.send(bob, "/results")
    assert redrawn.calls[-1].files and "Median: 45%" in redrawn.texts[0]
    ru = await harness.send(anna, "/results")
    assert "2 участника" in ru.texts[0] and ru.calls[-1].files  # drawn in Russian too


async def test_results_hidden_until_reader_forecasts(
    settings: Settings, emu: Emulator, anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    harness = Harness(settings.model_copy(update={"results_reveal_min": 10}), emu)
    await harness.start()
    try:
        await harness.send(anna, "/forecast 20")
        step = await harness.send(bob, "/results")
        assert "So far 1 reader has forecast." in step.text and "Make yours first:" in step.text
        assert "Median" not in step.text
        assert "likely — 75%" in [label for label, _ in buttons(step.last)]
        await harness.send(bob, "/forecast 60")
        assert "Median: 40%" in (await harness.send(bob, "/results")).texts[0]
    finally:
        await harness.stop()


async def test_edited_messages_never_rerun_commands(harness: Harness, bob: dict[str, Any]) -> None:
    step = await harness.send(bob, "/forecast 30")
    original = harness.emu.chat_messages(bob["id"])[-2]
    assert original["text"] == "/forecast 30"
    step = await harness.process(harness.emu.edited_message(original, "/forecast 90"))
    assert step.calls == []
    assert await stored(harness, bob) == 30


async def test_updates_without_a_reader_do_not_crash(
    harness: Harness, group: dict[str, Any]
) -> None:
    channel = harness.emu.channel(-100777, "News", username="news")
    step = await harness.process(harness.emu.channel_post(channel, "/stats"))
    assert step.errors == []
    anonymous = harness.emu.user(1087968824, "Group", username="GroupAnonymousBot", is_bot=True)
    step = await harness.send(anonymous, "/forecast 70", chat=group, sender_chat=group)
    assert "от своего имени" in step.text  # no language_code: DEFAULT_LANGUAGE (ru)
    step = await harness.send(anonymous, "/stats@beijing_ai_bot", chat=group, sender_chat=group)
    assert "183" in step.text


async def test_commands_for_other_bots_are_ignored(
    harness: Harness, bob: dict[str, Any], group: dict[str, Any]
) -> None:
    assert (await harness.send(bob, "/stats@OtherBot", chat=group)).calls == []
    assert "183" in (await harness.send(bob, "/stats@beijing_ai_bot", chat=group)).text


async def test_replies_stay_in_forum_topics_and_comment_threads(
    harness: Harness, bob: dict[str, Any]
) -> None:
    forum = harness.emu.group(-100555, "Forum", supergroup=True, forum=True)
    step = await harness.send(bob, "/stats", chat=forum, thread_id=7, is_topic=True)
    assert step.calls[-1].params.get("message_thread_id") == 7
    assert step.last.get("message_thread_id") == 7
    comments = harness.emu.group(-100556, "Comments", supergroup=True)
    step = await harness.send(bob, "/stats", chat=comments, thread_id=3)
    assert step.last.get("message_thread_id") == 3


async def test_no_forecasts_after_the_closing_time(harness: Harness, bob: dict[str, Any]) -> None:
    await harness.store.conn.execute(
        "UPDATE questions SET closes_at = '2020-01-01T00:00:00.000000+00:00'"
    )
    await harness.store.conn.commit()
    assert "no longer takes forecasts" in (await harness.send(bob, "/forecast 40")).text
    assert await stored(harness, bob) is None


async def test_a_bare_number_in_private_is_a_forecast(
    harness: Harness, bob: dict[str, Any]
) -> None:
    step = await harness.send(bob, "70 % they have the universities")
    assert "Recorded: 70%" in step.text and "they have the universities" in step.text
    assert "must be from 1 to 99" in (await harness.send(bob, "150")).text
    assert await stored(harness, bob) == 70
    step = await harness.send(bob, "on second thought, 65 percent")
    assert "Recorded: 65%" in step.text and "on second thought" in step.text
    assert "didn't understand" in (await harness.send(bob, "it has 183 models")).text
    assert await stored(harness, bob) == 65


async def test_results_figures_have_no_float_noise(
    harness: Harness, anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    await harness.send(anna, "/forecast 70")
    await harness.send(bob, "/forecast 71")
    text = (await harness.send(bob, "/results")).texts[0]
    assert "interquartile range: 70.2% – 70.8%" in text and "Median: 70.5%" in text


async def test_a_withdrawn_reason_does_not_come_back(
    harness: Harness, bob: dict[str, Any]
) -> None:
    await harness.send(bob, "/forecast 40 old reason")
    ask = await harness.send(bob, "/withdraw")
    await harness.press(bob, ask.last, "Yes, withdraw")
    step = await harness.send(bob, "/forecast 60")
    assert "old reason" not in step.text
    forecast = await harness.store.forecasts.current(await question_id(harness), bob["id"])
    assert forecast is not None and forecast.reason == ""


async def test_card_of_another_question_suggests_typing_with_its_slug(
    harness: Harness, bob: dict[str, Any]
) -> None:
    store = harness.store
    default = await store.questions.default()
    assert default is not None
    entry = QuestionEntry(
        slug="second", text_ru="Второй?", text_en="Second?", criteria_ru="к", criteria_en="c",
        opened_at=datetime(2026, 1, 1, tzinfo=UTC), closes_at=datetime(2030, 1, 1, tzinfo=UTC),
        resolve_by=datetime(2030, 6, 1, tzinfo=UTC),
    )  # fmt: skip
    await store.questions.create(entry)
    text = (await harness.send(bob, "/start forecast_second")).text
    assert "Second?" in text and "/forecast second 70" in text
    # typed values now go to the question the reader opened, and the reply names it
    step = await harness.send(bob, "/forecast 20")
    assert "Recorded: 20%" in step.text and "Question: Second?" in step.text
    second = await store.questions.by_slug("second")
    assert second is not None
    forecast = await store.forecasts.current(second.id, bob["id"])
    assert forecast is not None and forecast.probability == 20
    assert await stored(harness, bob) is None  # nothing on the default question
    assert "Second?" in (await harness.send(bob, "/myforecast")).text


async def test_trend_is_the_standing_median_and_repeated_taps_change_nothing(
    harness: Harness, anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    card = (await harness.send(bob, "/forecast")).last
    qid = await question_id(harness)
    await harness.tap(bob, card, f"fc:{qid}:75")
    await harness.tap(bob, card, f"fc:{qid}:75")  # the same button again
    history = await harness.store.forecasts.history(await question_id(harness), bob["id"])
    assert len(history) == 1
    await harness.send(anna, "/forecast 20")
    await harness.send(anna, "/forecast 85")  # 20 % no longer stands
    text = plain((await harness.send(bob, "/results")).texts[0])
    assert "Median: 80%" in text
    assert text.rstrip().endswith("80%")  # today's community median: 75 and 85
    await harness.send(bob, "/forecast 75 same value, now with a reason")
    history = await harness.store.forecasts.history(await question_id(harness), bob["id"])
    assert [h.action for h in history] == ["set", "reason"]
