"""Questions, readers' forecasts with their history, and pending multi-step inputs.

The row types are bot.domain's (aware UTC datetimes); here they are read with
db.from_row and written with their times as the store's UTC text."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import aiosqlite

from bot.domain import (  # the forecasting types live in the domain module
    Forecast,
    HistoryEntry,
    PendingStep,
    Question,
    QuestionEntry,
    Reason,
)
from bot.store.db import (
    Memo,
    columns,
    expired,
    fetch_all,
    fetch_one,
    from_iso,
    from_row,
    to_iso,
    transaction,
    utcnow,
    write_lock,
)

__all__ = [
    "Forecast",
    "ForecastsRepo",
    "HistoryEntry",
    "PendingStep",
    "Question",
    "QuestionsRepo",
    "Reason",
    "Standing",
]


@dataclass(frozen=True)
class Standing:
    """The standing forecasts of a question at one version, as the aggregates need them:
    `histogram` {probability %: count} of all N of them, and `newest` the probabilities of
    at least the asked number of the most recently updated ones (all N when fewer), newest
    first."""

    version: int
    histogram: dict[int, int]
    newest: list[int]

    @property
    def total(self) -> int:
        """N, the number of standing forecasts."""
        return sum(self.histogram.values())


EPOCH = datetime.min.replace(tzinfo=UTC)  # before every stored time

# how many forecasts beyond the asked horizon the in-memory window keeps, so that a few
# withdrawals do not force a re-read
WINDOW_MARGIN = 2048


@dataclass
class _Window:
    """In memory, kept by the forecast writer: the standing histogram of a question and its
    newest standing forecasts ({user_id: probability}, oldest first), at `version`."""

    version: int
    counts: dict[int, int]
    total: int
    recent: dict[int, int]
    newest_at: datetime
    complete: bool  # `recent` holds every standing forecast
    horizon: Callable[[int], int]
    sized_at: int = 0  # len(recent) when the size was last checked against the horizon

    def apply(self, before: int, after: int, changes: list[_Move]) -> bool:
        """Apply one commit's changes (version `before` → `after`); False when the window
        cannot follow (it then has to be read again)."""
        if self.version != before:
            return False
        for user_id, old_p, new_p, at in changes:
            if old_p is not None:
                self.counts[old_p] -= 1
                self.total -= 1
                self.recent.pop(user_id, None)
            if new_p is not None:
                if at < self.newest_at:
                    return False  # a write back-dated behind newer ones: order by reading
                self.counts[new_p] = self.counts.get(new_p, 0) + 1
                self.total += 1
                self.recent[user_id] = new_p
                self.newest_at = at
        self.version = after
        if self.complete and len(self.recent) <= self.sized_at + WINDOW_MARGIN:
            # every standing forecast is here, so the horizon is covered; the trim below
            # only bounds memory, so it waits until the window grew by WINDOW_MARGIN
            return True
        need = self.horizon(self.total)  # ~1 ms at 6,000 forecasters: not on every commit
        self.sized_at = len(self.recent)
        if not self.complete and len(self.recent) < need:
            return False
        if len(self.recent) > need + 2 * WINDOW_MARGIN:
            for user_id in list(self.recent)[: len(self.recent) - need - WINDOW_MARGIN]:
                del self.recent[user_id]
            self.complete = False
        return True


_Move = tuple[int, int | None, int | None, datetime]  # user_id, left %, entered %, at


class QuestionsRepo:
    """Reads and writes of questions. `memo` keeps the open questions' closing times (for
    `open_count`, read on every forecast); this repository and AdminRepo drop it after each
    committed write of a question."""

    def __init__(self, conn: aiosqlite.Connection, memo: Memo[list[datetime]]) -> None:
        self._conn = conn
        self._open = memo

    async def _one(self, where: str, params: tuple[object, ...]) -> Question | None:
        row = await fetch_one(
            self._conn, f"SELECT {columns(Question)} FROM questions WHERE {where}", params
        )
        return from_row(Question, row) if row else None

    async def default(self) -> Question | None:
        """The default question, or None when there is none."""
        return await self._one("is_default = 1", ())

    async def get(self, question_id: int) -> Question | None:
        """A question by id."""
        return await self._one("id = ?", (question_id,))

    async def by_slug(self, slug: str) -> Question | None:
        """A question by slug (exact)."""
        return await self._one("slug = ?", (slug,))

    async def open_count(self) -> int:
        """How many questions take forecasts now (status open, closing time not passed);
        from memory after the first call (see the class)."""
        closing = await self._open.get(self._closing_times)
        now = datetime.now(UTC)
        return sum(1 for at in closing if at > now)

    async def _closing_times(self) -> list[datetime]:
        rows = await fetch_all(self._conn, "SELECT closes_at FROM questions WHERE status = 'open'")
        return [from_iso(row[0]) for row in rows]

    async def current_and_default(self, user_id: int) -> tuple[Question | None, Question | None]:
        """In one query: the question the reader last opened and the default question (each
        None when there is none; one question may be both)."""
        rows = await fetch_all(
            self._conn,
            f"SELECT {columns(Question)}, id = (SELECT current_question_id FROM users"
            " WHERE user_id = ?) FROM questions WHERE is_default = 1"
            " OR id = (SELECT current_question_id FROM users WHERE user_id = ?)",
            (user_id, user_id),
        )
        current = default = None
        for row in rows:
            question = from_row(Question, tuple(row)[:-1])
            if row[-1]:
                current = question
            if question.is_default:
                default = question
        return current, default

    async def set_current_for(self, user_id: int, question_id: int) -> None:
        """Make `question_id` the question the reader's typed commands refer to."""
        async with transaction(self._conn):
            await self._conn.execute(
                "UPDATE users SET current_question_id = ? WHERE user_id = ?",
                (question_id, user_id),
            )

    async def all(self) -> list[Question]:
        """Every question, newest first."""
        rows = await fetch_all(
            self._conn, f"SELECT {columns(Question)} FROM questions ORDER BY id DESC"
        )
        return [from_row(Question, row) for row in rows]

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
        self._open.changed()
        question = await self.by_slug(entry.slug)
        assert question is not None
        return question

    async def seed(self, entries: tuple[QuestionEntry, ...]) -> list[str]:
        """Create the dataset's questions whose slug is new; returns the slugs created.

        Existing questions are otherwise left alone (admins own them after creation), except
        that an unresolved question still holding the criteria an entry `replaces_criteria_*`
        takes the entry's criteria; when anybody has forecast, the change is dated
        (`criteria_changed_at`), as an admin's edit would be.
        """
        created = []
        for entry in entries:
            current = await self.by_slug(entry.slug)
            if current is None:
                await self.create(entry)
                created.append(entry.slug)
            elif current.status != "resolved" and (
                (current.criteria_en, current.criteria_ru)
                == (entry.replaces_criteria_en, entry.replaces_criteria_ru)
            ):
                async with transaction(self._conn):
                    await self._conn.execute(
                        "UPDATE questions SET criteria_ru = ?, criteria_en = ?,"
                        " criteria_changed_at = CASE WHEN EXISTS (SELECT 1 FROM"
                        " forecast_history h WHERE h.question_id = questions.id)"
                        " THEN ? ELSE criteria_changed_at END, version = version + 1"
                        " WHERE id = ?",
                        (entry.criteria_ru, entry.criteria_en, utcnow(), current.id),
                    )
        return created


