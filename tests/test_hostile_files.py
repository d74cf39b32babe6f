"""Hostile and damaged files: one line and exit 1, no traceback, no personal data, nothing stored.

Issue 12, points 1, 3 and 4: messages never echo a child's data (a headerless file's first row, a
cell an unclosed quote made span the next rows, a long value); hostile workbooks (zip bombs, a
sheet declaring A1:XFD1048576, entities) are refused before they can eat the machine; control
characters are refused with row and column and can never reach a terminal, a CSV or an XLSX.
"""

from __future__ import annotations

import csv
import io
import time
import tracemalloc

import pytest

from ehcp_tracker import workbook as bounds
from ehcp_tracker.errors import EhcpError
from ehcp_tracker.ingest import extract
from ehcp_tracker.ingest.extract import read_extract
from ehcp_tracker.output import neutralise, to_csv, to_xlsx

from .conftest import ASSESSMENT_HEADER, snapshot, write_csv
from .hostile import hostile_workbooks, workbook

AS_OF = "2024-05-01"
REVIEW_HEADER = ["review_id", "person_id", "plan_issued", "date_of_birth", "decision", "team"]
# Synthetic children whose identifiers must never appear on stderr.
PEOPLE = [("AR1", "PX93817", "2012-03-10"), ("AR2", "PX93818", "2011-11-23"), ("AR3", "PX93819", "2013-07-04")]
SECRETS = [p for _, p, _ in PEOPLE] + [d for _, _, d in PEOPLE] + ["10/03/2012", "23/11/2011", "04/07/2013"]


def _review_rows():
    return [[case, person, "2023-05-01", born, "", "North"] for case, person, born in PEOPLE]


def _error_fixtures(tmp_path) -> dict[str, bytes]:
    """Files whose every error message could, carelessly written, quote a person ID or a birth date."""
    def as_csv(rows, header=REVIEW_HEADER):
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([header, *rows] if header else rows)
        return text.getvalue().encode()

    rows = _review_rows()
    unclosed = as_csv(rows).replace(b"2023-05-01,2012-03-10", b'"2023-05-01,2012-03-10', 1)
    shifted = [[c, "", "2023-05-01", "", f"{p} {b}", "North"] for c, p, b in PEOPLE]  # data in a choice column
    return {
        "headerless.csv": as_csv(rows, header=None),
        "headerless-with-kind.csv": as_csv(rows, header=None),
        "unclosed-quote.csv": unclosed,
        "unclosed-quote-closed-later.csv": unclosed.replace(b"North\nAR3", b'North\nAR3"', 1),
        "values-in-wrong-columns.csv": as_csv(shifted),
        "long-flag.csv": as_csv([[c, p, "2023-05-01", b, "", "North"] for c, p, b in PEOPLE],
                                header=REVIEW_HEADER[:-1] + ["looked_after"]),
        "ids-in-ncy.csv": as_csv([[c, p, "2023-05-01", b, "", p + b] for c, p, b in PEOPLE],
                                 header=REVIEW_HEADER[:-1] + ["ncy"]),
        "bad-dates.csv": as_csv([[c, p, b.replace("-", "/") + " " + p, b, "", "North"] for c, p, b in PEOPLE]),
        "headerless.xlsx": _xlsx([[c, p, "2023-05-01", b] for c, p, b in PEOPLE]),
    }


def _xlsx(rows) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_no_error_message_carries_a_person_id_or_a_date_of_birth(run, tmp_path):
    """Every stderr line of every error fixture, with and without --skip-bad-rows and --kind."""
    seen = []
    for name, data in _error_fixtures(tmp_path).items():
        path = tmp_path / name
        path.write_bytes(data)
        for extra in ([], ["--skip-bad-rows"], ["--kind", "reviews"]):
            result = run("--as-of", AS_OF, "import", path, "--rejects", tmp_path / "rejects.csv", *extra)
            assert result.exit_code in ((0, 1, 3) if "--skip-bad-rows" in extra else (0, 1)), (name, result.output)
            assert "Traceback" not in result.output
            seen.append(result.stderr)
            for secret in SECRETS:
                assert secret not in result.stderr, (name, extra, secret, result.stderr)
    assert any("is the header row missing?" in text for text in seen)  # the headerless files were recognised
    assert any("not shown" in text for text in seen)  # and the long values named without being shown


