"""The community forecast of a question: aggregates, trend and recent reasons, cached per
question version so that /results stays fast at a million forecasts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from bot.services.aggregate import (
    Aggregate,
    aggregate,
    median_by_day,
    standing_by_day,
    weighted_median_horizon,
)
from bot.store import Store
from bot.store.forecasts import Question, Reason

TREND_DAYS = 30
REASONS_SHOWN = 5


@dataclass(frozen=True)
class ResultsSnapshot:
    """Everything /results shows for one question version.

    `aggregate` is None when nobody has forecast; `trend` is (UTC day, community median %
    at the end of that day) for the days of the last TREND_DAYS on which forecasts changed;
    `reasons` newest first.
    """

    question_id: int
    version: int
    aggregate: Aggregate | None
    trend: list[tuple[date, float]]
    reasons: list[Reason]
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def count(self) -> int:
        """How many readers have a standing forecast."""
        return self.aggregate.count if self.aggregate else 0


async def compute(store: Store, question: Question) -> ResultsSnapshot:
    """Read the store's summaries (histogram, newest forecasts up to the weighting horizon,
    per-day changes) and aggregate them. Cost: small summary reads and one bounded scan."""
    hist = await store.forecasts.histogram(question.id)
    total = sum(hist.values())
    newest = await store.forecasts.newest(question.id, weighted_median_horizon(total))
    since = datetime.now(UTC).date() - timedelta(days=TREND_DAYS - 1)
    base, deltas = await store.forecasts.day_deltas(question.id, since)
    return ResultsSnapshot(
        question_id=question.id,
        version=question.version,
        aggregate=aggregate(hist, newest, total) if total else None,
        trend=median_by_day(standing_by_day(base, deltas)),
        reasons=await store.forecasts.recent_reasons(question.id, REASONS_SHOWN),
    )


class ResultsCache:
    """Snapshots by question id, recomputed only when the question's version changed
    (every forecast write bumps it)."""

    def __init__(self) -> None:
        self._snapshots: dict[int, ResultsSnapshot] = {}

    async def get(self, store: Store, question: Question) -> ResultsSnapshot:
        """The snapshot for the question's current version."""
        cached = self._snapshots.get(question.id)
        if cached is None or cached.version != question.version:
            cached = await compute(store, question)
            self._snapshots[question.id] = cached
        return cached
