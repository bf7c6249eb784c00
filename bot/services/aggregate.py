"""Community prediction from readers' integer percent forecasts (1..99).

Everything here works on summaries the store can compute cheaply for a million forecasts:

* a histogram ``dict[int, int]`` mapping a probability in percent (1..99) to how many
  current (non-withdrawn) forecasts have it — a SQL ``GROUP BY``;
* the probabilities of the most recent current forecasts, **newest first**, as an iterable,
  together with the total count N — only the first :func:`weighted_median_horizon` (N) of
  them are ever read, so the store can ``LIMIT`` its query.

Definitions used throughout:

* Quantiles use linear interpolation between order statistics, numpy's default
  ``method="linear"``: with the N values sorted ascending as x[0] <= ... <= x[N-1],
  h = (N - 1) * q, and Q(q) = x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]).
  The median is Q(0.5), q1 is Q(0.25), q3 is Q(0.75).
* The recency-weighted median follows Metaculus: ordering the N current forecasts from
  oldest (n = 1) to newest (n = N), the n-th has weight e^(√n − √N); see
  :func:`weighted_median` for the tie rule.

Pure computation: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import islice

MIN_PERCENT = 1
MAX_PERCENT = 99
BUCKET_COUNT = 10
# Older forecasts are dropped once their total weight is provably below this fraction of the
# weight already read; 1e-9 is far below any difference a percent-resolution median can show.
TAIL_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Aggregate:
    """Summary of the current forecasts on one question.

    Attributes:
        count: number of current (non-withdrawn) forecasts, >= 1.
        median: plain median, percent (float, may end in .5 or other fractions).
        weighted_median: Metaculus recency-weighted median, percent; always one of the
            submitted integer values (no interpolation), returned as float.
        mean: arithmetic mean, percent.
        q1: 25th percentile, percent (linear interpolation, see module docstring).
        q3: 75th percentile, percent; the interquartile range is ``q3 - q1``.
        buckets: 10 counts; bucket i (0-based) holds probabilities 10*i+1 .. 10*i+10 percent
            inclusive, i.e. 1-10, 11-20, ..., 81-90, and the last one 91-99.
    """

    count: int
    median: float
    weighted_median: float
    mean: float
    q1: float
    q3: float
    buckets: tuple[int, ...]

    @property
    def iqr(self) -> float:
        """Interquartile range ``q3 - q1`` in percentage points."""
        return self.q3 - self.q1


def _check_percent(value: int) -> None:
    """Raise ValueError unless ``value`` is an int percent in 1..99."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"probability must be an int percent, got {value!r}")
    if not MIN_PERCENT <= value <= MAX_PERCENT:
        raise ValueError(f"probability must be in {MIN_PERCENT}..{MAX_PERCENT}, got {value}")


def _sorted_counts(hist: Mapping[int, int]) -> list[tuple[int, int]]:
    """Validate a histogram and return its (percent, count) pairs with count > 0, ascending.

    Raises:
        ValueError: a key outside 1..99, a non-int key or a negative/non-int count.
    """
    pairs = []
    for value, count in hist.items():
        _check_percent(value)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count for {value} % must be a non-negative int, got {count!r}")
        if count:
            pairs.append((value, count))
    pairs.sort()
    return pairs


def _histogram_total(pairs: list[tuple[int, int]]) -> int:
    """Return the number of forecasts in validated ``pairs``; ValueError when zero."""
    total = sum(count for _, count in pairs)
    if total == 0:
        raise ValueError("histogram holds no forecasts")
    return total


def _order_statistic(pairs: list[tuple[int, int]], index: int) -> int:
    """Return x[index] (0-based) of the sorted sample described by ascending ``pairs``."""
    seen = 0
    for value, count in pairs:
        seen += count
        if index < seen:
            return value
    raise IndexError(index)  # callers pass index < total, so this is a programming error


