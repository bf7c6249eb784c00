"""Reading an admin's figure edits (/setstat): the value, the period and the optional
"name: value" lines, checked before anything is stored. Pure functions, no I/O; the
figure's own value rules are bot.domain.value_problem."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.domain import QUALIFIERS
from bot.store.stats import CitedSource

NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
THOUSANDS = re.compile(r"^\d{3}(?:[.,]\d+)?$")  # the rest of a number written "1 000"


def parse_number(text: str) -> float | None:
    """A figure's value as typed: "25,3", "25.3", "-4" or "2500" (optional sign, digits,
    one decimal comma or point) as a float; None for anything else (words, "1e3", "1 000",
    an infinite value). Never raises."""
    text = text.strip()
    if not NUMBER.match(text):
        return None
    value = float(text.replace(",", "."))
    return value if math.isfinite(value) else None


def splits_thousands(word: str) -> bool:
    """True when `word`, the word after a value, is the rest of a number whose thousands
    were grouped with a space ("1 000", "2 500,5": "000", "500,5"), so the value was split
    in two."""
    return THOUSANDS.match(word) is not None


def parse_period(text: str) -> tuple[str | None, str | None]:
    """The optional period of /setstat as (Russian, English): "март 2026 | March 2026" gives
    both, one text is used for both languages; surrounding quotes are dropped and each
    part is cut to 120 characters; (None, None) when empty (the period stays). Never
    raises."""
    parts = [p.strip().strip("\"'«»“”„").strip()[:120] for p in text.split("|", 1)]
    if not parts[0]:
        return None, None
    return parts[0], (parts[1] if len(parts) == 2 and parts[1] else parts[0])


OPTION = re.compile(r"^\s*([a-z_ ]+?)\s*:\s*(.*?)\s*$", re.IGNORECASE)
ISO_DAY = re.compile(r"^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$")
OPTION_NAMES = {
    "period": "period",
    "period ru": "period_ru",
    "period_ru": "period_ru",
    "period en": "period_en",
    "period_en": "period_en",
    "qualifier": "qualifier",
    "source": "source",
    "url": "url",
    "date": "date",
}


@dataclass
class SetstatOptions:
    """The optional lines under /setstat, one "name: value" each: period (one text, or
    "Russian | English"), period ru, period en, qualifier (exact, more_than, above), source
    (the title as published), url (http or https), date (YYYY-MM or YYYY-MM-DD)."""

    period_ru: str | None = None
    period_en: str | None = None
    qualifier: str | None = None
    source: CitedSource | None = None


def published_day(text: str) -> bool:
    """True for a real calendar date (YYYY-MM-DD) or month (YYYY-MM) that is not after
    today (UTC): when a source was published."""
    if not ISO_DAY.match(text):
        return False
    try:
        first = date.fromisoformat(text if len(text) == 10 else f"{text}-01")
    except ValueError:  # 2026-02-31
        return False
    return first <= datetime.now(UTC).date()


def parse_options(lines: list[str]) -> SetstatOptions | tuple[str, str]:
    """The option lines of /setstat (see SetstatOptions; blank lines are skipped, values
    are cut to 200 characters), or (problem, the line or value) when one is not accepted:
    problem is "option" (not "name: value" or an unknown name), "qualifier", "url"
    (not http(s)://host.tld…), "date" (not a YYYY-MM or YYYY-MM-DD up to today, UTC) or
    "source_needed" (a url or date without a source). Never raises."""
    found: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            continue
        match = OPTION.match(line)
        name = OPTION_NAMES.get(" ".join(match.group(1).lower().split())) if match else None
        if match is None or name is None or not match.group(2):
            return "option", line.strip()
        found[name] = match.group(2).strip("\"'«»“”„").strip()[:200]
    options = SetstatOptions()
    if "period" in found:
        options.period_ru, options.period_en = parse_period(found["period"])
    options.period_ru = found.get("period_ru", options.period_ru)
    options.period_en = found.get("period_en", options.period_en)
    qualifier = found.get("qualifier")
    if qualifier is not None and qualifier not in QUALIFIERS:
        return "qualifier", qualifier
    options.qualifier = qualifier
    url, day_ = found.get("url"), found.get("date")
    if url is not None and not re.match(r"^https?://[^\s/]+\.[^\s]+$", url):
        return "url", url
    if day_ is not None and not published_day(day_):
        return "date", day_
    if "source" in found:
        options.source = CitedSource(found["source"], url, day_)
    elif url is not None or day_ is not None:
        return "source_needed", url or day_ or ""
    return options