def test_database_errors_never_print_their_parameters(engine, db_url):
    """hide_parameters=True on every engine: a failing statement's values stay out of its message."""
    import sqlalchemy as sa

    from ehcp_tracker.store import db

    assert engine.hide_parameters
    with pytest.raises(sa.exc.DBAPIError) as caught:
        with engine.begin() as conn:  # a person ID too long for its column (PostgreSQL), or no key (SQLite)
            conn.execute(db.assessment_table.insert(), {"request_id": None, "person_id": "PX93817" * 20,
                                                        "first_run_id": 1, "last_run_id": 1})
    assert "PX93817" not in str(caught.value)


@pytest.mark.parametrize("cell, shown", [
    ("assesss", "'assesss'"),
    ("PX93817", "not shown"),
    ("2012-03-10", "not shown"),
    ("10/03/2012", "not shown"),
    ("x" * 25, "a value of 25 characters"),
    ("two\nlines", "not shown"),
])
def test_only_short_codes_are_echoed(cell, shown):
    from ehcp_tracker.ingest.validate import shown as show

    assert shown in show(cell)


def test_a_header_that_looks_like_data_is_never_quoted():
    assert extract.shown_header("Date Request Received") == "'Date Request Received'"
    assert "PX93817" not in extract.shown_header("PX93817", 2)
    assert "2012" not in extract._found(["AR1", "PX93817", "2012-03-10"])


# --- hostile workbooks ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(hostile_workbooks()))
def test_a_hostile_workbook_is_refused_quickly_in_bounded_memory(tmp_path, monkeypatch, name):
    path = tmp_path / "hostile.xlsx"
    path.write_bytes(hostile_workbooks()[name])
    # the row bound at 10,000 instead of Excel's 1,048,576: the same code path, traced 100 times faster
    monkeypatch.setattr(bounds, "XLSX_MAX_ROWS", 10_000)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(EhcpError) as caught:
            read_extract(path)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    message = str(caught.value)
    assert "\n" not in message and message.startswith("hostile.xlsx")
    assert peak < 200 << 20, f"{name}: {peak >> 20} MB"
    assert time.monotonic() - started < 30  # a hang guard, not a timing: these take well under a second


@pytest.mark.parametrize("name", sorted(hostile_workbooks()))
def test_a_hostile_people_workbook_is_refused_in_one_line_in_bounded_memory(tmp_path, monkeypatch, name):
    """The people file is a workbook too (issue 28, point 2): the extract's bounds apply to it."""
    from ehcp_tracker.alerts.people import read_people

    path = tmp_path / "people.xlsx"
    path.write_bytes(hostile_workbooks()[name])
    monkeypatch.setattr(bounds, "XLSX_MAX_ROWS", 10_000)
    tracemalloc.start()
    try:
        with pytest.raises(EhcpError) as caught:
            read_people(path)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    # one line, or (a sheet read but not a people file) the listing of missing columns
    assert all(line.strip().startswith("people.xlsx") for line in str(caught.value).splitlines())
    assert peak < 200 << 20, f"{name}: {peak >> 20} MB"


@pytest.mark.parametrize("name, reason", [
    ("shared strings inflated past the cells", "shared strings (4,800,251 bytes) are out of proportion to its cells"),
    ("shared strings inflated behind padded rows", "has 200,003 shared strings (4,800,251 bytes) but its sheets only 6 cells"),
    ("an inline string longer than Excel allows", "row 2, column 1: a cell of 40,000 characters"),
    ("zip version field bit-flipped", "damaged or truncated (cut short in copying?): NotImplementedError"),
    ("unknown compression method", "NotImplementedError"),
    ("encrypted member", "RuntimeError"),
])
def test_strings_and_zip_errors_are_refused_for_what_they_are(tmp_path, name, reason):
    path = tmp_path / "hostile.xlsx"
    path.write_bytes(hostile_workbooks()[name])
    with pytest.raises(EhcpError) as caught:
        read_extract(path)
    assert reason in str(caught.value)


