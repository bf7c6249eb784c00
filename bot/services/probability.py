"""Parse a reader's probability (percent) and reason from a command argument or a comment.

Rules (nothing is ever cut or guessed silently; anything doubtful raises
:class:`ProbabilityError` with a machine-readable ``code``):

* Before parsing, control and bidi characters are removed (as from every reason) and so
  are invisible format characters (``6\u200b3`` is 63); digits of any script count as
  digits (see bot.services.hygiene).
* Numbers: ASCII or full-width digits with an optional "," or "." decimal part ("70,5",
  "70.5"); a sign counts only when it starts a word ("-5", not the dash in "60-70"). Digits
  glued to letters ("top20", "70th") are not numbers.
* Percent markers: "%", full-width "％", small "﹪", or a percent word (процент/процента/
  процентов/проц., percent, per cent, pct) right after the number, or before it in the
  Russian "about" order ("процентов 60", "процентов на 60"). Non-breaking and other Unicode
  spaces count as spaces.
* Rounding: half up to a whole percent (70.5 → 71, 99.4 → 99, 0.6 % → 1). ``rounded_from``
  holds the number as written whenever it had a decimal part, even "70.0".
* A number with a decimal part whose value is at most 1 and that has no percent marker
  ("0.7", "0,6", "1.0") is ambiguous — a fraction of 1 or a tiny percentage — and is
  rejected with code "ambiguous" rather than guessed. With a marker ("0,6 %") it is taken as
  percent and rounded (→ 1).
* Two numbers joined as a range or an alternative ("60 or 70", "60-70 %", "60/70",
  "от 60 до 70") are "ambiguous".
* After rounding the probability must be within 1..99, else "out_of_range" (0, 100, 150,
  -5, 99.6, any number of digits).
* The reason is the text left after removing the number phrase, with whitespace and dangling
  separators (",", ";", ":", dashes) trimmed at both ends; longer than MAX_REASON_CHARS code
  points → "too_long".

Errors are checked in this order: missing, not_a_number, ambiguous, out_of_range, too_long.
`starts_with_number` tells a message meant as a forecast ("70", "-5 …") from other text.
Pure computation: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from bot.services.hygiene import ascii_digits, clean_reason, strip_format

MAX_REASON_CHARS = 1000
MIN_PROBABILITY = 1
MAX_PROBABILITY = 99

ErrorCode = Literal["missing", "out_of_range", "not_a_number", "ambiguous", "too_long"]

# One-to-one replacements keep every index valid in the original text, so the reason is cut
# from what the reader wrote, not from a normalised copy.
_TRANSLATE = str.maketrans(
    {
        "％": "%",
        "﹪": "%",
        "−": "-",  # U+2212 MINUS SIGN
        **{chr(0xFF10 + digit): str(digit) for digit in range(10)},  # full-width digits
    }
)

_NUMBER = re.compile(
    r"(?:(?<!\S)(?P<sign>[-+]))?"  # a sign only at a word start: "60-70" is a range
    r"(?<![\w.,])(?P<num>[0-9]+(?:[.,][0-9]+)?)"
    r"(?![\w]|[.,][0-9])"  # no partial matches inside "70,5x" or "top20x"
)
_PERCENT_WORD = r"(?:проц(?:ент(?:ов|а|ы)?\b|\.|\b)|percent\b|per\s+cent\b|pct\b)"
_MARK_AFTER = re.compile(r"\s*(?:%|" + _PERCENT_WORD + ")", re.IGNORECASE)
_MARK_BEFORE = re.compile(r"(?<!\w)" + _PERCENT_WORD + r"(?:\s+на)?\s*$", re.IGNORECASE)
_RANGE_GAP = re.compile(
    r"\s*(?:-|–|—|/|\.\.\.?|…|\bor\b|\bили\b|\bto\b|\bдо\b|\bили\s+даже\b)\s*",
    re.IGNORECASE,
)
# Separators left dangling once the number phrase is gone; a trailing "." may end the
# reader's own sentence, so it is kept at the end but dropped at the start.
_LEADING_JUNK = re.compile(r"^[\s,;:.\-–—]+")
_TRAILING_JUNK = re.compile(r"[\s,;:\-–—]+$")


@dataclass(frozen=True)
class ParsedForecast:
    """A parsed forecast.

    Attributes:
        probability: whole percent in 1..99.
        rounded_from: the number as written (e.g. "70,5"; full-width digits shown as ASCII)
            when it had a decimal part and was rounded; None for whole numbers.
        reason: the rest of the text, trimmed; "" if none. At most MAX_REASON_CHARS.
    """

    probability: int
    rounded_from: str | None
    reason: str


class ProbabilityError(ValueError):
    """The text holds no usable probability, or the reason is too long.

    Attributes:
        code: "missing" (empty text), "not_a_number" (no number where one is required),
            "ambiguous" (two different numbers, or a bare decimal <= 1 like "0.7"),
            "out_of_range" (not within 1..99 after rounding), "too_long" (reason over
            MAX_REASON_CHARS).
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        """Store the code; ``message`` is for logs, not for readers."""
        super().__init__(message)
        self.code: ErrorCode = code


