"""Export formats for forecast results: CSV (current forecasts, history) and JSON.

The store yields rows; these functions stream them into a binary file object one row at a
time, so an export of a million forecasts never exists as one string in memory. The only
I/O is writing to the given file object and, in :func:`fit_upload`, the given path.

Conventions shared by every format:

* Timestamps must be timezone-aware; they are converted to UTC and written as ISO 8601 with
  whole seconds and a "Z" suffix, e.g. "2026-11-29T11:20:00Z" (sub-second parts are
  dropped: the store records forecasts to the second at best).
* Probabilities are integer percent (1..99).
* Readers appear under a :func:`pseudonym`; the "full" variants add user_id, username and
  name for the bot's owner only.
* CSV is for spreadsheets: a text cell that a spreadsheet would read as a formula (one
  starting with =, +, -, @, a tab or a carriage return) gets a leading single quote (the
  OWASP rule against CSV injection), so it shows as the text typed. JSON is for programs and
  keeps every text exactly as stored.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

PSEUDONYM_PREFIX = "r-"
PSEUDONYM_HEX_CHARS = 16  # 64 bits: collisions are negligible for any realistic readership
TELEGRAM_UPLOAD_LIMIT_BYTES = 50 * 1000 * 1000
UTF8_BOM = b"\xef\xbb\xbf"  # lets Excel recognise UTF-8 CSV, so Cyrillic is not garbled
# first characters that make Excel, LibreOffice or Google Sheets evaluate a cell (OWASP)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

EXPORT_COLUMNS = (
    "question_slug",
    "pseudonym",
    "probability",
    "reason",
    "language",
    "created_at",
    "updated_at",
    "revisions",
    "withdrawn",
    "reason_hidden",
)
FULL_EXPORT_COLUMNS = (*EXPORT_COLUMNS, "user_id", "username", "name")
HISTORY_COLUMNS = (
    "question_slug",
    "pseudonym",
    "at",
    "old_probability",
    "new_probability",
    "reason",
    "action",
    "reason_hidden",
)
FULL_HISTORY_COLUMNS = (*HISTORY_COLUMNS, "user_id")


class UploadTooLargeError(ValueError):
    """Even the zipped export exceeds the upload limit; ``size`` and ``limit`` in bytes."""

    def __init__(self, path: Path, size: int, limit: int) -> None:
        """Record the offending file, its size and the limit (bytes)."""
        super().__init__(f"{path} is {size} bytes zipped, limit {limit}")
        self.path, self.size, self.limit = path, size, limit


def pseudonym(user_id: int, salt: str) -> str:
    """Return a stable pseudonym for a reader: "r-" + 16 lowercase hex characters.

    The hex is the start of HMAC-SHA-256 keyed with ``salt`` (UTF-8) over the decimal user
    id (ASCII, e.g. b"123456"). The same id and salt always give the same pseudonym; without
    the salt it cannot be linked back to the id.

    Raises:
        ValueError: empty salt (a plain hash of a small integer is trivially reversible).
    """
    if not salt:
        raise ValueError("pseudonym salt must not be empty")
    digest = hmac.new(salt.encode("utf-8"), str(user_id).encode("ascii"), hashlib.sha256)
    return PSEUDONYM_PREFIX + digest.hexdigest()[:PSEUDONYM_HEX_CHARS]


def format_utc(moment: datetime) -> str:
    """Return ``moment`` in UTC as "YYYY-MM-DDTHH:MM:SSZ" (seconds truncated).

    Raises:
        ValueError: naive datetime.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp must be timezone-aware, got naive {moment}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ExportRow:
    """A reader's current forecast on a question.

    Attributes:
        question_slug: question identifier.
        pseudonym: see :func:`pseudonym`.
        probability: int percent 1..99.
        reason: free text, may contain any Unicode, commas, quotes and newlines.
        language: the reader's interface language code, e.g. "ru", "en".
        created_at, updated_at: timezone-aware datetimes (written as UTC).
        revisions: how many times the reader changed the forecast (0 = never).
        withdrawn: True if the forecast was withdrawn.
        user_id, username, name: only exported by the "full" variants; None → empty/null.
        reason_hidden: True when an admin hid the reader's reasons from public view (/hide).
    """

    question_slug: str
    pseudonym: str
    probability: int
    reason: str
    language: str
    created_at: datetime
    updated_at: datetime
    revisions: int
    withdrawn: bool
    user_id: int | None = None
    username: str | None = None
    name: str | None = None
    reason_hidden: bool = False


