"""Operator commands beside the bot: `backup FILE` and `healthcheck`.

Both print one line and return an exit code; neither needs the token nor the network.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.store.db import DatabaseOpenError, backup_database, probe_database

# One check of `healthcheck`: returns a short "ok" note, raises with a one-line reason.
HealthCheck = Callable[[Settings], str]


def database_check(settings: Settings) -> str:
    """The database file exists, opens, has a schema this bot knows, and can take a write
    lock (so it is writable and not stuck); nothing is written."""
    return probe_database(settings.database_path)


def health_checks(settings: Settings) -> list[HealthCheck]:
    """The checks `healthcheck` runs, in order: the database; an HTTP probe of the bot's
    own health endpoint joins them once the bot serves one."""
    return [database_check]


def healthcheck(settings: Settings) -> int:
    """`python -m bot healthcheck`: 0 and "healthy: ..." when every check passes, else 1
    and "unhealthy: <reason>" (Docker's HEALTHCHECK shows that line)."""
    notes = []
    for check in health_checks(settings):
        try:
            notes.append(check(settings))
        except (DatabaseOpenError, OSError) as exc:
            print(f"unhealthy: {exc}", file=sys.stderr)
            return 1
    print("healthy: " + "; ".join(notes))
    return 0


def backup(settings: Settings, target: str | Path) -> int:
    """`python -m bot backup FILE`: a consistent copy of the database, taken with SQLite's
    online backup API while the bot may be running, written to FILE.partial, checked, then
    renamed to FILE. A folder as FILE (existing, or written with a trailing slash) gets
    `bot-YYYYMMDD-HHMMSS.sqlite3` (UTC) inside it; missing folders are created."""
    text = str(target)
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir():
        path = path / f"bot-{datetime.now(UTC):%Y%m%d-%H%M%S}.sqlite3"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        size, version = backup_database(settings.database_path, path)
    except DatabaseOpenError as exc:
        print(f"Backup failed: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"Backup failed: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"Backup written: {path} ({size / 1e6:.1f} MB, schema {version}, integrity ok)")
    return 0
