"""A question and a results snapshot to draw charts of (tests of bot.services.chart)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.services.aggregate import Aggregate
from bot.services.results import ResultsSnapshot
from bot.store.forecasts import Question


def chart_question(slug: str, text_ru: str, text_en: str) -> Question:
    """An open question with these texts (id 1)."""
    return Question(
        1, slug, text_ru, text_en, "к", "c", datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 6, 1, tzinfo=UTC), "open", None,
        None, 0, 1, datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip


def chart_snapshot(version: int) -> ResultsSnapshot:
    """Three forecasters (median 60 %) and a two-day trend, at question version `version`."""
    return ResultsSnapshot(
        1, version, Aggregate(3, 60.0, 60.0, 55.0, 40.0, 70.0, (0, 0, 0, 1, 0, 1, 1, 0, 0, 0)),
        [(date(2026, 1, 2), 55.0), (date(2026, 1, 3), 60.0)], [],
    )  # fmt: skip
