"""Extracts as councils' systems really send them, and clear errors for files that are not extracts."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from ehcp_tracker.store import db
from ehcp_tracker.errors import EhcpError, ImportRejected
from ehcp_tracker.ingest.extract import available_profiles, read_extract
from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.ingest.validate import parse_dates

from .conftest import ROOT

DATA = ROOT / "tests" / "data"
AS_OF = dt.date(2024, 5, 1)


def test_shipped_profiles():
    assert {"system-a-assessments", "system-b-reviews"} <= set(available_profiles())


def test_day_first_dates_in_every_spelling():
    cells = pd.Series(["2024-03-05", "05/03/2024", "5/3/2024", "05-03-2024", "05.03.2024", "05/03/24",
                       dt.datetime(2024, 3, 5), dt.date(2024, 3, 5), "2024-03-05 00:00:00", "31/02/2024", "03/15/2024",
                       "next week", ""], dtype=object)
    days, unreadable, impossible = parse_dates(cells)
    assert list(days[:9]) == [pd.Timestamp("2024-03-05").to_datetime64().astype("datetime64[D]")] * 9
    assert list(impossible[9:11]) == [True, True]  # 31 February; month-first 03/15 is no day-first date
    assert list(unreadable) == [False] * 11 + [True, False]


def test_system_a_csv(engine, book):
    """Spelled-out headers, BOM and CRLF, dd-mm-yyyy and dd/mm/yy dates, Y/N/1/0/True flags, a column
    of names that is ignored (never echoed), trailing blank rows: detected and imported without --profile."""
    raw = read_extract(DATA / "system-a-assessments.csv")
    assert raw.profile.name == "system-a-assessments"
    assert raw.kind == "assessments" and len(raw.cells) == 3  # trailing blank rows dropped
    summary = import_extract(engine, DATA / "system-a-assessments.csv", book, AS_OF)
    assert (summary.new, summary.rejected) == (3, 0)
    # the profile used is information (issue 11 point 9), not a warning
    assert any("using profile 'system-a-assessments'" in n for n in summary.notes)
    assert not any("using profile" in w for w in summary.warnings)
    assert any("'Child Surname' is not recognised" in w for w in summary.warnings)
    assert "SYNTHETIC" not in " ".join(summary.warnings)
    cases = db.load_cases(engine.connect(), db.KINDS["assessments"]).set_index("request_id") if hasattr(db, "KINDS") else None
    with engine.connect() as conn:
        rows = {r.request_id: r for r in conn.execute(sa.select(db.assessment_table))}
    assert cases is None or len(cases) == 3
    assert rows["2001"].request_received == dt.date(2024, 3, 4)
    assert rows["2002"].request_received == dt.date(2024, 3, 5)  # 05/03/24 is 5 March
    assert rows["2001"].request_outcome == "assess" and rows["2003"].request_outcome == "not_assess"
    assert rows["2003"].request_outcome_date == dt.date(2024, 4, 15)
    assert (rows["2001"].looked_after, rows["2001"].camhs) == (False, True)
    assert (rows["2002"].looked_after, rows["2002"].camhs) == (True, False)
    assert (rows["2003"].looked_after, rows["2003"].camhs) == (True, False)
    # the same file again changes nothing
    again = import_extract(engine, DATA / "system-a-assessments.csv", book, AS_OF)
    assert (again.new, again.changed, again.unchanged) == (0, 0, 3)


def test_system_b_xlsx_with_a_title_row(engine, book):
    """The header is found below a title row; IDs Excel made floats read back as integers."""
    raw = read_extract(DATA / "system-b-reviews.xlsx")
    assert raw.profile.name == "system-b-reviews" and raw.kind == "reviews"
    assert list(raw.row_numbers) == [4, 5, 6]  # spreadsheet rows: title, blank, header above
    summary = import_extract(engine, DATA / "system-b-reviews.xlsx", book, AS_OF)
    assert (summary.new, summary.rejected) == (3, 0), summary.problems
    with engine.connect() as conn:
        rows = {r.review_id: r for r in conn.execute(sa.select(db.review_table))}
    assert set(rows) == {"1001", "1002", "1003"}
    assert rows["1001"].person_id == "5001" and rows["1001"].plan_issued == dt.date(2022, 9, 5)
    assert rows["1002"].last_review == dt.date(2023, 6, 30) and rows["1002"].ncy == 0
    assert rows["1003"].decision == "maintain"
    assert (rows["1001"].looked_after, rows["1001"].camhs) == (True, False)
    assert (rows["1003"].looked_after, rows["1003"].camhs) == (True, False)


@pytest.mark.parametrize("name, message", [
    ("empty.csv", r"empty.csv: the file is empty \(0 bytes"),
    ("truncated.csv", r"truncated.csv, row 3: the last row has 3 of 4 cells and no line end: the file looks truncated"),
    ("unterminated-quote.csv", r"not a readable CSV file \(line \d+: unexpected end of data; a quoted value is never "
                               r"closed: is the file truncated\?\)"),
    ("not-an-extract.csv", r"not-an-extract.csv: this is a PDF document, not an extract"),
    ("truncated.xlsx", r"truncated.xlsx: not a readable Excel workbook \(.xlsx\), damaged or truncated"),
    ("csv-named.xlsx", r"csv-named.xlsx: not an Excel .xlsx workbook: it does not start like one \(is it a CSV"),
    ("unknown-header.csv", r"unknown-header.csv: the header matches no profile and has no request_id or review_id "
                           r"column \(found 'Case Number', 'Client Ref', 'Opened On', 'Worker'; profiles: .*"
                           r"system-a-assessments"),
])
def test_files_that_are_not_good_extracts(name, message, book, engine):
    before = _counts(engine)
    with pytest.raises(EhcpError, match=message):
        import_extract(engine, DATA / name, book, AS_OF)
    assert _counts(engine) == before


def test_duplicate_ids_within_a_file(engine, book):
    with pytest.raises(ImportRejected) as caught:
        import_extract(engine, DATA / "duplicate-ids.csv", book, AS_OF)
    messages = [str(p) for p in caught.value.problems]
    assert messages == [
        "duplicate-ids.csv, row 2, column request_id: request_id R0001 appears more than once in the file (first at row 2)",
        "duplicate-ids.csv, row 4, column request_id: request_id R0001 appears more than once in the file (first at row 2)",
    ]
    assert _counts(engine)["assessment"] == 0


def test_cli_names_what_it_found(run):
    result = run("--as-of", "2024-05-01", "import", DATA / "unknown-header.csv")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "found 'Case Number'" in result.output
    result = run("--as-of", "2024-05-01", "import", DATA / "system-b-reviews.xlsx", "--profile", "system-a-assessments")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "required column" in result.output


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() for t in db.metadata.sorted_tables}
