"""The burst figure: 1,000 distinct readers send `/forecast N` at once to the real
`python -m bot run`, polling the HTTP emulator on 127.0.0.1 where every Bot API call takes
50 ms, with the overall send-rate limit lifted (RATE_LIMIT_OVERALL_PER_SECOND). Reports the
time from the moment the updates are queued at "Telegram" to each reader's reply: median, p95,
max, and the bot's CPU time per update during the burst (user + system, from
/proc/<pid>/stat; steadier than the times on a shared machine).

    python -m bot.bench_burst [--readers 1000] [--delay-ms 50] [--concurrency N]
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

from bot.emulator import Emulator
from bot.emulator.http import EmulatorServer

TOKEN = "424242:BENCH-secretsecretsecretsecretsecret"  # noqa: S105 - the emulator's
BURST_SECONDS = 300
ROOT = Path(__file__).resolve().parents[1]


TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (0.0 where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


async def burst(readers: int, delay: float, concurrency: int | None) -> dict[str, float]:
    """Run one burst; returns seconds: p50, p95, max (update queued -> reply) and the bot's
    CPU seconds per update ("cpu")."""
    emu = Emulator(bot_id=424242)
    server = EmulatorServer(emu, call_delay=delay)
    await server.start()
    people = [emu.user(1_000_000 + n, f"Reader{n}", "en") for n in range(readers)]
    with tempfile.TemporaryDirectory(prefix="burst-") as folder:
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("ADMIN_IDS", "CHANNEL_ID")},
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": server.base_url,
            "TELEGRAM_FILE_BASE_URL": server.file_base_url,
            "RATE_LIMIT_OVERALL_PER_SECOND": "1000000",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        if concurrency:
            env["MAX_CONCURRENT_UPDATES"] = str(concurrency)
        with (Path(folder) / "bot.log").open("wb") as log:
            process = subprocess.Popen(  # noqa: ASYNC220 - started once, before the burst
                [sys.executable, "-m", "bot", "run"], cwd=folder, env=env, stdout=log, stderr=log
            )
        try:
            if not await server.wait_for(lambda: bool(server.served) or _polling(emu), 60):
                raise SystemExit("the bot did not start polling")
            cpu_before = cpu_seconds(process.pid)
            queued = time.monotonic()
            for n, reader in enumerate(people):
                text = f"/forecast {1 + n % 99}"
                emu.queue(emu.message(reader, emu.private_chat(reader), text))
            ids = [p["id"] for p in people]
            done = await server.wait_for(
                lambda: len(server.first_sent) >= readers, BURST_SECONDS, every=0.05
            )
            if not done:
                raise SystemExit(f"only {len(server.first_sent)} of {readers} answered")
            cpu = (cpu_seconds(process.pid) - cpu_before) / readers
            waits = sorted(server.first_sent[i] - queued for i in ids)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
            await server.stop()
    return {
        "p50": statistics.median(waits),
        "p95": waits[int(0.95 * (len(waits) - 1))],
        "max": waits[-1],
        "cpu": cpu,
    }


def _polling(emu: Emulator) -> bool:
    return any(c.method == "getUpdates" for c in emu.calls)


def main(argv: list[str] | None = None) -> int:
    """Print the burst figure."""
    parser = argparse.ArgumentParser(prog="python -m bot.bench_burst", description=__doc__)
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, help="MAX_CONCURRENT_UPDATES")
    args = parser.parse_args(argv)
    figures = asyncio.run(burst(args.readers, args.delay_ms / 1000, args.concurrency))
    print(
        f"burst: {args.readers} readers at once, {args.delay_ms:g} ms per Bot API call, "
        f"MAX_CONCURRENT_UPDATES={args.concurrency or 'default'}: update -> reply "
        f"p50 {figures['p50']:.2f} s, p95 {figures['p95']:.2f} s, max {figures['max']:.2f} s; "
        f"bot CPU {figures['cpu'] * 1000:.2f} ms per update"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
