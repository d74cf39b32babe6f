"""``ehcp queries``, the import's count of new queries, and "exempt is not a breach" (issue 14,
points 7 and 8), end to end through click's CliRunner on SQLite and PostgreSQL.

The findings are the review ones of ``clocks/queries.py``, triggered by hand-built cases:

- ``maintain_on_transfer``: a year-6 child (``ncy`` 6 in 2025/26) transfers to secondary school in
  September 2026, so the phase-transfer review must end by 14 February 2026 (reg 18(1)(a)); its
  meeting on 19 November 2025 and decision letter on 10 December 2025 complete it, and the decision
  is "maintain": reg 18(1) wants the plan amended to name the next school, hence a query.
- ``review_exemption_not_applied``: review rows may hold no exemption (rejected at import since
  issue 13), so one is written straight to the store, as a row migrated from before would hold it.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from ehcp_tracker.listings import Filters, breaches, queries, query_codes
from ehcp_tracker.store import db

from .conftest import D, write_csv

AS_OF = "2026-03-01"
REVIEW_HEADER = ["review_id", "person_id", "caseworker", "team", "plan_issued", "last_review", "ncy",
                 "ncy_academic_year", "review_meeting", "decision_notified", "decision"]
TRANSFER = ["2020-11-02", "2025-01-13", "6", "2025", "2025-11-19", "2025-12-10"]  # year 6 in 2025/26
NO_TRANSFER = ["2020-11-02", "2025-01-13", "3", "2025", "2025-11-19", "2025-12-10"]  # year 3: no transfer
REVIEWS = [
    ["AR1", "P1", "CW1", "North", *TRANSFER, "maintain"],
    ["AR2", "P2", "=HYPERLINK(\"x\")", "South", *TRANSFER, "maintain"],
    ["AR3", "P3", "CW2", "South", *NO_TRANSFER, "maintain"],
    ["AR4", "P4", "CW2", "+North", *TRANSFER, "amend"],
]


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def store_review_exemption(db_url: str, review_id: str, code: str = "personal_circumstances") -> None:
    """A review exemption as a row stored before issue 13's import-time rejection holds it."""
    engine = db.connect(db_url)
    with engine.begin() as conn:
        conn.execute(db.review_table.update().where(db.review_table.c.review_id == review_id)
                     .values(exception_reason=code))
    engine.dispose()


@pytest.fixture
def loaded(run, db_url, tmp_path):
    result = run("--as-of", AS_OF, "import", write_csv(tmp_path / "reviews.csv", REVIEW_HEADER, REVIEWS))
    assert result.exit_code == 0, result.output
    store_review_exemption(db_url, "AR3")
    return run


def pairs(rows) -> list[tuple[str, str]]:
    return [(r["code"], r["case_id"]) for r in rows]


# ------------------------------------------------------------------------------------ the listing

def test_queries_lists_every_finding_by_code_and_case(loaded):
    result = loaded("--as-of", AS_OF, "queries", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout)
    assert pairs(rows) == [("maintain_on_transfer", "AR1"), ("maintain_on_transfer", "AR2"),
                           ("review_exemption_not_applied", "AR3")]
    assert list(rows[0]) == ["code", "case_id", "kind", "person_id", "caseworker", "team", "clock", "date",
                             "message", "action"]
    first = rows[0]
    assert (first["clock"], first["date"], first["kind"]) == ("phase_transfer", "2025-12-10", "review")
    assert "reg 18(1)" in first["message"] and first["action"].startswith("check that the plan")
    # the exemption query is dated by the review's anchor (last review 13 January 2025)
    assert (rows[2]["clock"], rows[2]["date"]) == ("annual_review", "2025-01-13")
    assert "personal_circumstances" in rows[2]["message"]
    assert "queries as of Sun 01 Mar 2026: 3 (2 maintain_on_transfer, 1 review_exemption_not_applied)" \
        in result.stderr


