"""The durable inbox: updates as Telegram sent them, kept until their handlers have finished,
and the journal of what the bot sent while handling them.

A row is written before Telegram is told the update arrived; `handled_at` (UTC text) is set
once it has been handled (or skipped as unparseable). The unique `update_id` makes a
redelivered update a no-op.

`inbox_sent` journals, per update being handled, each Bot API call that answers it (a reply
in its chat, the answer to its callback query): its sequence number, method and Telegram's
result. When a crash leaves an update unhandled, the next start handles it again, and the
calls already journaled are not sent again: their stored results are returned instead.

The inbox lives in a SQLite file of its own beside the store's (`inbox_path`) and is used
through a plain sqlite3 connection in autocommit mode, on the event loop's thread: each of
its statements is one short write to its own file (about 0.1 ms; no other connection writes
it, so none ever waits for a lock), and a journal entry or done mark is on disk the moment
the call that needed it returns, with no hop to a database thread in between. Its contents
are transient (handled rows are pruned), so it has no numbered migrations: the schema below
is created when missing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.store.db import BUSY_TIMEOUT_MS, DatabaseOpenError, check_path, explain, utcnow

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
CREATE TABLE IF NOT EXISTS inbox_sent (
    update_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    method TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (update_id, seq)
) WITHOUT ROWID;
"""

# SQLite's default limit on host parameters is 999 in old builds: stay well below it
_CHUNK = 500

# A journaled call: (method, Telegram's JSON result)
SentCall = tuple[str, Any]


@dataclass(frozen=True)
class InboxRow:
    """One stored update: `raw` is Telegram's JSON text, `kind` its type ("message", ...)."""

    update_id: int
    kind: str
    raw: str


class InboxRepo:
    """Reads and writes of the inbox, on its own sqlite3 connection in autocommit mode (see
    the module). The methods are coroutines for the callers' sake; they do not yield."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        # unhandled updates with journaled calls (left by a crash): their replays
        self._replays: set[int] = {
            int(r[0])
            for r in conn.execute(
                "SELECT DISTINCT s.update_id FROM inbox_sent s JOIN inbox i USING (update_id)"
                " WHERE i.handled_at IS NULL"
            )
        }

    async def add_new(self, rows: Sequence[InboxRow]) -> set[int]:
        """Store the rows whose update_id is not known yet, all in one transaction.

        Returns the update_ids that were new (a known one, handled or not, is left as it is).
        """
        if not rows:
            return set()
        now = utcnow()
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            known: set[int] = set()
            ids = [row.update_id for row in rows]
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                found = conn.execute(
                    f"SELECT update_id FROM inbox WHERE update_id IN ({marks})", chunk
                )
                known.update(int(r[0]) for r in found)
            fresh = {row.update_id: row for row in rows if row.update_id not in known}
            conn.executemany(
                "INSERT INTO inbox (update_id, kind, raw, received_at) VALUES (?, ?, ?, ?)",
                [(r.update_id, r.kind, r.raw, now) for r in fresh.values()],
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return set(fresh)

    async def mark_handled(self, update_ids: Iterable[int]) -> None:
        """Set handled_at (now, UTC) on these updates: one statement, committed at once."""
        self.mark_handled_now(update_ids)

    def mark_handled_now(self, update_ids: Iterable[int]) -> None:
        """`mark_handled` without the coroutine: on disk when it returns."""
        ids = list(update_ids)
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        self.conn.execute(
            f"UPDATE inbox SET handled_at = ? WHERE update_id IN ({marks}) AND handled_at IS NULL",
            (utcnow(), *ids),
        )
        self._replays.difference_update(ids)

    def record_sent(self, update_id: int, seq: int, method: str, result: Any) -> None:
        """Journal the `seq`-th call (0-based) sent while handling `update_id`: `method` and
        Telegram's JSON result. On disk when it returns. A second entry with the same
        (update_id, seq) replaces the first."""
        self.conn.execute(
            "INSERT OR REPLACE INTO inbox_sent (update_id, seq, method, result)"
            " VALUES (?, ?, ?, ?)",
            (update_id, seq, method, json.dumps(result, ensure_ascii=False)),
        )

    def sent_before(self, update_id: int) -> dict[int, SentCall]:
        """The calls journaled for `update_id` by an earlier run that did not finish
        handling it: {seq: (method, result)}; empty for any other update (no query then)."""
        if update_id not in self._replays:
            return {}
        rows = self.conn.execute(
            "SELECT seq, method, result FROM inbox_sent WHERE update_id = ?", (update_id,)
        )
        return {int(r[0]): (str(r[1]), json.loads(r[2])) for r in rows}

    async def unhandled(self) -> list[InboxRow]:
        """The updates not handled yet, in update_id order (the order Telegram sent them)."""
        rows = self.conn.execute(
            "SELECT update_id, kind, raw FROM inbox WHERE handled_at IS NULL ORDER BY update_id"
        )
        return [InboxRow(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def depth(self) -> int:
        """How many stored updates are not handled yet."""
        row = self.conn.execute("SELECT COUNT(*) FROM inbox WHERE handled_at IS NULL").fetchone()
        return int(row[0]) if row else 0

    async def ping(self) -> None:
        """One trivial query; raises what sqlite raises when the file is unreachable."""
        self.conn.execute("SELECT 1 FROM inbox LIMIT 1").fetchall()

    async def is_handled(self, update_id: int) -> bool | None:
        """True once handled, False while pending, None for an unknown update_id."""
        row = self.conn.execute(
            "SELECT handled_at FROM inbox WHERE update_id = ?", (update_id,)
        ).fetchone()
        return None if row is None else row[0] is not None

    async def prune(self, handled_before: str, keep: int) -> int:
        """Delete handled rows whose handled_at (UTC text) is before `handled_before`, always
        keeping the newest `keep` handled rows; unhandled rows are never deleted. The journal
        of every handled update goes too (it is only read to handle an update again).

        Returns the number of inbox rows deleted.
        """
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(
                "DELETE FROM inbox WHERE handled_at IS NOT NULL AND handled_at < ?"
                " AND update_id NOT IN (SELECT update_id FROM inbox"
                "  WHERE handled_at IS NOT NULL ORDER BY update_id DESC LIMIT ?)",
                (handled_before, keep),
            )
            conn.execute(
                "DELETE FROM inbox_sent WHERE update_id NOT IN"
                " (SELECT update_id FROM inbox WHERE handled_at IS NULL)"
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return cur.rowcount

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def inbox_path(store_path: Path) -> Path:
    """The inbox's file beside the store's: data/bot.sqlite3 -> data/bot.inbox.sqlite3."""
    return store_path.with_name(f"{store_path.stem}.inbox{store_path.suffix or '.sqlite3'}")


async def connect_inbox(store_path: Path) -> sqlite3.Connection:
    """Open (creating when missing) the inbox beside the store's file, in autocommit mode
    (each statement commits at once; multi-statement writes begin explicitly), WAL with
    synchronous=NORMAL like the store: a committed write survives the process being killed.

    Raises DatabaseOpenError (one line) when the file cannot be used.
    """
    path = inbox_path(store_path)
    check_path(path)
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(
            path,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise DatabaseOpenError(explain(path, exc)) from None
    return conn
