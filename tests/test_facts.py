"""Facts exactly as reported: what the bot says about Beijing is what the PRC.TODAY story says
(shared seed), with its period and source wherever a figure appears, and /setstat keeps that
provenance."""

from __future__ import annotations

from typing import Any

from bot.services.dataset import load_dataset
from tests.conftest import Harness, plain
from tests.test_channel import channel, post, settings  # noqa: F401  (fixtures)

UNSUPPORTED = (
    "January 2026", "январь 2026", "year on year", "в годовом выражении",
    "more than double", "более чем вдвое", "double digits", "двузначными",
    "one of the first", "одна из первых", "long documents", "длинные документы",
    "roots in Tsinghua", "Цинхуа, выросшие", "assistant app", "массовый ассистент",
    "same report", "того же доклада", "народного собрания",
)  # fmt: skip


def claims(text: str) -> list[str]:
    """The unsupported phrases found in `text` (case-insensitive)."""
    return [phrase for phrase in UNSUPPORTED if phrase.casefold() in text.casefold()]


def test_dataset_makes_no_claim_the_story_does_not() -> None:
    dataset = load_dataset()
    assert dataset.version >= 2  # existing databases take the corrected figures
    assert all(not s.as_of for s in dataset.stats)  # the story dates none of its figures
    assert all(not s.published for s in dataset.sources)
    texts = [
        str(value)
        for entry in (*dataset.stats, *dataset.sources, *dataset.models, *dataset.facts)
        for value in vars(entry).values()
    ]
    assert claims("\n".join(texts)) == []
    by_key = {s.key: s for s in dataset.stats}
    # only the model count is the mayor's, as the story quotes him
    assert [k for k, s in by_key.items() if s.source == "yin-yong-report"] == ["registered_models"]
    sources = {s.key: s for s in dataset.sources}
    assert "народного конгресса" in sources["yin-yong-report"].title_ru
    assert (
        "183 модели, 2500 компаний и рост индустрии на 25%" in sources["prc-today-story"].title_ru
    )


async def test_every_reader_text_is_free_of_unsupported_claims(
    harness: Harness, anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    for user in (anna, bob):
        for command in ("/start", "/stats", "/models", "/models kimi", "/sources"):
            text = (await harness.send(user, command)).text
            assert claims(text) == [], (command, text)
        for topic in ("models", "companies", "industry", "targets", "ecosystem"):
            step = await harness.send(user, "/stats")
            shown = await harness.tap(user, step.last, f"st:{topic}")
            text = "\n".join(e.get("text", "") for e in shown.edits) + shown.text
            assert claims(text) == [], (topic, text)
    ru = plain((await harness.send(anna, "/sources")).text)
    assert "«Пекин как центр ИИ Китая: 183 модели, 2500 компаний и рост индустрии на 25%»" in ru
    assert "народного конгресса" in ru


async def test_post_shows_period_and_source_like_stats(
    harness: Harness,
    admin: dict[str, Any],
    channel: dict[str, Any],  # noqa: F811
) -> None:
    card = plain((await post(harness, admin))["text"])
    assert "25,3 % (первое полугодие 2025 года · источник: PRC.TODAY)" in card
    assert "1 трлн юаней (к 2027 году · источник: PRC.TODAY)" in card
    assert claims(card) == []


async def test_setstat_sets_qualifier_periods_and_a_cited_source(
    harness: Harness, admin: dict[str, Any], bob: dict[str, Any], anna: dict[str, Any]
) -> None:
    text = (
        "/setstat ai_companies 2700\n"
        "qualifier: above\n"
        "period ru: на март 2026 года\n"
        "period en: as of March 2026\n"
        "source: Beijing AI industry report 2026\n"
        "url: https://www.example.org/report\n"
        "date: 2026-03-15"
    )
    done = plain((await harness.send(admin, text)).text)
    assert "2,500 → 2,700" in done and "source: example.org, Mar 15, 2026" in done
    stats = plain((await harness.send(bob, "/stats")).text)
    assert (
        "above 2,700 companies\nas of March 2026 · source: example.org [2], Mar 15, 2026"
    ) in stats
    assert "entered by the bot's admins" in stats
    ru = plain((await harness.send(anna, "/stats")).text)
    assert "свыше 2 700 компаний\nна март 2026 года · источник: example.org" in ru
    sources = plain((await harness.send(bob, "/sources")).text)
    assert "example.org: Beijing AI industry report 2026" in sources
    assert "https://www.example.org/report" in sources
    history = plain((await harness.send(admin, "/stathistory ai_companies")).text)
    assert "2,500 → 2,700, by admin 42; period: as of March 2026; source: Beijing AI" in history


async def test_setstat_bad_option_lines_change_nothing(
    harness: Harness, admin: dict[str, Any]
) -> None:
    for extra, said in [
        ("qualifier: roughly", "exact, more_than or above"),
        ("colour: red", "“name: value”"),
        ("source: X\nurl: example", "starting with https://"),
        ("source: X\ndate: March", "2026-03 or 2026-03-15"),
        ("url: https://example.org/x", "source's title too"),
    ]:
        text = plain((await harness.send(admin, f"/setstat ai_companies 2700\n{extra}")).text)
        assert said in text and "Nothing was changed" in text, text
    stat = await harness.store.stats.get("ai_companies")
    assert stat is not None and stat.value == 2500 and not stat.edited


async def test_reseeding_keeps_an_admins_figure_but_takes_corrected_labels(
    harness: Harness, admin: dict[str, Any]
) -> None:
    await harness.send(admin, "/setstat core_growth_h1_2025 26")
    conn = harness.store.conn
    await conn.execute(
        "UPDATE stats SET comparison_en = 'year on year', label_en = 'old label'"
        " WHERE key = 'core_growth_h1_2025'"
    )
    await conn.execute("UPDATE stats SET as_of = '2026-01' WHERE key = 'ai_companies'")
    await conn.commit()
    report = await harness.store.stats.seed(load_dataset())
    assert "core_growth_h1_2025" in report.kept_edited
    stat = await harness.store.stats.get("core_growth_h1_2025")
    assert stat and stat.value == 26 and stat.comparison_en is None
    assert stat.label_en == "Growth of the core AI sector"
    companies = await harness.store.stats.get("ai_companies")
    assert companies and companies.as_of == ""


async def test_setstat_refuses_a_source_date_in_the_future_or_not_on_the_calendar(
    harness: Harness, admin: dict[str, Any]
) -> None:
    for day in ("2099-03", "2026-02-31"):
        step = await harness.send(
            admin, f"/setstat ai_companies 2900\nsource: Some report\ndate: {day}"
        )
        assert f"“{day}” is not a date I can take" in plain(step.text)
        assert "Nothing was changed" in plain(step.text)
    stats = plain((await harness.send(admin, "/stats")).text)
    assert "2,900" not in stats and "2,500" in stats


async def test_a_figure_updated_without_a_source_says_so_in_sources(
    harness: Harness, admin: dict[str, Any], bob: dict[str, Any]
) -> None:
    await harness.send(admin, "/setstat ai_companies 2900")
    sources = plain((await harness.send(bob, "/sources")).text)
    assert "(first reported here; the bot's admins have updated it since)" in sources
    stats = plain((await harness.send(bob, "/stats")).text)
    assert "updated by the bot's admins" in stats