def test_table_shows_code_case_clock_message_and_what_to_do(loaded):
    result = loaded("--as-of", AS_OF, "queries")
    assert result.exit_code == 0
    header = result.stdout.splitlines()[2].split()
    assert header[:4] == ["code", "case_id", "clock", "message"] and "what" in header
    assert "P1" not in result.stdout and "person_id" not in result.stdout  # as the clock tables: no person id
    wide = loaded("--as-of", AS_OF, "queries", "--wide")
    assert "caseworker" in wide.stdout and "2025-12-10" in wide.stdout


@pytest.mark.parametrize("options, expected", [
    (["--caseworker", "cw2"], [("review_exemption_not_applied", "AR3")]),
    (["--team", "north"], [("maintain_on_transfer", "AR1")]),
    (["--code", "maintain_on_transfer"], [("maintain_on_transfer", "AR1"), ("maintain_on_transfer", "AR2")]),
    (["--code", " Review_Exemption_Not_Applied "], [("review_exemption_not_applied", "AR3")]),
    (["--code", "maintain_on_transfer", "--team", "South"], [("maintain_on_transfer", "AR2")]),
    (["--kind", "reviews"], [("maintain_on_transfer", "AR1"), ("maintain_on_transfer", "AR2"),
                             ("review_exemption_not_applied", "AR3")]),
])
def test_filters(loaded, options, expected):
    result = loaded("--as-of", AS_OF, "queries", *options, "--format", "json")
    assert result.exit_code == 0, result.output
    assert pairs(json.loads(result.stdout)) == expected


def test_no_queries_is_one_line_and_exit_0(loaded):
    result = loaded("--as-of", AS_OF, "queries", "--kind", "assessments")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.strip() == "no queries as of Sun 01 Mar 2026"
    as_csv = loaded("--as-of", AS_OF, "queries", "--kind", "assessments", "--format", "csv")
    assert as_csv.exit_code == 0 and as_csv.stdout.splitlines() == [
        "code,case_id,kind,person_id,caseworker,team,clock,date,message,action"]


