"""Tests for bot.services.aggregate: quantiles, buckets, recency-weighted median."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator
from datetime import date

import pytest

from bot.services.aggregate import (
    Aggregate,
    aggregate,
    bucket_index,
    buckets_from_histogram,
    mean_from_histogram,
    median_by_day,
    quantile_from_histogram,
    standing_by_day,
    weighted_median,
    weighted_median_horizon,
)

FOUR = {10: 1, 20: 1, 30: 1, 40: 1}


def test_four_values_quantiles_by_linear_interpolation() -> None:
    # sorted x = [10, 20, 30, 40], h = 3q
    assert quantile_from_histogram(FOUR, 0.5) == 25.0  # h = 1.5: 20 + 0.5·10
    assert quantile_from_histogram(FOUR, 0.25) == 17.5  # h = 0.75: 10 + 0.75·10
    assert quantile_from_histogram(FOUR, 0.75) == 32.5  # h = 2.25: 30 + 0.25·10
    assert quantile_from_histogram(FOUR, 0.0) == 10.0
    assert quantile_from_histogram(FOUR, 1.0) == 40.0


def test_repeated_values_in_histogram() -> None:
    hist = {50: 3, 60: 1}  # x = [50, 50, 50, 60]
    assert quantile_from_histogram(hist, 0.25) == 50.0  # h = 0.75 between 50 and 50
    assert quantile_from_histogram(hist, 0.5) == 50.0  # h = 1.5 between 50 and 50
    assert quantile_from_histogram(hist, 0.75) == 52.5  # h = 2.25: 50 + 0.25·10
    assert mean_from_histogram(hist) == 52.5  # 210 / 4


def test_odd_count() -> None:
    hist = {10: 1, 20: 1, 90: 1}  # h = 2q
    assert quantile_from_histogram(hist, 0.5) == 20.0
    assert quantile_from_histogram(hist, 0.25) == 15.0  # h = 0.5
    assert quantile_from_histogram(hist, 0.75) == 55.0  # h = 1.5: 20 + 0.5·70
    assert mean_from_histogram(hist) == 40.0


def test_zero_counts_are_ignored() -> None:
    assert quantile_from_histogram({5: 0, 10: 1, 20: 1, 99: 0}, 0.5) == 15.0


def test_mean_and_buckets_of_four() -> None:
    assert mean_from_histogram(FOUR) == 25.0
    assert buckets_from_histogram(FOUR) == (1, 1, 1, 1, 0, 0, 0, 0, 0, 0)


def test_edge_buckets() -> None:
    assert buckets_from_histogram({1: 1, 10: 2, 11: 3, 90: 4, 91: 5, 99: 6}) == (
        3,  # 1-10: 1 + 2
        3,  # 11-20
        0,
        0,
        0,
        0,
        0,
        0,
        4,  # 81-90
        11,  # 91-99: 5 + 6
    )
    assert [bucket_index(p) for p in (1, 10, 11, 20, 21, 90, 91, 99)] == [0, 0, 1, 1, 2, 8, 9, 9]


def test_empty_histogram_buckets_are_zero() -> None:
    assert buckets_from_histogram({}) == (0,) * 10


@pytest.mark.parametrize("hist", [{}, {50: 0}])
def test_empty_histogram_has_no_quantile_or_mean(hist: dict[int, int]) -> None:
    with pytest.raises(ValueError, match="no forecasts"):
        quantile_from_histogram(hist, 0.5)
    with pytest.raises(ValueError, match="no forecasts"):
        mean_from_histogram(hist)


@pytest.mark.parametrize("hist", [{0: 1}, {100: 1}, {50: -1}, {50: 1.5}, {True: 1}])
def test_invalid_histogram(hist: dict[int, int]) -> None:
    with pytest.raises(ValueError):
        buckets_from_histogram(hist)


@pytest.mark.parametrize("q", [-0.1, 1.01])
def test_quantile_outside_unit_interval(q: float) -> None:
    with pytest.raises(ValueError, match="q must be"):
        quantile_from_histogram(FOUR, q)


@pytest.mark.parametrize("value", [0, 100, -3])
def test_bucket_index_out_of_range(value: int) -> None:
    with pytest.raises(ValueError):
        bucket_index(value)


def test_quantiles_agree_with_numpy_linear() -> None:
    np = pytest.importorskip("numpy")
    rng = random.Random(7)
    for _ in range(50):
        values = [rng.randint(1, 99) for _ in range(rng.randint(1, 40))]
        hist = dict(Counter(values))
        for q in (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0):
            expected = float(np.quantile(values, q, method="linear"))
            assert quantile_from_histogram(hist, q) == pytest.approx(expected)


# Weights for N = 4, oldest n = 1 .. newest n = 4, w_n = e^(√n − 2):
# w1 = e^-1 = 0.3679, w2 = e^-0.5858 = 0.5567, w3 = e^-0.2679 = 0.7649, w4 = 1; total 2.6895.
def test_weighted_median_four_newest_is_largest() -> None:
    # newest first [40, 30, 20, 10]: 40 has w4, 30 w3, 20 w2, 10 w1; half = 1.3447
    # cumulative by value: 10 → 0.3679, 20 → 0.9246, 30 → 1.6895 >= 1.3447
    assert weighted_median([40, 30, 20, 10], 4) == 30.0


def test_weighted_median_four_newest_is_smallest() -> None:
    # newest first [10, 20, 30, 40]: 10 has w4 = 1 < 1.3447; 20 adds w3 → 1.7649 >= 1.3447
    assert weighted_median([10, 20, 30, 40], 4) == 20.0


def test_weighted_median_follows_recent_forecasts() -> None:
    # N = 5, w_n = e^(√n − √5): w1 0.2905, w2 0.4396, w3 0.6041, w4 0.7897, w5 1; half 1.5620
    # newest first [90, 80, 10, 20, 30] → 90:w5, 80:w4, 10:w3, 20:w2, 30:w1
    # cumulative: 10 → 0.6041, 20 → 1.0437, 30 → 1.3342, 80 → 2.1240 >= 1.5620
    assert weighted_median([90, 80, 10, 20, 30], 5) == 80.0
    assert quantile_from_histogram({10: 1, 20: 1, 30: 1, 80: 1, 90: 1}, 0.5) == 30.0


def test_weighted_median_single_and_equal() -> None:
    assert weighted_median([42], 1) == 42.0
    assert weighted_median([55] * 7, 7) == 55.0


def test_weighted_median_rejects_short_iterator_and_no_forecasts() -> None:
    with pytest.raises(ValueError, match="expected at least 3"):
        weighted_median([50], 3)
    with pytest.raises(ValueError, match="no forecasts"):
        weighted_median([], 0)


def test_weighted_median_rejects_invalid_probability() -> None:
    with pytest.raises(ValueError):
        weighted_median([50, 100], 2)


def test_horizon_small_n_reads_everything() -> None:
    assert [weighted_median_horizon(n) for n in (0, 1, 2, 10, 100)] == [0, 1, 2, 10, 100]


def _tail_bound_and_seen(total: int, k: int) -> tuple[float, float]:
    """Independent restatement of the stopping rule from the docstring."""
    root = math.sqrt(total)
    seen = math.fsum(math.exp(math.sqrt(total - j) - root) for j in range(k))
    older = total - k
    return older * math.exp(math.sqrt(older) - root), seen


def test_horizon_for_a_million_is_far_below_n() -> None:
    total = 1_000_000
    horizon = weighted_median_horizon(total)
    # By hand: the read weight is ≈ ∫ e^(√(N−j) − √N) dj ≈ 2√N = 2000, so stop once
    # (N−k)·e^(−d) < 2e-6 with d = √N − √(N−k); N−k ≈ 9.5e5 gives e^(−d) < 2.1e-12, d > 26.9,
    # N−k < 973.1² ≈ 946,900, k ≈ 53,100.
    assert 52_000 < horizon < 54_000
    bound, seen = _tail_bound_and_seen(total, horizon)
    assert bound < 1e-9 * seen
    bound, seen = _tail_bound_and_seen(total, horizon - 1)
    assert bound >= 1e-9 * seen


def test_horizon_is_the_first_k_where_the_tail_is_negligible_for_mid_sized_n() -> None:
    # the range the bot computes on every forecast commit (1,000 to 16,000 forecasters)
    for total in (1_000, 2_345, 6_000, 9_999, 16_000):
        horizon = weighted_median_horizon(total)
        bound, seen = _tail_bound_and_seen(total, horizon)
        assert bound < 1e-9 * seen
        bound, seen = _tail_bound_and_seen(total, horizon - 1)
        assert bound >= 1e-9 * seen


def _brute_force_weighted_median(oldest_first: list[int]) -> float:
    total = len(oldest_first)
    weights = [math.exp(math.sqrt(n) - math.sqrt(total)) for n in range(1, total + 1)]
    pairs = sorted(zip(oldest_first, weights, strict=True))
    half = math.fsum(weights) / 2
    cumulative = 0.0
    for value, weight in pairs:
        cumulative += weight
        if cumulative >= half:
            return float(value)
    raise AssertionError("unreachable")


class _CountingIterator:
    """Yields the values and counts how many were consumed."""

    def __init__(self, values: list[int]) -> None:
        self.values = values
        self.consumed = 0

    def __iter__(self) -> Iterator[int]:
        for value in self.values:
            self.consumed += 1
            yield value


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_truncated_weighted_median_equals_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    total = 5000
    # Drifting opinion so that old and new forecasts differ and recency matters.
    oldest_first = [
        min(99, max(1, round(rng.gauss(30 + 40 * i / total, 15)))) for i in range(total)
    ]
    newest_first = _CountingIterator(oldest_first[::-1])
    result = weighted_median(newest_first, total)
    assert result == _brute_force_weighted_median(oldest_first)
    assert newest_first.consumed == weighted_median_horizon(total) < total


def test_aggregate_four() -> None:
    assert aggregate(FOUR, [40, 30, 20, 10], 4) == Aggregate(
        count=4,
        median=25.0,
        weighted_median=30.0,
        mean=25.0,
        q1=17.5,
        q3=32.5,
        buckets=(1, 1, 1, 1, 0, 0, 0, 0, 0, 0),
    )


def test_aggregate_iqr() -> None:
    result = aggregate(FOUR, [40, 30, 20, 10], 4)
    assert result is not None
    assert result.iqr == 15.0


def test_aggregate_single_forecast() -> None:
    assert aggregate({1: 1}, [1], 1) == Aggregate(
        count=1,
        median=1.0,
        weighted_median=1.0,
        mean=1.0,
        q1=1.0,
        q3=1.0,
        buckets=(1, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    )


def test_aggregate_all_equal() -> None:
    assert aggregate({99: 3}, [99, 99, 99], 3) == Aggregate(
        count=3,
        median=99.0,
        weighted_median=99.0,
        mean=99.0,
        q1=99.0,
        q3=99.0,
        buckets=(0, 0, 0, 0, 0, 0, 0, 0, 0, 3),
    )


def test_aggregate_none_without_forecasts() -> None:
    assert aggregate({}, [], 0) is None
    assert aggregate({40: 0}, iter(()), 0) is None


def test_aggregate_rejects_total_mismatch() -> None:
    with pytest.raises(ValueError, match="histogram holds 4 forecasts but total is 5"):
        aggregate(FOUR, [40, 30, 20, 10, 10], 5)


def test_median_by_day_sorted_and_skips_empty_days() -> None:
    day_hist = {
        date(2026, 11, 2): {10: 1, 20: 1},
        date(2026, 11, 1): {70: 3},
        date(2026, 11, 3): {},
        date(2026, 10, 31): {5: 1, 6: 1, 90: 1},
    }
    assert median_by_day(day_hist) == [
        (date(2026, 10, 31), 6.0),
        (date(2026, 11, 1), 70.0),
        (date(2026, 11, 2), 15.0),
    ]


def test_median_by_day_empty() -> None:
    assert median_by_day({}) == []


def test_standing_by_day_applies_moves_and_withdrawals() -> None:
    d1, d2, d3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
    base = {30: 1}  # one reader at 30 % before the first day
    deltas = {
        d1: {60: 1},  # a second reader comes in at 60 %
        d2: {30: -1, 80: 1},  # the first moves from 30 to 80 %
        d3: {60: -1},  # the second withdraws
    }
    standing = standing_by_day(base, deltas)
    assert standing == {d1: {30: 1, 60: 1}, d2: {60: 1, 80: 1}, d3: {80: 1}}
    assert median_by_day(standing) == [(d1, 45.0), (d2, 70.0), (d3, 80.0)]
