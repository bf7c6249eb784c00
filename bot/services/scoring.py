"""Brier scores for readers' forecasts once the question resolves.

Probabilities are integer percent; the outcome is yes (True, 1) or no (False, 0); the Brier
score is (p/100 − outcome)², a fraction in 0..1 where lower is better.

Time-averaged score (the Metaculus rule): over the scoring window [opened_at, end), where
``end`` is ``closes_at`` or the resolution time ``until`` when that is earlier, the reader's
standing forecast at each instant is scored and the scores are averaged **over the time a
forecast stood**. Time before the first forecast, and after a withdrawal until the next
forecast, is left out of the average rather than counted as some default.

All datetimes must be timezone-aware (UTC expected). Pure computation: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

# A reader's forecast history entry: (when, probability percent or None for a withdrawal).
HistoryEntry = tuple[datetime, int | None]


def brier(probability_percent: int, outcome: bool) -> float:
    """Return the Brier score (p/100 − outcome)², a fraction in 0..1 (lower is better).

    Args:
        probability_percent: the forecast probability of "yes", int percent in 0..100.
        outcome: True if the question resolved yes.

    Raises:
        ValueError: probability outside 0..100 or not an int.
    """
    if isinstance(probability_percent, bool) or not isinstance(probability_percent, int):
        raise ValueError(f"probability must be an int percent, got {probability_percent!r}")
    if not 0 <= probability_percent <= 100:
        raise ValueError(f"probability must be in 0..100, got {probability_percent}")
    return (probability_percent / 100 - (1.0 if outcome else 0.0)) ** 2


def _require_aware(moment: datetime, name: str) -> None:
    """Raise ValueError if ``moment`` is naive (no tzinfo): mixing naive and UTC is a bug."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {moment}")


def _check_history(history: Sequence[HistoryEntry]) -> None:
    """Raise ValueError for naive timestamps or timestamps that go backwards."""
    previous: datetime | None = None
    for at, _ in history:
        _require_aware(at, "history timestamp")
        if previous is not None and at < previous:
            raise ValueError(f"history must be sorted by time: {at} after {previous}")
        previous = at


def _standing_segments(
    history: Sequence[HistoryEntry], start: datetime, end: datetime
) -> Iterable[tuple[float, int]]:
    """Yield (seconds, probability) for each stretch of [start, end) with a standing forecast.

    Each entry stands from its timestamp until the next entry's; entries with equal
    timestamps make the earlier ones stand for zero time, so the last one wins.
    """
    for index, (at, probability) in enumerate(history):
        next_at = history[index + 1][0] if index + 1 < len(history) else end
        begin, finish = max(at, start), min(next_at, end)
        if probability is not None and finish > begin:
            yield (finish - begin).total_seconds(), probability


def time_averaged_brier(
    history: Sequence[HistoryEntry],
    opened_at: datetime,
    closes_at: datetime,
    outcome: bool,
    until: datetime | None = None,
) -> float | None:
    """Return the Brier score averaged over the time the reader's forecast stood, or None.

    The window is [opened_at, end) with end = min(closes_at, until). Forecasts made before
    opened_at stand from opened_at; entries at or after end are ignored. The result is
    Σ brier(p_i)·t_i / Σ t_i over the stretches i with a standing forecast (t_i in seconds),
    so uncovered time (before the first forecast, after a withdrawal) does not count.

    Example: window of 10 days, 30 % for the first 5 days then 90 %, outcome yes →
    (0.49·5 + 0.01·5) / 10 = 0.25.

    Args:
        history: the reader's successive forecasts, sorted by time: (UTC datetime,
            probability percent), or (datetime, None) for a withdrawal, meaning "no
            forecast from then on" until the next entry.
        opened_at: when the question opened (UTC).
        closes_at: when the question closes (UTC).
        outcome: True if the question resolved yes.
        until: resolution time (UTC) when the question resolved before closes_at.

    Returns:
        A fraction in 0..1, or None when no forecast stood for any time in the window.

    Raises:
        ValueError: naive datetimes, unsorted history, or probabilities outside 0..100.
    """
    _require_aware(opened_at, "opened_at")
    end = _window_end(closes_at, until)
    _check_history(history)
    segments = list(_standing_segments(history, opened_at, end))
    covered = math.fsum(seconds for seconds, _ in segments)
    if covered == 0:
        return None
    weighted = math.fsum(seconds * brier(p, outcome) for seconds, p in segments)
    return weighted / covered


@dataclass(frozen=True)
class ScoreRow:
    """One reader's scores on a resolved question.

    Attributes:
        user_id: Telegram user id.
        final_brier: Brier score (fraction 0..1) of the forecast standing at resolution, or
            None if the reader had withdrawn by then.
        time_averaged_brier: see :func:`time_averaged_brier`; None if no forecast stood in
            the window.
        final_probability: the forecast (percent) standing at the end of the window that
            the final score uses, or None if the reader had withdrawn by then.
    """

    user_id: int
    final_brier: float | None
    time_averaged_brier: float | None
    final_probability: int | None = None


def _rank_key(row: ScoreRow) -> tuple[bool, float, bool, float, int]:
    """Sort key: time-averaged, then final (None after any number), then user_id."""
    averaged, final = row.time_averaged_brier, row.final_brier
    return (
        averaged is None,
        averaged if averaged is not None else 0.0,
        final is None,
        final if final is not None else 0.0,
        row.user_id,
    )


def rank(rows: Iterable[ScoreRow]) -> list[ScoreRow]:
    """Return the rows best first: lower time-averaged Brier, then lower final Brier.

    Missing (None) scores sort after every number; remaining ties go by ascending user_id
    so the order is deterministic.
    """
    return sorted(rows, key=_rank_key)


def _window_end(closes_at: datetime, until: datetime | None) -> datetime:
    """Return min(closes_at, until) after checking both are timezone-aware."""
    _require_aware(closes_at, "closes_at")
    if until is None:
        return closes_at
    _require_aware(until, "until")
    return min(closes_at, until)


def _final_forecast(history: Sequence[HistoryEntry], end: datetime) -> int | None:
    """Return the forecast standing just before ``end`` (entries at or after it are ignored)."""
    current: int | None = None
    for moment, probability in history:
        if moment >= end:
            break
        current = probability
    return current


def score_reader(
    user_id: int,
    history: Sequence[HistoryEntry],
    opened_at: datetime,
    closes_at: datetime,
    outcome: bool,
    until: datetime | None = None,
) -> ScoreRow:
    """Return the reader's :class:`ScoreRow` for a resolved question.

    The final score uses the forecast standing just before the window end
    (min(closes_at, until)); the time-averaged score is :func:`time_averaged_brier`.
    Arguments and errors are as for :func:`time_averaged_brier`.
    """
    averaged = time_averaged_brier(history, opened_at, closes_at, outcome, until)
    final = _final_forecast(history, _window_end(closes_at, until))
    return ScoreRow(
        user_id=user_id,
        final_brier=None if final is None else brier(final, outcome),
        time_averaged_brier=averaged,
        final_probability=final,
    )
