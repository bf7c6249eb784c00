"""Benchmarks with figures: `python -m bot.bench [--forecasts N] [--updates N]`.

Measures, on a temporary SQLite file and the offline emulator (no network):
- updates/s through the real Application for /stats (reads) and /forecast N (writes);
- /results on N stored forecasts (default 1,000,000): the first snapshot (histogram, newest
  forecasts up to the weighting horizon, per-day histograms), a cached snapshot, and the whole
  /results command through the emulator (text + chart) — target: well under a second;
- a CSV export of those forecasts, streamed to a file (issue target: 100,000 without building
  the file in memory);
- the process's peak memory (RSS).
Targets are checked here, not in timed tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import build_application, running
from bot.config import Settings
from bot.emulator import Emulator
from bot.services.export_run import ExportSpec, write_export
from bot.services.results import ResultsCache, compute
from bot.store import Store


async def updates_per_second(settings: Settings, count: int) -> tuple[float, float]:
    """(/stats updates per second, /forecast updates per second) through the full app."""
    emu = Emulator()
    app = build_application(settings, emu.request, rate_limit=False)
    async with running(app):
        reader = emu.user(5000, "Bench", language_code="en")
        chat = emu.private_chat(reader)
        rates = []
        for make in (lambda i: "/stats", lambda i: f"/forecast {i % 99 + 1}"):
            updates = [emu.message(reader, chat, make(i)) for i in range(count)]
            start = time.perf_counter()
            for update in updates:
                await emu.process(app, update)
            rates.append(count / (time.perf_counter() - start))
            emu.clear_calls()
    return rates[0], rates[1]


async def fill(store: Store, question_id: int, count: int) -> float:
    """Insert `count` forecasts spread over 60 days; returns seconds taken."""
    rng = random.Random(7)
    start_at = datetime.now(UTC) - timedelta(days=60)
    step = timedelta(days=60) / max(count, 1)
    start = time.perf_counter()
    batch = 100_000
    for first in range(0, count, batch):
        rows = [
            (10_000_000 + i, min(99, max(1, int(rng.gauss(60, 18)))),
             (start_at + step * i).isoformat(timespec="microseconds"))
            for i in range(first, min(count, first + batch))
        ]  # fmt: skip
        await store.forecasts.bulk_insert(question_id, rows)
    return time.perf_counter() - start


async def results_timings(settings: Settings, count: int) -> dict[str, float]:
    """Seconds for the first and a cached snapshot, and for /results end to end."""
    emu = Emulator()
    app = build_application(settings, emu.request, rate_limit=False)
    async with running(app):
        store: Store = app.bot_data.store
        question = await store.questions.default()
        assert question is not None
        fill_s = await fill(store, question.id, count)
        question = await store.questions.get(question.id)
        assert question is not None
        start = time.perf_counter()
        snap = await compute(store, question)
        first = time.perf_counter() - start
        cache = ResultsCache()
        await cache.get(store, question)
        start = time.perf_counter()
        await cache.get(store, question)
        cached = time.perf_counter() - start
        reader = emu.user(10_000_000, "Bench", language_code="en")  # has a forecast
        start = time.perf_counter()
        await emu.process(app, emu.message(reader, emu.private_chat(reader), "/results"))
        command = time.perf_counter() - start
        start = time.perf_counter()
        await emu.process(app, emu.message(reader, emu.private_chat(reader), "/results"))
        command_again = time.perf_counter() - start
        start = time.perf_counter()
        with open(os.devnull, "wb") as sink:  # noqa: ASYNC230 - nothing else runs here
            exported = await write_export(
                store, question, ExportSpec("forecasts", "csv"), sink, salt="bench",
                now=datetime.now(UTC),
            )  # fmt: skip
        export_s = time.perf_counter() - start
        assert snap.aggregate is not None and exported == count
        return {
            "export_s": export_s,
            "fill_s": fill_s,
            "snapshot_s": first,
            "cached_s": cached,
            "results_command_s": command,
            "results_command_cached_s": command_again,
            "median": snap.aggregate.median,
            "weighted_median": snap.aggregate.weighted_median,
        }


async def main(forecasts: int, updates: int) -> None:
    """Run every benchmark and print the figures."""
    with tempfile.TemporaryDirectory() as folder:
        # one bench reader writes /forecast many times: no revision limit here
        base = Settings(_env_file=None, results_reveal_min=0, revisions_per_minute=0)
        db = Path(folder)
        s1 = base.model_copy(update={"database_url": f"sqlite:///{db / 'updates.sqlite3'}"})
        reads, writes = await updates_per_second(s1, updates)
        print(f"updates/s (emulator, sequential): /stats {reads:,.0f}, /forecast {writes:,.0f}")
        s2 = base.model_copy(update={"database_url": f"sqlite:///{db / 'results.sqlite3'}"})
        r = await results_timings(s2, forecasts)
        print(f"{forecasts:,} forecasts inserted in {r['fill_s']:.1f} s")
        print(
            f"/results snapshot: first {r['snapshot_s'] * 1000:.0f} ms, "
            f"cached {r['cached_s'] * 1000:.2f} ms "
            f"(median {r['median']}, weighted {r['weighted_median']})"
        )
        print(
            f"/results command end to end: {r['results_command_s'] * 1000:.0f} ms "
            f"(chart drawn), {r['results_command_cached_s'] * 1000:.0f} ms (cached)"
        )
        print(f"CSV export of {forecasts:,} forecasts (streamed): {r['export_s']:.1f} s")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak_mb:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bot.bench")
    parser.add_argument("--forecasts", type=int, default=1_000_000)
    parser.add_argument("--updates", type=int, default=2_000)
    args = parser.parse_args()
    asyncio.run(main(args.forecasts, args.updates))
