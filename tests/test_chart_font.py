"""Charts draw Chinese question titles with a CJK font (no empty boxes): rendering a
文心一言 title warns about no missing glyph."""

from __future__ import annotations

import logging
import os
import warnings

import pytest

from bot.services import chart
from bot.texts.forecast import chart_labels
from tests.charts import chart_question, chart_snapshot


@pytest.fixture(autouse=True)
def cjk_font() -> None:
    """CI installs the font (.ci/run); elsewhere these tests say what is missing and skip."""
    if chart.cjk_family() is None and not os.environ.get("CI"):
        pytest.skip("no CJK font here: apt-get install fonts-wqy-zenhei")


def test_a_cjk_font_is_registered() -> None:
    assert chart.cjk_family() is not None, "install fonts-wqy-zenhei (see .ci/run)"


def test_chinese_title_renders_without_missing_glyphs(caplog: pytest.LogCaptureFixture) -> None:
    question = chart_question(
        "ernie", "Обгонит ли 文心一言 модель Kimi?", "Will 文心一言 overtake Kimi 月之暗面?"
    )
    snap = chart_snapshot(1)
    with caplog.at_level(logging.WARNING), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for lang in ("ru", "en"):
            png = chart.render_chart(snap, chart_labels(question, lang))
            assert png.startswith(b"\x89PNG")
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "missing from" in m or "Glyph" in m], messages
    assert not [m for m in messages if "findfont" in m], messages  # the font is found as is