@dataclass(frozen=True)
class _Token:
    """A number found in the (translated) text; spans index the original text."""

    start: int  # including the sign
    num_start: int
    sign: str
    literal: str  # the digits as the reader wrote them, e.g. "70,5"
    phrase_start: int  # including a percent word before the number
    phrase_end: int  # including a percent marker after the number
    marked: bool

    @property
    def value(self) -> Decimal:
        """The signed value as written, unrounded."""
        magnitude = Decimal(self.literal.replace(",", "."))
        return -magnitude if self.sign == "-" else magnitude

    @property
    def has_fraction(self) -> bool:
        """True when the number was written with a decimal part."""
        return "," in self.literal or "." in self.literal


def _find_tokens(text: str) -> list[_Token]:
    """Return every number in ``text`` (already translated), with its percent markers."""
    tokens = []
    for match in _NUMBER.finditer(text):
        after = _MARK_AFTER.match(text, match.end())
        before = _MARK_BEFORE.search(text, 0, match.start())
        tokens.append(
            _Token(
                start=match.start(),
                num_start=match.start("num"),
                sign=match.group("sign") or "",
                literal=match.group("num"),
                phrase_start=before.start() if before else match.start(),
                phrase_end=after.end() if after else match.end(),
                marked=bool(after or before),
            )
        )
    return tokens


def _joined(text: str, left: _Token, right: _Token) -> bool:
    """True when two consecutive numbers form a range or alternative ("60 % or 70 %")."""
    return _RANGE_GAP.fullmatch(text, left.phrase_end, right.num_start) is not None


def _group_with_followers(text: str, tokens: list[_Token], index: int) -> list[_Token]:
    """Return tokens[index] plus the numbers chained to it by range/alternative words."""
    group = [tokens[index]]
    for following in tokens[index + 1 :]:
        if not _joined(text, group[-1], following):
            break
        group.append(following)
    return group


def _round_half_up(value: Decimal) -> Decimal:
    """Round to a whole number, halves away from zero (70.5 → 71)."""
    return value.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def _tidy(text: str) -> str:
    """Trim whitespace and dangling separators left around a removed number phrase."""
    return _TRAILING_JUNK.sub("", _LEADING_JUNK.sub("", text))


def _cut_phrase(original: str, start: int, end: int) -> str:
    """Remove original[start:end] (and brackets wrapping it) and join the two sides tidily."""
    if start > 0 and end < len(original) and original[start - 1] + original[end] == "()":
        start, end = start - 1, end + 1
    left, right = original[:start].rstrip(), original[end:].lstrip()
    if left and right and left[-1] in ",;:" and right[0] in ",;:":
        right = right[1:].lstrip()  # "думаю, 60 %, потому что" → "думаю, потому что"
    separator = " " if left and right and right[0] not in ",.;:!?)" else ""
    return _tidy(left + separator + right)


