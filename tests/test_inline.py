"""Inline mode — the statistics, community-forecast and question cards, filtered by
the query text, in the reader's language, cached briefly."""

from __future__ import annotations

import html
import re
from typing import Any

from tests.conftest import Harness, plain

BOT_LINK = "https://t.me/beijing_ai_bot?start="


async def ask(harness: Harness, user: dict[str, Any], query: str) -> dict[str, Any]:
    """`user` types `@beijing_ai_bot query`; returns the answerInlineQuery parameters."""
    update = harness.emu.inline_query(user, query)
    step = await harness.process(update)
    assert step.errors == []
    answer = harness.emu.inline_answers[update["inline_query"]["id"]]
    assert isinstance(answer, dict)
    return answer


def ids(answer: dict[str, Any]) -> list[str]:
    return [result["id"] for result in answer["results"]]


def by_id(answer: dict[str, Any], result_id: str) -> dict[str, Any]:
    return next(r for r in answer["results"] if r["id"] == result_id)


def message_text(result: dict[str, Any]) -> str:
    """The shared message's text as readers see it (HTML tags removed, entities decoded)."""
    source = result["input_message_content"]["message_text"]
    return plain(html.unescape(re.sub(r"<[^>]+>", "", source)))


def urls(result: dict[str, Any]) -> list[str]:
    rows = result.get("reply_markup", {}).get("inline_keyboard", [])
    return [button.get("url", "") for row in rows for button in row]


async def test_empty_query_offers_the_three_cards_briefly_cached(
    harness: Harness, bob: dict[str, Any]
) -> None:
    answer = await ask(harness, bob, "")
    assert ids(answer) == ["stats", "results", "question"]
    assert 0 < answer["cache_time"] <= 60 and answer["is_personal"] is True
    stats = by_id(answer, "stats")
    assert stats["title"] == "📊 Beijing AI in figures"
    assert "183 models" in message_text(stats) and "more than 2,500 companies" in message_text(
        stats
    )
    assert "Tap a topic" not in message_text(stats)  # no drill-down buttons in a shared card
    assert urls(stats) == [BOT_LINK + "stats"]
    question = by_id(answer, "question")
    assert "Beijing" in message_text(question) and "How it resolves" in message_text(question)
    assert urls(question) == [BOT_LINK + "forecast_talent-hub-2030"]
    assert answer["button"]["start_parameter"] == "forecast"


async def test_community_forecast_card_shows_count_and_median(
    harness: Harness, anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    assert "No forecasts yet" in message_text(by_id(await ask(harness, bob, ""), "results"))
    await harness.send(anna, "/forecast 60")
    await harness.send(bob, "/forecast 80")
    card = by_id(await ask(harness, bob, ""), "results")
    assert "2 forecasters · community median 70%" in message_text(card)
    assert card["description"] == "🗳 2 forecasters · community median 70%"
    assert urls(card) == [BOT_LINK + "forecast_talent-hub-2030"]


async def test_median_stays_hidden_below_the_reveal_threshold(
    harness: Harness, anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    settings = harness.app.bot_data.settings
    harness.app.bot_data.settings = settings.model_copy(update={"results_reveal_min": 10})
    await harness.send(anna, "/forecast 60")
    text = message_text(by_id(await ask(harness, bob, ""), "results"))
    assert "1 forecaster · the median appears once 10 readers have forecast" in text


async def test_query_filters_kimi_and_aliases(harness: Harness, bob: dict[str, Any]) -> None:
    answer = await ask(harness, bob, "kimi")
    assert ids(answer) == ["model-kimi"]
    kimi = answer["results"][0]
    assert "Kimi" in kimi["title"] and "Moonshot" in message_text(kimi)
    assert ids(await ask(harness, bob, "文心一言"))[0] == "model-ernie"
    assert ids(await ask(harness, bob, "figures")) == ["stats"]
    assert "question" in ids(await ask(harness, bob, "talent"))


async def test_query_matching_nothing_offers_the_main_cards(
    harness: Harness, bob: dict[str, Any]
) -> None:
    assert ids(await ask(harness, bob, "zzzz <b>")) == ["stats", "results", "question"]


async def test_cards_in_russian_for_a_russian_reader(
    harness: Harness, anna: dict[str, Any]
) -> None:
    answer = await ask(harness, anna, "")
    assert by_id(answer, "stats")["title"] == "📊 ИИ в Пекине в цифрах"
    assert "183 модели" in message_text(by_id(answer, "stats"))
    assert "Прогнозов пока нет" in message_text(by_id(answer, "results"))
    assert ids(await ask(harness, anna, "статистика")) == ["stats"]


async def test_question_card_deep_link_opens_the_forecast(
    harness: Harness, bob: dict[str, Any]
) -> None:
    step = await harness.send(bob, "/start forecast_talent-hub-2030")
    assert any(
        button["callback_data"].startswith("fc:")
        for row in step.last["reply_markup"]["inline_keyboard"]
        for button in row
        if "callback_data" in button
    )
