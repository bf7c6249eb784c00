"""Texts escape by default: whatever a reader or an admin types (a question, its criteria, a
reason, a first name, a model name, a /setstat period or source, a resolution link and note)
reads exactly as typed — once, never as HTML, never as `&amp;` — in messages (parsed as HTML
by the emulator, which refuses malformed HTML like Telegram), in alerts and button labels
(plain text), and in inline results."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot import texts
from bot.emulator import Emulator, EntityParseError, parse_html
from bot.services.dataset import load_dataset
from bot.texts import t, t_plain
from tests.conftest import Harness, buttons, plain
from tests.test_channel import (  # noqa: F401  (fixtures)
    auto_forward,
    channel,
    discussion,
    post,
    settings,
)

# what a careless template would break on: tags, a bare "&", an entity typed literally, quotes
HOSTILE = 'R&D <b>not bold</b> <i "x"> &amp; &lt; end'
NAME = '<b>Tom</b> & "Jerry"'
SLUG = "ai-jobs-2031"


def seen(message: dict[str, Any]) -> str:
    """A sent message's text (or caption) as the reader sees it."""
    return plain(message.get("text") or message.get("caption") or "")


def test_rendering_escapes_each_value_once_and_the_plain_variant_none() -> None:
    html = t("en", "forecast.on_question", question="R&D <b>")
    assert html == "Question: R&amp;D &lt;b&gt;"
    # a rendered piece inside another is not escaped again
    assert (
        t("en", "forecast.on_question", question=html) == "Question: Question: R&amp;D &lt;b&gt;"
    )
    assert texts.plain(html) == "Question: R&D <b>" == parse_html(html)[0]
    assert t_plain("en", "forecast.on_question", question="R&D <b>") == "Question: R&D <b>"
    # the emulator refuses what Telegram refuses (a bare "<", an unknown tag) and, like
    # Telegram, keeps an "&" that starts no entity as it is
    for broken in ("Question: R&D <b>", "Question: <script>", "<b>open"):
        with pytest.raises(EntityParseError):
            parse_html(broken)
    assert parse_html("R&D &copy;")[0] == "R&D &copy;"


async def create_question(harness: Harness, admin: dict[str, Any]) -> int:
    """The admin creates SLUG through /newquestion with HOSTILE texts and criteria, as the
    default question; returns its id."""
    await harness.send(admin, "/newquestion")
    for answer in (SLUG, f"RU {HOSTILE}", f"EN {HOSTILE}", f"ru-crit {HOSTILE}"):
        await harness.send(admin, answer)
    step = await harness.send(admin, f"en-crit {HOSTILE}")
    step = await harness.send(admin, "2031-12-31")
    step = await harness.send(admin, "2032-03-31")
    assert f"EN {HOSTILE}" in step.text and f"ru-crit {HOSTILE}" in step.text
    assert step.errors == []
    created = await harness.press(admin, step.last, "★ Create as default")
    assert created.errors == []
    question = await harness.store.questions.by_slug(SLUG)
    assert question is not None and question.text_en == f"EN {HOSTILE}"
    return question.id


