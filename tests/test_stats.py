"""/start, /help, /stats and its drill-downs, /models, /sources, /language."""

from __future__ import annotations

from typing import Any

import aiosqlite

from tests.conftest import Harness, buttons, plain


async def test_stats_card_in_russian_has_every_figure_with_unit_period_source(
    harness: Harness, anna: dict[str, Any]
) -> None:
    step = await harness.send(anna, "/stats")
    text = step.text
    for figure in ("183 модели", "более 2 500 компаний", "свыше 450 млрд юаней", "25,3 %",
                   "8,7 %", "1 трлн юаней"):  # fmt: skip
        assert figure in text
    assert "первое полугодие 2025 года" in text and "к 2027 году" in text
    assert text.count("источник: PRC.TODAY") == 6
    assert "Доклад мэра Пекина Инь Юна" in text
    labels = [label for label, _ in buttons(step.last)]
    assert labels == ["🤖 Модели", "🏢 Компании", "📈 Отрасль и рост", "🎯 Цели", "🎓 Экосистема"]


async def test_stats_card_in_english(harness: Harness, bob: dict[str, Any]) -> None:
    text = (await harness.send(bob, "/stats")).text
    figures = ("183 models", "more than 2,500 companies", "above 450 billion yuan", "25.3%",
               "8.7%", "1 trillion yuan", "first half of 2025", "source: PRC.TODAY")  # fmt: skip
    for figure in figures:
        assert figure in text


async def test_drill_down_edits_the_same_message_and_back(
    harness: Harness, bob: dict[str, Any]
) -> None:
    card = (await harness.send(bob, "/stats")).last
    step = await harness.press(bob, card, "🤖 Models")
    assert step.messages == []  # nothing new sent: the card was edited
    shown = harness.emu.last_sent(bob["id"])
    assert shown["message_id"] == card["message_id"]
    assert "Kimi (Moonshot AI)" in shown["text"] and "183 models" in shown["text"]
    assert buttons(shown) == [("« Back to all figures", "st:main")]
    await harness.press(bob, shown, "« Back to all figures")
    assert "more than 2,500 companies" in plain(harness.emu.last_sent(bob["id"])["text"])


async def test_ecosystem_topic_lists_pilot_sectors(harness: Harness, anna: dict[str, Any]) -> None:
    card = (await harness.send(anna, "/stats")).last
    await harness.tap(anna, card, "st:ecosystem")
    text = plain(harness.emu.last_sent(anna["id"])["text"])
    assert "здравоохранение" in text and "Цинхуа" in text and "вычислительные мощности" in text


async def test_pressing_the_shown_button_again_is_quiet(
    harness: Harness, bob: dict[str, Any]
) -> None:
    card = (await harness.send(bob, "/stats")).last
    await harness.tap(bob, card, "st:industry")
    step = await harness.tap(bob, card, "st:industry")
    # Telegram answers "message is not modified"; the reader sees no error
    assert step.alert is None
    assert not any("Sorry" in t for t in step.texts)


async def test_stale_or_forged_callback_data_gets_an_alert(
    harness: Harness, bob: dict[str, Any]
) -> None:
    card = (await harness.send(bob, "/stats")).last
    for data in ("st:nonsense", "st", "zz:1", "st:models:extra", "x" * 64):
        step = await harness.tap(bob, card, data)
        assert step.alert == "This button is out of date. Please send the command again."
    assert harness.emu.failed_calls() == []


async def test_models_lookup_by_alias_and_unknown(harness: Harness, anna: dict[str, Any]) -> None:
    assert "Kimi" in (await harness.send(anna, "/models kimi")).text
    assert "Ernie Bot (Baidu)" in (await harness.send(anna, "/models 文心一言")).text
    assert "GLM" in (await harness.send(anna, "/models ChatGLM")).text
    text = (await harness.send(anna, "/models <script>")).text
    assert "«<script>» мне не знакома" in text  # escaped on the way out, shown as typed
    assert "Ernie Bot, Doubao, GLM, Kimi" in text
    listing = (await harness.send(anna, "/models")).text
    assert all(name in listing for name in ("Ernie Bot", "Doubao", "GLM", "Kimi"))


