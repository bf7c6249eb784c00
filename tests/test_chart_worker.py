"""`python -m bot run` draws charts in one worker process (bot/services/chart.py): the PNG,
and the errors of a drawing, come back as from a thread; a worker that died is replaced."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from bot.services import chart
from bot.services.results import ResultsSnapshot
from bot.texts.forecast import chart_labels
from tests.charts import chart_question, chart_snapshot

QUESTION = chart_question(
    "talent", "Станет ли Пекин центром ИИ-талантов?", "Will Beijing be an AI talent hub?"
)
SNAPSHOT = chart_snapshot(3)
EMPTY = ResultsSnapshot(1, 0, None, [], [])


def exit_once(flag: Path) -> bytes:
    """Kill the process it runs in the first time (leaving `flag`), then draw a chart."""
    if not flag.exists():
        flag.touch()
        os._exit(1)
    return chart.render_chart(SNAPSHOT, chart_labels(QUESTION, "en"))


@pytest.fixture
def worker() -> Iterator[None]:
    chart.use_worker_process()
    yield
    chart.use_worker_process(False)


async def test_a_chart_is_drawn_in_the_worker_process(worker: None) -> None:
    for lang in ("ru", "en"):
        png = await chart.draw_png(
            partial(chart.render_chart, SNAPSHOT, chart_labels(QUESTION, lang))
        )
        assert png.startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="no forecasts"):
        await chart.draw_png(partial(chart.render_chart, EMPTY, chart_labels(QUESTION, "en")))


async def test_a_worker_that_died_is_replaced(
    worker: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    png = await chart.draw_png(partial(exit_once, tmp_path / "died"))
    assert png.startswith(b"\x89PNG")
    assert "The chart worker process died; starting another" in caplog.text
