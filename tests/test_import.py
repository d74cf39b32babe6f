"""The import contract (design.md section 3), one kind of bad input at a time, on a real database."""

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from ehcp_tracker.store import db
from ehcp_tracker.errors import EhcpError, ImportRejected
from ehcp_tracker.ingest.extract import load_profile
from ehcp_tracker.ingest.importer import import_extract

from .conftest import write_csv

D = dt.date.fromisoformat
AS_OF = D("2024-06-30")
HEADER = ["request_id", "person_id", "request_received", "caseworker", "team", "request_outcome",
          "request_outcome_date", "final_plan_issued"]
GOOD = [
    ["R1", "P1", "2024-01-08", "CW1", "North", "assess", "2024-02-12", ""],
    ["R2", "P2", "05/03/2024", "CW2", "South", "", "", ""],
    ["R3", "P3", "2024-02-01", "CW1", "North", "not_assess", "2024-03-07", ""],
]


def stored(engine, table="assessment"):
    with engine.connect() as conn:
        return {row.request_id: row._asdict() for row in conn.execute(sa.select(db.table_for(table + "s")))}


def log(engine):
    with engine.connect() as conn:
        return [row._asdict() for row in conn.execute(sa.select(db.change_log).order_by(db.change_log.c.id))]


def test_import_then_reimport_changes_nothing(engine, book, tmp_path):
    path = write_csv(tmp_path / "a.csv", HEADER, GOOD)
    first = import_extract(engine, path, book, AS_OF)
    assert (first.new, first.changed, first.unchanged, first.missing) == (3, 0, 0, 0)
    before, before_log = stored(engine), log(engine)
    again = import_extract(engine, path, book, AS_OF)
    assert (again.new, again.changed, again.unchanged, again.missing) == (0, 0, 3, 0)
    after = stored(engine)
    for case in after.values():
        case.pop("last_run_id")
    for case in before.values():
        case.pop("last_run_id")
    assert after == before and log(engine) == before_log
    # UK day-first dates: 05/03/2024 is 5 March, never 3 May
    assert stored(engine)["R2"]["request_received"] == D("2024-03-05")


def test_changed_fields_are_logged_and_missing_cases_kept(engine, book, tmp_path):
    import_extract(engine, write_csv(tmp_path / "a.csv", HEADER, GOOD), book, AS_OF)
    tonight = [["R1", "P1", "2024-01-08", "CW9", "North", "assess", "2024-02-12", "2024-05-20"], GOOD[1]]
    # one of three cases leaving is more than the shrink guard's default 10 %: accepted on purpose here
    summary = import_extract(engine, write_csv(tmp_path / "b.csv", HEADER, tonight), book, AS_OF, max_missing=100)
    assert (summary.new, summary.changed, summary.unchanged, summary.missing) == (0, 1, 1, 1)
    cases = stored(engine)
    assert set(cases) == {"R1", "R2", "R3"}, "a case missing from the extract is kept, never deleted"
    assert cases["R3"]["missing_since_run_id"] == summary.run_id
    changes = {(c["case_id"], c["field"]): (c["old_value"], c["new_value"]) for c in log(engine)
               if c["run_id"] == summary.run_id}
    assert changes == {("R1", "caseworker"): ("CW1", "CW9"), ("R1", "final_plan_issued"): ("", "2024-05-20"),
                       ("R3", "(in extract)"): ("yes", "no")}
    # it comes back: the mark is cleared and logged
    back = import_extract(engine, write_csv(tmp_path / "c.csv", HEADER, tonight + [GOOD[2]]), book, AS_OF)
    assert stored(engine)["R3"]["missing_since_run_id"] is None and back.changed == 1


