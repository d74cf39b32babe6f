"""Reviews end to end: import (validation, idempotence, change log), listings, explain and the CLI."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from ehcp_tracker.store import db
from ehcp_tracker.errors import ImportRejected
from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.listings import Filters, backlog, backlog_summary, clock_results, months_overdue
from ehcp_tracker.schema import REVIEWS

from .conftest import D, write_csv

AS_OF = D("2024-03-01")
HEADER = ["review_id", "person_id", "caseworker", "team", "plan_issued", "last_review", "ncy", "ncy_academic_year",
          "date_of_birth", "transferred_in", "review_report_sent",
          "phase_transfer", "transfer_date", "review_meeting", "decision_notified", "decision",
          "amendment_notice_sent", "amended_plan_issued", "ceased_date", "exception_reason", "looked_after",
          "youth_justice", "camhs", "placed_out_of_area"]


def row(**fields) -> list:
    values = {name: "" for name in HEADER}
    values.update(review_id="AR1", person_id="P1", caseworker="CW1", team="North", plan_issued="2022-01-10",
                  last_review="10/01/2023", looked_after="no")
    values.update(fields)
    return [values[name] for name in HEADER]


# A small caseload as of 1 March 2024 (each review's cycle: last review 10 January 2023, so the annual
# review is due 9 January 2024 and the academic year of the review is 2023/24).
CASELOAD = [
    row(review_id="AR1", person_id="P1", caseworker="CW1"),  # no meeting: annual review overdue 52 days
    row(review_id="AR2", person_id="P2", caseworker="CW2", ncy="Year 6", review_meeting="2023-11-01",
        decision_notified="2023-11-29", decision="amend", amendment_notice_sent="2023-11-29",
        amended_plan_issued="2024-02-15", looked_after="yes"),  # phase transfer late by a day
    row(review_id="AR3", person_id="P3", caseworker="CW1", ncy="11"),  # post16 due 30 March: at risk
    row(review_id="AR4", person_id="P4", caseworker="CW2", plan_issued="2023-03-15", last_review="",
        ncy="R"),  # first review, due 14 March 2024
    row(review_id="AR5", person_id="P5", caseworker="CW1", last_review="2021-02-01", plan_issued="2020-02-01",
        camhs="yes"),  # 25 months overdue (no exemption: the review clocks have none in law)
    row(review_id="AR6", person_id="P6", caseworker="CW2", phase_transfer="post16_move",
        transfer_date="2024-09-01", ncy="12", review_meeting="2024-02-20"),  # move: due 1 April 2024
]


@pytest.fixture
def caseload(tmp_path):
    return write_csv(tmp_path / "reviews.csv", HEADER, CASELOAD)


def test_import_detects_reviews_and_is_idempotent(engine, book, caseload):
    first = import_extract(engine, caseload, book, AS_OF)
    assert (first.kind, first.new, first.rejected) == ("reviews", 6, 0)
    again = import_extract(engine, caseload, book, AS_OF)
    assert (again.new, again.changed, again.unchanged, again.fields_changed) == (0, 0, 6, 0)
    with engine.connect() as conn:
        stored = db.load_cases(conn, REVIEWS).set_index("review_id")
    assert stored.loc["AR4", "ncy"] == 0  # "R" is Reception, year 0
    assert stored.loc["AR2", "ncy"] == 6
    assert stored.loc["AR6", "transfer_date"] == pd.Timestamp("2024-09-01")  # a planned date after as-of


def test_changed_review_is_logged(engine, book, tmp_path, caseload):
    import_extract(engine, caseload, book, AS_OF)
    changed = [list(r) for r in CASELOAD]
    changed[0] = row(review_id="AR1", person_id="P1", caseworker="CW1", ncy="N", review_meeting="2024-02-01")
    path = write_csv(tmp_path / "reviews2.csv", HEADER, changed[:-1])
    summary = import_extract(engine, path, book, AS_OF, max_missing=100)  # one of six leaves: on purpose
    assert (summary.changed, summary.missing) == (1, 1)
    with engine.connect() as conn:
        log = conn.execute(sa.select(db.change_log.c.case_id, db.change_log.c.field, db.change_log.c.old_value,
                                     db.change_log.c.new_value).where(db.change_log.c.run_id == summary.run_id)
                           ).all()
    # ncy is the year group today: the import stores the academic year it is for (2023/24 on 1 March 2024)
    assert set(log) == {("AR1", "ncy", "", "-1"), ("AR1", "ncy_academic_year", "", "2023"),
                        ("AR1", "review_meeting", "", "2024-02-01"), ("AR6", "(in extract)", "yes", "no")}


BAD_ROWS = [
    # fields, column, reason code, message fragment
    (dict(review_meeting="2024-01-10", decision_notified="2024-01-09", decision="maintain"),
     "decision_notified", "date_order", "decision_notified is before review_meeting"),
    (dict(decision_notified="2024-01-09", decision="amend"),
     "review_meeting", "inconsistent", "a review decision is recorded but review_meeting is blank"),
    (dict(review_meeting="2024-01-10", decision="cease"),
     "decision_notified", "inconsistent", "decision is recorded but decision_notified is blank"),
    (dict(review_meeting="2024-01-10", decision_notified="2024-01-20"),
     "decision", "inconsistent", "decision_notified is recorded but decision"),
    (dict(review_meeting="2024-01-10", decision_notified="2024-01-20", decision="maintain",
          amendment_notice_sent="2024-01-20"),
     "amendment_notice_sent", "inconsistent", "amendment_notice_sent is recorded but decision is not amend"),
    (dict(review_meeting="2024-01-10", decision_notified="2024-01-20", decision="amend",
          amendment_notice_sent="2024-01-20", amended_plan_issued="2024-01-19"),
     "amended_plan_issued", "date_order", "amended_plan_issued is before amendment_notice_sent"),
    (dict(review_meeting="2024-01-10", decision_notified="2024-01-20", decision="maintain", ceased_date="2024-02-01"),
     "ceased_date", "inconsistent", "ceased_date is recorded but decision is not cease"),
    (dict(transfer_date="2024-09-01"),
     "transfer_date", "inconsistent", "transfer_date is recorded but phase_transfer is not post16_move"),
    (dict(phase_transfer="post16_move"),
     "transfer_date", "required", "phase_transfer is post16_move but transfer_date is blank"),
    (dict(plan_issued="2023-05-01", last_review="2023-01-10"),
     "last_review", "date_order", "last_review is before plan_issued"),
    (dict(plan_issued="", last_review=""),
     "plan_issued", "required", "give plan_issued or last_review"),
    (dict(review_meeting="2022-12-01"),
     "review_meeting", "date_order", "review_meeting is before last_review"),
    (dict(phase_transfer="primary"), "phase_transfer", "bad_value", "'primary' is not one of: none, school"),
    (dict(ncy="15"), "ncy", "out_of_range", "'15' is outside -2..14"),
    # words in a number column may be a name typed there: described, never quoted (issue 28 point 4)
    (dict(ncy="Year Six"), "ncy", "bad_number", "a value of 8 characters (letters and spaces; not shown) is not a whole number"),
    (dict(exception_reason="school_closure"), "exception_reason", "exception_not_allowed",
     "allowed here: coronavirus): the review clocks have no exemptions in law"),
    # CFA 2014 s44 and regs 18, 20-22 have no "need not comply" grounds (issue 13 point 5)
    (dict(exception_reason="personal_circumstances"), "exception_reason", "exception_not_allowed",
     "cannot apply to the amended_plan, amended_plan_from_meeting, annual_review, phase_transfer, review_decision"),
    (dict(exception_reason="absence_from_area"), "exception_reason", "exception_not_allowed",
     "only the 2020 coronavirus relaxation (reg 18A)"),
    (dict(ncy="6", ncy_academic_year="2023/25"), "ncy_academic_year", "bad_number", "is not a whole number"),
    (dict(transferred_in="2021-12-01"), "transferred_in", "date_order", "transferred_in is before plan_issued"),
    (dict(review_meeting="2024-01-10", review_report_sent="2024-01-09"), "review_report_sent", "date_order",
     "the report follows the meeting"),
    (dict(exception_reason="coronavirus"), "exception_reason", "exception_not_allowed",
     "only applies to a clock due between 01 May 2020 and 25 September 2020"),
    (dict(review_meeting="2024-03-02"), "review_meeting", "future_date", "after the as-of date 2024-03-01"),
    (dict(date_of_birth="31/02/2012"), "date_of_birth", "impossible_date", "no such day"),
    (dict(date_of_birth="2012-13-45x"), "date_of_birth", "bad_date", "not a date (expected"),
]


@pytest.mark.parametrize("fields, column, code, message", BAD_ROWS)
def test_bad_review_row_is_rejected_with_file_row_column_and_reason(engine, book, tmp_path, fields, column, code,
                                                                    message):
    good = row(review_id="AR0", person_id="P0")
    path = write_csv(tmp_path / "bad.csv", HEADER, [good, row(**fields)])
    with pytest.raises(ImportRejected) as caught:
        import_extract(engine, path, book, AS_OF)
    problems = [(p.file, p.row, p.column, p.code) for p in caught.value.problems]
    assert ("bad.csv", 3, column, code) in problems
    assert any(message in p.message for p in caught.value.problems if p.column == column)
    assert all(p.row == 3 for p in caught.value.problems)  # the good row is never blamed
    if column == "date_of_birth":  # personal data is never echoed
        assert all("2012" not in p.message for p in caught.value.problems)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.review_table)).scalar() == 0


def test_skip_bad_rows_imports_the_good_reviews(engine, book, tmp_path):
    path = write_csv(tmp_path / "mixed.csv", HEADER, [row(review_id="AR0"), row(review_id="AR9", ceased_date="2024-01-01")])
    summary = import_extract(engine, path, book, AS_OF, skip_bad_rows=True)
    assert (summary.new, summary.rejected, summary.status) == (1, 1, "partial")
    with open(summary.rejects_file, encoding="utf-8") as handle:
        rejects = list(csv.DictReader(handle))
    assert [(r["row"], r["column"], r["reason"]) for r in rejects] == [("3", "ceased_date", "inconsistent")]


# ---------------------------------------------------------------------------------- listings

@pytest.fixture
def loaded(engine, book, caseload):
    import_extract(engine, caseload, book, AS_OF)
    return engine


def test_clock_results_cover_reviews(loaded, book):
    results = clock_results(loaded, book, AS_OF, Filters(kind="reviews"))
    got = {(r.case_id, r.clock): (r.due.date(), r.status) for r in results.itertuples()}
    assert got[("AR1", "annual_review")] == (D("2024-01-09"), "overdue")
    assert got[("AR2", "phase_transfer")] == (D("2024-02-14"), "late")
    assert got[("AR2", "amended_plan")] == (D("2024-01-24"), "late")
    assert got[("AR3", "phase_transfer")] == (D("2024-03-30"), "due_soon")
    assert got[("AR4", "annual_review")] == (D("2024-03-14"), "due_soon")
    assert ("AR4", "phase_transfer") not in got  # Reception: no transfer with the default years
    assert got[("AR6", "phase_transfer")] == (D("2024-04-01"), "due_soon")
    assert got[("AR6", "review_decision")] == (D("2024-03-19"), "open")  # warning window 7 days
    assert set(results["kind"]) == {"review"}
    assert results["exception"].isna().all()


def test_cohort_filter_works_for_reviews(loaded, book):
    looked_after = clock_results(loaded, book, AS_OF, Filters(kind="reviews", cohort="looked_after"))
    assert set(looked_after["case_id"]) == {"AR2"}
    camhs = clock_results(loaded, book, AS_OF, Filters(cohort="camhs"))
    assert set(camhs["case_id"]) == {"AR5"}


def test_review_backlog_bands_and_phase_transfers_at_risk(loaded, book):
    rows = backlog(loaded, book, AS_OF, Filters(kind="reviews"))
    got = {(r.case_id, r.clock): r.band for r in rows.itertuples()}
    assert got == {
        ("AR1", "annual_review"): "0-6 months",
        ("AR3", "annual_review"): "0-6 months",
        ("AR5", "annual_review"): "24+ months",  # due 31 January 2022
        ("AR6", "annual_review"): "0-6 months",
        ("AR3", "phase_transfer"): "due within 8 weeks",
        ("AR6", "phase_transfer"): "due within 8 weeks",
    }
    assert list(rows.columns)[-1] == "band"
    summary = backlog_summary(rows)
    assert summary[["clock", "band", "open_cases", "with_exception"]].values.tolist() == [
        ["annual_review", "0-6 months", 3, 0], ["annual_review", "24+ months", 1, 0],
        ["phase_transfer", "due within 8 weeks", 2, 0]]
    # the assessment backlog is unchanged: no reviews in it
    assert len(backlog(loaded, book, AS_OF, Filters())) == 0


@pytest.mark.parametrize("due, months", [("2024-01-09", 1), ("2023-09-02", 5), ("2023-09-01", 6),
                                          ("2022-03-02", 23), ("2022-03-01", 24), ("2024-02-29", 0)])
def test_months_overdue(due, months):
    assert months_overdue(pd.Series(pd.to_datetime([due])), AS_OF).iloc[0] == months


# ------------------------------------------------------------------------------------------ CLI

def test_cli_import_and_listings(run, caseload):
    result = run("--as-of", "2024-03-01", "import", caseload, "--kind", "reviews")
    assert result.exit_code == 0, result.output
    clocks = list(csv.DictReader(io.StringIO(run("--as-of", "2024-03-01", "clocks", "--kind", "reviews",
                                                 "--clock", "phase_transfer", "--format", "csv").stdout)))
    assert [(c["case_id"], c["due"], c["status"]) for c in clocks] == [
        ("AR2", "2024-02-14", "late"), ("AR3", "2024-03-30", "due_soon"), ("AR6", "2024-04-01", "due_soon")]
    assert clocks[0]["rule_version"] == "send-regs-2014:phase_transfer/school from 2014-09-01"
    due = json.loads(run("--as-of", "2024-03-01", "due", "--days", "14", "--caseworker", "CW2", "--format",
                         "json").stdout)
    # Issue 15: CW2's overdue clocks come first (they used to be left out), then the window's
    assert [(d["case_id"], d["clock"], d["status"]) for d in due] == [
        ("AR6", "annual_review", "overdue"), ("AR4", "annual_review", "due_soon")]
    breaches = list(csv.DictReader(io.StringIO(run("--as-of", "2024-03-01", "breaches", "--kind", "reviews",
                                                   "--format", "csv").stdout)))
    assert {(b["case_id"], b["clock"], b["status"]) for b in breaches} == {
        (case, "annual_review", "overdue") for case in ("AR1", "AR3", "AR5", "AR6")} | {
        ("AR2", "phase_transfer", "late"), ("AR2", "amended_plan", "late"),
        ("AR2", "amended_plan_from_meeting", "late")}  # meeting 1 Nov 2023 + 12 weeks = 24 Jan 2024 (Devon)
    result = run("--as-of", "2024-03-01", "backlog", "--kind", "reviews", "--summary", "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "clock,band,open_cases,with_exception,oldest_weeks_overdue"


def test_cli_explain_review(run, caseload):
    run("--as-of", "2024-03-01", "import", caseload)
    result = run("--as-of", "2024-03-01", "explain", "AR2")
    assert result.exit_code == 0
    text = result.stdout
    assert "priority cohorts: looked_after" in text
    assert ("phase transfer: school transfer on 01 Sep 2024 (from the year group: year 6 in 2023/24 "
            "(ncy, for the academic year ncy_academic_year)); its review meeting falls in the 12 months before "
            "the transfer") in text
    assert "Phase transfer (school): reviewed and amended before 15 February [phase_transfer, statutory]" in text
    assert "due Wed 14 Feb 2024" in text and "1 day late -> late" in text
    assert "SEND Regulations 2014 reg 18(1)(b)" in text
    assert "Children and Families Act 2014 s44(1)" in text
    none = run("--as-of", "2024-03-01", "explain", "AR4").stdout
    assert "does not apply: transfer_type is blank (variants: school, post16, post16_move)" in none


def test_cli_rejects_bad_review_file(run, tmp_path):
    path = write_csv(tmp_path / "bad.csv", HEADER, [row(decision="amend")])
    result = run("--as-of", "2024-03-01", "import", path)
    assert result.exit_code == 1
    assert "bad.csv, row 2, column review_meeting: a review decision is recorded but review_meeting is blank" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_cli_rules_show_phase_transfer(run):
    result = run("rules", "show", "phase_transfer")
    assert result.exit_code == 0
    for text in ("when transfer_type is school", "reg 18(1)(b)", "reg 18(1)(a)", "reg 18(2)", "reg 18(3)",
                 "transfer years (last national curriculum year before a September transfer): year -1 -> school, "
                 "year 6 -> school, year 11 -> post16"):
        assert text in result.stdout


def test_demo_prints_review_figures(run, tmp_path, monkeypatch):
    from ehcp_tracker.demo import demo

    samples = tmp_path / "samples"
    samples.mkdir()
    write_csv(samples / "reviews.csv", HEADER, CASELOAD)
    monkeypatch.setattr(demo, "sample_dir", lambda: samples)
    result = run("--as-of", "2024-03-01", "demo")
    assert result.exit_code == 0, result.output
    assert ("== Annual reviews overdue (not concluded within 12 months): 4; phase transfers at risk "
            "(overdue or due within 8 weeks): 2 ==") in result.stdout
    assert "== Why? ehcp explain AR2 ==" in result.stdout
