"""Moderation: readers whose reasons are hidden from public view, the moderation log, and
the count of a reader's recent forecast changes (the revision limit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.store.db import fetch_all, fetch_one, from_iso, from_row, to_iso, transaction, utcnow

ACTIONS = ("hide", "unhide", "rate_limited")


@dataclass(frozen=True)
class HiddenReader:
    """A reader whose reasons are hidden: public handle, first name, when (aware UTC) and by
    which admin (Telegram id)."""

    user_id: int
    handle: str | None
    first_name: str
    hidden_by: int | None
    hidden_at: datetime


@dataclass(frozen=True)
class LogEntry:
    """One moderation event: action (hide, unhide, rate_limited), the reader's handle (None
    once they deleted their data), the admin's Telegram id (None for rate_limited), when
    (aware UTC)."""

    action: str
    handle: str | None
    admin_id: int | None
    at: datetime


@dataclass(frozen=True)
class ModerationSummary:
    """For /admin: readers hidden now, and since a moment: hides, unhides, revision-limit
    hits and the readers who hit it; `recent` is the newest entries, newest first."""

    hidden_now: int
    hides: int
    unhides: int
    rate_limited: int
    rate_limited_readers: int
    recent: list[LogEntry]


class ModerationRepo:
    """Reads and writes of hidden readers and the moderation log; knows nothing of Telegram."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def is_hidden(self, user_id: int) -> bool:
        """True when an admin hid this reader's reasons."""
        row = await fetch_one(
            self._conn, "SELECT 1 FROM hidden_readers WHERE user_id = ?", (user_id,)
        )
        return row is not None

    async def hide(self, user_id: int, admin_id: int) -> bool:
        """Hide the reader's reasons from public view and log it; False (nothing logged)
        when they were hidden already. Questions they forecast get a new version, so cached
        results drop the reasons at once."""
        now = utcnow()
        async with transaction(self._conn):
            cur = await self._conn.execute(
                "INSERT OR IGNORE INTO hidden_readers (user_id, hidden_by, hidden_at)"
                " VALUES (?, ?, ?)",
                (user_id, admin_id, now),
            )
            if cur.rowcount == 0:
                return False
            await self._changed(user_id, "hide", admin_id, now)
        return True

    async def unhide(self, user_id: int, admin_id: int) -> bool:
        """Show the reader's reasons again and log it; False when they were not hidden."""
        now = utcnow()
        async with transaction(self._conn):
            cur = await self._conn.execute(
                "DELETE FROM hidden_readers WHERE user_id = ?", (user_id,)
            )
            if cur.rowcount == 0:
                return False
            await self._changed(user_id, "unhide", admin_id, now)
        return True

    async def _changed(self, user_id: int, action: str, admin_id: int, at: str) -> None:
        await self._conn.execute(
            "INSERT INTO moderation_log (action, user_id, admin_id, at) VALUES (?, ?, ?, ?)",
            (action, user_id, admin_id, at),
        )
        await self._conn.execute(
            "UPDATE questions SET version = version + 1 WHERE id IN"
            " (SELECT question_id FROM forecasts WHERE user_id = ?)",
            (user_id,),
        )

    async def hidden(self) -> list[HiddenReader]:
        """Every hidden reader, most recently hidden first."""
        rows = await fetch_all(
            self._conn,
            "SELECT h.user_id, u.handle, u.first_name, h.hidden_by, h.hidden_at"
            " FROM hidden_readers h JOIN users u ON u.user_id = h.user_id"
            " ORDER BY h.hidden_at DESC",
        )
        return [from_row(HiddenReader, row) for row in rows]

    async def recent_changes(self, user_id: int, since: datetime) -> tuple[int, datetime | None]:
        """How many forecast changes (set, reason, withdraw; every question) the reader made
        at or after `since` (aware), and the oldest of their times (aware UTC) or None."""
        row = await fetch_one(
            self._conn,
            "SELECT COUNT(*), MIN(at) FROM forecast_history WHERE user_id = ? AND at >= ?",
            (user_id, to_iso(since)),
        )
        if row is None:
            return 0, None
        return int(row[0]), from_iso(row[1]) if row[1] is not None else None

    async def recent_offers(self, user_id: int, since: datetime) -> int:
        """How many "record N %" offers the bot made to the reader in comment threads at or
        after `since` (aware)."""
        row = await fetch_one(
            self._conn,
            "SELECT COUNT(*) FROM thread_offers WHERE user_id = ? AND created_at >= ?",
            (user_id, to_iso(since)),
        )
        return int(row[0]) if row else 0

    async def log_rate_limited(self, user_id: int, since: datetime) -> bool:
        """Log that the reader hit the revision limit, once per window: nothing is written
        when such an entry exists at or after `since` (aware). True when logged."""
        async with transaction(self._conn):
            cur = await self._conn.execute(
                "INSERT INTO moderation_log (action, user_id, at) SELECT 'rate_limited', ?, ?"
                " WHERE NOT EXISTS (SELECT 1 FROM moderation_log WHERE user_id = ?"
                " AND action = 'rate_limited' AND at >= ?)",
                (user_id, utcnow(), user_id, to_iso(since)),
            )
        return cur.rowcount > 0

    async def summary(self, since: datetime, recent: int = 5) -> ModerationSummary:
        """Counts for /admin since `since` (aware) and the `recent` newest entries."""
        row = await fetch_one(
            self._conn,
            "SELECT (SELECT COUNT(*) FROM hidden_readers),"
            " COALESCE(SUM(action = 'hide'), 0), COALESCE(SUM(action = 'unhide'), 0),"
            " COALESCE(SUM(action = 'rate_limited'), 0),"
            " COUNT(DISTINCT CASE WHEN action = 'rate_limited' THEN user_id END)"
            " FROM moderation_log WHERE at >= ?",
            (to_iso(since),),
        )
        counts = [int(v) for v in row] if row else [0] * 5
        rows = await fetch_all(
            self._conn,
            "SELECT m.action, u.handle, m.admin_id, m.at FROM moderation_log m"
            " LEFT JOIN users u ON u.user_id = m.user_id ORDER BY m.at DESC, m.id DESC LIMIT ?",
            (recent,),
        )
        hidden_now, hides, unhides, limited, limited_readers = counts
        return ModerationSummary(
            hidden_now,
            hides,
            unhides,
            limited,
            limited_readers,
            [from_row(LogEntry, r) for r in rows],
        )
