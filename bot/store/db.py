"""SQLite connection, pragmas, numbered migrations and the transaction helper."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from weakref import WeakKeyDictionary

import aiosqlite

from bot.store.migrations import MIGRATIONS

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


class DatabaseOpenError(RuntimeError):
    """The database cannot be opened or used as it is: the message is one line naming the
    path, what is wrong and how to fix it (meant for the operator, printed as is)."""


class SchemaTooNewError(DatabaseOpenError):
    """The database was written by a newer version of the bot than this one."""


def _uid() -> str:
    return f"uid {os.getuid()}" if hasattr(os, "getuid") else "this user"


def check_path(path: Path) -> None:
    """Check, before SQLite does, what it would only report as "unable to open database
    file": the path is a folder, its folder cannot be created or written (SQLite also writes
    the -wal and -shm files there), the file or its -wal/-shm files are not readable or
    writable by this process. Creates the folder when missing.

    Raises DatabaseOpenError naming the path, the process's uid and the fix.
    """
    uid = _uid()
    if path.is_dir():
        raise DatabaseOpenError(
            f"DATABASE_URL names a folder, not a file: {path}. Name a file in it, "
            f"e.g. DATABASE_URL=sqlite:///{path / 'bot.sqlite3'}"
        )
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseOpenError(
            f"Cannot create the database folder {folder} as {uid}: {exc.strerror}. "
            f"Create it writable for {uid} or set DATABASE_URL to a writable place."
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatabaseOpenError(
            f"The database folder {folder.absolute()} is not writable by {uid}. Fix: give "
            f"that user the folder (chown -R {uid.removeprefix('uid ')} {folder.absolute()}, "
            "on the host for a bind mount) or set DATABASE_URL to a writable place."
        )
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and not os.access(file, os.R_OK | os.W_OK):
            raise DatabaseOpenError(
                f"The database file {file.absolute()} is not readable and writable by {uid}. "
                f"Fix: chown {uid.removeprefix('uid ')} {file.absolute()} (and chmod u+rw), "
                "or set DATABASE_URL to another file."
            )


def explain(path: Path, exc: sqlite3.Error) -> str:
    """One line for an SQLite error met while opening or migrating `path`: what it means
    and what to do. The error's own text is kept at the end."""
    text = str(exc)
    low = text.lower()
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        what = (
            "is not an SQLite database or is damaged. Restore it from a backup "
            "(see README, Backups) or set DATABASE_URL to a new file"
        )
    elif "readonly" in low or "read-only" in low:
        what = f"is read-only for {_uid()}. Make it and its folder writable for that user"
    elif "locked" in low or "busy" in low:
        what = "is locked by another process. Stop the other bot using it, or wait"
    elif "unable to open" in low or "i/o error" in low or "disk" in low:
        what = f"cannot be opened by {_uid()}. Check the path, free space and permissions"
    else:
        what = "cannot be used"
    return f"The database {path.absolute()} {what} ({text})."


def utcnow() -> str:
    """The current time as ISO 8601 UTC text with microseconds (sorts as text)."""
    return to_iso(datetime.now(UTC))


def expired(since: datetime, ttl: timedelta | None, now: datetime | None = None) -> bool:
    """The one expiry rule of pending steps, drafts and comment offers: True when the
    aware time `since` lies more than `ttl` before `now` (default: the current time);
    never with `ttl` None."""
    if ttl is None:
        return False
    return since < (now or datetime.now(UTC)) - ttl


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
    A file SQLite cannot use (garbage, damaged, read-only, locked) raises DatabaseOpenError
    with one line saying what to do; the connection (and its worker thread, which would keep
    the process alive) is closed first.
    """
    check_path(path)
    try:
        conn = await aiosqlite.connect(path, isolation_level=None if autocommit else "")
    except sqlite3.Error as exc:
        raise DatabaseOpenError(explain(path, exc)) from None
    try:
        conn.row_factory = aiosqlite.Row
        await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute_fetchall("SELECT count(*) FROM sqlite_schema")  # reads page 1
    except sqlite3.Error as exc:
        await conn.close()
        raise DatabaseOpenError(explain(path, exc)) from None
    except BaseException:
        await conn.close()
        raise
    return conn


async def applied_versions(conn: aiosqlite.Connection) -> set[int]:
    """The migration numbers applied to this database (empty for a new one)."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    return {int(row[0]) for row in await fetch_all(conn, "SELECT version FROM schema_migrations")}


async def schema_version(conn: aiosqlite.Connection) -> int:
    """The highest applied migration number, 0 for a new database."""
    return max(await applied_versions(conn), default=0)


async def migrate(conn: aiosqlite.Connection) -> list[int]:
    """Apply the pending numbered migrations in order, each in its own transaction.

    Pending means known here and not yet applied, so a step numbered below the database's
    highest one (merged later) is applied too. Returns the versions applied (empty when up
    to date). Raises SchemaTooNewError when the database has a step newer than this code.
    """
    applied_before = await applied_versions(conn)
    latest = max(MIGRATIONS)
    current = max(applied_before, default=0)
    if current > latest:
        raise SchemaTooNewError(
            f"The database is at schema version {current}, but this bot knows only up to "
            f"{latest}. Upgrade the bot or use another DATABASE_URL."
        )
    applied = []
    for version in sorted(set(MIGRATIONS) - applied_before):
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


