"""What admins need from the store: question status, scores, export rows, the dashboard
counts, /newquestion drafts and deleting a reader.

Export rows are streamed in batches from a cursor (`fetchmany`), never fetched all at once, so
an export of 100,000 forecasts keeps only one batch in memory.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta

import aiosqlite

from bot.domain import Score  # the scores' type lives in the domain module
from bot.store.db import (
    Memo,
    columns,
    expired,
    fetch_all,
    fetch_one,
    from_iso,
    from_row,
    to_iso,
    to_row,
    transaction,
    utcnow,
)

EXPORT_BATCH = 1000
RESOLUTIONS = ("yes", "no", "annulled")


@dataclass(frozen=True)
class ExportForecast:
    """A forecast row for export: the forecast joined with its reader.

    Times are aware UTC datetimes; `probability` in whole percent (1..99).
    """

    user_id: int
    probability: int
    reason: str
    language: str
    created_at: datetime
    updated_at: datetime
    revisions: int
    withdrawn: int
    username: str | None
    first_name: str
    reason_hidden: int = 0


@dataclass(frozen=True)
class ExportChange:
    """A forecast_history row for export (action: set, reason or withdraw; percent; `at`
    an aware UTC datetime)."""

    user_id: int
    action: str
    old_probability: int | None
    new_probability: int | None
    reason: str
    at: datetime
    reason_hidden: int = 0


@dataclass(frozen=True)
class QuestionCounts:
    """Per-question dashboard figures: standing forecasts, withdrawn ones, and forecasts
    set (history entries of action "set") since the start of the current UTC day."""

    question_id: int
    slug: str
    status: str
    resolution: str | None
    is_default: int
    standing: int
    withdrawn: int
    today: int


@dataclass(frozen=True)
class Dashboard:
    """Reader counts (`reachable`: started and not blocked) and per-question counts."""

    readers: int
    reachable: int
    blocked: int
    forecasts_total: int
    forecasts_today: int
    questions: list[QuestionCounts]


@dataclass(frozen=True)
class ScoredReader:
    """A score with what /leaderboard and the notification need about the reader."""

    score: Score
    first_name: str
    named_consent: int | None
    language: str | None
    tg_language: str | None
    started: int
    blocked: int
    handle: str | None = None


@dataclass(frozen=True)
class Draft:
    """An admin's unfinished /newquestion: the step awaited and the answers so far (JSON);
    times are aware UTC datetimes."""

    user_id: int
    chat_id: int
    step: str
    payload: str
    created_at: datetime
    updated_at: datetime


class AdminRepo:
    """Admin reads and writes; knows nothing of Telegram. `questions` is QuestionsRepo's
    memo of the open questions, dropped after a question's status changes."""

    def __init__(self, conn: aiosqlite.Connection, questions: Memo[list[datetime]]) -> None:
        self._conn = conn
        self._questions = questions

    # -- question status ------------------------------------------------------------------

    async def set_status(self, question_id: int, status: str) -> bool:
        """Close ("closed") or reopen ("open") a question that is not resolved.

        Returns False when the question does not exist or is already resolved.
        Raises ValueError for another status.
        """
        if status not in ("open", "closed"):
            raise ValueError(f"status must be open or closed, not {status!r}")
        async with transaction(self._conn):
            cur = await self._conn.execute(
                "UPDATE questions SET status = ?, version = version + 1"
                " WHERE id = ? AND status != 'resolved'",
                (status, question_id),
            )
        self._questions.changed()
        return cur.rowcount > 0

    async def set_criteria(
        self, question_id: int, *, criteria_ru: str | None = None, criteria_en: str | None = None
    ) -> datetime | None:
        """Change a question's criteria (either language). When anybody has forecast on it,
        the change is dated (`criteria_changed_at`, shown to readers). Returns the time of
        the change (aware UTC), or None when the question is missing or resolved."""
        moment = datetime.now(UTC)
        now = to_iso(moment)
        async with transaction(self._conn):
            cur = await self._conn.execute(
                "UPDATE questions SET criteria_ru = COALESCE(?, criteria_ru),"
                " criteria_en = COALESCE(?, criteria_en),"
                " criteria_changed_at = CASE WHEN EXISTS (SELECT 1 FROM forecast_history h"
                " WHERE h.question_id = questions.id) THEN ? ELSE criteria_changed_at END,"
                " version = version + 1 WHERE id = ? AND status != 'resolved'",
                (criteria_ru, criteria_en, now, question_id),
            )
        return moment if cur.rowcount > 0 else None

    async def set_default(self, question_id: int) -> bool:
        """Make the question the default one (the only one); False when it does not exist."""
        async with transaction(self._conn):
            async with self._conn.execute(
                "SELECT 1 FROM questions WHERE id = ?", (question_id,)
            ) as cur:
                if await cur.fetchone() is None:
                    return False
            await self._conn.execute(
                "UPDATE questions SET is_default = 0 WHERE is_default = 1 AND id != ?",
                (question_id,),
            )
            await self._conn.execute(
                "UPDATE questions SET is_default = 1 WHERE id = ?", (question_id,)
            )
        return True

    async def resolve(
        self,
        question_id: int,
        resolution: str,
        scores: list[Score],
        *,
        at: datetime | None = None,
        link: str | None = None,
        note: str | None = None,
    ) -> bool:
        """Mark the question resolved (yes, no or annulled) at the aware datetime `at`
        (default: now) with the link to the source used and a note (both optional), and
        store its scores, atomically.

        `scores` should be empty for "annulled". Returns False (and changes nothing) when the
        question is missing or already resolved. Raises ValueError for another resolution.
        """
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS}, not {resolution!r}")
        when = to_iso(at) if at else utcnow()
        async with transaction(self._conn):
            cur = await self._conn.execute(
                "UPDATE questions SET status = 'resolved', resolution = ?, resolved_at = ?,"
                " resolution_link = ?, resolution_note = ?, version = version + 1"
                " WHERE id = ? AND status != 'resolved'",
                (resolution, when, link, note, question_id),
            )
            if cur.rowcount == 0:
                return False
            await self._conn.executemany(
                f"INSERT OR REPLACE INTO scores ({columns(Score)}) VALUES (?, ?, ?, ?, ?, ?)",
                [to_row(s) for s in scores],
            )
        self._questions.changed()
        return True

    async def histories(
        self, question_id: int
    ) -> AsyncGenerator[tuple[int, list[tuple[datetime, str, int | None]]], None]:
        """Every forecaster's history on the question, one reader at a time:
        (user_id, [(at, an aware UTC datetime; action; new_probability %), ...] oldest
        first).

        Streams with a cursor ordered by reader, so memory holds one reader's history.
        """
        current: int | None = None
        entries: list[tuple[datetime, str, int | None]] = []
        async with self._conn.execute(
            "SELECT user_id, at, action, new_probability FROM forecast_history"
            " WHERE question_id = ? ORDER BY user_id, at, id",
            (question_id,),
        ) as cur:
            while rows := await cur.fetchmany(EXPORT_BATCH):
                for user_id, at, action, new in rows:
                    if user_id != current:
                        if current is not None:
                            yield current, entries
                        current, entries = int(user_id), []
                    entries.append((from_iso(at), str(action), None if new is None else int(new)))
        if current is not None:
            yield current, entries

    async def scores(self, question_id: int) -> list[ScoredReader]:
        """The stored scores of a question with their readers, best time-averaged first
        (missing scores last)."""
        rows = await fetch_all(
            self._conn,
            f"SELECT {columns(Score, 's.')}, u.first_name, u.named_consent, u.language,"
            " u.tg_language, u.started, u.blocked, u.handle FROM scores s"
            " JOIN users u ON u.user_id = s.user_id WHERE s.question_id = ?"
            " ORDER BY s.averaged_brier IS NULL, s.averaged_brier, s.final_brier IS NULL,"
            " s.final_brier, s.user_id",
            (question_id,),
        )
        width = len(fields(Score))
        return [ScoredReader(from_row(Score, row[:width]), *row[width:]) for row in rows]

    # -- export -----------------------------------------------------------------------------

    async def export_forecasts(
        self, question_id: int, batch: int = EXPORT_BATCH
    ) -> AsyncGenerator[list[ExportForecast], None]:
        """The question's forecasts (withdrawn included) in batches of at most `batch`,
        ordered by creation; streamed from one cursor."""
        async with self._conn.execute(
            "SELECT f.user_id, f.probability, f.reason, f.language, f.created_at,"
            " f.updated_at, f.revisions, f.withdrawn, u.username, u.first_name,"
            " f.user_id IN (SELECT user_id FROM hidden_readers)"
            " FROM forecasts f JOIN users u ON u.user_id = f.user_id"
            " WHERE f.question_id = ? ORDER BY f.created_at, f.id",
            (question_id,),
        ) as cur:
            while rows := await cur.fetchmany(batch):
                yield [from_row(ExportForecast, row) for row in rows]

    async def export_history(
        self, question_id: int, batch: int = EXPORT_BATCH
    ) -> AsyncGenerator[list[ExportChange], None]:
        """Every revision of the question's forecasts in batches, oldest first; a hidden
        reader's entries have reason_hidden = 1."""
        async with self._conn.execute(
            "SELECT user_id, action, old_probability, new_probability, reason, at,"
            " user_id IN (SELECT user_id FROM hidden_readers)"
            " FROM forecast_history WHERE question_id = ? ORDER BY at, id",
            (question_id,),
        ) as cur:
            while rows := await cur.fetchmany(batch):
                yield [from_row(ExportChange, row) for row in rows]

    async def count_forecasts(self, question_id: int) -> int:
        """How many forecast rows (withdrawn included) the question has."""
        return await self._scalar(
            "SELECT COUNT(*) FROM forecasts WHERE question_id = ?", (question_id,)
        )

    async def count_history(self, question_id: int) -> int:
        """How many history entries the question has."""
        return await self._scalar(
            "SELECT COUNT(*) FROM forecast_history WHERE question_id = ?", (question_id,)
        )

    # -- dashboard --------------------------------------------------------------------------

    async def dashboard(self, today: date) -> Dashboard:
        """Counts for /admin; `today` is the current UTC day."""
        since = today.isoformat()
        row = await fetch_one(
            self._conn,
            "SELECT COUNT(*), COALESCE(SUM(started = 1 AND blocked = 0), 0),"
            " COALESCE(SUM(blocked), 0) FROM users",
        )
        readers, reachable, blocked = (int(v) for v in row) if row else (0, 0, 0)
        async with self._conn.execute(
            "SELECT q.id, q.slug, q.status, q.resolution, q.is_default,"
            " (SELECT COUNT(*) FROM forecasts f WHERE f.question_id = q.id"
            "  AND f.withdrawn = 0),"
            " (SELECT COUNT(*) FROM forecasts f WHERE f.question_id = q.id"
            "  AND f.withdrawn = 1),"
            " (SELECT COUNT(*) FROM forecast_history h WHERE h.question_id = q.id"
            "  AND h.action = 'set' AND h.at >= ?)"
            " FROM questions q ORDER BY q.id DESC",
            (since,),
        ) as cur:
            questions = [QuestionCounts(*r) for r in await cur.fetchall()]
        return Dashboard(
            readers=readers,
            reachable=reachable,
            blocked=blocked,
            forecasts_total=sum(q.standing for q in questions),
            forecasts_today=sum(q.today for q in questions),
            questions=questions,
        )

    # -- /newquestion drafts ----------------------------------------------------------------

    async def draft(
        self, user_id: int, chat_id: int, *, ttl: timedelta | None = None
    ) -> Draft | None:
        """The admin's unfinished /newquestion in this chat, or None. A draft whose last
        step is older than `ttl` has expired: it is deleted and None returned."""
        row = await fetch_one(
            self._conn,
            f"SELECT {columns(Draft)} FROM question_drafts WHERE user_id = ? AND chat_id = ?",
            (user_id, chat_id),
        )
        draft = from_row(Draft, row) if row else None
        if draft is not None and expired(draft.updated_at, ttl):
            await self.clear_draft(user_id, chat_id)
            return None
        return draft

    async def save_draft(self, user_id: int, chat_id: int, step: str, payload: str) -> None:
        """Create or update the draft: the step now awaited and the answers so far (JSON)."""
        now = utcnow()
        async with transaction(self._conn):
            await self._conn.execute(
                "INSERT INTO question_drafts (user_id, chat_id, step, payload, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, chat_id)"
                " DO UPDATE SET step = excluded.step, payload = excluded.payload,"
                " updated_at = excluded.updated_at",
                (user_id, chat_id, step, payload, now, now),
            )

    async def clear_draft(self, user_id: int, chat_id: int) -> bool:
        """Drop the draft; True when there was one."""
        async with transaction(self._conn):
            cur = await self._conn.execute(
                "DELETE FROM question_drafts WHERE user_id = ? AND chat_id = ?", (user_id, chat_id)
            )
        return cur.rowcount > 0

    # -- privacy ----------------------------------------------------------------------------

    async def delete_reader(self, user_id: int) -> int:
        """Remove everything kept about a reader: forecasts, their history, scores, pending
        steps, drafts and the users row (preferences); returns how many forecasts went.

        Questions they forecast get a new version, so cached results drop them too.
        """
        async with transaction(self._conn):
            count = await self._scalar(
                "SELECT COUNT(*) FROM forecasts WHERE user_id = ?", (user_id,)
            )
            await self._conn.execute(
                "UPDATE questions SET version = version + 1 WHERE id IN"
                " (SELECT question_id FROM forecast_history WHERE user_id = ?"
                "  UNION SELECT question_id FROM forecasts WHERE user_id = ?)",
                (user_id, user_id),
            )
            # every row that refers to the reader, in any table with a foreign key to users
            # (also tables added by later migrations, whatever their ON DELETE rule)
            for table, column in await self._user_references():
                await self._conn.execute(f'DELETE FROM "{table}" WHERE "{column}" = ?', (user_id,))
            await self._conn.execute("DELETE FROM users WHERE user_id = ?", (user_id,))
        return count

    async def _user_references(self) -> list[tuple[str, str]]:
        """(table, column) of every foreign key that points at users."""
        references = []
        async with self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'users'"
        ) as cur:
            tables = [str(row[0]) for row in await cur.fetchall()]
        for table in tables:
            async with self._conn.execute(f'PRAGMA foreign_key_list("{table}")') as cur:
                for row in await cur.fetchall():
                    if row["table"] == "users":
                        references.append((table, str(row["from"])))
        return references

    async def reader_footprint(self, user_id: int) -> dict[str, int]:
        """Rows kept about a reader per table (all zero after `delete_reader`)."""
        result = {}
        for table in (
            "users", "forecasts", "forecast_history", "pending_steps", "scores",
            "question_drafts",
        ):  # fmt: skip
            result[table] = await self._scalar(
                f"SELECT COUNT(*) FROM {table} WHERE user_id = ?", (user_id,)
            )
        return result

    async def _scalar(self, sql: str, params: tuple[object, ...] = ()) -> int:
        row = await fetch_one(self._conn, sql, params)
        return int(row[0]) if row and row[0] is not None else 0
