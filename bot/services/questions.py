"""Questions as typed: a new question as an admin writes it step by step (/newquestion: the
steps, what each answer accepts, the QuestionEntry the finished draft becomes) and the
shapes by which a reader's command names a question (`slug_shaped`, `names_a_question`).
Pure functions, no I/O; the draft itself is kept by the store (AdminRepo.save_draft) as
JSON text."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from bot.domain import QuestionEntry

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
SLUG_LIKE = re.compile(r"^[\w]+(?:[-_][\w]+)+$")  # "kimi-users-2027"
# a lone word after the number that names a question rather than gives a reason: slug-shaped
# with a digit or with two hyphens ("kimi-users-2027"; "long-term" stays a reason)
SLUG_NAMED = re.compile(r"^(?=\S*\d|\S*-\S*-)[a-z0-9]+(?:-[a-z0-9]+)+$", re.IGNORECASE)
MAX_TEXT, MAX_CRITERIA = 300, 1500
# the /newquestion steps, in order; each answer is kept in the draft's JSON payload
STEPS = ("slug", "text_ru", "text_en", "criteria_ru", "criteria_en", "closes_at", "resolve_by")


def slug_shaped(word: str) -> bool:
    """True when a typed word has the shape of a question's slug: word characters joined by
    "-" or "_" ("kimi-users-2027", "a_b"); "seventy" is not. Never raises."""
    return SLUG_LIKE.match(word) is not None


def names_a_question(word: str) -> bool:
    """True when the lone word after a typed probability names a question rather than
    gives a reason: slug-shaped (Latin letters and digits joined by "-") with a digit or
    two hyphens ("kimi-users-2027"; "long-term" stays a reason). Never raises."""
    return SLUG_NAMED.match(word) is not None


def parse_day(text: str) -> datetime | None:
    """ "YYYY-MM-DD" (surrounding spaces ignored) as the end of that UTC day, 23:59:59, an
    aware datetime; None for anything else. Never raises."""
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return datetime.combine(value, time(23, 59, 59), tzinfo=UTC)


def check_answer(step: str, text: str, answers: dict[str, str]) -> tuple[str | None, str]:
    """Check the admin's answer to the /newquestion `step` (one of STEPS), given the
    answers so far: (the catalog key of what is wrong or None, the value to keep).

    Accepted: slug, 2..40 of a-z, 0-9 and "-", starting with a letter or digit (kept in
    lower case); texts, 1..MAX_TEXT characters; criteria, 1..MAX_CRITERIA characters;
    closes_at, a future YYYY-MM-DD; resolve_by, a YYYY-MM-DD not before closes_at. A
    date is kept as the end of that UTC day in the draft's text form (see draft_moment).
    Errors: admin.newq.bad.slug, .text, .criteria, .date, .past,
    .resolve_before_close (returned, never raised). Whether a slug is taken is the
    store's to say."""
    value = text.strip()
    if step == "slug":
        if not SLUG.match(value.lower()):
            return "admin.newq.bad.slug", value  # echoed as typed
        return None, value.lower()
    if step in ("text_ru", "text_en"):
        return (None if 0 < len(value) <= MAX_TEXT else "admin.newq.bad.text"), value
    if step in ("criteria_ru", "criteria_en"):
        return (None if 0 < len(value) <= MAX_CRITERIA else "admin.newq.bad.criteria"), value
    moment_ = parse_day(value)
    if moment_ is None:
        return "admin.newq.bad.date", value
    if step == "closes_at" and moment_ <= datetime.now(UTC):
        return "admin.newq.bad.past", value
    if step == "resolve_by" and moment_ < draft_moment(answers, "closes_at"):
        return "admin.newq.bad.resolve_before_close", value
    return None, moment_.isoformat(timespec="microseconds")


def draft_moment(answers: dict[str, str], step: str) -> datetime:
    """The date a draft keeps for `step` ("closes_at" or "resolve_by") as an aware UTC
    datetime. Raises KeyError when the draft has no such answer yet."""
    return datetime.fromisoformat(answers[step]).astimezone(UTC)


def draft_entry(
    answers: dict[str, str], *, default: bool, opened_at: datetime | None = None
) -> QuestionEntry:
    """The finished draft (every step of STEPS answered) as the question to create,
    opened at `opened_at` (aware; default now), the default question when `default`.
    Raises KeyError when a step is missing."""
    return QuestionEntry(
        slug=answers["slug"],
        text_ru=answers["text_ru"],
        text_en=answers["text_en"],
        criteria_ru=answers["criteria_ru"],
        criteria_en=answers["criteria_en"],
        opened_at=opened_at or datetime.now(UTC),
        closes_at=draft_moment(answers, "closes_at"),
        resolve_by=draft_moment(answers, "resolve_by"),
        default=default,
    )
