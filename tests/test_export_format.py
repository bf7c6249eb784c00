"""Tests for bot.services.export_format: pseudonyms, streamed CSV/JSON, zipping."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import random
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.services.export_format import (
    EXPORT_COLUMNS,
    FULL_EXPORT_COLUMNS,
    HISTORY_COLUMNS,
    ExportRow,
    HistoryRow,
    UploadTooLargeError,
    fit_upload,
    format_utc,
    pseudonym,
    write_csv,
    write_history_csv,
    write_json,
)

CREATED = datetime(2026, 11, 29, 11, 20, tzinfo=UTC)
UPDATED = datetime(2026, 11, 30, 8, 5, 7, 999_999, tzinfo=UTC)
TRICKY_REASONS = [
    "Пекин: Цинхуа и Бэйда 🎓",
    'a "quoted" word, and a comma',
    "line one\nline two\r\nline three",
    "",
    " leading and trailing spaces ",
    '🤖,"\n',
]


def make_row(index: int, reason: str, **extra: object) -> ExportRow:
    """Build an ExportRow whose fields vary with ``index``."""
    return ExportRow(
        question_slug="beijing-ai-talent",
        pseudonym=f"r-{index:016x}",
        probability=10 + index,
        reason=reason,
        language="ru" if index % 2 else "en",
        created_at=CREATED,
        updated_at=UPDATED,
        revisions=index,
        withdrawn=index % 3 == 0,
        **extra,  # type: ignore[arg-type]
    )


def parse_csv(data: bytes) -> list[list[str]]:
    """Parse exported CSV bytes back, checking the BOM."""
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_pseudonym_definition() -> None:
    expected = "r-" + hmac.new(b"pepper", b"123456", hashlib.sha256).hexdigest()[:16]
    assert pseudonym(123456, "pepper") == expected
    assert re.fullmatch(r"r-[0-9a-f]{16}", expected)


def test_pseudonym_stable_and_salted() -> None:
    assert pseudonym(42, "salt") == pseudonym(42, "salt")
    assert pseudonym(42, "salt") != pseudonym(43, "salt")
    assert pseudonym(42, "salt") != pseudonym(42, "other")


def test_pseudonym_requires_salt() -> None:
    with pytest.raises(ValueError, match="salt"):
        pseudonym(42, "")


def test_format_utc() -> None:
    assert format_utc(CREATED) == "2026-11-29T11:20:00Z"
    beijing = timezone(timedelta(hours=8))
    assert format_utc(datetime(2026, 11, 29, 19, 20, 0, 500, tzinfo=beijing)) == (
        "2026-11-29T11:20:00Z"
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        format_utc(datetime(2026, 11, 29))  # naive on purpose


def test_csv_exact_bytes_for_one_row() -> None:
    fp = io.BytesIO()
    assert write_csv([make_row(1, 'say "hi", ok')], fp, full=False) == 1
    assert fp.getvalue() == (
        b"\xef\xbb\xbf"
        b"question_slug,pseudonym,probability,reason,language,created_at,updated_at,"
        b"revisions,withdrawn,reason_hidden\r\n"
        b'beijing-ai-talent,r-0000000000000001,11,"say ""hi"", ok",ru,'
        b"2026-11-29T11:20:00Z,2026-11-30T08:05:07Z,1,false,false\r\n"
    )


def test_csv_round_trip_with_tricky_reasons() -> None:
    rows = [make_row(i, reason) for i, reason in enumerate(TRICKY_REASONS)]
    fp = io.BytesIO()
    assert write_csv(rows, fp, full=False) == len(rows)
    parsed = parse_csv(fp.getvalue())
    assert parsed[0] == list(EXPORT_COLUMNS)
    assert parsed[1:] == [
        [
            "beijing-ai-talent",
            f"r-{i:016x}",
            str(10 + i),
            reason,
            "ru" if i % 2 else "en",
            "2026-11-29T11:20:00Z",
            "2026-11-30T08:05:07Z",
            str(i),
            "true" if i % 3 == 0 else "false",
            "false",
        ]
        for i, reason in enumerate(TRICKY_REASONS)
    ]


def test_csv_full_variant() -> None:
    rows = [
        make_row(1, "x", user_id=777, username="reader", name="Иван, «Ваня»"),
        make_row(2, "y"),
    ]
    fp = io.BytesIO()
    write_csv(rows, fp, full=True)
    parsed = parse_csv(fp.getvalue())
    assert parsed[0] == list(FULL_EXPORT_COLUMNS)
    assert parsed[1][-3:] == ["777", "reader", "Иван, «Ваня»"]
    assert parsed[2][-3:] == ["", "", ""]


def test_csv_zero_rows_has_header() -> None:
    fp = io.BytesIO()
    assert write_csv([], fp, full=False) == 0
    assert parse_csv(fp.getvalue()) == [list(EXPORT_COLUMNS)]


def test_csv_streams_row_by_row() -> None:
    fp = io.BytesIO()
    sizes: list[int] = []

    def rows() -> Iterator[ExportRow]:
        for i in range(3):
            sizes.append(len(fp.getvalue()))
            yield make_row(i, "r")

    write_csv(rows(), fp, full=False)
    # Each row is already in the file before the next one is requested.
    assert sizes[0] > 0
    assert sizes[0] < sizes[1] < sizes[2] < len(fp.getvalue())


def test_csv_naive_timestamp_rejected() -> None:
    row = ExportRow(
        question_slug="q",
        pseudonym="r-0",
        probability=50,
        reason="",
        language="en",
        created_at=datetime(2026, 1, 1),  # naive on purpose
        updated_at=CREATED,
        revisions=0,
        withdrawn=False,
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        write_csv([row], io.BytesIO(), full=False)


def test_history_csv_round_trip() -> None:
    rows = [
        HistoryRow("q", "r-1", CREATED, None, 60, 'Пекин, "да"\nок', "create", user_id=1),
        HistoryRow("q", "r-1", UPDATED, 60, None, "", "withdraw", user_id=1),
    ]
    fp = io.BytesIO()
    assert write_history_csv(rows, fp, full=False) == 2
    assert parse_csv(fp.getvalue()) == [
        list(HISTORY_COLUMNS),
        ["q", "r-1", "2026-11-29T11:20:00Z", "", "60", 'Пекин, "да"\nок', "create", "false"],
        ["q", "r-1", "2026-11-30T08:05:07Z", "60", "", "", "withdraw", "false"],
    ]
    fp = io.BytesIO()
    write_history_csv(rows, fp, full=True)
    parsed = parse_csv(fp.getvalue())
    assert parsed[0] == [*HISTORY_COLUMNS, "user_id"]
    assert [line[-1] for line in parsed[1:]] == ["1", "1"]


def test_history_csv_zero_rows() -> None:
    fp = io.BytesIO()
    assert write_history_csv([], fp, full=True) == 0
    assert parse_csv(fp.getvalue()) == [[*HISTORY_COLUMNS, "user_id"]]


def test_json_round_trip() -> None:
    rows = [make_row(i, reason) for i, reason in enumerate(TRICKY_REASONS)]
    fp = io.BytesIO()
    meta = {"question": "beijing-ai-talent", "exported_at": CREATED}
    assert write_json(rows, fp, full=False, meta=meta) == len(rows)
    data = fp.getvalue()
    assert "Пекин".encode() in data  # ensure_ascii=False
    assert json.loads(data.decode("utf-8")) == {
        "question": "beijing-ai-talent",
        "exported_at": "2026-11-29T11:20:00Z",
        "forecasts": [
            {
                "question_slug": "beijing-ai-talent",
                "pseudonym": f"r-{i:016x}",
                "probability": 10 + i,
                "reason": reason,
                "language": "ru" if i % 2 else "en",
                "created_at": "2026-11-29T11:20:00Z",
                "updated_at": "2026-11-30T08:05:07Z",
                "revisions": i,
                "withdrawn": i % 3 == 0,
                "reason_hidden": False,
            }
            for i, reason in enumerate(TRICKY_REASONS)
        ],
    }


def test_json_full_variant_and_nulls() -> None:
    rows = [make_row(1, "x", user_id=5, username=None, name="Ли")]
    fp = io.BytesIO()
    write_json(rows, fp, full=True, meta={"question": "q"})
    record = json.loads(fp.getvalue())["forecasts"][0]
    assert list(record) == list(FULL_EXPORT_COLUMNS)
    assert (record["user_id"], record["username"], record["name"]) == (5, None, "Ли")


def test_json_zero_rows_is_valid() -> None:
    fp = io.BytesIO()
    assert write_json([], fp, full=False, meta={"question": "q", "exported_at": CREATED}) == 0
    assert json.loads(fp.getvalue()) == {
        "question": "q",
        "exported_at": "2026-11-29T11:20:00Z",
        "forecasts": [],
    }
    fp = io.BytesIO()
    write_json([], fp, full=False, meta={})
    assert json.loads(fp.getvalue()) == {"forecasts": []}


def test_json_rejects_bad_meta() -> None:
    with pytest.raises(ValueError, match="forecasts"):
        write_json([], io.BytesIO(), full=False, meta={"forecasts": []})
    with pytest.raises(TypeError):
        write_json([], io.BytesIO(), full=False, meta={"question": {1, 2}})


def test_fit_upload_small_file_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b"x" * 100)
    assert fit_upload(path, limit_bytes=100) == path
    assert not (tmp_path / "export.csv.zip").exists()


def test_fit_upload_zips_large_file(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    content = ("Пекин,70\r\n" * 1000).encode()
    path.write_bytes(content)
    result = fit_upload(path, limit_bytes=1000)
    assert result == tmp_path / "export.csv.zip"
    assert result.stat().st_size <= 1000
    with zipfile.ZipFile(result) as zf:
        assert zf.namelist() == ["export.csv"]
        assert zf.getinfo("export.csv").compress_type == zipfile.ZIP_DEFLATED
        assert zf.read("export.csv") == content
    assert path.read_bytes() == content  # the original stays


def test_fit_upload_incompressible_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(random.Random(1).randbytes(5000))
    with pytest.raises(UploadTooLargeError) as caught:
        fit_upload(path, limit_bytes=1000)
    assert caught.value.limit == 1000
    assert caught.value.size > 1000
    assert not (tmp_path / "export.json.zip").exists()