def test_unknown_code_names_the_known_ones_and_exits_1(loaded):
    result = loaded("--as-of", AS_OF, "queries", "--code", "maintain")
    assert result.exit_code == 1
    assert result.stdout == "" and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: --code: no query 'maintain' (known: ")
    assert "maintain_on_transfer" in lines[0] and "review_exemption_not_applied" in lines[0]


def test_unknown_caseworker_is_refused_as_in_every_listing(loaded):
    result = loaded("--as-of", AS_OF, "queries", "--caseworker", "CW9")
    assert result.exit_code == 1 and "error: --caseworker: no caseworker 'CW9'" in result.stderr


def test_exports_neutralise_formula_injection(loaded, tmp_path):
    text = loaded("--as-of", AS_OF, "queries", "--format", "csv").stdout
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    out = tmp_path / "queries.xlsx"
    result = loaded("--as-of", AS_OF, "queries", "--format", "xlsx", "-o", out)
    assert result.exit_code == 0 and result.stdout == ""
    from openpyxl import load_workbook

    sheet = load_workbook(out).active
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert [c.value for c in sheet[1]][:3] == ["code", "case_id", "kind"]
    assert "'=HYPERLINK(\"x\")" in values
    assert not any(isinstance(v, str) and v.startswith(("=", "+")) for v in values)


def test_include_missing_adds_missing_since(loaded, tmp_path):
    # tonight's file lacks AR1 (one case in four: under --max-missing 30): kept, marked, not listed
    rest = [r for r in REVIEWS if r[0] != "AR1"]
    assert loaded("--as-of", "2026-03-02", "import", "--max-missing", "30", "--keep-absent", "exception_reason",
                  write_csv(tmp_path / "r2.csv", REVIEW_HEADER, rest)).exit_code == 0
    listed = csv_rows(loaded("--as-of", AS_OF, "queries", "--format", "csv").stdout)
    assert "AR1" not in {r["case_id"] for r in listed}
    every = csv_rows(loaded("--as-of", AS_OF, "queries", "--include-missing", "--format", "csv").stdout)
    by_case = {r["case_id"]: r["missing_since"] for r in every}
    assert by_case["AR1"] == "2026-03-02" and by_case["AR2"] == ""


def test_library_call_matches_the_listing(engine, book, tmp_path):
    # the CLI is a thin layer: the library answers the same with no command line at all
    from ehcp_tracker.ingest.importer import import_extract

    import_extract(engine, write_csv(tmp_path / "r.csv", REVIEW_HEADER, REVIEWS), book, D(AS_OF))
    found = queries(engine, book, D(AS_OF), Filters(team="South"))
    assert pairs(found.to_dict("records")) == [("maintain_on_transfer", "AR2")]
    assert queries(engine, book, D(AS_OF), code="review_exemption_not_applied").empty
    assert {"maintain_on_transfer", "review_exemption_not_applied"} <= set(query_codes())


# ------------------------------------------------------------------------- the import's new queries

def _new_queries(result) -> str:
    return next(line for line in result.stderr.splitlines() if "new quer" in line)


def test_import_prints_the_new_queries(run, tmp_path):
    first = [REVIEWS[0], REVIEWS[2]]  # AR1 maintained on its transfer (a query), AR3 in year 3 (none)
    path = write_csv(tmp_path / "r.csv", REVIEW_HEADER, first)
    summary = tmp_path / "summary.json"
    result = run("--as-of", AS_OF, "import", path, "--summary-json", summary)
    assert result.exit_code == 0, result.output
    assert _new_queries(result) == "r.csv: 1 new query (ehcp queries to list them): 1 maintain_on_transfer"
    assert json.loads(summary.read_text())[0]["new_queries"] == 1
    # the same file again: nothing new
    again = run("--as-of", AS_OF, "import", path, "--summary-json", summary)
    assert _new_queries(again) == "r.csv: 0 new queries"
    assert json.loads(summary.read_text())[0]["new_queries"] == 0
    assert json.loads(summary.read_text())[0]["new_queries_by_code"] == {}
    # AR3's child is now in year 6 (a transfer) and maintained: one more; AR1's query is not new
    changed = [REVIEWS[0], ["AR3", "P3", "CW2", "South", *TRANSFER, "maintain"]]
    third = run("--as-of", AS_OF, "import", write_csv(tmp_path / "r.csv", REVIEW_HEADER, changed),
                "--summary-json", summary)
    assert _new_queries(third) == "r.csv: 1 new query (ehcp queries to list them): 1 maintain_on_transfer"
    assert json.loads(summary.read_text())[0]["new_queries_by_code"] == {"maintain_on_transfer": 1}
    # a new case with a finding and a changed one that loses its finding (amend): one new
    fourth_rows = [["AR1", "P1", "CW1", "North", *TRANSFER, "amend"], changed[1], REVIEWS[1]]
    fourth = run("--as-of", AS_OF, "import", write_csv(tmp_path / "r.csv", REVIEW_HEADER, fourth_rows))
    assert _new_queries(fourth) == "r.csv: 1 new query (ehcp queries to list them): 1 maintain_on_transfer"


def test_a_sibling_row_that_completes_the_transfer_brings_the_query(run, tmp_path):
    # a phase transfer belongs to the child: P1's earlier review row is unchanged, and tonight a
    # second row of P1 (its transfer review, maintained) arrives; the finding is the new row's
    earlier = ["AR0", "P1", "CW1", "North", "2020-11-02", "2023-01-16", "5", "2024", "2024-01-10", "2024-01-15",
               "amend"]
    assert run("--as-of", AS_OF, "import", write_csv(tmp_path / "r.csv", REVIEW_HEADER, [earlier])).exit_code == 0
    result = run("--as-of", AS_OF, "import", write_csv(tmp_path / "r.csv", REVIEW_HEADER, [earlier, REVIEWS[0]]))
    assert _new_queries(result) == "r.csv: 1 new query (ehcp queries to list them): 1 maintain_on_transfer"


# ------------------------------------------------------------------------- exempt is not a breach
#
# R1: request received Monday 2 September 2019, nothing since. Decision whether to assess due
# within 6 weeks (reg 5(1)): 14 October 2019; final plan within 20 weeks (reg 13(2)): 140 days,
# 20 January 2020. On 1 March 2020 both are overdue, by 139 and 41 days. R1 records exceptional
# personal circumstances on the 20-week clock (reg 13(3) applying reg 10(4)(c)): that limit does not
# apply, so its final plan is exempt, not a breach; its decision clock (no exemption) still is.
# R2: the same dates with no exemption: both clocks breached.
ASSESSMENT_HEADER = ["request_id", "person_id", "request_received", "caseworker", "team", "exception_reason"]
ASSESSMENTS = [["R1", "P1", "2019-09-02", "CW1", "North", "personal_circumstances"],
               ["R2", "P2", "2019-09-02", "CW1", "North", ""]]


@pytest.fixture
def exempt_loaded(run, tmp_path):
    result = run("--as-of", "2020-03-01", "import", write_csv(tmp_path / "a.csv", ASSESSMENT_HEADER, ASSESSMENTS))
    assert result.exit_code == 0, result.output
    return run


def _statutory(rows):
    return {(r["case_id"], r["clock"], r["days_overdue"]) for r in rows if not r["clock"].startswith("local_")}


def test_breaches_leave_exempt_clocks_out(exempt_loaded):
    result = exempt_loaded("--as-of", "2020-03-01", "breaches", "--format", "csv")
    assert result.exit_code == 0
    rows = csv_rows(result.stdout)
    assert _statutory(rows) == {("R1", "decision_to_assess", "139"), ("R2", "decision_to_assess", "139"),
                                ("R2", "final_plan", "41")}
    assert "exempt" not in rows[0]
    assert "1 exempt clocks left out (--include-exempt lists them)" in result.stderr


def test_include_exempt_lists_them_marked(exempt_loaded):
    result = exempt_loaded("--as-of", "2020-03-01", "breaches", "--include-exempt", "--format", "csv")
    assert result.exit_code == 0
    rows = csv_rows(result.stdout)
    assert _statutory(rows) == {("R1", "decision_to_assess", "139"), ("R2", "decision_to_assess", "139"),
                                ("R2", "final_plan", "41"), ("R1", "final_plan", "41")}
    marks = {(r["case_id"], r["clock"]): r["exempt"] for r in rows}
    assert marks[("R1", "final_plan")] == "exempt: as soon as practicable"
    assert marks[("R2", "final_plan")] == "" and marks[("R1", "decision_to_assess")] == ""
    assert "1 exempt clocks listed too, not breaches (exempt column)" in result.stderr
    table = exempt_loaded("--as-of", "2020-03-01", "breaches", "--include-exempt")
    assert " exempt " in table.stdout.splitlines()[2]  # the column heading; its text wraps at words
    assert "exempt: as" in table.stdout and "practicable" in table.stdout


def test_the_filter_follows_the_engine(engine, book, tmp_path):
    # the exemption applies because the engine's exception column says so, nothing else: on
    # 1 March 2020 the coronavirus relaxation (due dates 1 May - 25 September 2020) does not reach
    # a final plan due 20 January 2020, so a recorded `coronavirus` applies to nothing: a breach
    from ehcp_tracker.ingest.importer import import_extract

    rows = [["R1", "P1", "2019-09-02", "CW1", "North", ""],
            ["R2", "P2", "2020-01-06", "CW1", "North", "coronavirus"]]  # 20 weeks: 25 May 2020, in the window
    import_extract(engine, write_csv(tmp_path / "a.csv", ASSESSMENT_HEADER, rows), book, D("2020-03-01"))
    # the import refuses `coronavirus` on R1 (due outside the window): stored before that check, it is kept
    with engine.begin() as conn:
        conn.execute(db.assessment_table.update().where(db.assessment_table.c.request_id == "R1")
                     .values(exception_reason="coronavirus"))
    later = D("2020-07-01")
    listed = breaches(engine, book, later, Filters(clock="final_plan"))
    assert listed["case_id"].tolist() == ["R1"]
    every = breaches(engine, book, later, Filters(clock="final_plan"), include_exempt=True)
    marks = dict(zip(every["case_id"], every["exempt"]))
    # SI 2020/471: the duty became "as soon as reasonably practicable" (the rule file's effect)
    assert marks == {"R1": None, "R2": "exempt: as soon as reasonably practicable"}


def test_exempt_clocks_raise_no_breach_alert(exempt_loaded, tmp_path):
    # alerts/events.py judges only clocks no exemption applies to: R2's final plan is announced
    # overdue, R1's (exempt) is not; both decision clocks are
    people = write_csv(tmp_path / "people.csv", ["id", "name", "email", "team", "role"],
                       [["CW1", "Alex", "alex@council.example", "North", "caseworker"]])
    result = exempt_loaded("--as-of", "2020-03-01", "alerts", "--people", people, "--outbox", tmp_path / "out",
                           "--dry-run")
    assert result.exit_code == 0, result.output
    heads = [line.split(None, 1) for line in result.stdout.splitlines() if line[:2] in ("R1", "R2")]
    final = [case for case, title in heads if title.strip() == "Final EHC plan issued"]
    decision = [case for case, title in heads if title.strip().startswith("Decision whether to assess")]
    assert final == ["R2"] and sorted(decision) == ["R1", "R2"]


# ------------------------------------------------------------------------------ the board pack

def _quality_section(page: str) -> str:
    return page[page.index('id="quality"'):page.index('id="about"')]


def test_pack_counts_queries_by_code(loaded, tmp_path):
    # the fixture holds 2 maintain_on_transfer (AR1, AR2) and 1 review_exemption_not_applied (AR3)
    html, xlsx = tmp_path / "pack.html", tmp_path / "pack.xlsx"
    for out in (html, xlsx):
        result = loaded("--as-of", AS_OF, "report", "--month", "2026-02", "-o", out)
        assert result.exit_code == 0, result.output
    quality = _quality_section(html.read_text(encoding="utf-8"))
    assert "A query is a finding" in quality and "ehcp queries --code CODE" in quality
    rows = dict(re.findall(r'<th scope="row">([a-z_]+)</th><td class="num">([^<]+)</td>', quality))
    assert rows == {"maintain_on_transfer": "2", "review_exemption_not_applied": "1"}
    assert "ehcp queries --code maintain_on_transfer" in quality
    from openpyxl import load_workbook

    sheet = load_workbook(xlsx)["Data quality"]
    assert [c.value for c in sheet[1]] == ["Note", "Cases"]
    counted = {note.split(":")[0]: cases for note, cases in sheet.iter_rows(min_row=2, values_only=True)
               if note.startswith("Query ")}
    assert counted == {"Query maintain_on_transfer": 2, "Query review_exemption_not_applied": 1}


def test_team_and_public_packs_count_their_own_queries(loaded, tmp_path, db_url, book):
    from ehcp_tracker.report.data import PackOptions, gather

    engine = db.connect(db_url)
    south = gather(engine, book, "2026-02", D(AS_OF), options=PackOptions(team="South")).query_counts
    assert dict(zip(south["code"], south["cases"])) == {"maintain_on_transfer": 1, "review_exemption_not_applied": 1}
    public = gather(engine, book, "2026-02", D(AS_OF), options=PackOptions(public=True)).query_counts
    assert set(public["cases"]) == {"fewer than 5"}  # 2 and 1: a public pack suppresses counts under 5
    engine.dispose()
    empty = tmp_path / "empty.html"
    assert loaded("--as-of", AS_OF, "report", "--month", "2026-02", "--team", "North", "-o", empty).exit_code == 0
    north = _quality_section(empty.read_text(encoding="utf-8"))
    assert re.findall(r'<th scope="row">([a-z_]+)</th><td class="num">([^<]+)</td>', north) == [
        ("maintain_on_transfer", "1")]
