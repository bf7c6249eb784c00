"""Charts draw Chinese question titles with a CJK font (no empty boxes): rendering a
文心一言 title warns about no missing glyph."""

from __future__ import annotations

import logging
import os
import warnings
from datetime import UTC, date, datetime

import pytest

from bot.services import chart
from bot.services.aggregate import Aggregate
from bot.services.results import ResultsSnapshot
from bot.store.forecasts import Question
from bot.texts.forecast import chart_labels


@pytest.fixture(autouse=True)
def cjk_font() -> None:
    """CI installs the font (.ci/run); elsewhere these tests say what is missing and skip."""
    if chart.cjk_family() is None and not os.environ.get("CI"):
        pytest.skip("no CJK font here: apt-get install fonts-wqy-zenhei")


def test_a_cjk_font_is_registered() -> None:
    assert chart.cjk_family() is not None, "install fonts-wqy-zenhei (see .ci/run)"


def test_chinese_title_renders_without_missing_glyphs(caplog: pytest.LogCaptureFixture) -> None:
    question = Question(
        1, "ernie", "Обгонит ли 文心一言 модель Kimi?", "Will 文心一言 overtake Kimi 月之暗面?",
        "к", "c", datetime(2026, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC),
        datetime(2030, 6, 1, tzinfo=UTC), "open", None, None, 0, 1,
        datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    snap = ResultsSnapshot(
        1, 1, Aggregate(3, 60.0, 60.0, 55.0, 40.0, 70.0, (0, 0, 0, 1, 0, 1, 1, 0, 0, 0)),
        [(date(2026, 1, 2), 55.0), (date(2026, 1, 3), 60.0)], [],
    )  # fmt: skip
    with caplog.at_level(logging.WARNING), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for lang in ("ru", "en"):
            png = chart.render_chart(snap, chart_labels(question, lang))
            assert png.startswith(b"\x89PNG")
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "missing from" in m or "Glyph" in m], messages
    assert not [m for m in messages if "findfont" in m], messages  # the font is found as is