async def test_a_question_typed_with_html_characters_reads_as_typed_everywhere(
    harness: Harness,
    admin: dict[str, Any],
    anna: dict[str, Any],
    bob: dict[str, Any],
    group: dict[str, Any],
) -> None:
    question_id = await create_question(harness, admin)

    card = await harness.send(bob, "/forecast")
    assert f"EN {HOSTILE}" in card.text and f"en-crit {HOSTILE}" in card.text
    assert "&amp;amp;" not in card.text and "&lt;b&gt;" not in card.text
    ru = await harness.send(anna, "/forecast")
    assert f"RU {HOSTILE}" in ru.text and f"ru-crit {HOSTILE}" in ru.text

    # a tap in a group answers with an alert (plain text): the question named as typed
    group_card = (await harness.send(bob, "/forecast@beijing_ai_bot", chat=group)).last
    tap = await harness.tap(bob, group_card, f"fc:{question_id}:75")
    assert tap.alert is not None and f"EN {HOSTILE}" in tap.alert

    confirmation = await harness.send(bob, "/forecast 60")
    assert f"EN {HOSTILE}" in confirmation.text
    assert f"EN {HOSTILE}" in (await harness.send(bob, "/questions")).text
    results = await harness.send(bob, "/results")
    assert f"EN {HOSTILE}" in results.texts[0]
    assert f"EN {HOSTILE}" in (await harness.send(bob, "/myforecast")).text
    board = await harness.send(admin, "/questions")
    assert f"EN {HOSTILE}" in board.text and f"{SLUG}" in board.text

    # inline mode: the description is plain text, the shared message HTML
    update = harness.emu.inline_query(bob, "")
    assert (await harness.process(update)).errors == []
    answer = harness.emu.inline_answers[update["inline_query"]["id"]]
    shared = {r["id"]: r for r in answer["results"]}["question"]
    assert shared["description"] == f"EN {HOSTILE}"
    source = shared["input_message_content"]["message_text"]
    assert f"EN {HOSTILE}" in plain(parse_html(source)[0])

    # closed: the refusal names the question, in a message and in an alert
    await harness.send(admin, "/questions default talent-hub-2030")
    await harness.send(admin, f"/questions close {SLUG}")
    refused = await harness.send(bob, f"/forecast {SLUG} 30")
    assert f"EN {HOSTILE}" in refused.text
    refused_tap = await harness.tap(bob, group_card, f"fc:{question_id}:30")
    assert refused_tap.alert is not None and f"EN {HOSTILE}" in refused_tap.alert
    assert harness.emu.failed_calls() == []


async def test_typed_reasons_names_and_lookups_read_as_typed(
    harness: Harness, emu: Emulator, anna: dict[str, Any]
) -> None:
    tom = emu.user(104, NAME, language_code="en")
    step = await harness.send(tom, f"/forecast 70 {HOSTILE}")
    assert f"Your reason: {HOSTILE}" in step.text
    await harness.press(tom, step.last, "Yes, name me")  # may the first name be shown
    after = await harness.send(tom, f"/forecast 71 {HOSTILE}")
    assert HOSTILE in after.text and "&amp;amp;" not in after.text

    # the reason prompt: the new reason is echoed back
    await harness.press(tom, after.last, "💬 Change the reason")
    saved = await harness.send(tom, f"again {HOSTILE}")
    assert f"again {HOSTILE}" in saved.text

    results = (await harness.send(tom, "/results")).texts[0]
    assert NAME in results and f"again {HOSTILE}" in results
    history = (await harness.send(tom, "/myforecast")).text
    assert HOSTILE in history and f"again {HOSTILE}" in history

    lookup = await harness.send(anna, f"/models {HOSTILE}")
    assert f"«{HOSTILE}»" in lookup.text
    assert "Ernie Bot, Doubao, GLM, Kimi" in lookup.text
    unknown = await harness.send(anna, "/results r&d<b>x")
    assert "«r&d<b>x»" in unknown.text and "talent-hub-2030" in unknown.text
    assert harness.emu.failed_calls() == []


async def test_a_comment_in_the_thread_names_its_author_and_reason_as_typed(
    harness: Harness,
    emu: Emulator,
    admin: dict[str, Any],
    channel: dict[str, Any],  # noqa: F811
    discussion: dict[str, Any],  # noqa: F811
) -> None:
    tom = emu.user(104, NAME, language_code="en")
    await post(harness, admin)
    prompt = (await harness.process(auto_forward(emu, channel, discussion))).last
    step = await harness.send(tom, f"70 % {HOSTILE}", chat=discussion, reply_to=prompt)
    offer = step.last
    assert NAME in seen(offer) and HOSTILE in seen(offer)
    mention = [e for e in offer.get("entities", []) if e["type"] == "text_mention"]
    assert mention and mention[0]["user"]["id"] == 104
    [(label, _)] = buttons(offer)
    assert label == "✅ Record 70% as my forecast"
    done = await harness.press(tom, offer, label)
    assert done.alert is not None and "&" not in done.alert
    shown = emu.current(offer)
    assert NAME in seen(shown) and HOSTILE in seen(shown)
    assert emu.failed_calls() == []