BAD_ROWS = [
    # read day-first, 03/25/2024 would be the 3rd of month 25: never silently read as 25 March
    ("month-first date", ["R9", "P9", "03/25/2024", "", "", "", "", ""], "request_received", "impossible_date"),
    ("impossible date", ["R9", "P9", "31/02/2024", "", "", "", "", ""], "request_received", "impossible_date"),
    ("text in a date", ["R9", "P9", "soon", "", "", "", "", ""], "request_received", "bad_date"),
    ("missing required id", ["R9", "", "2024-01-01", "", "", "", "", ""], "person_id", "required"),
    ("missing request date", ["R9", "P9", "", "", "", "", "", ""], "request_received", "required"),
    ("unknown outcome", ["R9", "P9", "2024-01-01", "", "", "maybe", "2024-02-01", ""], "request_outcome", "bad_value"),
    ("date in the future of --as-of", ["R9", "P9", "2024-07-01", "", "", "", "", ""], "request_received", "future_date"),
    ("final plan before the request", ["R9", "P9", "2024-03-01", "", "", "assess", "2024-03-10", "2024-02-01"],
     "final_plan_issued", "date_order"),
    ("outcome without its date", ["R9", "P9", "2024-03-01", "", "", "assess", "", ""], "request_outcome_date",
     "inconsistent"),
    ("plan after refusal", ["R9", "P9", "2024-01-01", "", "", "not_assess", "2024-02-01", "2024-05-01"],
     "final_plan_issued", "inconsistent"),
    ("duplicate id", ["R1", "P1", "2024-01-08", "", "", "", "", ""], "request_id", "duplicate_id"),
]


