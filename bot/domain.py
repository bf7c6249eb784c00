"""Domain types shared by every layer: the seed dataset's entries (sources, figures, models,
facts, questions), the forecasting types (a stored question, a reader's forecast and its
history, a pending prompt, a shown reason, a Brier score) as plain frozen dataclasses, the
units and qualifiers a figure may have, and the rules a figure's value and an alias follow.

Every time here is an aware UTC `datetime`; the store converts to and from its text form
at its edge (bot.store.db.from_row/to_row). The store keeps these (bot.store.stats,
bot.store.forecasts, bot.store.admin) and bot.services.dataset parses the seed entries from
`bot/data/*.toml`; this module imports nothing of the bot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

UNITS = ("models", "companies", "bn_yuan", "trn_yuan", "percent")
QUALIFIERS = ("exact", "more_than", "above")
Outcome = Literal["yes", "no", "annulled"]  # a question's resolution

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


@dataclass(frozen=True)
class Question:
    """A forecasting question as stored. Times are aware UTC datetimes; `version` grows on
    every write to its forecasts (results and charts are cached per version). A resolved
    question may carry the link to the source its resolution used and a note;
    `criteria_changed_at` is set when the criteria were edited after forecasts had been
    made."""

    id: int
    slug: str
    text_ru: str
    text_en: str
    criteria_ru: str
    criteria_en: str
    opened_at: datetime
    closes_at: datetime
    resolve_by: datetime
    status: str
    resolution: str | None
    resolved_at: datetime | None
    is_default: int
    version: int
    created_at: datetime
    resolution_link: str | None = None
    resolution_note: str | None = None
    criteria_changed_at: datetime | None = None

    def text(self, lang: str) -> str:
        """The question in `lang`."""
        return self.text_ru if lang == "ru" else self.text_en

    def criteria(self, lang: str) -> str:
        """The resolution criteria in `lang`."""
        return self.criteria_ru if lang == "ru" else self.criteria_en


@dataclass(frozen=True)
class Forecast:
    """A reader's current forecast: `probability` in whole percent (1..99) that the
    question resolves yes; times are aware UTC datetimes. A withdrawn forecast
    (withdrawn=1) no longer counts."""

    id: int
    question_id: int
    user_id: int
    probability: int
    reason: str
    language: str
    created_at: datetime
    updated_at: datetime
    revisions: int
    withdrawn: int


@dataclass(frozen=True)
class HistoryEntry:
    """One change of a forecast: action is set, reason or withdraw; probabilities in %;
    `at` an aware UTC datetime."""

    id: int
    question_id: int
    user_id: int
    action: str
    old_probability: int | None
    new_probability: int | None
    reason: str
    at: datetime


@dataclass(frozen=True)
class PendingStep:
    """A multi-step input the bot waits for (kind: "exact" or "reason"), kept in SQLite so
    that it survives a restart; `created_at` is an aware UTC datetime."""

    user_id: int
    chat_id: int
    kind: str
    question_id: int
    prompt_message_id: int | None
    payload: str
    created_at: datetime


@dataclass(frozen=True)
class Reason:
    """A recent reason for /results; `name` is set only for readers who agreed to be named,
    `handle` is the reader's public label (None only before one was assigned); `updated_at`
    is an aware UTC datetime."""

    probability: int
    reason: str
    name: str | None
    updated_at: datetime
    handle: str | None = None


@dataclass(frozen=True)
class Score:
    """A reader's Brier scores on a resolved question (fractions 0..1, lower is better;
    None when no forecast stood at the end / during the window) and their last forecast in
    percent (None if withdrawn); `scored_at` is an aware UTC datetime (the resolution)."""

    question_id: int
    user_id: int
    final_probability: int | None
    final_brier: float | None
    averaged_brier: float | None
    scored_at: datetime


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
