"""The durable inbox: updates as Telegram sent them, kept until their handlers have finished,
and the journal of what the bot sent while handling them.

A row is written before Telegram is told the update arrived; `handled_at` (UTC text) is set
once it has been handled (or skipped as unparseable). The unique `update_id` makes a
redelivered update a no-op.

`inbox_sent` journals, per update being handled, each Bot API call that answers it (a reply
in its chat, the answer to its callback query): its sequence number, method and Telegram's
result. When a crash leaves an update unhandled, the next start handles it again, and the
calls already journaled are not sent again: their stored results are returned instead.

The inbox lives in a SQLite file of its own beside the store's (`inbox_path`), written by one
thread of its own (`InboxConnection`): a statement is handed to it without waiting for the
event loop, everything queued at the same moment commits in one transaction (group commit),
and nothing the inbox does (a slow write, a WAL checkpoint) ever blocks the event loop or
waits behind the store's writes. Its contents are transient (handled rows are pruned), so it
has no numbered migrations: the schema below is created when missing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from bot.store.db import BUSY_TIMEOUT_MS, DatabaseOpenError, check_path, explain, to_iso, utcnow

logger = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]

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


class InboxConnection:
    """The inbox's sqlite3 connection (autocommit mode) and the one thread that uses it.

    `submit(job)` queues `job(conn)` and returns at once with a concurrent Future; the
    thread runs every job queued by then in one transaction (each job alone again when one
    of them fails, so a bad job fails only itself) and then settles their futures, in
    submission order. `run(job)` is the same, awaited. `replays`: the unhandled updates
    that had journaled calls when the file was opened.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._jobs: queue.SimpleQueue[tuple[Job, concurrent.futures.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self.replays: set[int] = {
            int(r[0])
            for r in conn.execute(
                "SELECT DISTINCT s.update_id FROM inbox_sent s JOIN inbox i USING (update_id)"
                " WHERE i.handled_at IS NULL"
            )
        }
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="inbox", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[sqlite3.Connection], T]) -> concurrent.futures.Future[T]:
        """Queue `job`; its future gets the job's result once committed, or its error."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        if self._closed:
            future.set_exception(RuntimeError("the inbox is closed"))
        else:
            self._jobs.put((job, future))
        return future

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Queue `job` and wait until it is committed; returns its result, raises its error
        (sqlite3.Error, or RuntimeError once the connection is closed)."""
        return await asyncio.wrap_future(self.submit(job))

    def close(self) -> None:
        """Let the thread finish what is queued, then close the connection; later jobs
        fail with RuntimeError."""
        self._closed = True
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
        self._conn.close()

    def _work(self) -> None:
        stop = False
        while not stop:
            first = self._jobs.get()
            if first is None:
                break
            batch = [first]
            while True:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
        # anything queued after close: refused
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item[1].set_exception(RuntimeError("the inbox is closed"))

    def _commit(self, batch: list[tuple[Job, concurrent.futures.Future[Any]]]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            results = [job(conn) for job, _ in batch]
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            for item in batch:  # each alone: only the bad one fails
                self._alone(item)
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)

    def _alone(self, item: tuple[Job, concurrent.futures.Future[Any]]) -> None:
        job, future = item
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            result = job(conn)
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            future.set_exception(exc)
        else:
            future.set_result(result)