def test_a_real_workbook_with_many_unique_shared_strings_is_read(tmp_path, monkeypatch):
    """The shared-string bound is relative to the cells: rows of unique IDs (a table past the size
    that is never scanned, here lowered to 64 KiB so the test stays fast) are an ordinary extract,
    counted and read."""
    import zipfile

    from .hostile import shared_string_extract

    monkeypatch.setattr(bounds, "SST_FREE_BYTES", 64 << 10)
    path = tmp_path / "many.xlsx"
    path.write_bytes(shared_string_extract(4_000))
    assert zipfile.ZipFile(path).getinfo("xl/sharedStrings.xml").file_size > bounds.SST_FREE_BYTES
    raw = read_extract(path)
    assert len(raw.cells) == 4_000 and raw.cells["request_id"].iloc[-1] == "R0004001"
    # the same rows with 12,000 more strings than the sheets have cells: refused before openpyxl
    path.write_bytes(shared_string_extract(4_000, unused=12_000 + 1_000))
    with pytest.raises(EhcpError, match="shared strings .* but its sheets only 12,003 cells"):
        read_extract(path)


def test_a_declared_dimension_is_ignored(tmp_path, monkeypatch):
    """A 2 KB sheet declaring A1:XFD1048576, its second row numbered 1,048,576, is read as the two
    rows it holds: openpyxl used to pad every missing row to 16,384 cells (17 billion in all)."""
    from .hostile import DATA_ROW, HEADER_ROW, sheet

    far = DATA_ROW.replace('r="2"', 'r="1048576"').replace('2"', '1048576"')
    path = tmp_path / "dimension.xlsx"
    path.write_bytes(workbook(sheet(HEADER_ROW + far, dimension="A1:XFD1048576")))
    raw = read_extract(path)
    assert list(raw.cells["request_id"]) == ["R0001"] and list(raw.row_numbers) == [1048576]


def test_member_size_and_cell_count_are_capped(tmp_path, monkeypatch):
    path = tmp_path / "big.xlsx"
    path.write_bytes(workbook())
    monkeypatch.setattr(bounds, "XLSX_MAX_MEMBER_BYTES", 100)
    with pytest.raises(EhcpError, match="unpacks to more than"):
        read_extract(path)
    monkeypatch.setattr(bounds, "XLSX_MAX_MEMBER_BYTES", 1 << 30)
    monkeypatch.setattr(bounds, "XLSX_MAX_CELLS", 3)
    with pytest.raises(EhcpError, match="more than 3 cells"):
        read_extract(path)


def test_hostile_workbooks_through_the_cli_store_nothing(run, db_url, tmp_path):
    """On both databases: exit 1, one error line, no traceback, and the stored tables as they were."""
    write_csv(tmp_path / "base.csv", ASSESSMENT_HEADER, [["R0001", "P0001", "2024-03-01", "", "", "", ""]])
    assert run("--as-of", AS_OF, "import", tmp_path / "base.csv").exit_code == 0
    before = snapshot(db_url, reflect=False)
    for name, data in hostile_workbooks().items():
        path = tmp_path / "hostile.xlsx"
        path.write_bytes(data)
        result = run("--as-of", AS_OF, "import", path, "--skip-bad-rows")
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert result.exit_code == 1 and len(errors) == 1 and "Traceback" not in result.output, name
    assert snapshot(db_url, reflect=False) == before


# --- control characters -----------------------------------------------------------------------------

@pytest.mark.parametrize("value, code", [("North\x0bEast", "U+000B"), ("\x1b[31mRed\x1b[0m", "U+001B"),
                                         ("Nor\u202eth", "U+202E"), ("a\nb", "U+000A"), ("x\x7fy", "U+007F")])
