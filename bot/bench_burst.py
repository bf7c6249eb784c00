"""The burst figure: 1,000 distinct readers send `/forecast N` at once to the real
`python -m bot run`, polling the benchmark's light fake Bot API on 127.0.0.1
(bot/bench_api.py) where every Bot API call takes 50 ms, with the overall send-rate limit
lifted (RATE_LIMIT_OVERALL_PER_SECOND). Reports the time from the moment the updates are
queued at "Telegram" to each reader's reply: median, p95, max, and the bot's CPU time per
update during the burst (user + system, from /proc/<pid>/stat; steadier than the times on a
shared machine). `--reference` runs, in the same invocation, a stock python-telegram-bot
echo bot with the same concurrency (bot/bench_echo.py, httpx) through the same burst.

    python -m bot.bench_burst [--readers 1000] [--delay-ms 50] [--concurrency N] [--reference]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.bench_api import FakeBotApi, message

TOKEN = "424242:BENCH-secretsecretsecretsecretsecret"  # noqa: S105 - the fake API's
BURST_SECONDS = 300
ROOT = Path(__file__).resolve().parents[1]
# MAX_CONCURRENT_UPDATES's default (bot/config.py), for the reference's concurrency
DEFAULT_CONCURRENCY = 256


TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (0.0 where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


async def burst(
    readers: int, delay: float, concurrency: int | None, *, reference: bool = False
) -> dict[str, float]:
    """Run one burst against this bot (or, with `reference`, the stock PTB echo bot);
    returns seconds: p50, p95, max (update queued -> reply) and the bot's CPU seconds per
    update ("cpu"). Raises SystemExit when the bot does not start or answer in time."""
    api = FakeBotApi(call_delay=delay)
    base = await api.start()
    uids = [1_000_000 + n for n in range(readers)]
    with tempfile.TemporaryDirectory(prefix="burst-") as folder:
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("ADMIN_IDS", "CHANNEL_ID")},
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": base,
            "RATE_LIMIT_OVERALL_PER_SECOND": "1000000",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        if concurrency:
            env["MAX_CONCURRENT_UPDATES"] = str(concurrency)
        command = [sys.executable, "-m", "bot", "run"]
        if reference:
            env["BENCH_ECHO_CONCURRENCY"] = str(concurrency or DEFAULT_CONCURRENCY)
            command = [sys.executable, "-m", "bot.bench_echo"]
        with (Path(folder) / "bot.log").open("wb") as log:
            process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own modules, started once
                command, cwd=folder, env=env, stdout=log, stderr=log
            )
        try:
            deadline = time.monotonic() + 60
            while api.first_poll is None:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the bot did not start polling")
                await asyncio.sleep(0.01)
            cpu_before = cpu_seconds(process.pid)
            queued = time.monotonic()
            api.queue(
                [message(uid, f"/forecast {1 + n % 99}") for n, uid in enumerate(uids)],
                [(uid, "sendMessage") for uid in uids],
            )
            try:
                await asyncio.wait_for(api.done.wait(), BURST_SECONDS)
            except TimeoutError:
                raise SystemExit(f"only {len(api.answered)} of {readers} answered") from None
            cpu = (cpu_seconds(process.pid) - cpu_before) / readers
            waits = sorted(api.answered[uid] - queued for uid in uids)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
            await api.stop()
    return {
        "p50": statistics.median(waits),
        "p95": waits[int(0.95 * (len(waits) - 1))],
        "max": waits[-1],
        "cpu": cpu,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the burst figure."""
    parser = argparse.ArgumentParser(prog="python -m bot.bench_burst", description=__doc__)
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, help="MAX_CONCURRENT_UPDATES")
    parser.add_argument(
        "--reference", action="store_true", help="also run the stock PTB echo bot's burst"
    )
    args = parser.parse_args(argv)
    runs = [("this bot", False)] + ([("PTB echo", True)] if args.reference else [])
    for name, reference in runs:
        figures = asyncio.run(
            burst(args.readers, args.delay_ms / 1000, args.concurrency, reference=reference)
        )
        print(
            f"burst ({name}): {args.readers} readers at once, {args.delay_ms:g} ms per Bot API"
            f" call, MAX_CONCURRENT_UPDATES={args.concurrency or 'default'}: update -> reply "
            f"p50 {figures['p50']:.2f} s, p95 {figures['p95']:.2f} s, "
            f"max {figures['max']:.2f} s; bot CPU {figures['cpu'] * 1000:.2f} ms per update"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