class InboxRepo:
    """Reads and writes of the inbox, through its `InboxConnection` (see the module)."""

    def __init__(self, conn: InboxConnection) -> None:
        self.conn = conn

    async def add_new(self, rows: Sequence[InboxRow]) -> set[int]:
        """Store the rows whose update_id is not known yet, all in one transaction.

        Returns the update_ids that were new (a known one, handled or not, is left as it is).
        """
        if not rows:
            return set()
        now = utcnow()

        def add(conn: sqlite3.Connection) -> set[int]:
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
            return set(fresh)

        return await self.conn.run(add)

    async def mark_handled(self, update_ids: Iterable[int]) -> None:
        """Set handled_at (now, UTC) on these updates and drop what they carried about
        readers: the update's JSON (kept as "") and its journal of sent calls, since neither
        is read again once it is handled (only the update_id is, to ignore redelivery).
        Returns once committed."""
        ids = list(update_ids)
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        now = utcnow()

        def mark(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"UPDATE inbox SET handled_at = ?, raw = '' WHERE update_id IN ({marks})"
                " AND handled_at IS NULL",
                (now, *ids),
            )
            conn.execute(f"DELETE FROM inbox_sent WHERE update_id IN ({marks})", ids)

        await self.conn.run(mark)
        self.conn.replays.difference_update(ids)

    def record_sent(self, update_id: int, seq: int, method: str, result: Any) -> None:
        """Journal the `seq`-th call (0-based) sent while handling `update_id`: `method` and
        Telegram's JSON result. Queued at once, not awaited: it commits before any later
        write of the inbox (the update's done mark included). A second entry with the same
        (update_id, seq) replaces the first; a failure is logged."""
        text = json.dumps(result, ensure_ascii=False)

        def journal(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO inbox_sent (update_id, seq, method, result)"
                " VALUES (?, ?, ?, ?)",
                (update_id, seq, method, text),
            )

        self.conn.submit(journal).add_done_callback(_log_failure)

    async def sent_before(self, update_id: int) -> dict[int, SentCall]:
        """The calls journaled for `update_id` by an earlier run that did not finish
        handling it: {seq: (method, result)}; empty for any other update (no query then)."""
        if update_id not in self.conn.replays:
            return {}

        def read(conn: sqlite3.Connection) -> dict[int, SentCall]:
            rows = conn.execute(
                "SELECT seq, method, result FROM inbox_sent WHERE update_id = ?", (update_id,)
            )
            return {int(r[0]): (str(r[1]), json.loads(r[2])) for r in rows}

        return await self.conn.run(read)

    async def unhandled(self) -> list[InboxRow]:
        """The updates not handled yet, in update_id order (the order Telegram sent them)."""

        def read(conn: sqlite3.Connection) -> list[InboxRow]:
            rows = conn.execute(
                "SELECT update_id, kind, raw FROM inbox WHERE handled_at IS NULL"
                " ORDER BY update_id"
            )
            return [InboxRow(int(r[0]), str(r[1]), str(r[2])) for r in rows]

        return await self.conn.run(read)

    async def depth(self) -> int:
        """How many stored updates are not handled yet."""

        def read(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT COUNT(*) FROM inbox WHERE handled_at IS NULL").fetchone()
            return int(row[0]) if row else 0

        return await self.conn.run(read)

    async def ping(self) -> None:
        """One trivial query; raises what sqlite raises when the file is unreachable."""
        await self.conn.run(lambda conn: conn.execute("SELECT 1 FROM inbox LIMIT 1").fetchall())

    async def is_handled(self, update_id: int) -> bool | None:
        """True once handled, False while pending, None for an unknown update_id."""

        def read(conn: sqlite3.Connection) -> bool | None:
            row = conn.execute(
                "SELECT handled_at FROM inbox WHERE update_id = ?", (update_id,)
            ).fetchone()
            return None if row is None else row[0] is not None

        return await self.conn.run(read)

    async def prune(self, handled_before: datetime, keep: int) -> int:
        """Delete handled rows handled before the aware time `handled_before`, always
        keeping the newest `keep` handled rows; unhandled rows are never deleted. The journal
        of every handled update goes too (it is only read to handle an update again).

        Returns the number of inbox rows deleted.
        """

        def delete(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "DELETE FROM inbox WHERE handled_at IS NOT NULL AND handled_at < ?"
                " AND update_id NOT IN (SELECT update_id FROM inbox"
                "  WHERE handled_at IS NOT NULL ORDER BY update_id DESC LIMIT ?)",
                (to_iso(handled_before), keep),
            )
            conn.execute(
                "DELETE FROM inbox_sent WHERE update_id NOT IN"
                " (SELECT update_id FROM inbox WHERE handled_at IS NULL)"
            )
            return int(cur.rowcount)

        return await self.conn.run(delete)


def _log_failure(future: concurrent.futures.Future[Any]) -> None:
    """Log one line when a journal write failed (the reply may then be sent again after a
    crash)."""
    exc = future.exception()
    if exc is not None:
        logger.warning("Inbox: a sent call could not be journaled (%s)", exc)


def inbox_path(store_path: Path) -> Path:
    """The inbox's file beside the store's: data/bot.sqlite3 -> data/bot.inbox.sqlite3."""
    return store_path.with_name(f"{store_path.stem}.inbox{store_path.suffix or '.sqlite3'}")


async def connect_inbox(store_path: Path) -> InboxConnection:
    """Open (creating when missing) the inbox beside the store's file and start its thread.
    WAL with synchronous=NORMAL like the store: a committed write survives the process being
    killed. Close it with `close()`.

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
        return InboxConnection(conn)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise DatabaseOpenError(explain(path, exc)) from None
