"""Glue between the store's export rows and the export formats, shared by /export and
`python -m bot export`, so both produce the same bytes.

The store streams rows in batches (async); the format writers are synchronous and take an
iterable. `write_export` runs the writer in a worker thread and feeds it batch by batch from
the event loop, so neither the rows nor the output ever sit in memory whole and the writing
itself does not block the event loop. The rows are read through the store's one connection
(aiosqlite runs one statement at a time), so another update's query waits for the batch
being read, not for the whole export: other chats are answered while an export runs
(bot.pipeline.ChatOrderedProcessor handles different chats concurrently), and the admin's own
next update waits until it is done (one chat's updates run in order).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal, TextIO

from bot.domain import Question
from bot.services.export_format import (
    TELEGRAM_UPLOAD_LIMIT_BYTES,
    ExportRow,
    HistoryRow,
    fit_upload,
    pseudonym,
    write_csv,
    write_history_csv,
    write_json,
)
from bot.store import Store
from bot.store.admin import ExportChange, ExportForecast

Kind = Literal["forecasts", "history"]
Format = Literal["csv", "json"]
Progress = Callable[[int], None]
PROGRESS_EVERY = 1000  # rows between two progress calls


@dataclass(frozen=True)
class ExportSpec:
    """One file to export: current forecasts or their history (CSV only), CSV or JSON,
    pseudonymous or `full` (with Telegram id, username and name)."""

    kind: Kind
    fmt: Format
    full: bool = False

    def __post_init__(self) -> None:
        """Raises ValueError for a history export in JSON (only CSV is defined for it)."""
        if self.kind == "history" and self.fmt != "csv":
            raise ValueError("the history export is CSV only")

    def filename(self, slug: str, now: datetime) -> str:
        """E.g. forecasts-<slug>-2026-11-29.csv, forecast-history-full-<slug>-<date>.csv
        (the UTC date of `now`, an aware datetime)."""
        stem = "forecasts" if self.kind == "forecasts" else "forecast-history"
        if self.full:
            stem += "-full"
        return f"{stem}-{slug}-{now.date().isoformat()}.{self.fmt}"


@dataclass(frozen=True)
class ExportedFile:
    """A written export: `path` to upload (a .zip when the file was over the upload limit),
    the file name the content has, and how many data rows it holds."""

    path: Path
    filename: str
    rows: int

    @property
    def zipped(self) -> bool:
        """True when `path` is the zipped form of the file."""
        return self.path.suffix == ".zip"


def export_row(row: ExportForecast, slug: str, salt: str, *, full: bool) -> ExportRow:
    """A stored forecast as the export format's row (times parsed, pseudonym computed)."""
    return ExportRow(
        question_slug=slug,
        pseudonym=pseudonym(row.user_id, salt),
        probability=row.probability,
        reason=row.reason,
        language=row.language,
        created_at=row.created_at,
        updated_at=row.updated_at,
        revisions=row.revisions,
        withdrawn=bool(row.withdrawn),
        user_id=row.user_id if full else None,
        username=row.username if full else None,
        name=row.first_name if full else None,
        reason_hidden=bool(row.reason_hidden),
    )


def history_row(row: ExportChange, slug: str, salt: str, *, full: bool) -> HistoryRow:
    """A stored history entry as the export format's row."""
    return HistoryRow(
        question_slug=slug,
        pseudonym=pseudonym(row.user_id, salt),
        at=row.at,
        old_probability=row.old_probability,
        new_probability=row.new_probability,
        reason=row.reason,
        action=row.action,
        user_id=row.user_id if full else None,
        reason_hidden=bool(row.reason_hidden),
    )