def preflight(path: Path) -> None:
    """Check, quickly and before the bot is even imported, that `path` can serve as the
    database: `check_path`, then SQLite opens it (creating it when missing), it is an SQLite
    file, it can be switched to WAL (so it is writable) and its schema is not newer than
    this code. Raises DatabaseOpenError (SchemaTooNewError) with one line; leaves nothing
    open."""
    check_path(path)
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise DatabaseOpenError(explain(path, exc)) from None
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
        if "schema_migrations" in names:
            row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            current, latest = int(row.fetchone()[0]), max(MIGRATIONS)
            if current > latest:
                raise SchemaTooNewError(
                    f"The database {path.absolute()} is at schema version {current}, but this "
                    f"bot knows only up to {latest}. Upgrade the bot or use another DATABASE_URL."
                )
    except sqlite3.Error as exc:
        raise DatabaseOpenError(explain(path, exc)) from None
    finally:
        conn.close()


def _open_existing(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A plain sqlite3 connection to an existing file (never creates one)."""
    if not path.is_file():
        raise DatabaseOpenError(
            f"No database at {path.absolute()} (DATABASE_URL). "
            "Create it with: python -m bot init-db"
        )
    mode = "ro" if readonly else "rw"
    try:
        conn = sqlite3.connect(
            f"{path.absolute().as_uri()}?mode={mode}",
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise DatabaseOpenError(explain(path, exc)) from None
    return conn


def probe_database(path: Path) -> str:
    """Check that the existing database at `path` opens, has a schema this code knows and
    can take the write lock (nothing is written). Returns a short note; raises
    DatabaseOpenError with a one-line reason. May wait up to the busy timeout (5 s) for a
    writer."""
    check_path(path)
    conn = _open_existing(path)
    try:
        versions = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
        version = max(versions, default=0)
        if version > max(MIGRATIONS):
            raise SchemaTooNewError(f"The database is at schema version {version}, too new")
        conn.execute("BEGIN IMMEDIATE")  # takes the write lock: writable and not stuck
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise DatabaseOpenError(explain(path, exc)) from None
    finally:
        conn.close()
    return f"database {path} (schema {version}) writable"


def backup_database(source: Path, target: Path) -> tuple[int, int]:
    """Copy the database `source` to the file `target` with SQLite's online backup API
    (safe while the bot writes to it), through `target`.partial renamed into place once a
    quick_check passed. Returns (size in bytes, schema version). Raises DatabaseOpenError."""
    partial = target.with_name(target.name + ".partial")
    src = _open_existing(source, readonly=True)
    try:
        partial.unlink(missing_ok=True)
        dest = sqlite3.connect(partial)
        try:
            src.backup(dest)  # one step: a consistent snapshot, writers continue (WAL)
            dest.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
            check = dest.execute("PRAGMA quick_check").fetchone()[0]
            row = dest.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            version = int(row.fetchone()[0])
        finally:
            dest.close()
        if check != "ok":
            raise DatabaseOpenError(f"The copy of {source} failed its check: {check}")
        partial.replace(target)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise DatabaseOpenError(explain(source, exc)) from None
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise DatabaseOpenError(f"Cannot write the backup {target}: {exc.strerror}") from None
    finally:
        src.close()
    return target.stat().st_size, version


def columns(row_type: type, prefix: str = "") -> str:
    """The column list of a row dataclass, in field order: "a, b, c" (or "p.a, p.b, ...")."""
    return ", ".join(prefix + f.name for f in fields(row_type))


T = typing.TypeVar("T")
_TIME_FIELDS: dict[type, tuple[int, ...]] = {}


def _time_fields(row_type: type) -> tuple[int, ...]:
    """The positions of the fields of a row dataclass typed `datetime` (or `datetime | None`),
    worked out once per type."""
    found = _TIME_FIELDS.get(row_type)
    if found is None:
        hints = typing.get_type_hints(row_type)
        times = (datetime, datetime | None)
        found = tuple(i for i, f in enumerate(fields(row_type)) if hints[f.name] in times)
        _TIME_FIELDS[row_type] = found
    return found


def from_row(row_type: type[T], row: Sequence[object]) -> T:
    """A row dataclass from a database row in `columns(row_type)` order: the store's UTC
    text of each `datetime` field becomes an aware datetime (NULL stays None)."""
    times = _time_fields(row_type)
    if not times:
        return row_type(*row)
    values = list(row)
    for i in times:
        if values[i] is not None:
            values[i] = from_iso(str(values[i]))
    return row_type(*values)


def to_row(item: object) -> tuple[object, ...]:
    """The values of a row dataclass in `columns()` order, its `datetime` fields as the
    store's UTC text (the inverse of `from_row`)."""
    values = [getattr(item, f.name) for f in fields(item)]  # type: ignore[arg-type]
    return tuple(to_iso(v) if isinstance(v, datetime) else v for v in values)


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


class Memo(typing.Generic[T]):
    """A value read from the database and kept in memory until `changed()`, which every
    repository method that commits a write able to change it calls. A read that overlapped
    such a write is returned but not kept (the next `get` reads again)."""

    def __init__(self) -> None:
        self._value: T | None = None
        self._writes = 0

    async def get(self, load: Callable[[], Awaitable[T]]) -> T:
        """The kept value, or `load()`'s (kept unless a write happened meanwhile)."""
        if self._value is not None:
            return self._value
        writes = self._writes
        value = await load()
        if writes == self._writes:
            self._value = value
        return value

    def changed(self) -> None:
        """After a committed write: the next `get` reads again."""
        self._writes += 1
        self._value = None


# One writer at a time per connection: handlers, jobs and background tasks share the
# connection, and a commit from one task must never land inside another's transaction.
_write_locks: WeakKeyDictionary[aiosqlite.Connection, asyncio.Lock] = WeakKeyDictionary()


def write_lock(conn: aiosqlite.Connection) -> asyncio.Lock:
    """The lock every transaction on `conn` holds; reads that must not see another task's
    uncommitted writes (they share the connection) take it too."""
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
