"""SQLite connection, pragmas, numbered migrations and the transaction helper."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from weakref import WeakKeyDictionary

import aiosqlite

from bot.store.migrations import MIGRATIONS

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer version of the bot than this one."""


def utcnow() -> str:
    """The current time as ISO 8601 UTC text with microseconds (sorts as text)."""
    return to_iso(datetime.now(UTC))


def to_iso(moment: datetime) -> str:
    """A timezone-aware datetime as the store's UTC text form."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    """Parse the store's UTC text form back into an aware datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


async def connect(path: Path, *, autocommit: bool = False) -> aiosqlite.Connection:
    """Open `path` (creating its folder), set the pragmas every connection needs;
    `autocommit`: every statement commits at once unless a transaction is begun explicitly.

    WAL lets readers run beside the writer; NORMAL sync is safe with WAL and much faster;
    the busy timeout makes a second process (e.g. `bot export`) wait instead of failing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(path, isolation_level=None if autocommit else "")
    conn.row_factory = aiosqlite.Row
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")
    await conn.execute("PRAGMA foreign_keys=ON")
    await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


async def schema_version(conn: aiosqlite.Connection) -> int:
    """The highest applied migration number, 0 for a new database."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    async with conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(conn: aiosqlite.Connection) -> list[int]:
    """Apply the pending numbered migrations, each in its own transaction.

    Returns the versions applied (empty when up to date).
    Raises SchemaTooNewError when the database is newer than this code.
    """
    current = await schema_version(conn)
    latest = max(MIGRATIONS)
    if current > latest:
        raise SchemaTooNewError(
            f"The database is at schema version {current}, but this bot knows only up to "
            f"{latest}. Upgrade the bot or use another DATABASE_URL."
        )
    applied = []
    for version in sorted(v for v in MIGRATIONS if v > current):
        try:
            await conn.executescript(
                "BEGIN;\n"
                + MIGRATIONS[version]
                + f"\nINSERT INTO schema_migrations VALUES ({version}, '{utcnow()}');\nCOMMIT;"
            )
        except Exception:
            await conn.rollback()
            raise
        logger.info("Applied migration %s", version)
        applied.append(version)
    return applied


def columns(row_type: type, prefix: str = "") -> str:
    """The column list of a row dataclass, in field order: "a, b, c" (or "p.a, p.b, ...")."""
    return ", ".join(prefix + f.name for f in fields(row_type))


async def fetch_all(
    conn: aiosqlite.Connection, sql: str, params: Sequence[object] = ()
) -> list[aiosqlite.Row]:
    """Run a query and return every row, in one hop to the database thread."""
    return list(await conn.execute_fetchall(sql, params))


async def fetch_one(
    conn: aiosqlite.Connection, sql: str, params: Sequence[object] = ()
) -> aiosqlite.Row | None:
    """Run a query and return its first row, or None."""
    rows = await conn.execute_fetchall(sql, params)
    return next(iter(rows), None)


# One writer at a time per connection: handlers, jobs and background tasks share the
# connection, and a commit from one task must never land inside another's transaction.
_write_locks: WeakKeyDictionary[aiosqlite.Connection, asyncio.Lock] = WeakKeyDictionary()


def write_lock(conn: aiosqlite.Connection) -> asyncio.Lock:
    """The connection's one-writer-at-a-time lock (held by `transaction`)."""
    return _write_locks.setdefault(conn, asyncio.Lock())


@asynccontextmanager
async def transaction(conn: aiosqlite.Connection) -> AsyncIterator[aiosqlite.Connection]:
    """Run one or more writes as a unit, alone on the connection: commit on success, roll
    back on any error. Not re-entrant: do not open a transaction inside another."""
    async with write_lock(conn):
        try:
            yield conn
        except BaseException:
            await conn.rollback()
            raise
        else:
            await conn.commit()