class ForecastsRepo:
    """Reads and writes of forecasts, their history, aggregates' inputs and pending steps."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._windows: dict[int, _Window] = {}
        self._writer = GroupWriter(conn, self._windows)

    async def current(self, question_id: int, user_id: int) -> Forecast | None:
        """The reader's forecast (withdrawn ones included, see `withdrawn`), or None."""
        row = await fetch_one(
            self._conn,
            f"SELECT {columns(Forecast)} FROM forecasts WHERE question_id = ? AND user_id = ?",
            (question_id, user_id),
        )
        return from_row(Forecast, row) if row else None

    async def set(
        self,
        question_id: int,
        user_id: int,
        probability: int,
        *,
        language: str,
        reason: str | None = None,
        at: datetime | None = None,
        clear_pending_in: int | None = None,
        make_current: bool = False,
    ) -> tuple[Forecast, Forecast | None]:
        """Record a probability (1..99 %) as the reader's current forecast; with
        `clear_pending_in` (a chat id), the reader's pending step in that chat is deleted in
        the same transaction (see clear_pending), whether or not the forecast changed; with
        `make_current`, the question becomes the reader's current one in it too (see
        QuestionsRepo.set_current_for).

        `reason=None` keeps the reason of the standing forecast (none after a withdrawal).
        Each change adds a history entry; the same probability again is no change (with a
        new reason it is a reason change). Returns (new, previous-or-None) once committed.
        The read of the previous forecast and the write are one transaction, shared with
        other writes submitted at the same moment (group commit).
        Raises ValueError when the probability is outside 1..99, aiosqlite.IntegrityError
        when the reader or the question does not exist.
        """
        if not 1 <= probability <= 99:
            raise ValueError("probability must be 1..99 percent")
        now = at.astimezone(UTC) if at else datetime.now(UTC)
        new, old = await self._writer.submit(
            _Write("set", question_id, user_id, now, probability, reason, language,
                   clear_pending_in, make_current)
        )  # fmt: skip
        assert new is not None
        return new, old

    async def set_reason(self, question_id: int, user_id: int, reason: str) -> Forecast | None:
        """Replace the reason of the reader's standing forecast; None if there is none."""
        new, _ = await self._writer.submit(
            _Write("reason", question_id, user_id, datetime.now(UTC), reason=reason)
        )
        return new

    async def withdraw(self, question_id: int, user_id: int) -> Forecast | None:
        """Withdraw the standing forecast (kept in history); returns it, or None if none."""
        _, old = await self._writer.submit(
            _Write("withdraw", question_id, user_id, datetime.now(UTC))
        )
        return old

    async def flush(self) -> None:
        """Wait until every submitted write is committed (or failed)."""
        await self._writer.idle()

    @property
    def commits(self) -> int:
        """How many forecast-write transactions were committed (tests, benchmark)."""
        return self._writer.commits

    async def history(self, question_id: int, user_id: int) -> list[HistoryEntry]:
        """Every change of the reader's forecast, oldest first."""
        rows = await fetch_all(
            self._conn,
            f"SELECT {columns(HistoryEntry)} FROM forecast_history"
            " WHERE question_id = ? AND user_id = ? ORDER BY at, id",
            (question_id, user_id),
        )
        return [from_row(HistoryEntry, row) for row in rows]

    async def count(self, question_id: int) -> int:
        """How many readers have a standing (not withdrawn) forecast (from the trigger-kept
        summary: at most 99 rows read)."""
        row = await fetch_one(
            self._conn,
            "SELECT COALESCE(SUM(n), 0) FROM forecast_counts WHERE question_id = ?",
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

    async def standing(self, question_id: int, horizon: Callable[[int], int]) -> Standing:
        """The standing forecasts for the aggregates, with at least `horizon(N)` of the
        newest. Served from memory (kept by the writer) after the first call: a few
        microseconds plus one small read, however many forecasts there are; the first call
        and any change made outside this repository read the newest horizon(N) rows once."""
        async with write_lock(self._conn):  # never between another task's writes
            row = await fetch_one(
                self._conn, "SELECT version FROM questions WHERE id = ?", (question_id,)
            )
            version = int(row[0]) if row else 0
            window = self._windows.get(question_id)
            if window is None or window.version != version:
                window = await self._read_window(question_id, version, horizon)
                self._windows[question_id] = window
        return Standing(
            window.version,
            {p: n for p, n in window.counts.items() if n},
            list(reversed(window.recent.values())),
        )

    async def _read_window(
        self, question_id: int, version: int, horizon: Callable[[int], int]
    ) -> _Window:
        counts = await self.histogram(question_id)
        total = sum(counts.values())
        rows = await fetch_all(
            self._conn,
            "SELECT user_id, probability, updated_at FROM forecasts"
            " WHERE question_id = ? AND withdrawn = 0 ORDER BY updated_at DESC LIMIT ?",
            (question_id, horizon(total) + WINDOW_MARGIN),
        )
        recent = {int(uid): int(p) for uid, p, _ in reversed(rows)}
        newest_at = from_iso(rows[0][2]) if rows else EPOCH
        return _Window(version, counts, total, recent, newest_at, len(rows) == total, horizon)

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

    async def changed_on(self, question_id: int, day: date) -> bool:
        """True when the standing forecasts changed on UTC `day` (a net change of any
        probability in the per-day summary)."""
        row = await fetch_one(
            self._conn,
            "SELECT 1 FROM forecast_day_deltas WHERE question_id = ? AND day = ? AND n != 0"
            " LIMIT 1",
            (question_id, day.isoformat()),
        )
        return row is not None

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
        return [from_row(Reason, row) for row in rows]

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

    async def pending(
        self, user_id: int, chat_id: int, *, ttl: timedelta | None = None
    ) -> PendingStep | None:
        """The step the bot waits for from this reader in this chat, or None. A step older
        than `ttl` has expired: it is deleted and None returned."""
        row = await fetch_one(
            self._conn,
            f"SELECT {columns(PendingStep)} FROM pending_steps WHERE user_id = ? AND chat_id = ?",
            (user_id, chat_id),
        )
        step = from_row(PendingStep, row) if row else None
        if step is not None and expired(step.created_at, ttl):
            await self.clear_pending(user_id, chat_id)
            return None
        return step

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


# How many writes one commit takes at most (the batch's read binds two parameters per write).
MAX_BATCH = 1000

_Outcome = tuple[Forecast | None, Forecast | None]


@dataclass
class _Write:
    """One submitted change of a reader's forecast: kind is set, reason or withdraw."""

    kind: str
    question_id: int
    user_id: int
    at: datetime
    probability: int | None = None
    reason: str | None = None
    language: str = ""
    clear_chat: int | None = None  # the chat whose pending step of this reader goes with it
    make_current: bool = False  # the question becomes the reader's current one with it
    future: asyncio.Future[_Outcome] | None = None

    @property
    def key(self) -> tuple[int, int]:
        return self.question_id, self.user_id


_UPSERT = (
    "INSERT INTO forecasts (question_id, user_id, probability, reason, language, created_at,"
    " updated_at, revisions, withdrawn) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (question_id, user_id) DO UPDATE SET probability = excluded.probability,"
    " reason = excluded.reason, language = excluded.language, updated_at = excluded.updated_at,"
    " revisions = excluded.revisions, withdrawn = excluded.withdrawn"
)
_HISTORY = (
    "INSERT INTO forecast_history (question_id, user_id, action, old_probability,"
    " new_probability, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_Entry = tuple[str, int | None, int | None, str]  # action, old %, new %, reason


def _change(op: _Write, old: Forecast | None) -> tuple[_Outcome, Forecast | None, _Entry | None]:
    """What `op` does to the stored row `old`: (the submitter's result, the row after it or
    None when nothing changes, the history entry or None)."""
    standing = old if old is not None and not old.withdrawn else None
    if op.kind == "withdraw":
        if standing is None:
            return (None, None), None, None
        after = replace(standing, withdrawn=1, updated_at=op.at)
        return (after, standing), after, ("withdraw", standing.probability, None, standing.reason)
    same = standing is not None and op.probability == standing.probability
    if op.kind == "reason" or (same and op.reason is not None):
        if standing is None:
            return (None, None), None, None  # a reason change needs a standing forecast
        assert op.reason is not None
        if op.reason == standing.reason and op.kind == "set":
            return (standing, standing), None, None
        after = replace(
            standing, reason=op.reason, updated_at=op.at, revisions=standing.revisions + 1
        )
        p = standing.probability
        return (after, standing), after, ("reason", p, p, op.reason)
    assert op.probability is not None
    if same:
        return (standing, standing), None, None  # a second tap on the same button
    # a withdrawn forecast's reason went with it
    reason = op.reason if op.reason is not None else (standing.reason if standing else "")
    if old is None:
        after = Forecast(0, op.question_id, op.user_id, op.probability, reason, op.language,
                         op.at, op.at, 1, 0)  # fmt: skip
    else:
        after = replace(
            old, probability=op.probability, reason=reason, language=op.language,
            updated_at=op.at, revisions=old.revisions + 1, withdrawn=0,
        )  # fmt: skip
    old_p = standing.probability if standing else None
    return (after, old), after, ("set", old_p, op.probability, reason)


class GroupWriter:
    """Forecast writes with group commit: submitters queue their change, one task commits
    whatever is queued in one transaction (the reads of the stored rows included, so every
    read-modify-write is atomic) and then answers each submitter. While a commit runs the
    next batch gathers; a lone write commits at once."""

    def __init__(self, conn: aiosqlite.Connection, windows: dict[int, _Window]) -> None:
        self._conn = conn
        self._windows = windows
        self._queue: list[_Write] = []
        self._task: asyncio.Task[None] | None = None
        self.commits = 0

    async def submit(self, op: _Write) -> _Outcome:
        """Queue `op` and wait for its commit; returns (row after, row before), None for
        a row that does not exist. Raises what the write raised (only that write fails)."""
        loop = asyncio.get_running_loop()
        op.future = loop.create_future()
        self._queue.append(op)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())
        return await op.future

    async def idle(self) -> None:
        """Wait until the queue is empty and the last commit done."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        while self._queue:
            await asyncio.sleep(0)  # submitters woken by the same event join this batch
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                outcomes = await self._commit(batch)
            except Exception:
                # one bad write (e.g. an unknown reader) must not fail the others
                for op in batch:
                    try:
                        (outcome,) = await self._commit([op])
                    except Exception as exc:
                        _settle(op, exc)
                    else:
                        _settle(op, outcome)
            else:
                for op, outcome in zip(batch, outcomes, strict=True):
                    _settle(op, outcome)

    async def _commit(self, batch: Sequence[_Write]) -> list[_Outcome]:
        keys = list(dict.fromkeys(op.key for op in batch))
        async with transaction(self._conn):
            state = await self._rows(keys)
            outcomes: list[_Outcome] = []
            upserts, history = [], []
            moves: dict[int, list[_Move]] = {}
            for op in batch:
                before = state.get(op.key)
                outcome, after, entry = _change(op, before)
                outcomes.append(outcome)
                if after is None or entry is None:
                    continue
                state[op.key] = after
                at = to_iso(op.at)  # the change's time: the row's updated_at and the entry's
                created = at if after.created_at == op.at else to_iso(after.created_at)
                upserts.append(
                    (after.question_id, after.user_id, after.probability, after.reason,
                     after.language, created, at, after.revisions, after.withdrawn)
                )  # fmt: skip
                history.append((op.question_id, op.user_id, *entry, at))
                left = before.probability if before and not before.withdrawn else None
                entered = None if after.withdrawn else after.probability
                moves.setdefault(op.question_id, []).append((op.user_id, left, entered, op.at))
            clears = [(op.user_id, op.clear_chat) for op in batch if op.clear_chat is not None]
            if clears:
                await self._conn.executemany(
                    "DELETE FROM pending_steps WHERE user_id = ? AND chat_id = ?", clears
                )
            currents = [(op.question_id, op.user_id) for op in batch if op.make_current]
            if currents:
                await self._conn.executemany(
                    "UPDATE users SET current_question_id = ? WHERE user_id = ?", currents
                )
            versions: dict[int, int] = {}
            if upserts:
                await self._conn.executemany(_UPSERT, upserts)
                await self._conn.executemany(_HISTORY, history)
                # results and charts are cached per question version: one step per change
                for qid, changes in moves.items():
                    row = await fetch_one(
                        self._conn,
                        "UPDATE questions SET version = version + ? WHERE id = ?"
                        " RETURNING version",
                        (len(changes), qid),
                    )
                    versions[qid] = int(row[0]) if row else 0
                if any(row.id == 0 for row in state.values()):
                    ids = {key: row.id for key, row in (await self._rows(keys)).items()}
                    outcomes = [_with_ids(outcome, ids) for outcome in outcomes]
        # committed; still before any other task runs, so readers see the window and the
        # rows at the same version
        for qid, after_version in versions.items():
            window = self._windows.get(qid)
            changes = moves[qid]
            if window and not window.apply(after_version - len(changes), after_version, changes):
                del self._windows[qid]
        self.commits += 1
        return outcomes

    async def _rows(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], Forecast]:
        by_question: dict[int, list[int]] = {}
        for question_id, user_id in keys:
            by_question.setdefault(question_id, []).append(user_id)
        found: dict[tuple[int, int], Forecast] = {}
        for question_id, users in by_question.items():
            # one lookup in the (question_id, user_id) index per reader
            rows = await fetch_all(
                self._conn,
                f"SELECT {columns(Forecast)} FROM forecasts WHERE question_id = ?"
                f" AND user_id IN ({', '.join('?' * len(users))})",
                [question_id, *users],
            )
            for row in rows:
                forecast = from_row(Forecast, row)
                found[(forecast.question_id, forecast.user_id)] = forecast
        return found


def _with_ids(outcome: _Outcome, ids: dict[tuple[int, int], int]) -> _Outcome:
    """The outcome with the row ids SQLite gave to the forecasts inserted in this batch."""
    new, old = (
        replace(f, id=ids[(f.question_id, f.user_id)]) if f is not None and f.id == 0 else f
        for f in outcome
    )
    return new, old


def _settle(op: _Write, result: _Outcome | Exception) -> None:
    """Answer a submitter (unless it gave up waiting)."""
    assert op.future is not None
    if op.future.done():
        return
    if isinstance(result, Exception):
        op.future.set_exception(result)
    else:
        op.future.set_result(result)
