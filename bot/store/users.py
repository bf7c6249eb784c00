"""Readers: Telegram identity, public handle, chosen language, consent to be named,
reachability."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from dataclasses import dataclass, fields, replace

import aiosqlite

from bot.store.db import fetch_all, fetch_one, transaction, utcnow

# Telegram's service accounts: 777000 ("Telegram": channel posts auto-forwarded to the
# discussion group), 1087968824 (GroupAnonymousBot: an anonymous group admin), 136817688
# (Channel_Bot: a channel writing in a group). They are never stored as readers.
SERVICE_ACCOUNTS = frozenset({777000, 1087968824, 136817688})

# public handles: "r-" and six characters without look-alikes (no 0/o, 1/i/l), 31**6 ≈ 887
# million of them, drawn at random (never derived from the Telegram id)
HANDLE_PREFIX = "r-"
HANDLE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
HANDLE_LENGTH = 6
_HANDLE_TRIES = 8
_HANDLE_BATCH = 10_000


_HANDLE_CODES = len(HANDLE_ALPHABET) ** HANDLE_LENGTH


def new_handle() -> str:
    """A fresh random handle such as "r-k7q2m9" (cryptographic randomness: one uniform draw
    among all 31**6 codes, written in base 31)."""
    code = secrets.randbelow(_HANDLE_CODES)
    chars = []
    for _ in range(HANDLE_LENGTH):
        code, digit = divmod(code, len(HANDLE_ALPHABET))
        chars.append(HANDLE_ALPHABET[digit])
    return HANDLE_PREFIX + "".join(chars)


def normalise_handle(text: str) -> str | None:
    """A handle as typed ("r-K7Q2M9", "#k7q2m9", "k7q2m9") in its stored form, or None
    when it cannot be one."""
    code = text.strip().lower().lstrip("#").removeprefix(HANDLE_PREFIX)
    if len(code) != HANDLE_LENGTH or any(c not in HANDLE_ALPHABET for c in code):
        return None
    return HANDLE_PREFIX + code


@dataclass(frozen=True)
class Reader:
    """A reader as stored.

    `handle` is the reader's public label ("r-k7q2m9", random; None only for rows not yet
    given one); `language` is the one chosen with /language (None: follow `tg_language`);
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
    handle: str | None


_COLUMNS = ", ".join(f.name for f in fields(Reader))

_UPSERT = (
    "INSERT INTO users (user_id, username, first_name, tg_language,"
    " started, created_at, updated_at, handle)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id) DO UPDATE SET username = excluded.username,"
    " first_name = excluded.first_name, tg_language = excluded.tg_language,"
    " started = MAX(users.started, excluded.started),"
    " blocked = CASE WHEN excluded.started = 1 THEN 0 ELSE users.blocked END,"
    " updated_at = excluded.updated_at,"
    " handle = COALESCE(users.handle, excluded.handle)"
)
# readers synced in one transaction at most (SQLite's host-parameter limit bounds the read)
_SYNC_BATCH = 500


@dataclass(frozen=True)
class Identity:
    """A reader as Telegram shows them in an update: `started` is True when the update
    comes from their private chat with the bot."""

    user_id: int
    username: str | None
    first_name: str
    tg_language: str | None
    started: bool = False

    def matches(self, reader: Reader) -> bool:
        """True when the stored `reader` needs no write for this identity."""
        return (reader.username, reader.first_name, reader.tg_language) == (
            self.username,
            self.first_name,
            self.tg_language,
        ) and (not self.started or (bool(reader.started) and not reader.blocked))

    def applied(self, reader: Reader | None, now: str, handle: str) -> Reader:
        """The row `_UPSERT` leaves for this identity over `reader` (None: a new one)."""
        if reader is None:
            return Reader(
                self.user_id, self.username, self.first_name, self.tg_language, None, None,
                int(self.started), 0, now, now, handle,
            )  # fmt: skip
        return replace(
            reader,
            username=self.username,
            first_name=self.first_name,
            tg_language=self.tg_language,
            started=max(reader.started, int(self.started)),
            blocked=0 if self.started else reader.blocked,
            updated_at=now,
            handle=reader.handle or handle,
        )


