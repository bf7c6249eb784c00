"""Readers' text at the edge: what is stripped before numbers are parsed, what is removed from
reasons, how names are shown, and lengths measured as Telegram measures them.

* Format characters (Unicode category Cf: zero-width space U+200B, word joiner U+2060, BOM
  U+FEFF, soft hyphen U+00AD, bidi controls...) are invisible and must not split or change a
  number: `strip_format` removes them before parsing. Joiners inside emoji sequences (ZWJ,
  ZWNJ away from digits) and emoji tag characters are kept, so a reason's emoji stay intact.
* Digits of any script (Unicode category Nd: full-width, Arabic-Indic, Devanagari...) become
  ASCII one for one (`ascii_digits`), so indices stay valid.
* Reasons keep everything the reader wrote except control characters (Cc, but line breaks and
  tabs) and the bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which
  would reorder the rest of a shared message (`clean_reason`).
* Names are shown isolated (U+2068 … U+2069) so a right-to-left name cannot reorder the line;
  a name with nothing visible left is None and the caller shows a fallback (`display_name`).
* Telegram counts a text's length in UTF-16 code units after entity parsing (`tg_length`);
  `shorten` cuts plain text to a budget with "…".

Pure functions: no I/O.
"""

from __future__ import annotations

import html
import re
import unicodedata

TEXT_LIMIT = 4096  # UTF-16 code units of a message text after entity parsing
CAPTION_LIMIT = 1024  # the same for a media caption
ELLIPSIS = "…"

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: needed inside emoji and some scripts
_KEEP_CONTROLS = frozenset("\n\t")
# characters that render as nothing although they are not spaces or format characters
_BLANK = frozenset("\u2800\u3164\u115f\u1160\uffa0\u180e\u034f\u17b4\u17b5")
_TAG = re.compile(r"<[^>]*>")


def _is_tag_character(char: str) -> bool:
    return 0xE0020 <= ord(char) <= 0xE007F  # emoji tag sequences (subdivision flags)


def strip_format(text: str) -> str:
    """`text` without format characters (Cf), for parsing: "6\\u200b3" -> "63".

    Joiners (ZWJ/ZWNJ) are kept unless next to a digit; emoji tag characters are kept.
    """
    out = []
    for index, char in enumerate(text):
        if unicodedata.category(char) != "Cf" or _is_tag_character(char):
            out.append(char)
        elif char in _JOINERS:
            before = text[index - 1] if index else ""
            after = text[index + 1] if index + 1 < len(text) else ""
            if not (before.isdecimal() or after.isdecimal()):
                out.append(char)
    return "".join(out)


def ascii_digits(text: str) -> str:
    """Every decimal digit of any script as its ASCII digit (one character for one)."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def clean_reason(text: str) -> str:
    """A reason as the reader wrote it, minus control characters (except line breaks and
    tabs) and bidi embeddings, overrides and isolates."""
    return "".join(
        char
        for char in text
        if char not in _BIDI_CONTROLS
        and (char in _KEEP_CONTROLS or unicodedata.category(char) != "Cc")
    )


def visible(text: str) -> bool:
    """Whether `text` has at least one character that shows (not a space, a control, a
    format character, a combining mark alone or a blank such as U+2800)."""
    return any(char not in _BLANK and unicodedata.category(char)[0] not in "ZC" for char in text)


def display_name(name: str | None) -> str | None:
    """A reader's name for display, plain text: controls and bidi characters removed, then
    isolated with U+2068 … U+2069. None when nothing visible is left (show a fallback)."""
    if not name:
        return None
    cleaned = clean_reason(name).replace("\n", " ").replace("\t", " ").strip()
    if not visible(cleaned):
        return None
    return "\u2068" + cleaned + "\u2069"


def utf16_length(text: str) -> int:
    """Length of plain `text` in UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def tg_length(html_text: str) -> int:
    """The length Telegram checks for a parse_mode=HTML text: UTF-16 code units of the text
    once tags are removed and entities (&amp;, &lt;...) decoded."""
    return utf16_length(html.unescape(_TAG.sub("", html_text)))


def shorten(text: str, budget: int) -> str:
    """Plain `text` within `budget` UTF-16 units: cut at a character boundary (never inside
    a surrogate pair; no dangling joiner), at the end of a word when one ends in the last
    quarter of what is kept, and ended with "…" when anything was cut."""
    if utf16_length(text) <= budget:
        return text
    room = budget - utf16_length(ELLIPSIS)
    used, cut = 0, 0
    for index, char in enumerate(text):
        size = 2 if ord(char) > 0xFFFF else 1
        if used + size > room:
            break
        used += size
        cut = index + 1
    head = text[:cut]
    if cut < len(text) and not text[cut].isspace():  # inside a word: end at the last space
        space = max(head.rfind(" "), head.rfind("\n"))
        if space >= len(head) * 3 // 4:
            head = head[:space]
    head = head.rstrip()
    while head and (head[-1] in _JOINERS or unicodedata.category(head[-1]) == "Cf"):
        head = head[:-1]
    return head + ELLIPSIS
