"""User-facing texts: gettext catalogs (`bot/locales/<lang>/LC_MESSAGES/*.po`, read with
Babel) and locale-aware number, percent and date formatting.

Formatting of numbers, percentages and dates is memoized (pure functions of their
arguments). Message ids are keys such as ``stats.title``; placeholders are named (``{count}``) and
filled by `t`. Each feature keeps its own catalog file (core.po, forecast.po, ...); all files
of a language are merged into one translation.
"""

from __future__ import annotations

import io
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

LANGUAGES = ("ru", "en")
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"


def catalog_files(lang: str) -> list[Path]:
    """The .po files of `lang`, sorted by name."""
    return sorted((LOCALES_DIR / lang / "LC_MESSAGES").glob("*.po"))


@cache
def translations(lang: str) -> Translations:
    """All catalogs of `lang` merged; compiled in memory so no build step is needed."""
    merged: Translations | None = None
    for path in catalog_files(lang):
        with path.open("rb") as fp:
            catalog = read_po(fp, locale=lang, domain=path.stem)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        part = Translations(buffer, domain=path.stem)
        if merged is None:
            merged = part
        else:
            merged.merge(part)
    return merged if merged is not None else Translations()


def pick_language(code: str | None, default: str) -> str:
    """Russian for a Telegram language_code starting with "ru", English for any other code,
    `default` when the code is missing."""
    if not code:
        return default
    return "ru" if code.lower().startswith("ru") else "en"


def t(lang: str, key: str, /, **values: object) -> str:
    """The message `key` in `lang`, with named placeholders filled.

    Raises KeyError when the key is missing from the catalog, so a typo fails in tests
    instead of showing a raw key to a reader.
    """
    text = translations(lang).gettext(key)
    if text == key:
        raise KeyError(f"no message {key!r} in the {lang} catalog")
    return text.format(**values) if values else text


@lru_cache(maxsize=4096)
def number(value: float, lang: str) -> str:
    """A number per locale: 2,500 (en) / 2 500 (ru); decimals kept as given (25.3)."""
    return str(format_decimal(value, locale=lang, decimal_quantization=False))


@lru_cache(maxsize=4096)
def percent(value_percent: float, lang: str, *, signed: bool = False) -> str:
    """A percentage given in percent (25.3 → "25.3%" in en, "25,3 %" in ru)."""
    # Decimal: 70.2 / 100 as a float prints as 0.7020000000000001
    fraction = Decimal(str(value_percent)) / 100
    text = str(format_percent(fraction, locale=lang, decimal_quantization=False))
    return f"+{text}" if signed and value_percent > 0 else text


@lru_cache(maxsize=4096)
def day(value: date, lang: str) -> str:
    """A date per locale, e.g. "Dec 31, 2030" / "31 дек. 2030 г."."""
    return str(format_date(value, format="medium", locale=lang))


_display_zone: tzinfo = ZoneInfo("Europe/Moscow")


def set_display_timezone(name: str) -> None:
    """Show times in the IANA zone `name` (DISPLAY_TIMEZONE); stored times stay UTC.
    Raises ZoneInfoNotFoundError for an unknown name."""
    global _display_zone
    _display_zone = ZoneInfo(name)


def moment(value: datetime, lang: str) -> str:
    """An aware time in the display zone per locale, with the zone's abbreviation:
    "Nov 29, 2026, 3:04 PM MSK" / "29 нояб. 2026 г., 15:04 MSK"."""
    local = value.astimezone(_display_zone)
    clock = format_time(local, format="short", tzinfo=_display_zone, locale=lang)
    return f"{day(local.date(), lang)}, {clock} {local.tzname()}"


@lru_cache(maxsize=4096)
def month(year_month: str, lang: str) -> str:
    """An ISO "YYYY-MM" or "YYYY-MM-DD" as a month and year ("January 2026")."""
    parts = [int(p) for p in year_month.split("-")]
    if len(parts) == 3:
        return day(date(*parts), lang)
    return str(format_skeleton("yMMMM", date(parts[0], parts[1], 1), locale=Locale(lang)))


def tn(lang: str, key: str, count: int, /, **values: object) -> str:
    """The plural form of message `key` for `count` in `lang` (Russian has three forms).

    The catalog entry has msgid `key` and msgid_plural `key + ".plural"`. Raises KeyError
    when the entry is missing.
    """
    text = translations(lang).ngettext(key, f"{key}.plural", count)
    if text in (key, f"{key}.plural"):
        raise KeyError(f"no plural message {key!r} in the {lang} catalog")
    return text.format(count=count, **values)
