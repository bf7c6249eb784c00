"""The benchmark: `python -m bot.bench [--quick]`.

Runs the real `python -m bot run` as a subprocess against a light fake Bot API over HTTP on
127.0.0.1 (bot/bench_api.py), with a stock python-telegram-bot echo bot (bot/bench_echo.py)
run the same way as the reference in the same run, and prints:

- updates/s per kind, each update from a distinct reader: /stats, a drill-down button,
  /forecast 63, a forecast button, /results, and the mixed workload (1/5 of each); the
  reference's /stats in interleaved rounds, and our ratios to it; the mixed workload's ratio
  to /stats from rounds interleaved with /stats (the median round);
- CPU µs per update (user + system time of the subprocess, from /proc/<pid>/stat);
- start-up time (process start → first getUpdates; median of 3 starts, 1 with --quick; the
  bot's modules byte-compiled first, as pip installs them), idle RSS, and peak RSS after a
  backlog of 20,000 /stats updates;
- store-level figures: the /results snapshot on 1,000,000 forecasts right after a write,
  and durable forecast writes/s with 1,000 concurrent submitters (group commit).

The bot runs with RATE_LIMITER=false (Telegram's ~30 messages/s would be all it measures).
Everything stays on loopback; every wait is bounded. `--quick` finishes in under a minute.
Absolute rates drift on shared machines: compare the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.bench_api import FakeBotApi, message, press
from bot.services.dataset import load_dataset
from bot.services.results import Freshness, PastTrend, compute
from bot.store import Store
from bot.texts.callbacks import ForecastPreset, StatsCard

TOKEN = "4242:BENCH-bench-bench-bench-bench-bench"  # noqa: S105 - a placeholder
ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
QUESTION_ID = 1  # the bundled dataset's first question
DRILL_DOWN = StatsCard("industry").pack()  # callback data of the buttons pressed
PRESET = ForecastPreset(QUESTION_ID, 75).pack()

Kind = Callable[[int], tuple[dict[str, Any], str]]  # reader id -> (update, terminal method)
KINDS: dict[str, Kind] = {
    "/stats": lambda uid: (message(uid, "/stats"), "sendMessage"),
    "drill-down": lambda uid: (press(uid, DRILL_DOWN), "editMessageText"),
    "/forecast 63": lambda uid: (message(uid, "/forecast 63"), "sendMessage"),
    "forecast button": lambda uid: (press(uid, PRESET), "editMessageText"),
    "/results": lambda uid: (message(uid, "/results"), "sendPhoto"),
}


def mixed(uid: int) -> tuple[dict[str, Any], str]:
    """1/5 of each kind, in turn."""
    kinds = list(KINDS.values())
    return kinds[uid % len(kinds)](uid)


@dataclass
class Proc:
    """A bot process and its fake Bot API."""

    name: str
    api: FakeBotApi
    process: asyncio.subprocess.Process
    started: float
    readers: int = 1_000_000

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (all threads)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def memory_mb(self, field: str) -> float:
        """VmRSS (now) or VmHWM (peak) in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return 0.0

    async def run(self, kind: Kind, count: int, limit_s: float) -> tuple[float, float]:
        """Queue `count` updates of `kind` from new readers; (updates/s, CPU µs/update).
        Raises TimeoutError when they are not all answered within `limit_s` seconds."""
        updates, terminal = [], []
        for _ in range(count):
            self.readers += 1
            update, method = kind(self.readers)
            updates.append(update)
            terminal.append((self.readers, method))
        cpu = self.cpu_seconds()
        start = time.perf_counter()
        self.api.queue(updates, terminal)
        await asyncio.wait_for(self.api.done.wait(), limit_s)
        elapsed = time.perf_counter() - start
        return count / elapsed, (self.cpu_seconds() - cpu) / count * 1e6

    async def stop(self) -> None:
        """SIGTERM, then wait (bounded), then the server."""
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        await self.api.stop()