def quantile_from_histogram(hist: Mapping[int, int], q: float) -> float:
    """Return the q-quantile of the forecasts in ``hist``, in percent.

    Linear interpolation between order statistics (numpy's default): h = (N − 1)·q and
    Q = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). E.g. for [10, 20, 30, 40]: Q(0.25) = 17.5,
    Q(0.5) = 25, Q(0.75) = 32.5.

    Args:
        hist: percent (1..99) -> count of forecasts.
        q: quantile as a fraction in [0, 1] (0.5 is the median).

    Raises:
        ValueError: q outside [0, 1], an invalid histogram, or no forecasts at all.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be within [0, 1], got {q}")
    pairs = _sorted_counts(hist)
    h = (_histogram_total(pairs) - 1) * q
    low = math.floor(h)
    low_value = _order_statistic(pairs, low)
    fraction = h - low
    if fraction == 0:
        return float(low_value)
    high_value = _order_statistic(pairs, low + 1)
    return low_value + fraction * (high_value - low_value)


def mean_from_histogram(hist: Mapping[int, int]) -> float:
    """Return the arithmetic mean of the forecasts in ``hist``, in percent.

    Raises:
        ValueError: an invalid histogram or no forecasts at all.
    """
    pairs = _sorted_counts(hist)
    return sum(value * count for value, count in pairs) / _histogram_total(pairs)


def bucket_index(probability: int) -> int:
    """Return the 0-based bucket of a percent: 1-10 -> 0, 11-20 -> 1, ..., 91-99 -> 9.

    Raises:
        ValueError: probability is not an int in 1..99.
    """
    _check_percent(probability)
    return (probability - 1) // 10


def buckets_from_histogram(hist: Mapping[int, int]) -> tuple[int, ...]:
    """Return 10 counts of forecasts: 1-10, 11-20, ..., 81-90, 91-99 percent (inclusive).

    An empty histogram gives ten zeros.

    Raises:
        ValueError: an invalid histogram.
    """
    counts = [0] * BUCKET_COUNT
    for value, count in _sorted_counts(hist):
        counts[bucket_index(value)] += count
    return tuple(counts)


def _recency_weight(n: int, total: int) -> float:
    """Return e^(√n − √N): the weight of the n-th oldest of N forecasts (n = N weighs 1)."""
    return math.exp(math.sqrt(n) - math.sqrt(total))


@lru_cache(maxsize=256)
def weighted_median_horizon(total: int) -> int:
    """Return how many of the newest forecasts :func:`weighted_median` reads at most.

    After reading the k newest forecasts (n = N, N−1, ..., N−k+1), the N−k older ones each
    weigh at most e^(√(N−k) − √N), so together at most B(k) = (N−k)·e^(√(N−k) − √N). The
    horizon is the smallest k with B(k) < 1e-9 × (weight of the k read), and never more than
    N. It depends only on N, so the store can ``LIMIT`` its query to it. For N = 1,000,000
    it is about 53,000; for small N (below about 1,000) it is N itself.

    Args:
        total: N, the number of current forecasts (>= 0).

    Raises:
        ValueError: total is negative.
    """
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    if total >= 4 * VECTOR_FROM:
        return _horizon_vector(total)
    # the weight of the k-th newest, _recency_weight(total - k + 1, total), is the previous
    # step's weight of `older`: one exp per step, the same floats
    root, exp, sqrt = math.sqrt(total), math.exp, math.sqrt
    seen, weight = 0.0, 1.0  # the newest weighs e^0
    for k in range(1, total + 1):
        seen += weight
        older = total - k
        weight = exp(sqrt(older) - root)
        if older * weight < TAIL_TOLERANCE * seen:
            return k
    return total


def _horizon_vector(total: int) -> int:
    """`weighted_median_horizon` with numpy, for large N (about 3 ms instead of 40 ms at a
    million): the same criterion over growing spans of the newest forecasts."""
    import numpy as np

    root = math.sqrt(total)
    span = min(total, VECTOR_FROM)
    while True:
        k = np.arange(1, span + 1, dtype=np.float64)
        seen = np.cumsum(np.exp(np.sqrt(total - k + 1) - root))
        older = total - k
        bound = older * np.exp(np.sqrt(older) - root)
        hits = np.flatnonzero(bound < TAIL_TOLERANCE * seen)
        if hits.size:
            return int(hits[0]) + 1
        if span == total:
            return total
        span = min(total, span * 4)


def _weights_by_value(newest_first: Iterable[int], total: int) -> dict[int, float]:
    """Sum the recency weights per percent value over the horizon's newest forecasts.

    Raises:
        ValueError: an invalid probability, or fewer items than the horizon needs.
    """
    needed = weighted_median_horizon(total)
    values = list(islice(newest_first, needed))
    for value in set(values):  # at most 99 distinct valid values
        _check_percent(value)
    if len(values) < needed:
        raise ValueError(f"expected at least {needed} forecasts for N={total}, got {len(values)}")
    # the n-th oldest weighs _recency_weight(n, total), computed the same way inline
    by_value: dict[int, float] = {}
    root, exp, sqrt = math.sqrt(total), math.exp, math.sqrt
    for n, value in zip(range(total, total - needed, -1), values, strict=True):
        by_value[value] = by_value.get(value, 0.0) + exp(sqrt(n) - root)
    return by_value


# From this many forecasts on, the weights are summed with numpy (imported then): about
# 2 ms for the 53,000 newest of a million forecasts instead of about 35 ms in Python.
VECTOR_FROM = 4096


def _weights_by_value_vector(newest_first: Iterable[int], total: int) -> dict[int, float]:
    """`_weights_by_value` with numpy: the same weights, summed per value in the same
    (newest-first) order. Raises ValueError like it."""
    import numpy as np

    needed = weighted_median_horizon(total)
    if isinstance(newest_first, list):
        values = np.array(newest_first[:needed], dtype=np.int64)
    else:
        values = np.fromiter(islice(newest_first, needed), dtype=np.int64)
    if len(values) < needed:
        raise ValueError(f"expected at least {needed} forecasts for N={total}, got {len(values)}")
    if values.min() < MIN_PERCENT or values.max() > MAX_PERCENT:
        bad = values[(values < MIN_PERCENT) | (values > MAX_PERCENT)][0]
        raise ValueError(f"probability must be in {MIN_PERCENT}..{MAX_PERCENT}, got {bad}")
    positions = np.arange(total, total - needed, -1, dtype=np.float64)
    weights = np.exp(np.sqrt(positions) - math.sqrt(total))
    sums = np.bincount(values, weights=weights, minlength=MAX_PERCENT + 1)
    present = np.flatnonzero(np.bincount(values, minlength=MAX_PERCENT + 1))
    return {int(v): float(sums[v]) for v in present}


def weighted_median(newest_first: Iterable[int], total: int) -> float:
    """Return the Metaculus recency-weighted median, in percent.

    The N current forecasts, oldest n = 1 to newest n = N, weigh e^(√n − √N). The result is
    the smallest submitted value v whose cumulative weight (all forecasts <= v) reaches at
    least half the total weight. No interpolation: when the cumulative weight equals exactly
    half at v, v is returned (the lower weighted median), so the result is always one of the
    submitted integers.

    Only the first :func:`weighted_median_horizon` (N) items of ``newest_first`` are consumed;
    older forecasts weigh less than 1e-9 of those read in total, so they can change the result
    only if a cumulative weight lies within that margin of one half.

    Args:
        newest_first: probabilities in percent (1..99) of the current forecasts, newest first.
        total: N, the number of current forecasts.

    Raises:
        ValueError: total < 1, an invalid probability, or the iterable ends before the
            horizon.
    """
    if total < 1:
        raise ValueError("weighted median of no forecasts")
    if weighted_median_horizon(total) >= VECTOR_FROM:
        by_value = _weights_by_value_vector(newest_first, total)
    else:
        by_value = _weights_by_value(newest_first, total)
    ordered = sorted(by_value.items())
    # Summing in the same order as the cumulative walk makes the last cumulative equal the
    # total exactly, so the loop always returns.
    half = sum(weight for _, weight in ordered) / 2
    cumulative = 0.0
    for value, weight in ordered:
        cumulative += weight
        if cumulative >= half:
            return float(value)
    return float(ordered[-1][0])


def aggregate(
    hist: Mapping[int, int], newest_first: Iterable[int], total: int
) -> Aggregate | None:
    """Return the community summary, or None when there are no forecasts.

    Args:
        hist: percent (1..99) -> count of current forecasts.
        newest_first: the current forecasts' probabilities in percent, newest first (only the
            first ``weighted_median_horizon(total)`` are read).
        total: N, the number of current forecasts; must equal the histogram's total.

    Raises:
        ValueError: invalid inputs, or ``total`` disagrees with the histogram.
    """
    pairs = _sorted_counts(hist)
    counted = sum(count for _, count in pairs)
    if counted != total:
        raise ValueError(f"histogram holds {counted} forecasts but total is {total}")
    if total == 0:
        return None
    return Aggregate(
        count=total,
        median=quantile_from_histogram(hist, 0.5),
        weighted_median=weighted_median(newest_first, total),
        mean=mean_from_histogram(hist),
        q1=quantile_from_histogram(hist, 0.25),
        q3=quantile_from_histogram(hist, 0.75),
        buckets=buckets_from_histogram(hist),
    )


def standing_by_day(
    base: Mapping[int, int], deltas: Mapping[date, Mapping[int, int]]
) -> dict[date, dict[int, int]]:
    """The standing histogram at the end of each day that has changes.

    Args:
        base: percent -> count of the forecasts standing before the first day.
        deltas: day -> percent -> net change that day (+1 a reader moved to it, -1 left it).

    Returns day -> percent -> count (zero counts dropped), in day order.
    """
    standing = {p: n for p, n in base.items() if n}
    result: dict[date, dict[int, int]] = {}
    for day in sorted(deltas):
        for p, n in deltas[day].items():
            standing[p] = standing.get(p, 0) + n
            if not standing[p]:
                del standing[p]
        result[day] = dict(standing)
    return result


def median_by_day(day_hist: Mapping[date, Mapping[int, int]]) -> list[tuple[date, float]]:
    """Return (day, median percent of that day's histogram), sorted by day.

    Days whose histogram holds no forecasts are left out rather than given a fake median.

    Args:
        day_hist: day (UTC calendar day, as the store groups them) -> percent -> count.

    Raises:
        ValueError: an invalid histogram.
    """
    trend = []
    for day in sorted(day_hist):
        pairs = _sorted_counts(day_hist[day])
        if pairs:
            trend.append((day, quantile_from_histogram(day_hist[day], 0.5)))
    return trend
