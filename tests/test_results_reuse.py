"""Results and charts reused across forecast writes: the chart is not redrawn per write, the
count stays live, one background redraw per question and language, matplotlib loaded late."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.emulator import Emulator
from bot.services.dataset import load_dataset
from bot.services.results import ChartCache, Freshness, PastTrend, ResultsCache, compute
from bot.store import Store
from tests.conftest import Harness


async def test_chart_reused_until_enough_changes_then_redrawn_once(
    settings: Settings, emu: Emulator, anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    harness = Harness(settings, emu)
    await harness.start()
    # redraw at once at 3 changes, whatever the number and share of forecasters
    quick = Freshness(max_age=600, min_changes=3, min_interval=0, min_share=0, few=0)
    harness.app.bot_data.results_cache = ResultsCache(quick)
    harness.app.bot_data.chart_cache = ChartCache(quick)
    try:
        await harness.send(anna, "/forecast 20")
        await harness.send(bob, "/forecast 60")
        first = await harness.send(bob, "/results")
        assert "2 forecasters" in first.texts[0] and first.calls[-1].files
        charts: ChartCache = harness.app.bot_data.chart_cache
        assert charts.drawn == 1

        carol = emu.user(103, "Carol", language_code="en")
        await harness.send(carol, "/forecast 90")  # one change: below the threshold
        step = await harness.send(bob, "/results")
        assert "3 forecasters" in step.texts[0]  # the count is live
        assert "Median: 40%" in step.texts[0]  # the figures are the reused snapshot's
        assert step.calls[-1].method == "sendPhoto" and not step.calls[-1].files
        assert charts.drawn == 1

        for user, value in ((anna, 30), (bob, 70), (carol, 80)):  # enough changes
            await harness.send(user, f"/forecast {value}")
        stale = await harness.send(bob, "/results")
        assert "Median: 70%" in stale.texts[0]  # recomputed
        assert not stale.calls[-1].files  # the old chart, while its successor is drawn
        await charts.idle()
        assert charts.drawn == 2
        fresh = await harness.send(bob, "/results")
        assert fresh.calls[-1].files  # the new drawing, uploaded once
        again = await harness.send(bob, "/results")
        assert not again.calls[-1].files and charts.drawn == 2
    finally:
        await harness.stop()


async def test_concurrent_requests_share_one_drawing() -> None:
    charts = ChartCache(Freshness(max_age=600, min_changes=1, min_interval=0))
    release, started = threading.Event(), threading.Event()
    calls = 0

    def draw() -> bytes:
        nonlocal calls
        calls += 1
        started.set()
        assert release.wait(10)
        return b"png"

    tasks: list[asyncio.Task[None]] = []

    def spawn(coro: Any) -> None:
        tasks.append(asyncio.get_running_loop().create_task(coro))

    waiting = [asyncio.ensure_future(charts.get((1, "en"), 5, draw, spawn)) for _ in range(20)]
    assert await asyncio.to_thread(started.wait, 10)  # every request is waiting on it
    release.set()
    results = await asyncio.gather(*waiting)
    assert {r.photo for r in results} == {b"png"} and calls == 1
    # stale for version 9: many requests get the old chart and start one redraw
    release.clear()
    old = await asyncio.gather(*(charts.get((1, "en"), 9, draw, spawn) for _ in range(20)))
    assert {c.version for c in old} == {5}
    release.set()
    await charts.idle()
    assert calls == 2
    assert (await charts.get((1, "en"), 9, draw, spawn)).version == 9
    await asyncio.gather(*tasks)


def test_matplotlib_is_not_imported_at_start_up() -> None:
    code = (
        "import sys, bot.app, bot.__main__, bot.handlers.results;"
        "print('matplotlib' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "False", out.stderr


async def test_reused_past_trend_plus_live_today_equals_the_full_trend(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        await store.questions.seed(load_dataset().questions)
        question = await store.questions.default()
        assert question is not None
        start = datetime.now(UTC) - timedelta(days=5)
        rows = [(uid, uid % 90 + 5, (start + timedelta(hours=uid)).isoformat()) for uid in
                range(1, 100)]  # fmt: skip
        await store.forecasts.bulk_insert(question.id, rows)
        past = PastTrend(600)
        for uid, value in ((1, 80), (2, 10), (3, 95)):
            await store.forecasts.set(question.id, uid, value, language="en")
            current = await store.questions.get(question.id)
            assert current is not None
            reused = await compute(store, current, past)
            full = await compute(store, current)
            assert reused.trend == full.trend and reused.aggregate == full.aggregate
            assert reused.trend[-1][0] == datetime.now(UTC).date()
    finally:
        await store.close()


async def test_reuse_never_hides_the_first_forecasts_or_shows_withdrawn_ones(
    harness: Harness, anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    reuse = ResultsCache(Freshness(max_age=600, min_changes=50))
    harness.app.bot_data.results_cache = reuse
    question = await harness.store.questions.default()
    assert question is not None
    empty = await reuse.get(harness.store, question)
    assert empty.aggregate is None
    await harness.send(bob, "/forecast 40")
    assert "1 forecaster" in (await harness.send(bob, "/results")).texts[0]
    await harness.send(bob, "/withdraw")
    await harness.tap(bob, harness.emu.last_sent(bob["id"]), f"fw:{question.id}:1")
    assert (await harness.store.forecasts.count(question.id)) == 0
    question = await harness.store.questions.default()
    assert question is not None
    assert (await reuse.get(harness.store, question)).aggregate is None


async def test_with_few_forecasters_a_change_shows_at_once(
    harness: Harness, anna: dict[str, Any], bob: dict[str, Any]
) -> None:
    harness.app.bot_data.results_cache = ResultsCache(Freshness())  # as shipped: 30 s, 500
    charts = harness.app.bot_data.chart_cache = ChartCache(Freshness())
    await harness.send(bob, "/forecast 75")
    first = await harness.send(bob, "/results")
    assert "Median: 75%" in first.texts[0] and first.calls[-1].files
    await harness.send(bob, "/forecast 20 talent follows money")
    step = await harness.send(bob, "/results")
    assert "1 forecaster" in step.texts[0] and "Median: 20%" in step.texts[0]
    assert step.calls[-1].files and "Median: 20%" in step.last["caption"]  # a new chart
    await harness.send(anna, "/forecast 60")
    both = await harness.send(bob, "/results")
    assert "Median: 40%" in both.texts[0] and both.calls[-1].files and charts.drawn == 3
    again = await harness.send(anna, "/results")  # Russian: drawn once, then its file_id
    assert again.calls[-1].files and not (await harness.send(anna, "/results")).calls[-1].files


async def test_a_busy_chart_is_redrawn_at_most_once_per_interval() -> None:
    tenths = [10_000]  # the clock, in tenths of a second
    fresh = Freshness(max_age=30, min_changes=500, min_interval=5, min_share=0.05, few=20)
    charts = ChartCache(fresh, clock=lambda: tenths[0] / 10)
    tasks: list[asyncio.Task[None]] = []

    def spawn(coro: Any) -> None:
        tasks.append(asyncio.get_running_loop().create_task(coro))

    def drawing(version: int) -> Callable[[], bytes]:
        return lambda: f"v{version}".encode()

    async def shown(question: int, version: int, forecasters: int) -> str | bytes:
        chart = await charts.get((question, "en"), version, drawing(version), spawn, forecasters)
        await charts.idle()
        return chart.photo

    # 1,000 forecasters, a change every 0.1 s (5 % of them is 50 changes, reached in 5 s)
    assert await shown(1, 1, 1000) == b"v1"
    photos = {}
    for version in range(2, 201):
        tenths[0] += 1
        photos[version] = await shown(1, version, 1000)
    # version 51 comes 5 s after the first drawing: still shown the old chart while its
    # successor is drawn in the background; then one drawing per 5 s, 4 in 20 s
    assert charts.drawn == 4
    assert {photos[v] for v in range(2, 52)} == {b"v1"}
    assert {photos[v] for v in range(52, 102)} == {b"v51"}
    assert {photos[v] for v in range(102, 152)} == {b"v101"}
    assert {photos[v] for v in range(152, 201)} == {b"v151"}
    # 19 forecasters: every change is drawn before it is shown, however recent the last one
    assert await shown(2, 1, 19) == b"v1"
    for version in range(2, 6):
        tenths[0] += 1
        assert await shown(2, version, 19) == f"v{version}".encode()
    assert charts.drawn == 9
    await asyncio.gather(*tasks)
