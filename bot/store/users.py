"""Readers: Telegram identity, chosen language, consent to be named, reachability."""

from __future__ import annotations

from dataclasses import dataclass, fields

import aiosqlite

from bot.store.db import fetch_one, transaction, utcnow


@dataclass(frozen=True)
class Reader:
    """A reader as stored.

    `language` is the one chosen with /language (None: follow `tg_language`);
    `named_consent` is None until asked, then 0 or 1; `started` is 1 once the reader opened
    a private chat with the bot (only then may the bot message them); `blocked` is 1 after
    Telegram answered that the reader blocked the bot.
    """

    user_id: int
    username: str | None
    first_name: str
    tg_language: str | None
    language: str | None
    named_consent: int | None
    started: int
    blocked: int
    created_at: str
    updated_at: str


_COLUMNS = ", ".join(f.name for f in fields(Reader))


class UsersRepo:
    """Reads and writes of readers."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def get(self, user_id: int) -> Reader | None:
        """One reader, or None if the bot never saw them."""
        row = await fetch_one(
            self._conn, f"SELECT {_COLUMNS} FROM users WHERE user_id = ?", (user_id,)
        )
        return Reader(*row) if row else None

    async def touch(
        self,
        user_id: int,
        *,
        username: str | None,
        first_name: str,
        tg_language: str | None,
        started: bool = False,
    ) -> Reader:
        """Insert or refresh a reader's Telegram identity; returns the stored reader.

        `started=True` records that the reader has a private chat with the bot (it never
        goes back to False, except through `set_blocked`).
        """
        now = utcnow()
        async with transaction(self._conn):
            row = await fetch_one(
                self._conn,
                "INSERT INTO users (user_id, username, first_name, tg_language, started,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET username = excluded.username,"
                " first_name = excluded.first_name, tg_language = excluded.tg_language,"
                " started = MAX(users.started, excluded.started),"
                " blocked = CASE WHEN excluded.started = 1 THEN 0 ELSE users.blocked END,"
                f" updated_at = excluded.updated_at RETURNING {_COLUMNS}",
                (user_id, username, first_name, tg_language, int(started), now, now),
            )
        assert row is not None
        return Reader(*row)

    async def set_language(self, user_id: int, language: str) -> None:
        """Store the reader's chosen language ("ru" or "en")."""
        async with transaction(self._conn):
            await self._conn.execute(
                "UPDATE users SET language = ?, updated_at = ? WHERE user_id = ?",
                (language, utcnow(), user_id),
            )

    async def set_named_consent(self, user_id: int, consent: bool) -> None:
        """Store whether the reader agreed to be named next to their reasons and scores."""
        async with transaction(self._conn):
            await self._conn.execute(
                "UPDATE users SET named_consent = ?, updated_at = ? WHERE user_id = ?",
                (int(consent), utcnow(), user_id),
            )

    async def set_blocked(self, user_id: int) -> None:
        """Record that Telegram refused to deliver to this reader (blocked or never started)."""
        async with transaction(self._conn):
            await self._conn.execute(
                "UPDATE users SET blocked = 1, started = 0, updated_at = ? WHERE user_id = ?",
                (utcnow(), user_id),
            )

    async def count(self) -> int:
        """How many readers the bot knows."""
        row = await fetch_one(self._conn, "SELECT COUNT(*) FROM users")
        return int(row[0]) if row else 0
