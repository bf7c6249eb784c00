"""Domain types shared by every layer: the seed dataset's entries (sources, figures, models,
facts, questions) as plain frozen dataclasses, the units and qualifiers a figure may have,
and the rules a figure's value and an alias follow.

The store keeps these (bot.store.stats, bot.store.forecasts) and bot.services.dataset parses
them from `bot/data/*.toml`; this module imports nothing of the bot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

UNITS = ("models", "companies", "bn_yuan", "trn_yuan", "percent")
QUALIFIERS = ("exact", "more_than", "above")
TOPICS = ("models", "companies", "industry", "targets")


@dataclass(frozen=True)
class SourceEntry:
    """Where figures come from."""

    key: str
    publisher: str
    title_ru: str
    title_en: str
    url: str | None = None
    published: str | None = None


@dataclass(frozen=True)
class StatEntry:
    """One figure: `value` in `unit` (percent values are in percent, not fractions);
    `as_of` is an ISO date or month, or "" when the source gives no date."""

    key: str
    topic: str
    headline: bool
    value: float
    qualifier: str
    unit: str
    label_ru: str
    label_en: str
    period_ru: str
    period_en: str
    source: str
    as_of: str = ""
    comparison_ru: str | None = None
    comparison_en: str | None = None
    note_ru: str | None = None
    note_en: str | None = None


@dataclass(frozen=True)
class ModelEntry:
    """A flagship model with the names readers may type for it."""

    slug: str
    name: str
    maker: str
    description_ru: str
    description_en: str
    source: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class FactEntry:
    """A qualitative fact (pilot sectors, ecosystem) in both languages."""

    topic: str
    key: str
    text_ru: str
    text_en: str
    source: str


@dataclass(frozen=True)
class QuestionEntry:
    """A forecasting question; times are aware UTC datetimes. `replaces_criteria_*` are the
    criteria an earlier dataset gave: a stored question still holding them takes the new
    ones at seeding (dated for readers when forecasts exist)."""

    slug: str
    text_ru: str
    text_en: str
    criteria_ru: str
    criteria_en: str
    opened_at: datetime
    closes_at: datetime
    resolve_by: datetime
    default: bool = False
    replaces_criteria_ru: str | None = None
    replaces_criteria_en: str | None = None


@dataclass(frozen=True)
class Dataset:
    """Everything in one dataset file."""

    name: str
    version: int
    sources: tuple[SourceEntry, ...]
    stats: tuple[StatEntry, ...]
    models: tuple[ModelEntry, ...]
    facts: tuple[FactEntry, ...]
    questions: tuple[QuestionEntry, ...] = field(default=())


def value_problem(unit: str, value: float) -> str | None:
    """Why `value` cannot be a figure in `unit`, as a short code, or None when it can:
    "whole" (counts are whole numbers), "positive" (counts and money are above zero),
    "percent_range" (a growth rate in percent must lie in -100..1000)."""
    if unit in ("models", "companies"):
        if not float(value).is_integer():
            return "whole"
        if value <= 0:
            return "positive"
    elif unit in ("bn_yuan", "trn_yuan"):
        if value <= 0:
            return "positive"
    elif unit == "percent" and not -100 <= value <= 1000:
        return "percent_range"
    return None


def normalize_alias(text: str) -> str:
    """The form aliases are matched in: case-folded, inner spaces collapsed."""
    return " ".join(text.casefold().split())
