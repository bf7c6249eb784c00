"""CSV that spreadsheets open safely: every CSV export (forecasts, history, full, CLI) turns
cells that would start a formula into text, while JSON keeps every text byte for byte.

A spreadsheet library is the judge: each CSV is loaded into an openpyxl workbook the way a
spreadsheet imports it (openpyxl, like Excel, takes a text starting with "=" for a formula),
saved as .xlsx, read back, and no cell may be a formula.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from openpyxl import Workbook, load_workbook

from bot.services.export_format import ExportRow, neutralise_formula, write_csv, write_json
from bot.services.export_run import cli_export
from tests.conftest import Harness
from tests.test_export import documents
from tests.test_export_format import make_row

EVIL_NAME = '=HYPERLINK("http://evil.example","x")'
# what readers typed (or, for tab and CR, what an import could carry), by reader id
EVIL_REASONS = {
    201: "+cmd|' /C calc'!A0",
    202: "-2+3",
    203: "@SUM(1+1)*cmd|' /C calc'!A0",
    204: "\t=1+1",
    205: "\r=1+1",
}


def formula_cells(data: bytes) -> list[str]:
    """Load CSV bytes into a workbook as a spreadsheet would, round-trip through .xlsx, and
    return the coordinates of every cell that is a formula."""
    text = data.decode("utf-8-sig")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in csv.reader(io.StringIO(text, newline="")):
        sheet.append(row)
    saved = io.BytesIO()
    book.save(saved)
    loaded = load_workbook(io.BytesIO(saved.getvalue())).active
    assert loaded is not None
    return [cell.coordinate for row in loaded.iter_rows() for cell in row if cell.data_type == "f"]


def test_the_judge_sees_formulas_in_raw_text() -> None:
    raw = b"question,reason\r\nq,=1+1\r\nq,@SUM(A1)\r\n"
    assert formula_cells(raw) == ["B2"]  # openpyxl flags "=" itself; "@" only Excel
    assert neutralise_formula("=1+1") == "'=1+1"
    assert [neutralise_formula(s) for s in ("+1", "-1", "@a", "\tx", "\rx")] == [
        "'+1",
        "'-1",
        "'@a",
        "'\tx",
        "'\rx",
    ]
    assert [neutralise_formula(s) for s in ("1=1", " =1", "", "Пекин")] == [
        "1=1",
        " =1",
        "",
        "Пекин",
    ]


def test_every_trigger_is_neutralised_in_csv_and_kept_in_json() -> None:
    reasons = [*EVIL_REASONS.values(), "=1+1", "plain"]
    rows = [make_row(i, reason) for i, reason in enumerate(reasons)]
    csv_fp, json_fp = io.BytesIO(), io.BytesIO()
    write_csv(rows, csv_fp, full=False)
    assert formula_cells(csv_fp.getvalue()) == []
    parsed = list(csv.DictReader(io.StringIO(csv_fp.getvalue().decode("utf-8-sig"), newline="")))
    assert [r["reason"] for r in parsed] == ["'" + r for r in reasons[:-1]] + ["plain"]

    meta = {"question": "q", "exported_at": rows[0].created_at}
    write_json(rows, json_fp, full=False, meta=meta)
    document = json.loads(json_fp.getvalue())
    assert [r["reason"] for r in document["forecasts"]] == reasons
    for reason in reasons:  # byte-exact: the stored text as JSON encodes it, nothing added
        assert json.dumps(reason, ensure_ascii=False).encode() in json_fp.getvalue()


def test_full_variant_neutralises_names_and_usernames() -> None:
    row = ExportRow(
        **{**make_row(1, "fine").__dict__, "user_id": 7, "username": "-x", "name": EVIL_NAME}
    )
    fp = io.BytesIO()
    write_csv([row], fp, full=True)
    assert formula_cells(fp.getvalue()) == []
    record = next(csv.DictReader(io.StringIO(fp.getvalue().decode("utf-8-sig"), newline="")))
    assert record["name"] == "'" + EVIL_NAME and record["username"] == "'-x"


async def seed_evil(harness: Harness, anna: dict[str, Any]) -> int:
    """Anna types `/forecast 63 =1+1`; a reader named like a HYPERLINK formula forecasts
    with "@home"; five more readers carry the other triggers. Returns the question id."""
    step = await harness.send(anna, "/forecast 63 =1+1")
    assert "=1+1" in step.text  # accepted as typed, shown back as text
    evil = harness.emu.user(200, EVIL_NAME, language_code="en", username="evil")
    await harness.send(evil, "/forecast 40 @home wins")
    question = await harness.store.questions.default()
    assert question
    for user_id, reason in EVIL_REASONS.items():
        await harness.send(harness.emu.user(user_id, f"R{user_id}", language_code="en"), "/start")
        await harness.store.forecasts.set(question.id, user_id, 50, language="en", reason=reason)
    return question.id


async def test_chat_and_cli_exports_open_without_formulas(
    harness: Harness, admin: dict[str, Any], anna: dict[str, Any]
) -> None:
    question_id = await seed_evil(harness, anna)
    harness.settings.export_allow_full = True
    await harness.send(admin, "/export")
    await harness.send(admin, "/export full csv")
    await harness.send(admin, "/export full history")
    files = documents(harness)
    csvs = {name: data for name, data in files.items() if name.endswith(".csv")}
    assert len(csvs) == 4  # forecasts, history, full forecasts, full history
    for name, data in csvs.items():
        assert formula_cells(data) == [], name
    full = next(data for name, data in csvs.items() if name.startswith("forecasts-full"))
    records = list(csv.DictReader(io.StringIO(full.decode("utf-8-sig"), newline="")))
    by_id = {r["user_id"]: r for r in records}
    assert by_id["101"]["reason"] == "'=1+1"
    assert by_id["200"]["name"] == "'" + EVIL_NAME and by_id["200"]["reason"] == "'@home wins"

    # JSON: the same texts, exactly as stored
    (json_data,) = [data for name, data in files.items() if name.endswith(".json")]
    reasons = {r["reason"] for r in json.loads(json_data)["forecasts"]}
    assert {"=1+1", "@home wins", *EVIL_REASONS.values()} == reasons

    # the command-line export writes the same neutralised CSV (forecasts and history)
    question = await harness.store.questions.get(question_id)
    assert question
    for history in (False, True):
        out, err = io.BytesIO(), io.StringIO()
        code = await cli_export(
            harness.store,
            slug=question.slug,
            fmt="csv",
            history=history,
            full=True,
            allow_full=True,
            salt="test-salt",
            out=out,
            err=err,
        )
        assert code == 0 and formula_cells(out.getvalue()) == []
        assert b"'=1+1" in out.getvalue()