def test_control_characters_are_refused_with_row_and_column(run, db_url, tmp_path, value, code):
    rows = [["R0001", "P0001", "2024-03-01", "CW1", value, "", ""]]
    result = run("--as-of", AS_OF, "import", write_csv(tmp_path / "a.csv", ASSESSMENT_HEADER, rows))
    assert result.exit_code == 1
    assert f"a.csv, row 2, column team: contains the control character {code}" in result.stderr
    assert "\x1b" not in result.output and "\x0b" not in result.output


def test_nothing_written_carries_a_control_character(tmp_path):
    """Defence in depth for data stored before the import refused them: every export cleans them."""
    import pandas as pd
    from openpyxl import load_workbook

    frame = pd.DataFrame({"team": ["North\x0bEast", "\x1b[2J", "ok"]})
    assert "\x0b" not in to_csv(frame) and "\x1b" not in to_csv(frame)
    to_xlsx(frame, tmp_path / "t.xlsx")  # openpyxl refused the whole workbook for one vertical tab
    cells = [c.value for c in load_workbook(tmp_path / "t.xlsx").active["A"]]
    assert cells[1] == "North\ufffdEast"


@pytest.mark.parametrize("vector", ["=1+1", " =1+1", "\u00a0=1+1", "\n=1+1", "\r\n@SUM(A1)", "\t-2", "  +cmd"])
def test_formulas_behind_whitespace_are_neutralised(vector):
    assert neutralise(vector).startswith("'")


def test_the_rejects_file_neutralises_every_vector(run, tmp_path):
    vectors = [" =1+1", "\u00a0=HYPERLINK(\"x\")", "=cmd", "+1", "-1", "@SUM(1)"]
    rows = [[f"R{i:04d}", "P1", "31/02/2024", "CW1", v, "", ""] for i, v in enumerate(vectors, start=1)]
    path = write_csv(tmp_path / "a.csv", ASSESSMENT_HEADER, rows)
    assert run("--as-of", AS_OF, "import", path, "--skip-bad-rows").exit_code == 3  # imported, with rows rejected
    with open(tmp_path / "a.rejects.csv", encoding="utf-8", newline="") as handle:
        teams = [r["team"] for r in csv.DictReader(handle)]
    assert len(teams) == len(vectors) and all(t.startswith("'") for t in teams)


def _personal_values(path) -> set[str]:
    """Every person ID and date of birth in a fixture (columns whose header names a person or a birth)."""
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True)
        except Exception:  # noqa: BLE001 - a damaged fixture holds nothing readable to leak
            return set()
        rows = [["" if v is None else str(v) for v in r] for r in book.active.iter_rows(values_only=True)]
        book.close()
    else:
        text = path.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff")
        rows = list(csv.reader(io.StringIO(text)))
    header = next((r for r in rows if any("person" in c.lower() for c in r)), None)
    if header is None:
        return set()
    wanted = [i for i, c in enumerate(header) if "person" in c.lower() or "birth" in c.lower()]
    return {r[i] for r in rows[rows.index(header) + 1:] for i in wanted if i < len(r) and len(r[i]) >= 4}


def test_the_shipped_error_fixtures_never_print_a_person_id(run, tmp_path):
    from .conftest import ROOT

    checked = 0
    for path in sorted((ROOT / "tests" / "data").glob("*.*")):
        if path.suffix not in (".csv", ".xlsx"):
            continue
        secrets = _personal_values(path)
        for extra in ([], ["--skip-bad-rows"]):
            result = run("--as-of", AS_OF, "import", path, "--rejects", tmp_path / "r.csv", "--max-missing", "100",
                         "--keep-absent", "all", *extra)
            assert "Traceback" not in result.output
            checked += len(secrets)
            for secret in secrets:
                assert secret not in result.stderr, (path.name, secret, result.stderr)
    assert checked  # the fixtures do hold person IDs
