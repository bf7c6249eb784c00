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
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.bench import launch
from bot.bench_api import message
from bot.config import Settings

BURST_SECONDS = 300
# the reference handles as many updates at once as this bot does by default
DEFAULT_CONCURRENCY = Settings.model_fields["max_concurrent_updates"].default


async def burst(
    readers: int, delay: float, concurrency: int | None, *, reference: bool = False
) -> dict[str, float]:
    """Run one burst against this bot (or, with `reference`, the stock PTB echo bot);
    returns seconds: p50, p95, max (update queued -> reply) and the bot's CPU seconds per
    update ("cpu"). Raises RuntimeError when the bot does not start, SystemExit when it does
    not answer everyone in time."""
    uids = [1_000_000 + n for n in range(readers)]
    env = {"RATE_LIMIT_OVERALL_PER_SECOND": "1000000", "LOG_LEVEL": "WARNING"}
    if concurrency:
        env["MAX_CONCURRENT_UPDATES"] = str(concurrency)
    args = ["-m", "bot", "run"]
    if reference:
        env["BENCH_ECHO_CONCURRENCY"] = str(concurrency or DEFAULT_CONCURRENCY)
        args = ["-m", "bot.bench_echo"]
    with tempfile.TemporaryDirectory(prefix="burst-") as folder:
        proc = await launch("bot", args, Path(folder), env, call_delay=delay)
        try:
            cpu_before = proc.cpu_seconds()
            queued = time.monotonic()
            proc.api.queue(
                [message(uid, f"/forecast {1 + n % 99}") for n, uid in enumerate(uids)],
                [(uid, "sendMessage") for uid in uids],
            )
            try:
                await asyncio.wait_for(proc.api.done.wait(), BURST_SECONDS)
            except TimeoutError:
                raise SystemExit(f"only {len(proc.api.answered)} of {readers} answered") from None
            cpu = (proc.cpu_seconds() - cpu_before) / readers
            waits = sorted(proc.api.answered[uid] - queued for uid in uids)
        finally:
            await proc.stop()
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
