"""Catalog quality: every count a reader sees goes through plural forms (gettext ngettext,
the Plural-Forms of each catalog), unless it stands as a label's value ("Readers: 5")."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po

from bot.texts import LANGUAGES, catalog_files, t, tn

# placeholders that are raw counts of things (not limits such as {max}, not ids or places)
COUNTS = {"count", "n", "readers", "reachable", "blocked", "total", "today", "standing",
          "withdrawn", "sent", "failed", "scored", "needed", "length", "forecasters"}  # fmt: skip
# (message, placeholder): why the count needs no plural form there
ALLOWED = {
    ("admin.score.message", "total"): "place N of M reads right for every M",
    ("admin.leaderboard.yours", "total"): "place N of M reads right for every M",
    ("results.summary", "forecasters"): "a phrase already made with results.forecasters",
    ("channel.tally.shown", "forecasters"): "a phrase already made with results.forecasters",
    ("channel.tally.hidden", "forecasters"): "a phrase already made with results.forecasters",
}
NPLURALS = {"en": 2, "ru": 3}


def offenders(lang: str) -> list[tuple[str, str]]:
    """(message, placeholder) pairs where a count appears in a message without plural forms
    and not as a label's value (after ": " or " — ")."""
    found = []
    for path in catalog_files(lang):
        with path.open("rb") as fp:
            catalog = read_po(fp, locale=lang)
        for message in catalog:
            if not message.id or message.pluralizable:
                continue
            text = str(message.string)
            for name in set(re.findall(r"\{(\w+)\}", text)) & COUNTS:
                if (str(message.id), name) in ALLOWED:
                    continue
                if not re.search(r"(?:: |— )\{" + name + r"\}", text):
                    found.append((str(message.id), name))
    return sorted(found)


def test_no_count_without_plural_forms() -> None:
    for lang in LANGUAGES:
        assert offenders(lang) == [], lang


def test_plural_messages_have_every_form() -> None:
    for lang in LANGUAGES:
        for path in catalog_files(lang):
            with path.open("rb") as fp:
                catalog = read_po(fp, locale=lang)
            for message in catalog:
                if message.id and message.pluralizable:
                    assert isinstance(message.string, tuple | list), (lang, message.id)
                    forms = list(message.string)
                    assert len(forms) == NPLURALS[lang] and all(forms), (lang, message.id)


def test_counts_read_right_in_both_languages() -> None:
    assert tn("en", "chart.caption", 1, n="1", median="5%", weighted="5%").startswith(
        "Community forecast: 1 forecaster,"
    )
    assert "21 участник," in tn("ru", "chart.caption", 21, n="21", median="5", weighted="5")
    assert "once 1 reader has forecast" in tn(
        "en", "channel.tally.hidden", 1, forecasters="x", needed=1
    )
    assert "наберётся 5 прогнозов" in tn(
        "ru", "channel.tally.hidden", 5, forecasters="x", needed=5
    )
    assert "That is 501 characters" in tn("en", "reason.too_long", 501, max=500, length=501)
    assert "Здесь 501 символ," in tn("ru", "reason.too_long", 501, max=500, length=501)
    assert "1 forecast will be scored" in tn(
        "en", "admin.resolve.confirm", 1, slug="s", outcome="YES", text="?", forecasters="1"
    )
    assert "sent to readers: 1" in t("en", "admin.resolve.notified", slug="s", sent=1, failed=0)


def test_probability_words_follow_the_icd_203_scale() -> None:
    from bot.texts.forecast import verbal

    words = {p: verbal(p, "en") for p in range(1, 100)}
    assert {words[p] for p in (1, 5)} == {"almost certainly not"}
    assert {words[p] for p in (6, 13, 15, 20)} == {"very unlikely"}
    assert {words[p] for p in (21, 25, 44)} == {"unlikely"}
    assert {words[p] for p in (45, 50, 55)} == {"toss-up"}
    assert {words[p] for p in (56, 60, 62, 75, 79)} == {"likely"}
    assert {words[p] for p in (80, 90, 94)} == {"very likely"}
    assert {words[p] for p in (95, 99)} == {"almost certainly"}


def test_the_reported_one_counts_read_right() -> None:
    done = tn("en", "admin.resolve.done", 1, slug="s", outcome="YES", scored="1")
    assert "1 forecaster scored" in done
    assert "1 forecasters" not in done
    assert "1 forecaster," in tn("en", "chart.caption", 1, n="1", median="5%", weighted="5%")
