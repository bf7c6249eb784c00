"""Tests for bot.services.scoring: Brier, time-averaged Brier, ranking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.services.scoring import (
    HistoryEntry,
    ScoreRow,
    brier,
    rank,
    score_reader,
    time_averaged_brier,
)

OPEN = datetime(2026, 1, 1, tzinfo=UTC)
CLOSE = OPEN + timedelta(days=10)


def day(n: float) -> datetime:
    """Return OPEN + n days."""
    return OPEN + timedelta(days=n)


@pytest.mark.parametrize(
    ("probability", "outcome", "expected"),
    [
        (70, True, 0.09),  # (0.7 − 1)²
        (70, False, 0.49),  # 0.7²
        (50, True, 0.25),
        (1, True, 0.9801),  # 0.99²
        (99, True, 0.0001),
        (0, False, 0.0),
        (100, False, 1.0),
    ],
)
def test_brier(probability: int, outcome: bool, expected: float) -> None:
    assert brier(probability, outcome) == pytest.approx(expected)


@pytest.mark.parametrize("probability", [-1, 101, True])
def test_brier_rejects_invalid(probability: int) -> None:
    with pytest.raises(ValueError):
        brier(probability, True)


def test_single_forecast_whole_window() -> None:
    assert time_averaged_brier([(OPEN, 70)], OPEN, CLOSE, True) == pytest.approx(0.09)


def test_half_and_half() -> None:
    history: list[HistoryEntry] = [(OPEN, 30), (day(5), 90)]
    # (0.49·5 + 0.01·5) / 10
    assert time_averaged_brier(history, OPEN, CLOSE, True) == pytest.approx(0.25)


def test_time_before_first_forecast_is_not_counted() -> None:
    # only days 5..10 are covered, all at 70 % on a yes
    assert time_averaged_brier([(day(5), 70)], OPEN, CLOSE, True) == pytest.approx(0.09)


def test_forecast_before_opening_stands_from_opening() -> None:
    history: list[HistoryEntry] = [(OPEN - timedelta(days=3), 30), (day(8), 90)]
    # 30 % for 8 days, 90 % for 2 days: (0.49·8 + 0.01·2) / 10 = 0.394
    assert time_averaged_brier(history, OPEN, CLOSE, True) == pytest.approx(0.394)


def test_withdrawal_gap_is_not_counted() -> None:
    history: list[HistoryEntry] = [(OPEN, 30), (day(2), None), (day(6), 90)]
    # 30 % for 2 days, nothing for 4, 90 % for 4 days: (0.49·2 + 0.01·4) / 6 = 0.17
    assert time_averaged_brier(history, OPEN, CLOSE, True) == pytest.approx(0.17)


def test_early_resolution_ends_the_window() -> None:
    history: list[HistoryEntry] = [(OPEN, 30), (day(5), 90)]
    assert time_averaged_brier(history, OPEN, CLOSE, True, until=day(5)) == pytest.approx(0.49)


def test_until_after_close_is_capped_at_close() -> None:
    history: list[HistoryEntry] = [(OPEN, 30), (day(5), 90)]
    assert time_averaged_brier(history, OPEN, CLOSE, True, until=day(20)) == pytest.approx(0.25)


def test_same_timestamp_last_entry_wins() -> None:
    history: list[HistoryEntry] = [(OPEN, 10), (OPEN, 80)]
    assert time_averaged_brier(history, OPEN, CLOSE, True) == pytest.approx(0.04)


def test_other_timezones_are_converted() -> None:
    beijing = timezone(timedelta(hours=8))
    history: list[HistoryEntry] = [(OPEN, 30), (day(5).astimezone(beijing), 90)]
    assert time_averaged_brier(history, OPEN, CLOSE, True) == pytest.approx(0.25)


@pytest.mark.parametrize(
    "history",
    [
        [],
        [(day(11), 70)],  # after the close
        [(CLOSE, 70)],  # exactly at the close: stands for zero time
        [(OPEN - timedelta(days=1), 70), (OPEN, None)],  # withdrawn at the opening
    ],
)
def test_none_without_standing_forecast(history: list[HistoryEntry]) -> None:
    assert time_averaged_brier(history, OPEN, CLOSE, False) is None


def test_naive_datetimes_rejected() -> None:
    naive = datetime(2026, 1, 1)  # naive on purpose: the error under test
    with pytest.raises(ValueError, match="timezone-aware"):
        time_averaged_brier([(naive, 70)], OPEN, CLOSE, True)
    with pytest.raises(ValueError, match="timezone-aware"):
        time_averaged_brier([(OPEN, 70)], naive, CLOSE, True)
    with pytest.raises(ValueError, match="timezone-aware"):
        time_averaged_brier([(OPEN, 70)], OPEN, CLOSE, True, until=naive)


def test_unsorted_history_rejected() -> None:
    with pytest.raises(ValueError, match="sorted"):
        time_averaged_brier([(day(5), 70), (day(1), 30)], OPEN, CLOSE, True)


def test_score_reader_final_and_averaged() -> None:
    history: list[HistoryEntry] = [(OPEN, 30), (day(5), 90)]
    row = score_reader(7, history, OPEN, CLOSE, True)
    assert row.user_id == 7
    assert row.final_brier == pytest.approx(0.01)
    assert row.time_averaged_brier == pytest.approx(0.25)


def test_score_reader_ignores_forecast_at_resolution() -> None:
    history: list[HistoryEntry] = [(OPEN, 30), (day(5), 90)]
    row = score_reader(7, history, OPEN, CLOSE, True, until=day(5))
    assert row.final_brier == pytest.approx(0.49)
    assert row.time_averaged_brier == pytest.approx(0.49)


def test_score_reader_withdrawn_before_end() -> None:
    history: list[HistoryEntry] = [(OPEN, 30), (day(5), None)]
    row = score_reader(3, history, OPEN, CLOSE, False)
    assert (row.user_id, row.final_brier) == (3, None)
    assert row.time_averaged_brier == pytest.approx(0.09)  # 30 % stood days 0..5 on a no


def test_rank_orders_by_average_then_final_then_user() -> None:
    rows = [
        ScoreRow(user_id=5, final_brier=0.01, time_averaged_brier=0.2),
        ScoreRow(user_id=4, final_brier=None, time_averaged_brier=None),
        ScoreRow(user_id=3, final_brier=0.04, time_averaged_brier=0.1),
        ScoreRow(user_id=2, final_brier=0.01, time_averaged_brier=0.1),
        ScoreRow(user_id=1, final_brier=0.04, time_averaged_brier=0.1),
        ScoreRow(user_id=6, final_brier=None, time_averaged_brier=0.1),
    ]
    assert [row.user_id for row in rank(rows)] == [2, 1, 3, 6, 5, 4]


def test_rank_empty() -> None:
    assert rank([]) == []
