"""Cards for /stats, its drill-downs, /models and /sources, composed from stored figures.

Every figure comes from the store; this module only formats it in the reader's language.
"""

from __future__ import annotations

from functools import cache
from typing import get_args

from markupsafe import Markup
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.keyboard import Keyboard
from bot.store.stats import Fact, Model, Source, Stat
from bot.texts import month, number, percent, t, tn
from bot.texts.callbacks import StatsCard, StatsTopic

CITED_PREFIX = "setstat-"  # key of a source an admin cited with /setstat
TOPICS: tuple[StatsTopic, ...] = get_args(StatsTopic)  # the drill-downs, in button order


def amount(stat: Stat, lang: str) -> str:
    """The value with its unit and qualifier, e.g. "more than 2,500 companies", "25.3%"."""
    value = int(stat.value) if float(stat.value).is_integer() else stat.value
    if stat.unit == "percent":
        text = percent(value, lang)
    elif stat.unit in ("models", "companies"):
        text = tn(lang, f"unit.{stat.unit}", int(value), value=number(value, lang))
    else:
        text = t(lang, f"unit.{stat.unit}", value=number(value, lang))
    if stat.qualifier == "exact":
        return text
    return t(lang, f"qualifier.{stat.qualifier}", amount=text)


def source_numbers(stats: list[Stat]) -> dict[str, int]:
    """Footnote numbers of sources in order of first use: {source_key: 1, ...}."""
    numbers: dict[str, int] = {}
    for stat in stats:
        numbers.setdefault(stat.source_key, len(numbers) + 1)
    return numbers


def stat_block(stat: Stat, lang: str, ref: int, sources: dict[str, Source]) -> Markup:
    """One figure: label, amount, comparison, then period, as-of and source.

    A figure an admin changed (/setstat) is no longer the report's: it says so, with the
    date of the change, and drops the comparison and note, which described the old value.
    """
    head = Markup("<b>{}</b>\n{}").format(stat.text("label", lang) or "", amount(stat, lang))
    comparison, note = stat.text("comparison", lang), stat.text("note", lang)
    if comparison and not stat.edited:
        head += " — " + comparison
    meta = provenance(stat, lang, ref, sources)
    lines = [head, Markup("<i>{}</i>").format(meta)] + ([note] if note and not stat.edited else [])
    return Markup("\n").join(lines)


def provenance(stat: Stat, lang: str, ref: int | None, sources: dict[str, Source]) -> Markup:
    """Period, source and date of a figure: "2025 · source: PRC.TODAY [1]" (a date only
    when the source gives one; an admin's change says so with its date). Without `ref` the
    footnote number is left out (the channel post has no footnotes)."""
    source = sources.get(stat.source_key)
    name = source.publisher if source else stat.source_key
    if ref is not None:
        name += f" [{ref}]"
    if stat.edited:
        cited = stat.source_key.startswith(CITED_PREFIX)
        key = "stats.meta_cited" if cited else "stats.meta_edited"
    else:
        key = "stats.meta" if stat.as_of else "stats.meta_undated"
    return t(
        lang,
        key,
        period=stat.text("period", lang) or "",
        as_of=month(stat.as_of, lang) if stat.as_of else "",
        source=name,
    )


def footnotes(numbers: dict[str, int], sources: dict[str, Source], lang: str) -> Markup:
    """The numbered source list under a card."""
    return Markup("\n").join(
        f"[{n}] {sources[key].title(lang)}" for key, n in numbers.items() if key in sources
    )


def stats_card(stats: list[Stat], sources: list[Source], lang: str) -> Markup:
    """The main /stats card: every headline figure with unit, period and source."""
    shown = [s for s in stats if s.headline]
    by_key = {s.key: s for s in sources}
    refs = source_numbers(shown)
    blocks = [stat_block(s, lang, refs[s.source_key], by_key) for s in shown]
    parts = [t(lang, "stats.title"), *blocks, footnotes(refs, by_key, lang), t(lang, "stats.hint")]
    return Markup("\n\n").join(parts)


def topic_card(
    topic: str,
    stats: list[Stat],
    sources: list[Source],
    facts: list[Fact],
    models: list[Model],
    lang: str,
) -> Markup:
    """A drill-down: the figures of `topic`, plus the model list or ecosystem facts."""
    shown = [s for s in stats if s.topic == topic]
    by_key = {s.key: s for s in sources}
    refs = source_numbers(shown)
    for fact in facts:
        refs.setdefault(fact.source_key, len(refs) + 1)
    parts = [t(lang, f"topic.{topic}.title")]
    parts += [stat_block(s, lang, refs[s.source_key], by_key) for s in shown]
    if topic == "models" and models:
        parts.append(models_list(models, lang))
    if facts:
        parts.append(Markup("\n").join(f"• {f.text(lang)} [{refs[f.source_key]}]" for f in facts))
    parts.append(footnotes(refs, by_key, lang))
    return Markup("\n\n").join(parts)


def model_entry(model: Model, lang: str) -> Markup:
    """One model: name, maker, description."""
    return t(
        lang,
        "models.entry",
        name=model.name,
        maker=model.maker,
        description=model.description(lang),
    )


def models_list(models: list[Model], lang: str) -> Markup:
    """All flagship models, one entry each."""
    return Markup("\n").join([t(lang, "models.title"), *(model_entry(m, lang) for m in models)])


def sources_card(
    sources: list[Source],
    stats: list[Stat],
    lang: str,
    models: list[Model] | None = None,
    facts: list[Fact] | None = None,
) -> Markup:
    """Every source that something shown comes from, with what comes from it (figures, the
    flagship models, the ecosystem facts)."""
    parts = [t(lang, "sources.title")]
    models, facts = models or [], facts or []
    for source in sources:
        used: list[str] = [
            t(lang, "sources.updated_since", figure=label) if s.edited else label
            for s in stats
            if s.source_key == source.key and (label := s.text("label", lang) or s.key)
        ]
        if any(m.source_key == source.key for m in models):
            used.append(t(lang, "sources.used_models"))
        if any(f.source_key == source.key for f in facts):
            used.append(t(lang, "sources.used_facts"))
        if not used:
            continue
        head = Markup("<b>{}</b>: {}").format(source.publisher, source.title(lang))
        if source.published:
            head += f" ({month(source.published, lang)})"
        if source.url:
            head += "\n" + source.url
        if used:
            head += "\n" + t(lang, "sources.used_for", figures=Markup("; ").join(used))
        parts.append(head)
    return Markup("\n\n").join(parts)


@cache
def stats_keyboard(lang: str) -> InlineKeyboardMarkup:
    """Drill-down buttons under the /stats card (two per row)."""
    buttons = [
        InlineKeyboardButton(
            t(lang, f"topic.{topic}.button"), callback_data=StatsCard(topic).pack()
        )
        for topic in TOPICS
    ]
    return Keyboard([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


@cache
def back_keyboard(lang: str) -> InlineKeyboardMarkup:
    """The single "back" button under a drill-down."""
    return Keyboard(
        [[InlineKeyboardButton(t(lang, "stats.back"), callback_data=StatsCard("main").pack())]]
    )
