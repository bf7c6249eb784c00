"""Resolving a question: reading an admin's `/resolve` words, scoring every forecaster
(Brier scores from services.scoring) and the resolve step itself (stored atomically with the
scores, then the one notification point). No Telegram here."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable
from datetime import UTC, datetime

from bot.domain import Outcome, Question, Score
from bot.services.notify import ServiceContext, question_changed
from bot.services.scoring import HistoryEntry, score_reader
from bot.store import Store
from bot.store.admin import ScoredReader

# the words an admin may type for an outcome -> the stored resolution
OUTCOMES: dict[str, Outcome] = {
    "yes": "yes",
    "no": "no",
    "annulled": "annulled",
    "annul": "annulled",
}
LINK = re.compile(r"^https?://[^\s/]+\.\S+$", re.IGNORECASE)
MAX_NOTE_CHARS = 500


def parse_outcome(word: str) -> Outcome | None:
    """The resolution ("yes", "no" or "annulled") an admin's word names, case-insensitive
    ("annul" is "annulled"); None for any other word."""
    return OUTCOMES.get(word.lower())


def link_and_note(text: str) -> tuple[str | None, str | None]:
    """The optional link and note of `/resolve <slug> <outcome> [link] [note]` (the whole
    command text): a first word starting with http:// or https:// (and a dotted host) is
    the link, the rest the note, cut to MAX_NOTE_CHARS characters. (None, None) when the
    command has neither; never raises."""
    rest = text.split(maxsplit=3)[3:]
    words = rest[0].split(maxsplit=1) if rest else []
    link = words.pop(0) if words and LINK.match(words[0]) else None
    note = " ".join(words).strip()[:MAX_NOTE_CHARS] if words else ""
    return link, note or None


async def score_histories(
    histories: AsyncIterable[tuple[int, list[tuple[datetime, str, int | None]]]],
    question: Question,
    outcome: bool,
    resolved_at: datetime,
) -> list[Score]:
    """The scores of every forecaster, from their histories as AdminRepo.histories streams
    them ((user_id, [(aware UTC datetime, action, new probability %), ...] oldest first)):
    services.scoring.score_reader over the window [opened_at, min(closes_at, resolved_at)),
    a "withdraw" entry meaning no forecast from then on. `outcome` is True for yes.
    Raises ValueError for a naive `resolved_at` (see services.scoring)."""
    scores = []
    async for user_id, entries in histories:
        history: list[HistoryEntry] = [
            (at, None if action == "withdraw" else p) for at, action, p in entries
        ]
        row = score_reader(
            user_id, history, question.opened_at, question.closes_at, outcome, until=resolved_at
        )
        scores.append(
            Score(
                question.id,
                user_id,
                row.final_probability,
                row.final_brier,
                row.time_averaged_brier,
                resolved_at,
            )
        )
    return scores


async def resolve_question(
    context: ServiceContext,
    question: Question,
    outcome: str,
    *,
    link: str | None = None,
    note: str | None = None,
    resolved_at: datetime | None = None,
) -> list[Score] | None:
    """Resolve `question` as `outcome` ("yes", "no" or "annulled") at `resolved_at` (aware,
    default now): every forecaster scored (none for "annulled"), the resolution and the
    scores stored in one transaction, then services.notify.question_changed.

    Returns the stored scores, or None when the question was resolved meanwhile (nothing
    changes then). Raises ValueError for another outcome.
    """
    store = context.store
    at = resolved_at or datetime.now(UTC)
    scores: list[Score] = []
    if outcome != "annulled":
        scores = await score_histories(
            store.admin.histories(question.id), question, outcome == "yes", at
        )
    if not await store.admin.resolve(question.id, outcome, scores, at=at, link=link, note=note):
        return None
    await question_changed(context, question.id)
    return scores


def has_score(entry: ScoredReader) -> bool:
    """True when the reader had a forecast standing in the scoring window."""
    return entry.score.averaged_brier is not None or entry.score.final_brier is not None


async def scored_readers(store: Store, question_id: int) -> list[ScoredReader]:
    """The stored scores of a resolved question, best time-averaged Brier first, of the
    readers who had a forecast standing in the scoring window (the leaderboard and the
    score messages rank these)."""
    return [e for e in await store.admin.scores(question_id) if has_score(e)]
