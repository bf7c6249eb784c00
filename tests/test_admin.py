"""Admin upkeep: the /admin dashboard, /setstat with its history (/stathistory) and
the polite replies to bad keys, bad numbers and non-admins."""

from __future__ import annotations

from typing import Any

from tests.conftest import ADMIN_ID, Harness, plain

KEY = "core_growth_h1_2025"


async def test_dashboard_counts_readers_and_forecasts(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    await harness.send(anna, "/forecast 70")
    await harness.send(bob, "/forecast 20")
    question = await harness.store.questions.default()
    assert question
    await harness.store.forecasts.withdraw(question.id, 102)
    harness.emu.block_user(102)
    await harness.store.users.set_blocked(102)
    text = plain((await harness.send(admin, "/admin")).text)
    assert "Readers: 3 (can be messaged: 2; blocked the bot: 1)" in text
    assert "Standing forecasts: 1; made today (UTC): 2" in text
    assert "talent-hub-2030 — open ★ default · standing: 1, withdrawn: 1, today: 2" in text


async def test_dashboard_refused_to_readers(harness: Harness, bob: dict[str, Any]) -> None:
    step = await harness.send(bob, "/admin")
    assert step.texts == ["Sorry, this command is for the bot's admins only."]


async def test_setstat_changes_the_figure_history_and_stats(
    harness: Harness, admin: dict[str, Any], bob: dict[str, Any]
) -> None:
    assert "25.3%" in plain((await harness.send(bob, "/stats")).text)
    step = await harness.send(admin, f"/setstat {KEY} 26,1 first three quarters of 2025")
    text = plain(step.text)
    assert f"({KEY}): 25.3 → 26.1. Period: first three quarters of 2025." in text
    stat = await harness.store.stats.get(KEY)
    assert stat and stat.value == 26.1 and stat.edited
    await harness.send(admin, f"/setstat {KEY} 26.4")
    stats = plain((await harness.send(bob, "/stats")).text)
    assert "26.4%" in stats and "25.3%" not in stats

    step = await harness.send(admin, f"/stathistory {KEY}")
    lines = plain(step.text).splitlines()
    assert f"({KEY}), now 26.4. Changes, newest first:" in lines[0]
    assert lines[1].endswith(f"26.1 → 26.4, by admin {ADMIN_ID}")
    assert lines[2].endswith(
        f"25.3 → 26.1, by admin {ADMIN_ID}; period: first three quarters of 2025"
    )
    assert lines[3].endswith("— → 25.3, from the bundled dataset; period: first half of 2025")
    same = await harness.send(admin, f"/setstat {KEY} 26.4")
    assert "nothing changed" in same.text
    ru = await harness.send(admin, '/setstat ai_companies 2600 "на март 2026 | as of March 2026"')
    assert "as of March 2026" in ru.text
    anna = harness.emu.user(101, "Анна", language_code="ru")
    stats_ru = plain((await harness.send(anna, "/stats")).text)
    assert "более 2 600 компаний\nна март 2026" in stats_ru
    history = await harness.store.stats.history(KEY)
    assert [(c.old_value, c.new_value, c.changed_by, c.via) for c in history[:2]] == [
        (26.1, 26.4, ADMIN_ID, "setstat"),
        (25.3, 26.1, ADMIN_ID, "setstat"),
    ]


async def test_setstat_bad_input_explains_what_is_accepted(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any]
) -> None:
    text = (await harness.send(admin, "/setstat")).text
    assert "/setstat KEY VALUE [PERIOD]" in text and KEY in text and "25,3 or 25.3" in text
    text = (await harness.send(admin, "/setstat growth 5")).text
    assert "There is no figure “growth”" in text and "registered_models" in text
    text = (await harness.send(admin, f"/setstat {KEY} 25%")).text
    assert "“25%” is not a number" in text and "2500, 25,3 or 25.3" in text
    text = (await harness.send(admin, f"/setstat {KEY} <b>")).text
    assert "“<b>” is not a number" in text  # escaped, shown as typed
    stat = await harness.store.stats.get(KEY)
    assert stat and stat.value == 25.3
    text = (await harness.send(admin, "/stathistory")).text
    assert "/stathistory KEY" in text and KEY in text
    text = (await harness.send(admin, "/stathistory nope")).text
    assert "There is no figure “nope”" in text
    step = await harness.send(anna, f"/setstat {KEY} 1")
    assert step.texts == ["Извините, эта команда только для администраторов бота."]


async def test_setstat_checks_values_per_unit_and_credits_the_admins(
    harness: Harness, admin: dict[str, Any], bob: dict[str, Any]
) -> None:
    for typed, said in [
        ("registered_models 1 000", "without spaces"),
        ("registered_models -5", "above zero"),
        ("registered_models 191,7", "whole number"),
        ("core_growth_h1_2025 5000", "from -100 to 1000"),
    ]:
        assert said in (await harness.send(admin, f"/setstat {typed}")).text
    model_stat = await harness.store.stats.get("registered_models")
    assert model_stat is not None and model_stat.value == 183
    await harness.send(admin, "/setstat registered_models 1000")
    text = plain((await harness.send(bob, "/stats")).text)
    assert "1,000 models\n" in text  # the old comparison ("the most of any city") is gone
    assert "updated by the bot's admins" in text and "first reported by PRC.TODAY" in text
    assert "more than 180" not in text  # the note described the old figure