def _build(token: _Token, reason: str, *, grouped: list[_Token]) -> ParsedForecast:
    """Validate a chosen number and the reason; raise ProbabilityError when unusable."""
    if len({t.value for t in grouped}) > 1:
        shown = ", ".join(t.sign + t.literal for t in grouped)
        raise ProbabilityError("ambiguous", f"several numbers given: {shown}")
    value = token.value
    if value > 0 and token.has_fraction and value <= 1 and not token.marked:
        raise ProbabilityError("ambiguous", f"{token.literal} could be a fraction or a percentage")
    # beyond 3 integer digits it is out of range; rounding 29+ digits would overflow Decimal
    rounded = _round_half_up(value) if value.adjusted() < 3 else value
    if not MIN_PROBABILITY <= rounded <= MAX_PROBABILITY:
        raise ProbabilityError(
            "out_of_range", f"{token.sign}{token.literal} is not within 1..99 %"
        )
    if len(reason) > MAX_REASON_CHARS:
        raise ProbabilityError(
            "too_long", f"reason has {len(reason)} characters, max {MAX_REASON_CHARS}"
        )
    return ParsedForecast(
        probability=int(rounded),
        rounded_from=token.literal if token.has_fraction else None,
        reason=reason,
    )


def _parse_leading(text: str, original: str, tokens: list[_Token]) -> ParsedForecast:
    """Command form: the text (already stripped) must start with the number."""
    if not tokens or tokens[0].start != 0:
        raise ProbabilityError("not_a_number", "the text does not start with a number")
    group = _group_with_followers(text, tokens, 0)
    reason = _tidy(original[group[-1].phrase_end :])
    return _build(group[0], reason, grouped=group)


def _parse_free(text: str, original: str, tokens: list[_Token]) -> ParsedForecast:
    """Comment form: exactly one explicit percentage (same value repeated is fine)."""
    marked_groups = []
    index = 0
    while index < len(tokens):
        group = _group_with_followers(text, tokens, index)
        if any(t.marked for t in group):
            marked_groups.append(group)
        index += len(group)
    if not marked_groups:
        if any(t.has_fraction and 0 < t.value <= 1 for t in tokens):
            raise ProbabilityError("ambiguous", "a bare decimal <= 1 could be a fraction")
        raise ProbabilityError("not_a_number", "no explicit percentage in the comment")
    every = [t for group in marked_groups for t in group]
    chosen = marked_groups[0][0]
    reason = _cut_phrase(original, chosen.phrase_start, marked_groups[0][-1].phrase_end)
    return _build(chosen, reason, grouped=every)


def parse_forecast(text: str, *, require_leading: bool) -> ParsedForecast:
    """Parse a probability in percent and a reason from a reader's text.

    Args:
        text: the command argument ("70 % they have the universities") or a free comment
            ("думаю, процентов 60").
        require_leading: True for commands — the number must come first, a percent marker is
            optional, and the rest is the reason. False for comments — exactly one explicit
            percentage ("60 %", "60 percent", "процентов 60") must appear anywhere, a bare
            number ("I'd say 70") is not taken, and the reason is the comment without the
            number phrase.

    Returns:
        The parsed forecast; see the module docstring for the rules.

    Raises:
        ProbabilityError: with ``code`` "missing", "not_a_number", "ambiguous",
            "out_of_range" or "too_long".
    """
    stripped = strip_format(clean_reason(text)).strip()
    if not stripped:
        raise ProbabilityError("missing", "no text")
    translated = ascii_digits(stripped.translate(_TRANSLATE))
    tokens = _find_tokens(translated)
    if require_leading:
        return _parse_leading(translated, stripped, tokens)
    return _parse_free(translated, stripped, tokens)


NUMBER_FIRST = re.compile(r"^\s*[-+−]?\d")  # a message that starts with a number


def starts_with_number(text: str) -> bool:
    """True when `text` starts with a number (spaces and one sign, "-", "+" or "−", may
    come first): a typed forecast such as "70", "70 % because…" or "-5", which
    parse_forecast then accepts or explains. Never raises."""
    return NUMBER_FIRST.match(text) is not None
