"""Questions, readers' forecasts with their history, and pending multi-step inputs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import aiosqlite

from bot.services.dataset import QuestionEntry
from bot.store.db import columns, fetch_all, fetch_one, to_iso, transaction, utcnow


@dataclass(frozen=True)
class Question:
    """A forecasting question. Times are ISO 8601 UTC text; `version` grows on every write
    to its forecasts (results and charts are cached per version)."""

    id: int
    slug: str
    text_ru: str
    text_en: str
    criteria_ru: str
    criteria_en: str
    opened_at: str
    closes_at: str
    resolve_by: str
    status: str
    resolution: str | None
    resolved_at: str | None
    is_default: int
    version: int
    created_at: str

    def text(self, lang: str) -> str:
        """The question in `lang`."""
        return self.text_ru if lang == "ru" else self.text_en

    def criteria(self, lang: str) -> str:
        """The resolution criteria in `lang`."""
        return self.criteria_ru if lang == "ru" else self.criteria_en


@dataclass(frozen=True)
class Forecast:
    """A reader's current forecast: `probability` in whole percent (1..99) that the
    question resolves yes. A withdrawn forecast (withdrawn=1) no longer counts."""

    id: int
    question_id: int
    user_id: int
    probability: int
    reason: str
    language: str
    created_at: str
    updated_at: str
    revisions: int
    withdrawn: int


@dataclass(frozen=True)
class HistoryEntry:
    """One change of a forecast: action is set, reason or withdraw; probabilities in %."""

    id: int
    question_id: int
    user_id: int
    action: str
    old_probability: int | None
    new_probability: int | None
    reason: str
    at: str


@dataclass(frozen=True)
class PendingStep:
    """A multi-step input the bot waits for (kind: "exact" or "reason"), kept in SQLite so
    that it survives a restart."""

    user_id: int
    chat_id: int
    kind: str
    question_id: int
    prompt_message_id: int | None
    payload: str
    created_at: str


@dataclass(frozen=True)
class Reason:
    """A recent reason for /results; `name` is set only for readers who agreed to be named,
    `handle` is the reader's public label (None only before one was assigned)."""

    probability: int
    reason: str
    name: str | None
    updated_at: str
    handle: str | None = None


