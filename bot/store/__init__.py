"""The SQLite store: every SQL statement of the bot lives in this package.

`Store.open(path)` connects, migrates and hands out one repository per concern. Nothing here
knows about Telegram.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import aiosqlite

from bot.store.admin import AdminRepo
from bot.store.channel import ChannelRepo
from bot.store.db import DatabaseOpenError, Memo, SchemaTooNewError, connect, explain, migrate
from bot.store.forecasts import ForecastsRepo, QuestionsRepo
from bot.store.inbox import InboxConnection, InboxRepo, connect_inbox
from bot.store.moderation import ModerationRepo
from bot.store.secrets import SecretsRepo
from bot.store.stats import StatsRepo
from bot.store.users import UsersRepo

__all__ = ["DatabaseOpenError", "SchemaTooNewError", "Store"]


class Store:
    """One connection and its repositories (stats, users, questions, forecasts, admin,
    channel, secrets, moderation); the inbox (bot/store/inbox.py, `inbox`) has a file and a
    connection of its own."""

    def __init__(self, conn: aiosqlite.Connection, inbox_conn: InboxConnection) -> None:
        self.conn = conn
        self._inbox_conn = inbox_conn
        self.stats = StatsRepo(conn)
        self.users = UsersRepo(conn)
        open_questions: Memo[list[datetime]] = Memo()
        self.questions = QuestionsRepo(conn, open_questions)
        self.forecasts = ForecastsRepo(conn)
        self.admin = AdminRepo(conn, open_questions)
        self.channel = ChannelRepo(conn)
        self.secrets = SecretsRepo(conn)
        self.moderation = ModerationRepo(conn)
        self.inbox = InboxRepo(inbox_conn)

    @classmethod
    async def open(cls, path: Path) -> Store:
        """Connect to `path`, apply pending migrations and give readers without a public
        handle one.

        Raises DatabaseOpenError (one line for the operator) when the file cannot be used:
        a folder, unwritable, garbage or damaged, read-only, locked; its subclass
        SchemaTooNewError when the file was written by a newer bot. Nothing stays open then.
        """
        conn = await connect(path)
        inbox_conn: InboxConnection | None = None
        try:
            await migrate(conn)
            inbox_conn = await connect_inbox(path)
            store = cls(conn, inbox_conn)
            await store.users.assign_handles()
        except BaseException as exc:
            if inbox_conn is not None:
                inbox_conn.close()
            await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise DatabaseOpenError(explain(path, exc)) from None
            raise
        return store

    async def ping(self) -> None:
        """One trivial query on each connection; raises what sqlite raises when unreachable."""
        await self.conn.execute_fetchall("SELECT 1")
        await self.inbox.ping()

    async def close(self) -> None:
        """Finish the queued forecast writes, then close the connections (checkpointing the
        WAL)."""
        await self.forecasts.flush()
        self._inbox_conn.close()
        await self.conn.close()
