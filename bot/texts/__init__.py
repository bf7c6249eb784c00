"""User-facing texts: gettext catalogs (`bot/locales/<lang>/LC_MESSAGES/*.po`, read with
Babel) and locale-aware number, percent and date formatting.

Formatting of numbers, percentages and dates is memoized (pure functions of their
arguments). Message ids are keys such as ``stats.title``; placeholders are named (``{count}``) and
filled by `t`. Each feature keeps its own catalog file (core.po, forecast.po, ...); all files
of a language are merged into one translation.

Rendering escapes by default. A catalog message is trusted Telegram HTML; `t` and `tn` return
it as a `markupsafe.Markup` with every placeholder value escaped (``<``, ``>``, ``&``, quotes)
unless the value is already Markup — a piece rendered by another `t` call, or one built with
`Markup(...).format(...)` / `Markup("\\n").join(...)`, which escape what they insert the same
way. So a text composed of Markup pieces never needs an escape call, and a plain `str`
concatenated to Markup (``markup + "..."``) is escaped too. Texts that Telegram does not parse
as HTML (button labels, callback query alerts, inline result titles, command descriptions,
plain-text messages) take `t_plain`: the same message with the values as given; `plain`
turns rendered HTML into the text a reader sees (for an alert made from a rendered text).
"""

from __future__ import annotations

import html
import io
import re
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
from markupsafe import Markup

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


def _message(lang: str, key: str) -> str:
    """The catalog text of `key` in `lang`; KeyError when the key is missing."""
    text = translations(lang).gettext(key)
    if text == key:
        raise KeyError(f"no message {key!r} in the {lang} catalog")
    return text


def _plural(lang: str, key: str, count: int) -> str:
    """The catalog text of the plural form of `key` for `count`; KeyError when missing."""
    text = translations(lang).ngettext(key, f"{key}.plural", count)
    if text in (key, f"{key}.plural"):
        raise KeyError(f"no plural message {key!r} in the {lang} catalog")
    return text


def t(lang: str, key: str, /, **values: object) -> Markup:
    """The message `key` in `lang` as Telegram HTML, with named placeholders filled: every
    value is escaped unless it is already Markup (e.g. the result of another `t` call).

    Raises KeyError when the key is missing from the catalog, so a typo fails in tests
    instead of showing a raw key to a reader.
    """
    text = Markup(_message(lang, key))  # noqa: S704 - catalog messages are trusted HTML
    return text.format(**values) if values else text


def t_plain(lang: str, key: str, /, **values: object) -> str:
    """The message `key` in `lang` as plain text, values filled as given (nothing escaped):
    for what Telegram shows without parsing HTML (button labels, callback query alerts,
    inline result titles, command descriptions, messages sent with parse_mode=None).
    Raises KeyError when the key is missing."""
    text = _message(lang, key)
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


def tn(lang: str, key: str, count: int, /, **values: object) -> Markup:
    """The plural form of message `key` for `count` in `lang` (Russian has three forms) as
    Telegram HTML, values escaped as in `t`.

    The catalog entry has msgid `key` and msgid_plural `key + ".plural"`. Raises KeyError
    when the entry is missing.
    """
    text = Markup(_plural(lang, key, count))  # noqa: S704 - catalog messages are trusted HTML
    return text.format(count=count, **values)


_TAG = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    """What a reader sees of a Telegram HTML text: tags dropped, entities decoded
    ("<b>R&amp;D</b>" → "R&D"); for an alert or a description made from a rendered text."""
    return html.unescape(_TAG.sub("", text))