class UsersRepo:
    """Reads and writes of readers."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._pending: list[tuple[Identity, asyncio.Future[Reader]]] = []
        self._syncer: asyncio.Task[None] | None = None

    async def sync(self, identity: Identity) -> Reader:
        """The stored reader for `identity`, inserted or refreshed (as `touch` does) only
        when something about them changed.

        Concurrent calls share their work: one task reads every queued reader in one query
        and writes the changed ones in one transaction, then answers each caller, so a burst
        of updates from many readers costs a few database round trips, not a few per update.
        Raises ValueError for Telegram's service accounts, and what SQLite raises.
        """
        if identity.user_id in SERVICE_ACCOUNTS:
            raise ValueError(f"{identity.user_id} is a Telegram service account, not a reader")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reader] = loop.create_future()
        self._pending.append((identity, future))
        if self._syncer is None or self._syncer.done():
            self._syncer = loop.create_task(self._sync_queued())
        return await future

    async def _sync_queued(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # callers woken by the same event join this batch
            batch = self._pending[:_SYNC_BATCH]
            del self._pending[:_SYNC_BATCH]
            try:
                readers = await self._sync_batch([identity for identity, _ in batch])
            except Exception:
                # e.g. a drawn handle that is taken: each one alone, with `touch`'s retries
                for identity, future in batch:
                    try:
                        reader = await self.get(identity.user_id)
                        if reader is None or not identity.matches(reader):
                            reader = await self.touch(
                                identity.user_id,
                                username=identity.username,
                                first_name=identity.first_name,
                                tg_language=identity.tg_language,
                                started=identity.started,
                            )
                    except Exception as exc:
                        if not future.done():
                            future.set_exception(exc)
                    else:
                        if not future.done():
                            future.set_result(reader)
            else:
                for (_, future), reader in zip(batch, readers, strict=True):
                    if not future.done():
                        future.set_result(reader)

    async def _sync_batch(self, identities: list[Identity]) -> list[Reader]:
        ids = list(dict.fromkeys(identity.user_id for identity in identities))
        marks = ",".join("?" * len(ids))
        sql = f"SELECT {_COLUMNS} FROM users WHERE user_id IN ({marks})"
        stored = {int(row[0]): Reader(*row) for row in await fetch_all(self._conn, sql, ids)}
        changed = list(
            dict.fromkeys(
                i
                for i in identities
                if i.user_id not in stored or not i.matches(stored[i.user_id])
            )
        )
        if not changed:
            return [stored[identity.user_id] for identity in identities]
        if len(changed) == 1:  # one reader to write: `touch` returns the row as stored
            (one,) = changed
            stored[one.user_id] = await self.touch(
                one.user_id,
                username=one.username,
                first_name=one.first_name,
                tg_language=one.tg_language,
                started=one.started,
            )
            return [stored[identity.user_id] for identity in identities]
        # The upsert changes only the identity columns (and `started`/`blocked` by the rule
        # in the SQL), so a change another task commits meanwhile (a chosen language, a
        # consent) is kept; a reader's own updates are handled one at a time.
        async with transaction(self._conn):
            now = utcnow()
            writes, result = [], []
            for identity in identities:
                reader = stored.get(identity.user_id)
                if reader is None or not identity.matches(reader):
                    reader = identity.applied(reader, now, new_handle())
                    stored[identity.user_id] = reader
                    writes.append(
                        (reader.user_id, reader.username, reader.first_name,
                         reader.tg_language, reader.started, reader.created_at,
                         reader.updated_at, reader.handle)
                    )  # fmt: skip
                result.append(reader)
            await self._conn.executemany(_UPSERT, writes)
        return result

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

        A new reader gets a random public handle. `started=True` records that the reader
        has a private chat with the bot (it never goes back to False, except through
        `set_blocked`). Raises ValueError for Telegram's service accounts (SERVICE_ACCOUNTS).
        """
        if user_id in SERVICE_ACCOUNTS:
            raise ValueError(f"{user_id} is a Telegram service account, not a reader")
        now = utcnow()
        row = None
        for attempt in range(_HANDLE_TRIES):
            try:
                async with transaction(self._conn):
                    row = await fetch_one(
                        self._conn,
                        f"{_UPSERT} RETURNING {_COLUMNS}",
                        (user_id, username, first_name, tg_language, int(started), now, now,
                         new_handle()),
                    )  # fmt: skip
                break
            except sqlite3.IntegrityError:  # the random handle is taken: draw another
                if attempt == _HANDLE_TRIES - 1:
                    raise
        assert row is not None
        return Reader(*row)

    async def by_handle(self, handle: str) -> Reader | None:
        """The reader with this public handle (as typed: see `normalise_handle`), or None."""
        stored = normalise_handle(handle)
        if stored is None:
            return None
        row = await fetch_one(
            self._conn, f"SELECT {_COLUMNS} FROM users WHERE handle = ?", (stored,)
        )
        return Reader(*row) if row else None

    async def assign_handles(self) -> int:
        """Give every reader without a handle (stored before handles existed, or by a bulk
        import) a random one; returns how many were given. Batches of 10,000 per
        transaction; a batch that draws a taken handle is drawn again."""
        given = 0
        while True:
            rows = await fetch_all(
                self._conn,
                "SELECT user_id FROM users WHERE handle IS NULL LIMIT ?",
                (_HANDLE_BATCH,),
            )
            if not rows:
                return given
            try:
                async with transaction(self._conn):
                    await self._conn.executemany(
                        "UPDATE users SET handle = ? WHERE user_id = ?",
                        ((new_handle(), row[0]) for row in rows),
                    )
            except sqlite3.IntegrityError:
                continue
            given += len(rows)

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

    async def ask_consent_once(self, user_id: int) -> bool:
        """Record that the reader is being asked whether they may be named; True only the
        first time (the question is asked once, answered or not)."""
        async with transaction(self._conn):
            cur = await self._conn.execute(
                "UPDATE users SET consent_asked_at = ? WHERE user_id = ?"
                " AND consent_asked_at IS NULL AND named_consent IS NULL",
                (utcnow(), user_id),
            )
        return cur.rowcount > 0