async def launch(
    name: str, args: list[str], folder: Path, env: dict[str, str], call_delay: float = 0.0
) -> Proc:
    """Start the fake API (answering after `call_delay` seconds) and the process; returns
    once it polls. Raises RuntimeError when it exits or does not poll within 60 s."""
    api = FakeBotApi(call_delay)
    base = await api.start()
    full_env = {
        **os.environ, **env, "BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": base,
        "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    for name_ in ("ADMIN_IDS", "CHANNEL_ID"):
        full_env.pop(name_, None)
    log = (folder / f"{name}.log").open("wb")
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=folder, env=full_env, stdout=log, stderr=log
    )
    log.close()
    proc = Proc(name, api, process, started)
    deadline = time.monotonic() + 60
    while api.first_poll is None:
        if process.returncode is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start; see {folder / (name + '.log')}")
        await asyncio.sleep(0.005)
    return proc


async def start_once(name: str, args: list[str], folder: Path, env: dict[str, str]) -> float:
    """Start the process, wait for its first getUpdates, stop it; returns the seconds from
    process start to that getUpdates."""
    proc = await launch(f"{name}-start", args, folder, env)
    seconds = proc.api.first_poll - proc.started  # type: ignore[operator]
    await proc.stop()
    return seconds


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


async def store_figures(folder: Path, forecasts: int, submitters: int) -> dict[str, float]:
    """The snapshot after a write on `forecasts` forecasts (median of 5, ms) and durable
    forecast writes/s with `submitters` concurrent submitters (5 writes each)."""
    store = await Store.open(folder / "store.sqlite3")
    try:
        await store.questions.seed(load_dataset().questions)
        question = await store.questions.default()
        assert question is not None
        await fill(store, question.id, forecasts)
        for uid in range(1, 6):
            await store.users.touch(uid, username=None, first_name="B", tg_language="en")
        question = await store.questions.get(question.id)
        assert question is not None
        past = PastTrend(Freshness().max_age)  # as the bot's results cache does
        await compute(store, question, past)  # the first one reads the newest rows once
        times = []
        for uid in range(1, 6):  # each a new forecaster: N changes too
            await store.forecasts.set(question.id, uid, 20 + uid, language="en")
            question = await store.questions.get(question.id)
            assert question is not None
            start = time.perf_counter()
            await compute(store, question, past)
            times.append(time.perf_counter() - start)
        uids = range(10_000_000, 10_000_000 + submitters)

        async def submitter(uid: int) -> None:
            for r in range(5):
                await store.forecasts.set(question.id, uid, (uid + r) % 99 + 1, language="en")

        commits = store.forecasts.commits
        start = time.perf_counter()
        await asyncio.gather(*(submitter(uid) for uid in uids))
        writes_s = submitters * 5 / (time.perf_counter() - start)
        return {
            "snapshot_ms": statistics.median(times) * 1000,
            "writes_s": writes_s,
            "commits": store.forecasts.commits - commits,
        }
    finally:
        await store.close()