@dataclass(frozen=True)
class HistoryRow:
    """One change of a reader's forecast.

    Attributes:
        question_slug: question identifier.
        pseudonym: see :func:`pseudonym`.
        at: timezone-aware datetime of the change (written as UTC).
        old_probability, new_probability: int percent, None before the first forecast or
            after a withdrawal.
        reason: the reason given with the change.
        action: what happened, as the store names it (e.g. "create", "update", "withdraw").
        user_id: only exported by the "full" variant.
        reason_hidden: True when an admin hid the reader's reasons from public view (/hide).
    """

    question_slug: str
    pseudonym: str
    at: datetime
    old_probability: int | None
    new_probability: int | None
    reason: str
    action: str
    user_id: int | None = None
    reason_hidden: bool = False


def _export_record(row: ExportRow, *, full: bool) -> dict[str, Any]:
    """Return the row as a JSON-ready dict keyed by (FULL_)EXPORT_COLUMNS, in that order."""
    record: dict[str, Any] = {
        "question_slug": row.question_slug,
        "pseudonym": row.pseudonym,
        "probability": row.probability,
        "reason": row.reason,
        "language": row.language,
        "created_at": format_utc(row.created_at),
        "updated_at": format_utc(row.updated_at),
        "revisions": row.revisions,
        "withdrawn": row.withdrawn,
        "reason_hidden": row.reason_hidden,
    }
    if full:
        record.update(user_id=row.user_id, username=row.username, name=row.name)
    return record


def _history_record(row: HistoryRow, *, full: bool) -> dict[str, Any]:
    """Return the row as a dict keyed by (FULL_)HISTORY_COLUMNS, in that order."""
    record: dict[str, Any] = {
        "question_slug": row.question_slug,
        "pseudonym": row.pseudonym,
        "at": format_utc(row.at),
        "old_probability": row.old_probability,
        "new_probability": row.new_probability,
        "reason": row.reason,
        "action": row.action,
        "reason_hidden": row.reason_hidden,
    }
    if full:
        record["user_id"] = row.user_id
    return record


def neutralise_formula(text: str) -> str:
    """``text`` with a leading single quote when a spreadsheet would take it for a formula
    (it starts with one of FORMULA_TRIGGERS), else unchanged: "=1+1" → "'=1+1"."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _csv_cell(value: Any) -> str:
    """Render one value for CSV: None → "", booleans → "true"/"false", numbers as str(),
    text through :func:`neutralise_formula`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return neutralise_formula(value)
    return str(value)


