"""The durable inbox: updates as Telegram sent them, kept until their handlers have finished.

A row is written before Telegram is told the update arrived; `handled_at` (UTC text) is set
once it has been handled (or skipped as unparseable). The unique `update_id` makes a
redelivered update a no-op.

The inbox lives in a SQLite file of its own beside the store's (`inbox_path`), so that its
writes never wait for the store's: a done mark takes about a millisecond instead of up to a
second behind a busy store, which is the window in which a crash makes an update run twice.
Its contents are transient (handled rows are pruned), so it has no numbered migrations: the
schema below is created when missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiosqlite

from bot.store.db import connect, fetch_all, fetch_one, to_iso, transaction, utcnow, write_lock

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    update_id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    raw TEXT NOT NULL,
    received_at TEXT NOT NULL,
    handled_at TEXT
);
CREATE INDEX IF NOT EXISTS inbox_pending ON inbox(update_id) WHERE handled_at IS NULL;
CREATE INDEX IF NOT EXISTS inbox_handled ON inbox(handled_at) WHERE handled_at IS NOT NULL;
"""

# SQLite's default limit on host parameters is 999 in old builds: stay well below it
_CHUNK = 500


@dataclass(frozen=True)
class InboxRow:
    """One stored update: `raw` is Telegram's JSON text, `kind` its type ("message", ...)."""

    update_id: int
    kind: str
    raw: str


class InboxRepo:
    """Reads and writes of the `inbox` table, on its own connection in autocommit mode (see
    `connect_inbox`): a done mark is one statement and one hop to the database thread."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def add_new(self, rows: Sequence[InboxRow]) -> set[int]:
        """Store the rows whose update_id is not known yet, all in one transaction.

        Returns the update_ids that were new (a known one, handled or not, is left as it is).
        """
        if not rows:
            return set()
        now = utcnow()
        async with transaction(self.conn) as conn:
            await conn.execute("BEGIN IMMEDIATE")
            known: set[int] = set()
            ids = [row.update_id for row in rows]
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                found = await fetch_all(
                    conn, f"SELECT update_id FROM inbox WHERE update_id IN ({marks})", chunk
                )
                known.update(int(r[0]) for r in found)
            fresh = {}
            for row in rows:
                if row.update_id not in known:
                    fresh[row.update_id] = row
            await conn.executemany(
                "INSERT INTO inbox (update_id, kind, raw, received_at) VALUES (?, ?, ?, ?)",
                [(r.update_id, r.kind, r.raw, now) for r in fresh.values()],
            )
        return set(fresh)

    async def mark_handled(self, update_ids: Iterable[int]) -> None:
        """Set handled_at (now, UTC) on these updates, in one short transaction."""
        ids = list(update_ids)
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        async with write_lock(self.conn):  # autocommit: one statement, one commit
            await self.conn.execute(
                f"UPDATE inbox SET handled_at = ? WHERE update_id IN ({marks})"
                " AND handled_at IS NULL",
                (utcnow(), *ids),
            )
            if self.conn.in_transaction:  # a connection not in autocommit mode
                await self.conn.commit()

    async def unhandled(self) -> list[InboxRow]:
        """The updates not handled yet, in update_id order (the order Telegram sent them)."""
        rows = await fetch_all(
            self.conn,
            "SELECT update_id, kind, raw FROM inbox WHERE handled_at IS NULL ORDER BY update_id",
        )
        return [InboxRow(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def depth(self) -> int:
        """How many stored updates are not handled yet."""
        row = await fetch_one(self.conn, "SELECT COUNT(*) FROM inbox WHERE handled_at IS NULL")
        return int(row[0]) if row else 0

    async def ping(self) -> None:
        """One trivial query; raises what sqlite raises when the file is unreachable."""
        await self.conn.execute_fetchall("SELECT 1 FROM inbox LIMIT 1")

    async def is_handled(self, update_id: int) -> bool | None:
        """True once handled, False while pending, None for an unknown update_id."""
        row = await fetch_one(
            self.conn, "SELECT handled_at FROM inbox WHERE update_id = ?", (update_id,)
        )
        return None if row is None else row[0] is not None

    async def prune(self, handled_before: datetime, keep: int) -> int:
        """Delete handled rows handled before the aware time `handled_before`, always
        keeping the newest `keep` handled rows; unhandled rows are never deleted.

        Returns the number of rows deleted.
        """
        async with write_lock(self.conn):
            cur = await self.conn.execute(
                "DELETE FROM inbox WHERE handled_at IS NOT NULL AND handled_at < ?"
                " AND update_id NOT IN (SELECT update_id FROM inbox"
                "  WHERE handled_at IS NOT NULL ORDER BY update_id DESC LIMIT ?)",
                (to_iso(handled_before), keep),
            )
            if self.conn.in_transaction:
                await self.conn.commit()
            return cur.rowcount


def inbox_path(store_path: Path) -> Path:
    """The inbox's file beside the store's: data/bot.sqlite3 -> data/bot.inbox.sqlite3."""
    return store_path.with_name(f"{store_path.stem}.inbox{store_path.suffix or '.sqlite3'}")


async def connect_inbox(store_path: Path) -> aiosqlite.Connection:
    """Open (creating when missing) the inbox beside the store's file, in autocommit mode:
    each statement commits at once; `InboxRepo.add_new` begins its transaction explicitly."""
    conn = await connect(inbox_path(store_path), autocommit=True)
    try:
        await conn.executescript(SCHEMA)
    except BaseException:
        await conn.close()
        raise
    return conn
