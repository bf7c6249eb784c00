"""Command line: `python -m bot run | shell | init-db | stats import FILE | export ...`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import BinaryIO

from bot.config import Settings, SettingsError, load_settings
from bot.logs import setup_logging

BOTFATHER_HELP = (
    "BOT_TOKEN is not set. Get a token from @BotFather (https://t.me/BotFather) and put it in "
    ".env or the environment, or try the bot offline with: python -m bot shell"
)

REJECTED_HELP = (
    "Telegram rejected BOT_TOKEN. Copy it again from @BotFather (/mybots → API Token) "
    "into .env, or check TELEGRAM_API_BASE_URL."
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The sub-commands and their options."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="long polling against Telegram (or TELEGRAM_API_BASE_URL)")
    run.add_argument(
        "--webhook", action="store_true", help="receive updates on WEBHOOK_URL instead"
    )
    shell = sub.add_parser("shell", help="talk to the bot offline, on the emulator")
    shell.add_argument("--files", type=Path, default=Path("shell-files"), help="where files go")
    sub.add_parser("init-db", help="create or migrate the database and load the dataset")
    stats = sub.add_parser("stats", help="statistics upkeep")
    stats_sub = stats.add_subparsers(dest="stats_command", required=True)
    imp = stats_sub.add_parser("import", help="load a dataset file (format: bot/data/*.toml)")
    imp.add_argument("file", type=Path)
    backup = sub.add_parser("backup", help="copy the database safely, even while the bot runs")
    backup.add_argument("file", help="the copy to write; a folder (or 'dir/'): a dated file in it")
    sub.add_parser("healthcheck", help="exit 0 when the database opens and is writable, else 1")
    export = sub.add_parser("export", help="a question's forecasts as CSV or JSON")
    export.add_argument("--question", metavar="SLUG", help="default: the default question")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--history", action="store_true", help="every revision (CSV only)")
    export.add_argument("--full", action="store_true", help="with ids and names (see settings)")
    export.add_argument("--out", type=Path, metavar="FILE", help="instead of stdout")
    return parser.parse_args(argv)


def run_polling(settings: Settings, webhook: bool = False) -> int:
    """Long polling until SIGINT/SIGTERM, then a stop within SHUTDOWN_TIMEOUT_SECONDS
    (bot/runner.py)."""
    if settings.bot_token is None:
        print(BOTFATHER_HELP, file=sys.stderr)
        return 2
    if webhook:
        for name, value in (("WEBHOOK_URL", settings.webhook_url),
                            ("WEBHOOK_SECRET", settings.webhook_secret)):  # fmt: skip
            if not value:
                print(f"{name} is not set: `run --webhook` needs it (see README, Webhook).",
                      file=sys.stderr)  # fmt: skip
                return 2
    from telegram.error import InvalidToken, NetworkError

    from bot.logs import RedactTokenFilter
    from bot.runner import event_loop_factory, serve

    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            return runner.run(serve(settings, webhook=webhook))
    except InvalidToken:
        print(REJECTED_HELP, file=sys.stderr)
        return 2
    except NetworkError as exc:  # at start-up: PTB retries on its own once it is running
        reason = RedactTokenFilter(settings.bot_token.get_secret_value()).redact(str(exc))
        print(f"Cannot reach the Bot API ({reason}). Check the network.", file=sys.stderr)
        return 1


async def init_db(settings: Settings) -> int:
    """Apply migrations and seed; print what was done."""
    from bot.app import seed
    from bot.store import Store

    store = await Store.open(settings.database_path)
    try:
        await seed(store)
        print(f"Database ready: {settings.database_path}")
    finally:
        await store.close()
    return 0


async def import_stats(settings: Settings, path: Path) -> int:
    """`stats import FILE`: load a dataset and report what changed."""
    from bot.services.dataset import DatasetError, load_dataset
    from bot.store import Store

    try:
        dataset = load_dataset(path)
    except DatasetError as exc:
        print(f"Cannot import: {exc}", file=sys.stderr)
        return 1
    store = await Store.open(settings.database_path)
    try:
        report = await store.stats.seed(dataset, via="import")
        created = await store.questions.seed(dataset.questions)
    finally:
        await store.close()
    print(f"Dataset {dataset.name} v{dataset.version} loaded from {path}")
    for label, keys in (
        ("new", report.inserted),
        ("updated", report.updated),
        ("kept (changed by an admin)", report.kept_edited),
        ("new questions", tuple(created)),
    ):
        print(f"  {label}: {', '.join(keys) if keys else 'none'}")
    return 0


async def export_results(settings: Settings, args: argparse.Namespace) -> int:
    """`export`: the same bytes /export sends, to --out FILE (written whole, then renamed
    into place) or stdout; progress on stderr when it is a terminal."""
    from bot.app import with_stored_secrets
    from bot.services.export_run import cli_export
    from bot.store import Store

    store = await Store.open(settings.database_path)
    settings = await with_stored_secrets(settings, store)
    partial = args.out.with_name(args.out.name + ".partial") if args.out else None
    out: BinaryIO = partial.open("wb") if partial else sys.stdout.buffer
    try:
        code = await cli_export(
            store,
            slug=args.question,
            fmt=args.format,
            history=args.history,
            full=args.full,
            allow_full=settings.export_allow_full,
            salt=settings.export_salt.get_secret_value(),
            out=out,
            err=sys.stderr,
        )
    finally:
        await store.close()
        if partial:
            out.close()
    if partial and args.out:
        if code == 0:
            partial.replace(args.out)
        else:
            partial.unlink(missing_ok=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m bot` and the `beijing-ai-bot` script; returns the exit code."""
    args = parse_args(argv)
    # durations (RetryAfter.retry_after, ...) as timedelta: PTB 23's default, no warnings
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    token = settings.bot_token.get_secret_value() if settings.bot_token else None
    # the console keeps the conversation clean: its log goes to a file beside its files
    console_log = args.files / "console.log" if args.command == "shell" else None
    setup_logging(settings.log_level, token, console_log)
    try:
        if args.command in ("run", "shell", "init-db", "stats", "export"):
            # the database's faults are found before the bot (and its libraries) load
            from bot.store.db import preflight

            preflight(settings.database_path)
        if args.command == "run":
            return run_polling(settings, webhook=args.webhook)
        if args.command == "shell":
            from bot.shell import run_shell

            return asyncio.run(run_shell(settings, sys.stdin, sys.stdout, files_dir=args.files))
        if args.command == "init-db":
            return asyncio.run(init_db(settings))
        if args.command == "stats":
            return asyncio.run(import_stats(settings, args.file))
        if args.command == "export":
            return asyncio.run(export_results(settings, args))
        if args.command in ("backup", "healthcheck"):
            from bot import ops

            if args.command == "backup":
                return ops.backup(settings, args.file)
            return ops.healthcheck(settings)
    except BrokenPipeError:  # e.g. `python -m bot export ... | head`: the reader went away
        # stdout is gone: point it at /dev/null so the interpreter's final flush is quiet
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # one clear line for operators on what they can fix
        from bot.store.db import DatabaseOpenError

        if isinstance(exc, DatabaseOpenError):
            print(exc, file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