async def write_export(
    store: Store,
    question: Question,
    spec: ExportSpec,
    fp: BinaryIO,
    *,
    salt: str,
    now: datetime,
    progress: Progress | None = None,
) -> int:
    """Write one export of `question` to the binary file `fp`; returns the data rows written.

    `now` (aware) is the JSON document's "exported_at". `progress(rows_so_far)` is called
    every PROGRESS_EVERY rows and at the end, from a worker thread.
    Raises ValueError for an empty salt (see `pseudonym`).
    """
    slug, full = question.slug, spec.full
    loop = asyncio.get_running_loop()
    batches: AsyncGenerator[list[Any], None]
    convert: Callable[[Any], Any]
    if spec.kind == "history":
        batches = store.admin.export_history(question.id)
        convert = lambda r: history_row(r, slug, salt, full=full)  # noqa: E731
    else:
        batches = store.admin.export_forecasts(question.id)
        convert = lambda r: export_row(r, slug, salt, full=full)  # noqa: E731

    async def next_batch() -> list[Any] | None:
        return await anext(batches, None)

    def rows() -> Generator[Any, None, None]:
        # the next batch is fetched while the current one is written
        pending = asyncio.run_coroutine_threadsafe(next_batch(), loop)
        done = 0
        try:
            while batch := pending.result():
                pending = asyncio.run_coroutine_threadsafe(next_batch(), loop)
                for item in batch:
                    yield convert(item)
                    done += 1
                    if progress and done % PROGRESS_EVERY == 0:
                        progress(done)
        finally:
            with contextlib.suppress(Exception):
                pending.result()  # never leave a fetch running when the writer stops early

    def write() -> int:
        source = rows()
        try:
            if spec.kind == "history":
                written = write_history_csv(source, fp, full=full)
            elif spec.fmt == "json":
                meta = {"question": slug, "exported_at": now}
                written = write_json(source, fp, full=full, meta=meta)
            else:
                written = write_csv(source, fp, full=full)
        finally:
            source.close()
        if progress:
            progress(written)
        return written

    pseudonym(0, salt)  # fail early on an empty salt
    try:
        return await asyncio.to_thread(write)
    finally:
        await batches.aclose()


async def count_rows(store: Store, question: Question, spec: ExportSpec) -> int:
    """How many data rows the export will hold (for progress display)."""
    if spec.kind == "history":
        return await store.admin.count_history(question.id)
    return await store.admin.count_forecasts(question.id)


@asynccontextmanager
async def exported_files(
    store: Store,
    question: Question,
    specs: list[ExportSpec],
    *,
    salt: str,
    now: datetime,
    limit_bytes: int | None = None,
) -> AsyncIterator[list[ExportedFile]]:
    """Write each export to a file in a temporary directory (removed on exit), zipped when
    over the upload limit (`fit_upload`), and yield them.

    Raises export_format.UploadTooLargeError when even the zip is too large.
    """
    with tempfile.TemporaryDirectory(prefix="export-") as tmp:
        files = []
        for spec in specs:
            name = spec.filename(question.slug, now)
            path = Path(tmp) / name
            with path.open("wb") as fp:
                rows = await write_export(store, question, spec, fp, salt=salt, now=now)
            limit = TELEGRAM_UPLOAD_LIMIT_BYTES if limit_bytes is None else limit_bytes
            upload = await asyncio.to_thread(fit_upload, path, limit)
            files.append(ExportedFile(upload, upload.name, rows))
        yield files


async def cli_export(
    store: Store,
    *,
    slug: str | None,
    fmt: Format,
    history: bool,
    full: bool,
    allow_full: bool,
    salt: str,
    out: BinaryIO,
    err: TextIO,
    now: datetime | None = None,
) -> int:
    """`python -m bot export`: write one export to `out`; messages (and, when `err` is a
    terminal, progress) go to `err`. Returns the exit code: 0 done, 1 refused or not found.

    The bytes are those /export sends for the same question, format and variant.
    """
    if full and not allow_full:
        err.write("Full exports are switched off: set EXPORT_ALLOW_FULL=true to allow them.\n")
        return 1
    if history and fmt != "csv":
        err.write("The history export is CSV only: use --format csv with --history.\n")
        return 1
    question = await (store.questions.by_slug(slug) if slug else store.questions.default())
    if question is None:
        known = ", ".join(q.slug for q in await store.questions.all()) or "none"
        err.write(f"No question {slug or '(default)'!r}. Questions: {known}\n")
        return 1
    spec = ExportSpec("history" if history else "forecasts", fmt, full)
    progress: Progress | None = None
    if err.isatty():
        total = await count_rows(store, question, spec)

        def progress(done: int) -> None:
            err.write(f"\rExported {done:,} of {total:,} rows")
            err.flush()

    rows = await write_export(
        store, question, spec, out, salt=salt, now=now or datetime.now(UTC), progress=progress
    )
    out.flush()
    if progress:
        err.write("\n")
    noun = "row" if rows == 1 else "rows"
    err.write(f"{rows} {noun} of {question.slug} exported ({spec.kind}, {fmt}).\n")
    return 0
