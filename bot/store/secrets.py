"""Secrets the bot generates once and keeps in the database (table bot_secrets)."""

from __future__ import annotations

import secrets

import aiosqlite

from bot.store.db import fetch_one, transaction, utcnow

EXPORT_SALT = "export_salt"


class SecretsRepo:
    """Named random secrets: created on first use, then the same value for ever."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def get_or_create(self, name: str, nbytes: int = 32) -> str:
        """The secret called `name`; on first use a new one of `nbytes` random bytes
        (URL-safe base64 text) is stored and returned. Concurrent first uses agree."""
        async with transaction(self._conn) as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO bot_secrets (name, value, created_at) VALUES (?, ?, ?)",
                (name, secrets.token_urlsafe(nbytes), utcnow()),
            )
        row = await fetch_one(self._conn, "SELECT value FROM bot_secrets WHERE name = ?", (name,))
        assert row is not None
        return str(row[0])