@pytest.mark.parametrize("name,row,column,code", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_bad_row_is_rejected_with_file_row_column_and_reason(engine, book, tmp_path, name, row, column, code):
    import_extract(engine, write_csv(tmp_path / "first.csv", HEADER, GOOD), book, AS_OF)
    before = stored(engine)
    path = write_csv(tmp_path / "bad.csv", HEADER, GOOD + [row])
    with pytest.raises(ImportRejected) as caught:
        import_extract(engine, path, book, AS_OF)
    problems = caught.value.problems
    assert any(p.file == "bad.csv" and p.row == 5 and p.column == column and p.code == code for p in problems), problems
    assert stored(engine) == before, "nothing from a rejected file is stored"


def test_every_problem_in_a_file_is_reported_at_once(engine, book, tmp_path):
    rows = [GOOD[0], ["R8", "", "31/02/2024", "", "", "maybe", "", ""], ["R9", "P9", "2030-01-01", "", "", "", "", ""]]
    with pytest.raises(ImportRejected) as caught:
        import_extract(engine, write_csv(tmp_path / "bad.csv", HEADER, rows), book, AS_OF)
    found = {(p.row, p.column, p.code) for p in caught.value.problems}
    assert {(3, "person_id", "required"), (3, "request_received", "impossible_date"),
            (3, "request_outcome", "bad_value"), (4, "request_received", "future_date")} <= found


def test_skip_bad_rows_imports_the_good_and_writes_rejects(engine, book, tmp_path):
    rows = GOOD + [["R9", "P9", "31/02/2024", "", "", "", "", ""]]
    summary = import_extract(engine, write_csv(tmp_path / "x.csv", HEADER, rows), book, AS_OF, skip_bad_rows=True)
    assert set(stored(engine)) == {"R1", "R2", "R3"} and summary.rejected == 1
    rejects = (tmp_path / "x.rejects.csv").read_text().splitlines()
    assert rejects[0].startswith("row,column,reason,message")
    assert rejects[1].startswith("5,request_received,impossible_date")


@pytest.mark.parametrize("code,column,ok", [
    ("school_closure", "exception_reason", True),
    ("school_closure", "health_advice_exception", False),  # reg 8(2) has no closure exemption
    ("missed_appointment", "health_advice_exception", True),
    ("missed_appointment", "exception_reason", False),  # reg 8(2)(c) is for advice only
    ("coronavirus", "exception_reason", False),  # this request's 20 weeks ran out in 2024, not 2020
    ("holiday", "exception_reason", False),
])
def test_exception_pairings(engine, book, tmp_path, code, column, ok):
    # education_advice_requested: a closure exemption needs advice requested from the school (reg 10(4)(a))
    header = HEADER + ["health_advice_requested", "exception_reason", "health_advice_exception",
                       "education_advice_requested"]
    row = ["R1", "P1", "2024-01-08", "", "", "assess", "2024-02-12", "", "2024-02-14", "", "", "2024-02-14"]
    row[header.index(column)] = code
    path = write_csv(tmp_path / "e.csv", header, [row])
    if ok:
        import_extract(engine, path, book, AS_OF)
    else:
        with pytest.raises(ImportRejected) as caught:
            import_extract(engine, path, book, AS_OF)
        assert caught.value.problems[0].column == column


def test_coronavirus_exception_inside_its_window(engine, book, tmp_path):
    header = ["request_id", "person_id", "request_received", "exception_reason"]
    path = write_csv(tmp_path / "c.csv", header, [["R1", "P1", "2020-01-06", "coronavirus"]])
    assert import_extract(engine, path, book, D("2020-12-01")).new == 1


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_encodings(engine, book, tmp_path, encoding):
    text = "Request_ID,Person_ID,Request_Received,Team\nR1,P1,2024-01-08,Équipe Nord\n"
    path = tmp_path / "enc.csv"
    path.write_bytes(text.encode(encoding))
    import_extract(engine, path, book, AS_OF)
    assert stored(engine)["R1"]["team"] == "Équipe Nord"


def test_xlsx_with_profile_matches_csv(engine, book, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Assessment requests export"])  # a title row above the header
    sheet.append(["Request Ref", "Child ID", "Date Request Received", "Decision To Assess", "Decision Date",
                  "CLA"])
    sheet.append([12345.0, "P1", dt.datetime(2024, 1, 8), "Agreed", dt.datetime(2024, 2, 12), "Y"])
    sheet.append([None] * 6)  # trailing blank row
    workbook.save(tmp_path / "council.xlsx")
    profile = load_profile("example-system")
    summary = import_extract(engine, tmp_path / "council.xlsx", book, AS_OF, profile=profile)
    case = stored(engine)["12345"]
    assert summary.new == 1 and case["request_received"] == D("2024-01-08")
    assert case["request_outcome"] == "assess" and case["looked_after"] is True


@pytest.mark.parametrize("content,expected", [
    (b"", "the file is empty"),
    (b"request_id,person_id,request_received\n", "no data rows"),
    (b"name,address\nA,B\n", "the header matches no profile and has no request_id or review_id column"),
    (b"request_id,person_id\nR1,P1\n", "required column missing: request_received"),
    (b"PK\x03\x04rubbish", "this is an Excel workbook"),
    (b"request_id,person_id,request_received\nR1,P1,2024-01-01,extra,cells\n", "cells but the header has 3"),
])
def test_unreadable_files_fail_clearly(engine, book, tmp_path, content, expected):
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    with pytest.raises(EhcpError, match=expected):
        import_extract(engine, path, book, AS_OF)


def test_import_cli_reports_and_exits_1_without_traceback(run, tmp_path):
    path = write_csv(tmp_path / "bad.csv", HEADER, GOOD + [["R9", "P9", "31/02/2024", "", "", "", "", ""]])
    result = run("--as-of", "2024-06-30", "import", path)
    assert result.exit_code == 1
    assert "bad.csv, row 5, column request_received: no such day in the calendar" in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    summary = tmp_path / "s.json"
    result = run("--as-of", "2024-06-30", "import", write_csv(tmp_path / "ok.csv", HEADER, GOOD),
                 "--summary-json", summary)
    assert result.exit_code == 0 and "3 new" in result.stderr
    assert json.loads(summary.read_text())[0]["new"] == 3


def test_unknown_columns_warn(run, tmp_path):
    path = write_csv(tmp_path / "w.csv", HEADER + ["favourite_colour"], [r + ["blue"] for r in GOOD])
    result = run("--as-of", "2024-06-30", "import", path)
    assert result.exit_code == 0 and "'favourite_colour' is not recognised" in result.stderr