async def test_sources(harness: Harness, bob: dict[str, Any]) -> None:
    text = (await harness.send(bob, "/sources")).text
    assert "Beijing mayor Yin Yong's report" in text
    assert "Registered large AI models" in text and "Target size of the AI industry" in text
    # the story itself, by title and outlet; what comes from it is listed, not assumed
    assert "PRC.TODAY: “Beijing as China's AI centre: 183 models, 2,500 companies" in text
    assert "the flagship models" in text and "pilot sectors and the ecosystem" in text
    assert "same report" not in text


async def test_start_help_in_both_languages(
    harness: Harness, anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    ru = (await harness.send(anna, "/start")).text
    en = (await harness.send(bob, "/start")).text
    assert "Вопрос к читателям" in ru and "пятёрку мировых городов" in ru
    assert "The question for readers" in en and "top five cities" in en
    assert "/forecast" in (await harness.send(bob, "/help")).text
    assert "Администраторам" not in (await harness.send(anna, "/help")).text


async def test_unknown_start_payload_falls_back_to_greeting(
    harness: Harness, bob: dict[str, Any]
) -> None:
    for payload in ("nonsense", "forecast_no-such-question", "<b>", "a" * 80):
        assert "Hi!" in (await harness.send(bob, f"/start {payload}")).text


async def test_language_switch_is_stored(harness: Harness, anna: dict[str, Any]) -> None:
    step = await harness.send(anna, "/language")
    assert [label for label, _ in buttons(step.last)] == ["Русский", "English"]
    await harness.press(anna, step.last, "English")
    assert "183 models" in (await harness.send(anna, "/stats")).text
    reader = await harness.store.users.get(anna["id"])
    assert reader is not None and reader.language == "en"
    assert "I speak Russian and English" in (await harness.send(anna, "/language de")).text
    await harness.send(anna, "/language ru")
    assert "183 модели" in (await harness.send(anna, "/stats")).text


async def test_missing_language_code_uses_default(harness: Harness) -> None:
    nobody = harness.emu.user(555, "Lang-less", language_code=None)
    assert "183 модели" in (await harness.send(nobody, "/stats")).text


async def test_figures_come_from_the_database(harness: Harness, bob: dict[str, Any]) -> None:
    path = harness.settings.database_path
    async with aiosqlite.connect(path) as conn:
        await conn.execute("UPDATE stats SET value = 190 WHERE key = 'registered_models'")
        await conn.commit()
    assert "190 models" in (await harness.send(bob, "/stats")).text


async def test_command_menu_is_set_per_language_and_scope(harness: Harness) -> None:
    calls = harness.emu.calls_to("setMyCommands")
    seen = {(c.params.get("language_code"), c.params["scope"]["type"]) for c in calls}
    assert ("ru", "all_private_chats") in seen and ("en", "all_group_chats") in seen
    ru = next(c for c in calls if c.params.get("language_code") == "ru")
    assert any(cmd["description"] == "ИИ в Пекине в цифрах" for cmd in ru.params["commands"])


async def test_a_failure_gets_an_apology_and_the_bot_keeps_running(
    harness: Harness, bob: dict[str, Any], caplog: Any
) -> None:
    harness.emu.fail_next("sendMessage", 500, "Internal Server Error: try again", times=4)
    step = await harness.send(bob, "/stats")
    assert step.texts == ["Sorry, something went wrong on my side. Please try again in a moment."]
    assert "sendMessage failed after 4 attempts: Internal Server Error" in caplog.text
    assert "Traceback" not in caplog.text
    assert "183 models" in (await harness.send(bob, "/stats")).text


async def test_a_reader_who_blocked_the_bot_is_recorded_not_retried(
    harness: Harness, bob: dict[str, Any]
) -> None:
    await harness.send(bob, "/start")
    harness.emu.block_user(bob["id"])
    step = await harness.send(bob, "/stats")
    assert step.errors and "blocked" in step.errors[0]
    assert len(step.calls) == 1  # no apology attempted into a blocked chat
    reader = await harness.store.users.get(bob["id"])
    assert reader is not None and reader.blocked == 1 and reader.started == 0


async def test_unknown_commands(
    harness: Harness, anna: dict[str, Any], group: dict[str, Any]
) -> None:
    text = (await harness.send(anna, "/forecast_talent-hub-2030")).text
    assert "Команды /forecast_talent-hub-2030 я не знаю" in text
    assert (await harness.send(anna, "/nonsense", chat=group)).calls == []