async def test_admin_typed_period_source_resolution_link_and_note_read_as_typed(
    harness: Harness, admin: dict[str, Any], bob: dict[str, Any]
) -> None:
    step = await harness.send(
        admin,
        f"/setstat core_growth_h1_2025 26.1\nperiod: P {HOSTILE}\nsource: S {HOSTILE}",
    )
    assert step.errors == [] and f"P {HOSTILE}" in step.text
    stats = (await harness.send(bob, "/stats")).text
    assert f"P {HOSTILE}" in stats
    history = (await harness.send(admin, "/stathistory core_growth_h1_2025")).text
    assert f"P {HOSTILE}" in history and f"S {HOSTILE}" in history

    echo = await harness.send(admin, f"/setstat core_growth_h1_2025 {HOSTILE}")
    assert f"“{HOSTILE.split()[0]}”" in echo.text
    wrong = await harness.send(admin, "/questions close R&D<b>")
    assert "“R&D<b>”" in wrong.text and wrong.errors == []

    slug = "talent-hub-2030"
    link = 'https://example.org/r?a=1&b=<2>&c="3"'
    await harness.send(bob, "/forecast 70")
    confirm = await harness.send(admin, f"/resolve {slug} yes {link} N {HOSTILE}")
    assert link in confirm.text and f"N {HOSTILE}" in confirm.text
    anchors = [e for e in confirm.last.get("entities", []) if e["type"] == "text_link"]
    assert [e["url"] for e in anchors] == [link]
    done = await harness.press(admin, confirm.last, "✅ Confirm")
    assert done.errors == []
    listing = (await harness.send(bob, "/questions")).text
    assert link in listing and f"N {HOSTILE}" in listing
    results = (await harness.send(bob, f"/results {slug}")).text
    assert link in results and f"N {HOSTILE}" in results
    board = (await harness.send(bob, f"/leaderboard {slug}")).text
    assert link in board and f"N {HOSTILE}" in board
    assert harness.emu.failed_calls() == []


async def test_imported_labels_sources_models_and_facts_read_as_typed(
    harness: Harness, bob: dict[str, Any]
) -> None:
    dataset = load_dataset()  # an admin's `stats import` of an edited file
    first = dataset.sources[0]
    dataset = replace(
        dataset,
        sources=(replace(first, publisher=f"P {HOSTILE}", title_en=f"T {HOSTILE}"),
                 *dataset.sources[1:]),
        stats=tuple(replace(s, label_en=f"L {HOSTILE}") for s in dataset.stats),
        models=tuple(replace(m, name=f"{m.name} {HOSTILE}") for m in dataset.models),
        facts=tuple(replace(f, text_en=f"F {HOSTILE}") for f in dataset.facts),
    )  # fmt: skip
    await harness.store.stats.seed(dataset, via="import")

    stats = await harness.send(bob, "/stats")
    assert f"L {HOSTILE}" in stats.text and f"T {HOSTILE}" in stats.text
    assert f"P {HOSTILE}" in stats.text
    await harness.tap(bob, stats.last, "st:models")
    shown = seen(harness.emu.current(stats.last))
    assert f"L {HOSTILE}" in shown and f"Kimi {HOSTILE}" in shown
    await harness.tap(bob, stats.last, "st:ecosystem")
    assert f"F {HOSTILE}" in seen(harness.emu.current(stats.last))
    sources = (await harness.send(bob, "/sources")).text
    assert f"P {HOSTILE}: T {HOSTILE}" in sources and f"L {HOSTILE}" in sources
    models = (await harness.send(bob, "/models")).text
    assert f"Kimi {HOSTILE}" in models
    unknown = (await harness.send(bob, "/models nothing-like-it")).text
    assert f"Kimi {HOSTILE}" in unknown

    # inline mode: a model card's title is plain text, its shared message HTML
    update = harness.emu.inline_query(bob, "kimi")
    assert (await harness.process(update)).errors == []
    answer = harness.emu.inline_answers[update["inline_query"]["id"]]
    kimi = next(r for r in answer["results"] if r["id"].startswith("model-"))
    assert f"Kimi {HOSTILE}" in kimi["title"]
    source = kimi["input_message_content"]["message_text"]
    assert f"Kimi {HOSTILE}" in plain(parse_html(source)[0])
    assert harness.emu.failed_calls() == []