async def main(quick: bool) -> None:
    """Run everything and print the figures."""
    n = 100 if quick else 2_000
    backlog = 1_000 if quick else 20_000
    forecasts = 30_000 if quick else 1_000_000
    rounds = 2 if quick else 3
    # byte-compiled as pip leaves an installed wheel (PYTHONDONTWRITEBYTECODE=1 would
    # otherwise have a checkout's changed modules compiled again at every start)
    compileall.compile_dir(ROOT / "bot", quiet=1)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        env = {
            "DATABASE_URL": f"sqlite:///{folder / 'bot.sqlite3'}", "RESULTS_REVEAL_MIN": "0",
            "LOG_LEVEL": "WARNING", "RATE_LIMITER": "false",
        }  # fmt: skip
        init = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "init-db", cwd=folder,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        if await asyncio.wait_for(init.wait(), 120):
            raise RuntimeError("python -m bot init-db failed")
        ours_args, echo_args = ["-m", "bot", "run"], ["-m", "bot.bench_echo"]
        # start-up drifts most of all: two more starts of each (alone), the median of three
        starts: dict[str, list[float]] = {"bot": [], "echo": []}
        for _ in range(0 if quick else 2):
            starts["bot"].append(await start_once("bot", ours_args, folder, env))
            starts["echo"].append(await start_once("echo", echo_args, folder, env))
        ours = await launch("bot", ours_args, folder, env)
        echo = await launch("echo", echo_args, folder, env)
        try:
            first_ours = ours.api.first_poll - ours.started  # type: ignore[operator]
            first_echo = echo.api.first_poll - echo.started  # type: ignore[operator]
            start_ours = statistics.median([first_ours, *starts["bot"]])
            start_echo = statistics.median([first_echo, *starts["echo"]])
            await asyncio.sleep(1.0)  # settle before reading the idle footprint
            idle = (ours.memory_mb("VmRSS"), echo.memory_mb("VmRSS"))
            # warm-up: a first forecast (a /results before any has no chart to wait for),
            # then the first chart, caches, connections
            await ours.run(KINDS["forecast button"], 10, 120)
            await ours.run(mixed, 50, 120)
            await echo.run(KINDS["/stats"], 50, 120)
            stats: dict[str, list[tuple[float, float]]] = {"bot": [], "echo": []}
            for _ in range(rounds):  # interleaved: drift hits both alike
                stats["bot"].append(await ours.run(KINDS["/stats"], n, 300))
                stats["echo"].append(await echo.run(KINDS["/stats"], n, 300))
            figures = {kind: await ours.run(make, n, 600) for kind, make in KINDS.items()}
            # the mixed workload against /stats of the same build, in interleaved rounds too
            mixed_rounds: list[tuple[float, float, float]] = []
            for _ in range(rounds):
                mixed_rate, mixed_cpu = await ours.run(mixed, n, 600)
                stats_rate, _ = await ours.run(KINDS["/stats"], n, 300)
                mixed_rounds.append((mixed_rate / stats_rate, mixed_rate, mixed_cpu))
            mixed_ratio, *mixed_figures = sorted(mixed_rounds)[len(mixed_rounds) // 2]
            figures["mixed"] = (mixed_figures[0], mixed_figures[1])
            await ours.run(KINDS["/stats"], backlog, 900)
            await echo.run(KINDS["/stats"], backlog, 900)
            peak = (ours.memory_mb("VmHWM"), echo.memory_mb("VmHWM"))
        finally:
            await ours.stop()
            await echo.stop()
        store = await store_figures(folder, forecasts, 1_000)

    bot_rate = statistics.median(r for r, _ in stats["bot"])
    echo_rate = statistics.median(r for r, _ in stats["echo"])
    bot_cpu = statistics.median(c for _, c in stats["bot"])
    echo_cpu = statistics.median(c for _, c in stats["echo"])
    print(f"python -m bot.bench{' --quick' if quick else ''}: {n:,} updates per run, "
          f"each from a new reader; RATE_LIMITER=false; fake Bot API on 127.0.0.1")  # fmt: skip
    print(f"/stats, {rounds} interleaved rounds: this bot {bot_rate:,.0f} updates/s, "
          f"{bot_cpu:,.0f} µs CPU each; stock PTB echo {echo_rate:,.0f}/s, {echo_cpu:,.0f} µs "
          f"(ratio {bot_rate / echo_rate:.2f}, CPU ratio {bot_cpu / echo_cpu:.2f})")  # fmt: skip
    print("per kind (this bot):")
    for kind, (rate, cpu) in figures.items():
        print(f"  {kind:<16} {rate:>7,.0f} updates/s  {cpu:>7,.0f} µs CPU/update  "
              f"({rate / bot_rate:.2f}× /stats, {rate / echo_rate:.2f}× echo)")  # fmt: skip
    print(f"mixed, {rounds} rounds interleaved with /stats: {mixed_ratio:.2f}× /stats (median; "
          f"rounds {', '.join(f'{r:.2f}' for r, _, _ in mixed_rounds)})")  # fmt: skip
    print(f"start-up to first getUpdates: this bot {start_ours:.2f} s, echo {start_echo:.2f} s")
    print(f"RSS idle: this bot {idle[0]:.0f} MB, echo {idle[1]:.0f} MB; peak with a "
          f"{backlog:,}-update backlog: {peak[0]:.0f} MB, echo {peak[1]:.0f} MB")  # fmt: skip
    print(f"store: /results snapshot on {forecasts:,} forecasts after a write "
          f"{store['snapshot_ms']:.1f} ms; 1,000 concurrent submitters: "
          f"{store['writes_s']:,.0f} durable writes/s "
          f"({store['commits']:.0f} commits)")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bot.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs, under a minute")
    args = parser.parse_args()
    asyncio.run(main(args.quick))