def _write_csv_records(
    records: Iterable[Mapping[str, Any]], columns: Sequence[str], fp: BinaryIO
) -> int:
    """Write BOM, header and one CSV line per record to ``fp``; return records written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # QUOTE_MINIMAL, "\r\n" line ends as in RFC 4180

    def flush() -> None:
        fp.write(buffer.getvalue().encode("utf-8"))
        buffer.seek(0)
        buffer.truncate()

    fp.write(UTF8_BOM)
    writer.writerow(columns)
    flush()
    written = 0
    for record in records:
        writer.writerow([_csv_cell(record[column]) for column in columns])
        flush()
        written += 1
    return written


def write_csv(rows: Iterable[ExportRow], fp: BinaryIO, *, full: bool) -> int:
    """Stream current forecasts as CSV to ``fp``; return the number of data rows.

    UTF-8 with a BOM, standard csv quoting (QUOTE_MINIMAL), "\\r\\n" line ends, a header
    (EXPORT_COLUMNS, or FULL_EXPORT_COLUMNS when ``full``) even for zero rows, timestamps as
    "2026-11-29T11:20:00Z", withdrawn as "true"/"false", missing optional values as "",
    text that would start a formula prefixed with "'" (:func:`neutralise_formula`).

    Raises:
        ValueError: a naive timestamp (rows before it are already written).
    """
    columns = FULL_EXPORT_COLUMNS if full else EXPORT_COLUMNS
    records = (_export_record(row, full=full) for row in rows)
    return _write_csv_records(records, columns, fp)


def write_history_csv(rows: Iterable[HistoryRow], fp: BinaryIO, *, full: bool) -> int:
    """Stream forecast history as CSV to ``fp``; return the number of data rows.

    Same format as :func:`write_csv` with HISTORY_COLUMNS (FULL_HISTORY_COLUMNS when
    ``full``); a missing old/new probability is written as "".

    Raises:
        ValueError: a naive timestamp (rows before it are already written).
    """
    columns = FULL_HISTORY_COLUMNS if full else HISTORY_COLUMNS
    records = (_history_record(row, full=full) for row in rows)
    return _write_csv_records(records, columns, fp)


def _json_default(value: object) -> str:
    """Serialise datetimes in ``meta`` like every other timestamp; reject anything else."""
    if isinstance(value, datetime):
        return format_utc(value)
    raise TypeError(f"cannot export {type(value).__name__} as JSON")


def _dumps(value: object) -> bytes:
    """Return compact-ish UTF-8 JSON for one value (non-ASCII kept as is)."""
    return json.dumps(value, ensure_ascii=False, default=_json_default).encode("utf-8")


def write_json(
    rows: Iterable[ExportRow], fp: BinaryIO, *, full: bool, meta: Mapping[str, object]
) -> int:
    """Stream current forecasts as one JSON document to ``fp``; return the number of rows.

    The document is ``{**meta, "forecasts": [record, ...]}`` — meta is expected to hold
    "question" (slug or title) and "exported_at" (a datetime, written as "...Z") — encoded as
    UTF-8 without BOM, one forecast per line. Each record has the keys of EXPORT_COLUMNS (or
    FULL_EXPORT_COLUMNS) with ints, booleans and null kept as JSON types. Zero rows give
    ``"forecasts": []``.

    Raises:
        ValueError: meta has a "forecasts" key, or a naive timestamp.
        TypeError: a meta value that JSON cannot represent.
    """
    if "forecasts" in meta:
        raise ValueError('meta must not contain "forecasts"')
    fp.write(b"{")
    for key, value in meta.items():
        fp.write(_dumps(key) + b": " + _dumps(value) + b", ")
    fp.write(b'"forecasts": [')
    written = 0
    for row in rows:
        fp.write((b",\n" if written else b"\n") + _dumps(_export_record(row, full=full)))
        written += 1
    fp.write(b"\n]}\n" if written else b"]}\n")
    return written


def fit_upload(path: Path, limit_bytes: int = TELEGRAM_UPLOAD_LIMIT_BYTES) -> Path:
    """Return a path that fits the bot upload limit: ``path`` itself, or a zip of it.

    Telegram bots may upload files up to 50 MB. A larger file is compressed (deflate) into
    ``<name>.zip`` next to it (replacing any such file), holding one entry named like the
    original; the original is left in place.

    Raises:
        UploadTooLargeError: the zip is still larger than ``limit_bytes``; the zip is removed.
        OSError: the file cannot be read or the zip cannot be written.
    """
    if path.stat().st_size <= limit_bytes:
        return path
    archive = path.with_name(path.name + ".zip")
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(path, arcname=path.name)
    size = archive.stat().st_size
    if size > limit_bytes:
        archive.unlink()
        raise UploadTooLargeError(archive, size, limit_bytes)
    return archive
