"""The community forecast of a question: aggregates, trend and recent reasons, and its chart.

Both are reused for a short window after the forecasts change (`Freshness`), so a busy
question is not recomputed and redrawn on every write; the count of forecasters stays live.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.domain import Question, Reason
from bot.services.aggregate import (
    Aggregate,
    aggregate,
    median_by_day,
    quantile_from_histogram,
    standing_by_day,
    weighted_median_horizon,
)
from bot.services.chart import draw_png
from bot.store import Store

logger = logging.getLogger(__name__)

TREND_DAYS = 30
REASONS_SHOWN = 5


@dataclass(frozen=True)
class ResultsSnapshot:
    """Everything /results shows for one question version.

    `aggregate` is None when nobody has forecast; `trend` is (UTC day, community median %
    at the end of that day) for the days of the last TREND_DAYS on which forecasts changed;
    `reasons` newest first. `rendered` keeps the texts made from this snapshot (the texts
    layer fills it, keyed by what else they depend on); a copy made by `with_count` starts
    empty.
    """

    question_id: int
    version: int
    aggregate: Aggregate | None
    trend: list[tuple[date, float]]
    reasons: list[Reason]
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    computed_mono: float = field(default_factory=time.monotonic, compare=False)
    rendered: dict[tuple[Any, ...], Any] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @property
    def count(self) -> int:
        """How many readers have a standing forecast."""
        return self.aggregate.count if self.aggregate else 0

    def with_count(self, count: int) -> ResultsSnapshot:
        """The same figures with the live number of forecasters (the other figures may be
        up to one reuse window old)."""
        if self.aggregate is None or count == self.aggregate.count:
            return self
        if count == 0:  # everyone withdrew: nothing to show
            return replace(self, aggregate=None, reasons=[])
        return replace(self, aggregate=replace(self.aggregate, count=count))


async def compute(
    store: Store, question: Question, past_trend: PastTrend | None = None
) -> ResultsSnapshot:
    """Read the standing forecasts (histogram and the newest up to the weighting horizon,
    kept in memory by the store), the per-day changes and the recent reasons, and aggregate
    them. Cost: a few small reads, however many forecasts there are. `past_trend` reuses the
    trend's days before today (only today's point moves with new forecasts)."""
    standing = await store.forecasts.standing(question.id, weighted_median_horizon)
    total = standing.total
    today = datetime.now(UTC).date()
    if past_trend is None:
        trend = await full_trend(store, question.id, today)
    else:
        trend = await past_trend.get(store, question.id, today)
        if total and await store.forecasts.changed_on(question.id, today):
            trend.append((today, quantile_from_histogram(standing.histogram, 0.5)))
    return ResultsSnapshot(
        question_id=question.id,
        version=standing.version,
        aggregate=aggregate(standing.histogram, standing.newest, total) if total else None,
        trend=trend,
        reasons=await store.forecasts.recent_reasons(question.id, REASONS_SHOWN),
    )


async def full_trend(store: Store, question_id: int, today: date) -> list[tuple[date, float]]:
    """(day, median % at the end of that day) for the days of the last TREND_DAYS up to
    `today` on which forecasts changed, from the per-day summary."""
    since = today - timedelta(days=TREND_DAYS - 1)
    base, deltas = await store.forecasts.day_deltas(question_id, since)
    return median_by_day(standing_by_day(base, deltas))


class PastTrend:
    """The trend's days before today, per question, reused for `max_age` seconds: they
    change only when a reader's history is deleted or a forecast is back-dated."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._days: dict[int, tuple[date, float, list[tuple[date, float]]]] = {}

    async def get(self, store: Store, question_id: int, today: date) -> list[tuple[date, float]]:
        """The trend before `today` (a new list the caller may extend)."""
        cached = self._days.get(question_id)
        now = time.monotonic()
        if cached is None or cached[0] != today or now - cached[1] >= self.max_age:
            past = [(d, m) for d, m in await full_trend(store, question_id, today) if d < today]
            cached = (today, now, past)
            self._days[question_id] = cached
        return list(cached[2])


@dataclass(frozen=True)
class Freshness:
    """When a snapshot or chart of an older question version may still be shown.

    With fewer than `few` standing forecasts, never: every change shows at once, the chart
    too (it is redrawn before it is sent). Otherwise for `max_age` seconds
    (RESULTS_CACHE_SECONDS) after it was made, as long as fewer forecast writes happened
    since than `min_changes` (CHART_REDRAW_MIN_CHANGES) and than `min_share` (a fraction) of
    its forecasters; charts of such a busy question are also always reused for
    `min_interval` seconds, so however fast forecasts change, a chart is redrawn at most once
    per `min_interval` (and the one shown meanwhile is at most that much older than the
    text). `few=0` and `min_share=0` leave only `min_changes`; `max_age=0` makes every change
    visible at once.
    """

    max_age: float = 30.0
    min_changes: int = 500
    min_interval: float = 5.0
    min_share: float = 0.05
    few: int = 20

    def at_once(self, forecasters: int | None) -> bool:
        """True when a change must show at once for a question with `forecasters` standing
        forecasts (None: not known, False)."""
        return self.max_age <= 0 or (forecasters is not None and forecasters < self.few)

    def reusable(
        self,
        made_version: int,
        made_at: float,
        version: int,
        now: float,
        forecasters: int | None = None,
        *,
        throttle: bool = True,
    ) -> bool:
        """True when something made at `made_version`, monotonic time `made_at`, may still
        stand for `version` at monotonic time `now` on a question with `forecasters`
        standing forecasts (None: not known); `throttle` applies `min_interval`."""
        if made_version == version:
            return True
        if self.at_once(forecasters):
            return False
        age = now - made_at
        if age >= self.max_age:
            return False
        limit = self.min_changes
        if forecasters is not None and self.min_share > 0:
            limit = min(limit, max(1, int(self.min_share * forecasters)))
        return version - made_version < limit or (throttle and age < self.min_interval)