class QuestionsRepo:
    """Reads and writes of questions."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def _one(self, where: str, params: tuple[object, ...]) -> Question | None:
        row = await fetch_one(
            self._conn, f"SELECT {columns(Question)} FROM questions WHERE {where}", params
        )
        return Question(*row) if row else None

    async def default(self) -> Question | None:
        """The default question, or None when there is none."""
        return await self._one("is_default = 1", ())

    async def get(self, question_id: int) -> Question | None:
        """A question by id."""
        return await self._one("id = ?", (question_id,))

    async def by_slug(self, slug: str) -> Question | None:
        """A question by slug (exact)."""
        return await self._one("slug = ?", (slug,))

    async def all(self) -> list[Question]:
        """Every question, newest first."""
        rows = await fetch_all(
            self._conn, f"SELECT {columns(Question)} FROM questions ORDER BY id DESC"
        )
        return [Question(*row) for row in rows]

    async def create(self, entry: QuestionEntry) -> Question:
        """Insert a question; it becomes the default when asked or when none exists.

        Raises aiosqlite.IntegrityError when the slug is taken.
        """
        async with transaction(self._conn):
            has_default = await self._one("is_default = 1", ()) is not None
            make_default = entry.default or not has_default
            if make_default and has_default:
                await self._conn.execute("UPDATE questions SET is_default = 0")
            await self._conn.execute(
                "INSERT INTO questions (slug, text_ru, text_en, criteria_ru, criteria_en,"
                " opened_at, closes_at, resolve_by, is_default, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.slug, entry.text_ru, entry.text_en, entry.criteria_ru,
                    entry.criteria_en, to_iso(entry.opened_at), to_iso(entry.closes_at),
                    to_iso(entry.resolve_by), int(make_default), utcnow(),
                ),
            )  # fmt: skip
        question = await self.by_slug(entry.slug)
        assert question is not None
        return question

    async def seed(self, entries: tuple[QuestionEntry, ...]) -> list[str]:
        """Create the dataset's questions whose slug is new; returns the slugs created.

        Existing questions are never changed by seeding (admins own them after creation).
        """
        created = []
        for entry in entries:
            if await self.by_slug(entry.slug) is None:
                await self.create(entry)
                created.append(entry.slug)
        return created


class ForecastsRepo:
    """Reads and writes of forecasts, their history, aggregates' inputs and pending steps."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def current(self, question_id: int, user_id: int) -> Forecast | None:
        """The reader's forecast (withdrawn ones included, see `withdrawn`), or None."""
        row = await fetch_one(
            self._conn,
            f"SELECT {columns(Forecast)} FROM forecasts WHERE question_id = ? AND user_id = ?",
            (question_id, user_id),
        )
        return Forecast(*row) if row else None

    async def set(
        self,
        question_id: int,
        user_id: int,
        probability: int,
        *,
        language: str,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> tuple[Forecast, Forecast | None]:
        """Record a probability (1..99 %) as the reader's current forecast.

        `reason=None` keeps the reason of the standing forecast (none after a withdrawal).
        Each change adds a history entry; the same probability again is no change (with a
        new reason it is a reason change). Returns (new, previous-or-None).
        Raises ValueError when the probability is outside 1..99.
        """
        if not 1 <= probability <= 99:
            raise ValueError("probability must be 1..99 percent")
        now = to_iso(at) if at else utcnow()
        old = await self.current(question_id, user_id)
        if old and not old.withdrawn and old.probability == probability:
            if reason is None or reason == old.reason:
                return old, old  # a second tap on the same button: nothing to record
            return await self.set_reason(question_id, user_id, reason) or old, old
        # a withdrawn forecast's reason went with it
        kept = old.reason if old and not old.withdrawn else ""
        new_reason = reason if reason is not None else kept
        async with transaction(self._conn):
            await self._conn.execute(
                "INSERT INTO forecasts (question_id, user_id, probability, reason, language,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (question_id, user_id) DO UPDATE SET"
                " probability = excluded.probability, reason = excluded.reason,"
                " language = excluded.language, updated_at = excluded.updated_at,"
                " revisions = forecasts.revisions + 1, withdrawn = 0",
                (question_id, user_id, probability, new_reason, language, now, now),
            )
            old_p = old.probability if old and not old.withdrawn else None
            await self._history(question_id, user_id, "set", old_p, probability, new_reason, now)
        new = await self.current(question_id, user_id)
        assert new is not None
        return new, old

    async def set_reason(self, question_id: int, user_id: int, reason: str) -> Forecast | None:
        """Replace the reason of the reader's standing forecast; None if there is none."""
        old = await self.current(question_id, user_id)
        if old is None or old.withdrawn:
            return None
        now = utcnow()
        async with transaction(self._conn):
            await self._conn.execute(
                "UPDATE forecasts SET reason = ?, updated_at = ?, revisions = revisions + 1"
                " WHERE id = ?",
                (reason, now, old.id),
            )
            p = old.probability
            await self._history(question_id, user_id, "reason", p, p, reason, now)
        return await self.current(question_id, user_id)

    async def withdraw(self, question_id: int, user_id: int) -> Forecast | None:
        """Withdraw the standing forecast (kept in history); returns it, or None if none."""
        old = await self.current(question_id, user_id)
        if old is None or old.withdrawn:
            return None
        now = utcnow()
        async with transaction(self._conn):
            await self._conn.execute(
                "UPDATE forecasts SET withdrawn = 1, updated_at = ? WHERE id = ?", (now, old.id)
            )
            await self._history(
                question_id, user_id, "withdraw", old.probability, None, old.reason, now
            )
        return old

    async def _history(
        self,
        question_id: int,
        user_id: int,
        action: str,
        old: int | None,
        new: int | None,
        reason: str,
        at: str,
    ) -> None:
        await self._conn.execute(
            "INSERT INTO forecast_history (question_id, user_id, action, old_probability,"
            " new_probability, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (question_id, user_id, action, old, new, reason, at),
        )
        # results and charts are cached per question version
        await self._conn.execute(
            "UPDATE questions SET version = version + 1 WHERE id = ?", (question_id,)
        )

    async def history(self, question_id: int, user_id: int) -> list[HistoryEntry]:
        """Every change of the reader's forecast, oldest first."""
        rows = await fetch_all(
            self._conn,
            f"SELECT {columns(HistoryEntry)} FROM forecast_history"
            " WHERE question_id = ? AND user_id = ? ORDER BY at, id",
            (question_id, user_id),
        )
        return [HistoryEntry(*row) for row in rows]

    async def count(self, question_id: int) -> int:
        """How many readers have a standing (not withdrawn) forecast."""
        row = await fetch_one(
            self._conn,
            "SELECT COUNT(*) FROM forecasts WHERE question_id = ? AND withdrawn = 0",
            (question_id,),
        )
        return int(row[0]) if row else 0

    async def histogram(self, question_id: int) -> dict[int, int]:
        """Standing forecasts as {probability %: count} (from the trigger-kept summary)."""
        rows = await fetch_all(
            self._conn,
            "SELECT probability, n FROM forecast_counts WHERE question_id = ? AND n > 0",
            (question_id,),
        )
        return {int(p): int(n) for p, n in rows}

    async def newest(self, question_id: int, limit: int) -> list[int]:
        """The probabilities of the `limit` most recently updated standing forecasts,
        newest first (input of the recency-weighted median)."""
        rows = await fetch_all(
            self._conn,
            "SELECT probability FROM forecasts WHERE question_id = ? AND withdrawn = 0"
            " ORDER BY updated_at DESC LIMIT ?",
            (question_id, limit),
        )
        return [int(row[0]) for row in rows]

    async def day_deltas(
        self, question_id: int, since: date
    ) -> tuple[dict[int, int], dict[date, dict[int, int]]]:
        """How the standing forecasts changed by UTC day: (the standing histogram before
        `since`, {day: {probability: net change}} from `since` on). Reads the trigger-kept
        per-day summary, at most 99 rows a day."""
        base_rows = await fetch_all(
            self._conn,
            "SELECT probability, SUM(n) FROM forecast_day_deltas"
            " WHERE question_id = ? AND day < ? GROUP BY probability",
            (question_id, since.isoformat()),
        )
        rows = await fetch_all(
            self._conn,
            "SELECT day, probability, n FROM forecast_day_deltas"
            " WHERE question_id = ? AND day >= ? AND n != 0",
            (question_id, since.isoformat()),
        )
        base = {int(p): int(n) for p, n in base_rows if n}
        days: dict[date, dict[int, int]] = {}
        for day, p, n in rows:
            days.setdefault(date.fromisoformat(day), {})[int(p)] = int(n)
        return base, days

    async def recent_reasons(self, question_id: int, limit: int = 5) -> list[Reason]:
        """The newest non-empty reasons of standing forecasts, with the reader's first name
        only when they agreed to be named, and their public handle. Reasons of readers an
        admin hid (/hide) are left out."""
        rows = await fetch_all(
            self._conn,
            "SELECT f.probability, f.reason,"
            " CASE WHEN u.named_consent = 1 THEN u.first_name END, f.updated_at, u.handle"
            # the partial index holds only forecasts with a reason: a few rows to read even
            # when most of a million forecasts have none (SQLite's planner needs the hint)
            " FROM forecasts f INDEXED BY forecasts_reasons JOIN users u ON u.user_id = f.user_id"
            " WHERE f.question_id = ? AND f.withdrawn = 0 AND f.reason != ''"
            " AND f.user_id NOT IN (SELECT user_id FROM hidden_readers)"
            " ORDER BY f.updated_at DESC LIMIT ?",
            (question_id, limit),
        )
        return [Reason(*row) for row in rows]

    async def set_pending(
        self,
        user_id: int,
        chat_id: int,
        kind: str,
        question_id: int,
        prompt_message_id: int | None = None,
        payload: str = "",
    ) -> None:
        """Remember that the bot waits for this reader's next input in this chat."""
        async with transaction(self._conn):
            await self._conn.execute(
                "INSERT OR REPLACE INTO pending_steps (user_id, chat_id, kind, question_id,"
                " prompt_message_id, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (user_id, chat_id, kind, question_id, prompt_message_id, payload, utcnow()),
            )

    async def pending(self, user_id: int, chat_id: int) -> PendingStep | None:
        """The step the bot waits for from this reader in this chat, or None."""
        row = await fetch_one(
            self._conn,
            f"SELECT {columns(PendingStep)} FROM pending_steps WHERE user_id = ? AND chat_id = ?",
            (user_id, chat_id),
        )
        return PendingStep(*row) if row else None

    async def clear_pending(self, user_id: int, chat_id: int) -> None:
        """Forget the pending step of this reader in this chat."""
        async with transaction(self._conn):
            await self._conn.execute(
                "DELETE FROM pending_steps WHERE user_id = ? AND chat_id = ?", (user_id, chat_id)
            )

    async def bulk_insert(
        self, question_id: int, rows: list[tuple[int, int, str]], language: str = "ru"
    ) -> None:
        """Insert many first forecasts at once, one transaction: (user_id, probability %,
        ISO UTC time). Readers are created as needed. For imports and benchmarks."""
        async with transaction(self._conn):
            await self._conn.executemany(
                "INSERT OR IGNORE INTO users (user_id, first_name, created_at, updated_at)"
                " VALUES (?, '', ?, ?)",
                ((uid, at, at) for uid, _, at in rows),
            )
            await self._conn.executemany(
                "INSERT INTO forecasts (question_id, user_id, probability, language,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                ((question_id, uid, p, language, at, at) for uid, p, at in rows),
            )
            await self._conn.executemany(
                "INSERT INTO forecast_history (question_id, user_id, action, new_probability, at)"
                " VALUES (?, ?, 'set', ?, ?)",
                ((question_id, uid, p, at) for uid, p, at in rows),
            )
            await self._conn.execute(
                "UPDATE questions SET version = version + 1 WHERE id = ?", (question_id,)
            )