class ResultsCache:
    """Snapshots by question id. A snapshot of an older version is reused while `freshness`
    allows it, with the live count of forecasters; otherwise it is recomputed."""

    def __init__(self, freshness: Freshness | None = None) -> None:
        self.freshness = freshness or Freshness()
        self._snapshots: dict[int, ResultsSnapshot] = {}
        self._past = PastTrend(self.freshness.max_age) if self.freshness.max_age > 0 else None

    async def get(self, store: Store, question: Question) -> ResultsSnapshot:
        """The snapshot for the question's current version, or a reusable older one."""
        cached = self._snapshots.get(question.id)
        if cached is not None and cached.version != question.version:
            made = (cached.version, cached.computed_mono, question.version, time.monotonic())
            if self.freshness.reusable(*made, cached.count, throttle=False):
                live = await store.forecasts.count(question.id)
                if cached.aggregate is not None or live == 0:  # not for the first forecasts
                    return cached.with_count(live)
            cached = None
        if cached is None:
            cached = await compute(store, question, self._past)
            self._snapshots[question.id] = cached
        return cached


@dataclass(frozen=True)
class Chart:
    """A drawn chart: the question version it shows, the photo (PNG bytes until Telegram
    gave it a file_id, then the file_id), and when it was drawn (monotonic seconds)."""

    version: int
    photo: str | bytes
    drawn_at: float


Draw = Callable[[], bytes]
Spawn = Callable[[Coroutine[Any, Any, None]], object]
Clock = Callable[[], float]


class ChartCache:
    """Charts by (question id, language), redrawn off the event loop.

    `get` returns the chart to send: the cached one while `freshness` allows it (on a busy
    question a stale one too, while a single background task per question and language
    draws its successor), else a fresh drawing (the first one, or every change of a
    question with few forecasters). `draw` runs off the event loop (chart.draw_png: the
    chart worker process, or a thread); `clock` gives monotonic seconds (tests pass their
    own).
    """

    def __init__(self, freshness: Freshness | None = None, clock: Clock = time.monotonic) -> None:
        self.freshness = freshness or Freshness()
        self.clock = clock
        self._charts: dict[tuple[int, str], Chart] = {}
        self._drawing: dict[tuple[int, str], asyncio.Future[Chart]] = {}
        self.drawn = 0  # how many charts were drawn (for tests and the benchmark)

    async def get(
        self,
        key: tuple[int, str],
        version: int,
        draw: Draw,
        spawn: Spawn,
        forecasters: int | None = None,
    ) -> Chart:
        """The chart to send for question version `version`, which has `forecasters`
        standing forecasts (None: not known).

        `spawn` starts a background coroutine (the application's task runner, so that it
        is awaited at shutdown). Raises what `draw` raises when the chart had to be drawn
        before it is sent.
        """
        cached = self._charts.get(key)
        fresh = self.freshness
        at_once = fresh.at_once(forecasters)
        if cached is not None:
            if fresh.reusable(cached.version, cached.drawn_at, version, self.clock(), forecasters):
                return cached
            if not at_once:
                self._redraw(key, version, draw, spawn)
                return cached  # its successor is on the way
        while True:  # the drawing under way, else a new one; every change shows: ours or newer
            chart = await asyncio.shield(self._redraw(key, version, draw, spawn))
            if chart.version >= version or not at_once:
                return chart

    def _redraw(
        self, key: tuple[int, str], version: int, draw: Draw, spawn: Spawn
    ) -> asyncio.Future[Chart]:
        pending = self._drawing.get(key)
        if pending is not None:
            return pending
        future: asyncio.Future[Chart] = asyncio.get_running_loop().create_future()
        self._drawing[key] = future

        async def run() -> None:
            try:
                png = await draw_png(draw)
            except asyncio.CancelledError:
                future.cancel()
                raise
            except Exception as exc:
                logger.exception("Cannot draw the chart of question %s (%s)", *key)
                future.set_exception(exc)
                future.exception()  # logged here; a waiting /results gets it too
            else:
                self.drawn += 1
                chart = Chart(version, png, self.clock())
                self._charts[key] = chart
                future.set_result(chart)
            finally:
                self._drawing.pop(key, None)

        spawn(run())
        return future

    async def idle(self) -> None:
        """Wait until no chart is being drawn (tests, shutdown)."""
        while self._drawing:
            await asyncio.wait(list(self._drawing.values()))

    def uploaded(self, key: tuple[int, str], chart: Chart, file_id: str) -> None:
        """Remember Telegram's file_id for `chart` (sent as bytes), unless a newer chart
        was drawn meanwhile."""
        if self._charts.get(key) is chart:
            self._charts[key] = replace(chart, photo=file_id)

    def forget(self, key: tuple[int, str], chart: Chart) -> None:
        """Drop `chart` (e.g. Telegram refused its file_id), unless a newer one replaced it."""
        if self._charts.get(key) is chart:
            del self._charts[key]
