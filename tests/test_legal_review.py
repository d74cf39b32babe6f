"""The review side as the law reads it (issue 13): worked dates computed by hand from the
regulations, each run through BOTH the vectorised engine and ``explain`` (which must agree).

Each table row is one child's review rows (one or more), the as-of date, and what the clock shows.
The comments give the arithmetic and cite the paragraph.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ehcp_tracker.clocks.dates import Counting, Months, MonthsBefore, WeeksBefore, period_end, period_ends
from ehcp_tracker.clocks.engine import evaluate
from ehcp_tracker.clocks.explain import explain_case
from ehcp_tracker.clocks.queries import review_queries
from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.listings import explain
from ehcp_tracker.schema import REVIEWS
from ehcp_tracker.store import db

from .conftest import D, case_row, caseload_frame, day_of, write_csv
from .test_review_rules import rule_book_with, rule_problems_with


def review(review_id="AR1", person_id="P1", **fields) -> dict:
    return case_row(REVIEWS, review_id=review_id, person_id=person_id, **fields)


def both_paths(rows: list[dict], book, as_of: dt.date) -> dict[tuple[str, str], tuple]:
    """(case, clock) -> (started, due, stopped, status, days_overdue), after checking explain agrees."""
    frame = caseload_frame(rows, REVIEWS)
    results = evaluate(frame, book, as_of, case="review")
    bulk = {(r.case_id, r.clock): (day_of(r.started), day_of(r.due), day_of(r.stopped), r.status, int(r.days_overdue),
                                   r.reference) for r in results.itertuples()}
    scalar = {}
    for row in rows:
        for w in explain_case(row, "review", book, as_of, rows).clocks:
            if w.applies:
                scalar[(row["review_id"], w.clock.id)] = (w.started, w.due, w.stopped, w.status, w.days_overdue,
                                                          w.reference)
    assert bulk == scalar
    return {key: value[:5] for key, value in bulk.items()}


def expect(started, due, stopped, status, days=0):
    return (D(started), D(due), stopped and D(stopped), status, days)


# ------------------------------------------------------------------ 1. Devon: decision with its notice
#
# R (L, M and P) v Devon CC [2022] EWHC 493 (Admin), read with regs 20 and 22(2)-(3): a decision to
# amend is not notified until the notice of the proposed amendments (reg 22(2)(a)) goes with it.
# Meeting 1 October 2025 + 4 weeks (meeting day excluded) = 29 October 2025. The final amended plan
# is due within 8 weeks of the notice (reg 22(3)) and, Devon's long-stop, within 4 + 8 = 12 weeks of
# the meeting: 1 October 2025 + 84 days = 24 December 2025.
MEETING = dict(plan_issued="2023-01-09", last_review="2025-01-13", review_meeting="2025-10-01")
DEVON = [
    # decision letter 20 Oct, notice 5 Nov: the decision is notified on 5 Nov, 7 days late
    (dict(decision="amend", decision_notified="2025-10-20", amendment_notice_sent="2025-11-05"),
     "2025-11-10", "review_decision", expect("2025-10-01", "2025-10-29", "2025-11-05", "late", 7)),
    # decision and notice together on 20 Oct: on time
    (dict(decision="amend", decision_notified="2025-10-20", amendment_notice_sent="2025-10-20"),
     "2025-11-10", "review_decision", expect("2025-10-01", "2025-10-29", "2025-10-20", "met")),
    # decision letter but no notice yet: still running, 12 days overdue on 10 November
    (dict(decision="amend", decision_notified="2025-10-20"),
     "2025-11-10", "review_decision", expect("2025-10-01", "2025-10-29", None, "overdue", 12)),
    # maintain: the decision letter alone notifies the decision
    (dict(decision="maintain", decision_notified="2025-10-20"),
     "2025-11-10", "review_decision", expect("2025-10-01", "2025-10-29", "2025-10-20", "met")),
    # reg 22(3) still runs from the notice: 5 November + 56 days = 31 December 2025
    (dict(decision="amend", decision_notified="2025-10-20", amendment_notice_sent="2025-11-05"),
     "2025-11-10", "amended_plan", expect("2025-11-05", "2025-12-31", None, "open")),
    # the long-stop: 12 weeks from the meeting
    (dict(decision="amend", decision_notified="2025-10-20", amendment_notice_sent="2025-10-20",
          amended_plan_issued="2025-12-24"),
     "2026-01-05", "amended_plan_from_meeting", expect("2025-10-01", "2025-12-24", "2025-12-24", "met")),
    (dict(decision="amend", decision_notified="2025-10-20", amendment_notice_sent="2025-11-05",
          amended_plan_issued="2025-12-29"),
     "2026-01-05", "amended_plan_from_meeting", expect("2025-10-01", "2025-12-24", "2025-12-29", "late", 5)),
    # amend decided, nothing sent: overdue here although amended_plan has not even started
    (dict(decision="amend", decision_notified="2025-10-20"),
     "2026-01-05", "amended_plan_from_meeting", expect("2025-10-01", "2025-12-24", None, "overdue", 12)),
]


@pytest.mark.parametrize("fields, as_of, clock, expected", DEVON)
def test_devon(book, fields, as_of, clock, expected):
    got = both_paths([review(**MEETING, **fields)], book, D(as_of))
    assert got[("AR1", clock)] == expected
    if clock == "amended_plan":
        assert ("AR1", "amended_plan_from_meeting") in got


def test_devon_long_stop_only_when_amending(book):
    got = both_paths([review(**MEETING, decision="maintain", decision_notified="2025-10-20")], book, D("2026-01-05"))
    assert ("AR1", "amended_plan_from_meeting") not in got


def test_explain_says_why_the_decision_is_still_running(book):
    working = explain_case(review(**MEETING, decision="amend", decision_notified="2025-10-20"), "review", book,
                           D("2025-11-10"))
    steps = next(w for w in working.clocks if w.clock.id == "review_decision").steps
    assert any("the decision is not notified until the notice goes with it" in s for s in steps)


# -------------------------------------------------- 2-4. the phase transfer belongs to the child
#
# Reg 18(1): "within 12 months of a transfer between phases", review and amend before 15 February
# (school) / 31 March (secondary to post-16) of the calendar year of the transfer; the last
# compliant day is the day before. A child in year 6 in 2025/26 moves on 1 September 2026: deadline
# 14 February 2026, met only by a review whose meeting falls in 1 September 2025 .. 31 August 2026.
Y6 = dict(ncy=6, ncy_academic_year=2025)
TRANSFERS = [
    # the cycle runs 2 September 2025 to 1 September 2026 (its due date in 2026/27): it must not
    # lose 14 February 2026 (under the old reading, ncy in the due date's year, it moved to 2027)
    ([review(plan_issued="2021-09-06", last_review="2025-09-02", **Y6)], "2026-01-10",
     {("AR1", "phase_transfer"): expect("2026-01-01", "2026-02-14", None, "due_soon")}),
    # a Year 5 review in July 2025 is not the Year 6 transfer review: the transfer is listed, overdue,
    # under the child's latest row (AR2), and not under the July review's row
    ([review("AR1", plan_issued="2022-07-04", last_review="2024-07-15", review_meeting="2025-07-02",
             decision_notified="2025-07-14", decision="maintain", **Y6),
      review("AR2", plan_issued="2022-07-04", last_review="2025-07-14", **Y6)], "2026-03-01",
     {("AR2", "phase_transfer"): expect("2026-01-01", "2026-02-14", None, "overdue", 15)}),
    # the autumn review (meeting 19 November 2025, maintained 10 December) meets it
    ([review("AR1", plan_issued="2022-07-04", last_review="2024-07-15", review_meeting="2025-07-02",
             decision_notified="2025-07-14", decision="maintain", **Y6),
      review("AR2", plan_issued="2022-07-04", last_review="2025-07-14", review_meeting="2025-11-19",
             decision_notified="2025-12-10", decision="maintain", **Y6)], "2026-03-01",
     {("AR2", "phase_transfer"): expect("2026-01-01", "2026-02-14", "2025-12-10", "met")}),
    # ...even when the covering row is not the latest one (an emergency review after it)
    ([review("AR1", plan_issued="2022-07-04", last_review="2024-12-02", review_meeting="2025-11-19",
             decision_notified="2025-12-10", decision="amend", amendment_notice_sent="2025-12-10",
             amended_plan_issued="2026-02-20", **Y6),
      review("AR2", plan_issued="2022-07-04", last_review="2026-02-20", **Y6)], "2026-03-01",
     {("AR1", "phase_transfer"): expect("2026-01-01", "2026-02-14", "2026-02-20", "late", 6)}),
    # ncy_academic_year states which year ncy is for: year 6 in 2024/25 -> deadline 14 February 2025
    ([review(plan_issued="2021-09-06", last_review="2024-09-02", ncy=6, ncy_academic_year=2024)], "2025-03-01",
     {("AR1", "phase_transfer"): expect("2025-01-01", "2025-02-14", None, "overdue", 15)}),
    # point 4: N2 (year -1) in 2025/26 moves from early years education into Reception, reg 2(1)(a)
    ([review(plan_issued="2025-03-03", review_meeting="2025-12-03", decision_notified="2025-12-17",
             decision="amend", amendment_notice_sent="2025-12-17", amended_plan_issued="2026-02-10",
             ncy=-1, ncy_academic_year=2025)], "2026-03-01",
     {("AR1", "phase_transfer"): expect("2026-01-01", "2026-02-14", "2026-02-10", "met")}),
    # a year 11 staying on in the school's sixth form is not moving to a post-16 institution (CFA 2014
    # s83(2)): phase_transfer = none overrides the default
    ([review(plan_issued="2021-09-06", last_review="2025-09-02", ncy=11, ncy_academic_year=2025,
             phase_transfer="none")], "2026-03-01", {}),
    # year 11 in 2025/26 otherwise: before 31 March 2026, so 30 March
    ([review(plan_issued="2021-09-06", last_review="2025-09-02", ncy=11, ncy_academic_year=2025)], "2026-03-01",
     {("AR1", "phase_transfer"): expect("2026-01-01", "2026-03-30", None, "due_soon")}),
    # from the date of birth: born 1 September 2014 to 31 August 2015 -> year 6 in 2025/26
    ([review(plan_issued="2021-09-06", last_review="2025-09-02", date_of_birth="2015-08-31")], "2026-03-01",
     {("AR1", "phase_transfer"): expect("2026-01-01", "2026-02-14", None, "overdue", 15)}),
]


@pytest.mark.parametrize("rows, as_of, expected", TRANSFERS)
def test_phase_transfer_belongs_to_the_child(book, rows, as_of, expected):
    got = both_paths(rows, book, D(as_of))
    assert {key: value for key, value in got.items() if key[1] == "phase_transfer"} == expected


def test_one_transfer_clock_per_child_whatever_the_rows(book):
    # three rows of one child in year 6 in 2025/26: one phase_transfer clock in all
    rows = [review(f"AR{i}", plan_issued="2022-07-04", last_review=last, **Y6)
            for i, last in enumerate(["2023-07-10", "2024-07-15", "2025-07-14"], start=1)]
    got = both_paths(rows, book, D("2026-03-01"))
    assert [key for key in got if key[1] == "phase_transfer"] == [("AR3", "phase_transfer")]


def test_explain_shows_how_the_transfer_was_found(book):
    rows = [review("AR1", plan_issued="2022-07-04", last_review="2024-07-15", review_meeting="2025-07-02",
                   decision_notified="2025-07-14", decision="maintain", **Y6),
            review("AR2", plan_issued="2022-07-04", last_review="2025-07-14", **Y6)]
    notes = explain_case(rows[1], "review", book, D("2026-03-01"), rows).notes
    assert any("school transfer on 01 Sep 2026 (from the year group: year 6 in 2025/26" in n
               and "no review meeting in the 12 months before the transfer" in n for n in notes)


def test_ncy_is_the_year_group_at_import(engine, book, tmp_path):
    """Point 3: ``ncy`` without ``ncy_academic_year`` is for the academic year of the import's as-of
    date; ``2025/26`` or ``2025`` states it; the stored row keeps the year it was imported under."""
    header = ["review_id", "person_id", "plan_issued", "last_review", "ncy", "ncy_academic_year"]
    path = write_csv(tmp_path / "reviews.csv", header, [
        ["AR1", "P1", "2021-09-06", "2025-09-02", "6", ""],
        ["AR2", "P2", "2021-09-06", "2024-09-02", "Y6", "2024/25"],
        ["AR3", "P3", "2021-09-06", "2024-09-02", "6", "2024"]])
    import_extract(engine, path, book, D("2025-10-01"))
    with engine.connect() as conn:
        stored = db.load_cases(conn, REVIEWS).set_index("review_id")
    assert stored["ncy_academic_year"].to_dict() == {"AR1": 2025, "AR2": 2024, "AR3": 2024}
    # a year later the stored row still says year 6 in 2025/26: deadline 14 February 2026
    work = explain(engine, book, D("2026-10-01"), "AR1")
    phase = next(w for w in work.clocks if w.clock.id == "phase_transfer" and w.applies)
    assert phase.due == D("2026-02-14")


# ------------------------------------------------------------------- 5. no exemptions on reviews

def test_stored_review_exemption_is_kept_not_applied_and_queried(book):
    # rows stored before the change may hold one: the clocks ignore it and a query lists it
    row = review(plan_issued="2023-01-09", last_review="2025-01-13", exception_reason="personal_circumstances")
    got = both_paths([row], book, D("2026-03-01"))
    assert got[("AR1", "annual_review")] == expect("2025-01-13", "2026-01-12", None, "overdue", 48)
    frame = caseload_frame([row], REVIEWS)
    assert evaluate(frame, book, D("2026-03-01"), case="review")["exception"].isna().all()
    queries = review_queries(frame, book, D("2026-03-01"))
    assert queries[["code", "case_id"]].values.tolist() == [["review_exemption_not_applied", "AR1"]]
    notes = explain_case(row, "review", book, D("2026-03-01")).notes
    assert any(n.startswith("query review_exemption_not_applied") for n in notes)


# -------------------------------------------------------- 6. "the period of 12 months starting with"
#
# CFA 2014 s44(1): the period includes its first day, so it ends the day before the corresponding
# date; where that month has no corresponding day it ends on the month's last day (Dodds v Walker).
@pytest.mark.parametrize("start, end", [
    ("2023-03-15", "2024-03-14"), ("2023-03-01", "2024-02-29"), ("2024-02-29", "2025-02-28"),
    ("2023-01-01", "2023-12-31"), ("2024-03-01", "2025-02-28"), ("2023-02-28", "2024-02-27"),
])
def test_twelve_months_starting_with(book, start, end):
    assert Months(12).due_date(D(start), Counting()) == D(end)
    assert period_end(D(start), 12, Counting()) == D(end)
    vector = period_ends(np.array([start, "NaT"], dtype="datetime64[D]"), 12, Counting())
    assert vector[0] == np.datetime64(end) and np.isnat(vector[1])
    got = both_paths([review(plan_issued=start)], book, D(start))
    assert got[("AR1", "annual_review")][1] == D(end)


# --------------------------------------------------------------------- 8. transfer between councils
#
# Reg 15(5): the new council reviews "before the expiry of the later of" (a) the 12 months and (b) 3
# months from the transfer. Last review 3 March 2025 -> due 2 March 2026. Transferred in 19 January
# 2026: the period of 3 months starting with it ends 18 April 2026, the later, so it applies.
COUNCILS = [
    (dict(transferred_in="2026-01-19", review_meeting="2026-04-08", decision_notified="2026-04-20",
          decision="maintain"), expect("2025-03-03", "2026-04-18", "2026-04-20", "late", 2), True),
    # transferred in 1 April 2025: 3 months end 30 June 2025, earlier than 2 March 2026
    (dict(transferred_in="2025-04-01"), expect("2025-03-03", "2026-03-02", None, "overdue", 60), False),
    # a transfer before this cycle began does not reach it
    (dict(transferred_in="2025-01-10"), expect("2025-03-03", "2026-03-02", None, "overdue", 60), False),
]


@pytest.mark.parametrize("fields, expected, later", COUNCILS)
def test_transfer_between_councils(book, fields, expected, later):
    row = review(plan_issued="2021-07-12", last_review="2025-03-03", **fields)
    got = both_paths([row], book, D("2026-05-01"))
    assert got[("AR1", "annual_review")] == expected
    steps = next(w for w in explain_case(row, "review", book, D("2026-05-01")).clocks
                 if w.clock.id == "annual_review").steps
    assert any("reg 15(5)" in s for s in steps) is (D(fields["transferred_in"]) >= D("2025-03-03"))
    assert any("applies: SEND Regulations 2014 reg 15(5)" in s for s in steps) is later


# ---------------------------------------------------------------- 9. the review procedure clocks
#
# Regs 20(3)/21(3): at least two weeks' notice of the meeting; 20(4)/21(4): advice circulated at
# least two weeks before it; 21(7): the report within two weeks after it. Meeting 10 June 2026:
# notice and advice by 27 May 2026 (meeting - 14 days), report by 24 June 2026 (meeting + 14 days).
PROCEDURE = [
    ("review_meeting_notice", dict(meeting_notice_sent="2026-05-27"), expect("2026-06-10", "2026-05-27", "2026-05-27", "met")),
    ("review_meeting_notice", dict(meeting_notice_sent="2026-05-28"),
     expect("2026-06-10", "2026-05-27", "2026-05-28", "late", 1)),
    ("review_advice_circulated", dict(advice_circulated="2026-06-01"),
     expect("2026-06-10", "2026-05-27", "2026-06-01", "late", 5)),
    ("review_report", dict(review_report_sent="2026-06-24"), expect("2026-06-10", "2026-06-24", "2026-06-24", "met")),
    ("review_report", dict(review_report_sent="2026-06-30"), expect("2026-06-10", "2026-06-24", "2026-06-30", "late", 6)),
]


@pytest.mark.parametrize("clock, fields, expected", PROCEDURE)
def test_review_procedure_clocks(book, clock, fields, expected):
    row = review(plan_issued="2021-09-13", last_review="2025-07-01", review_meeting="2026-06-10", **fields)
    got = both_paths([row], book, D("2026-07-01"))
    assert got[("AR1", clock)] == expected


def test_procedure_clocks_only_where_the_extract_holds_the_dates(book):
    got = both_paths([review(plan_issued="2021-09-13", last_review="2025-07-01", review_meeting="2026-06-10")],
                     book, D("2026-07-01"))
    assert not {clock for _, clock in got} & {"review_meeting_notice", "review_advice_circulated", "review_report"}
    assert WeeksBefore(2).due_date(D("2026-06-10"), Counting()) == D("2026-05-27")


# ------------------------------------------------------------ 10. "at least five months before"
#
# Reg 18(2). Default: the corresponding day (1 September -> 1 April: from 1 April a period of five
# months ends on the transfer day). The clear-months reading wants five whole months between: 31 March.
def test_clear_months_reading_is_a_parameter(tmp_path, book):
    row = review(plan_issued="2021-09-06", last_review="2024-10-01", phase_transfer="post16_move",
                 transfer_date="2025-09-01")
    assert both_paths([row], book, D("2025-03-01"))[("AR1", "phase_transfer")][1] == D("2025-04-01")
    clear = rule_book_with(tmp_path, counting='months_before = "clear_months"')
    assert both_paths([row], clear, D("2025-03-01"))[("AR1", "phase_transfer")][1] == D("2025-03-31")
    assert MonthsBefore(5).due_date(D("2025-09-01"), Counting(months_before="clear_months")) == D("2025-03-31")


# ---------------------------------------------------------- 11. maintain on a transfer review: a query

def test_maintain_on_a_transfer_review_is_a_query_not_a_breach(book):
    row = review(plan_issued="2020-11-02", last_review="2025-01-13", review_meeting="2025-11-19",
                 decision_notified="2025-12-10", decision="maintain", **Y6)
    got = both_paths([row], book, D("2026-03-01"))
    assert got[("AR1", "phase_transfer")] == expect("2026-01-01", "2026-02-14", "2025-12-10", "met")
    frame = caseload_frame([row], REVIEWS)
    queries = review_queries(frame, book, D("2026-03-01"))
    assert queries[["code", "case_id", "clock"]].values.tolist() == [["maintain_on_transfer", "AR1", "phase_transfer"]]
    assert "names the school or institution" in queries["message"].iloc[0]
    notes = explain_case(row, "review", book, D("2026-03-01")).notes
    assert any(n.startswith("query maintain_on_transfer") for n in notes)
    # an amend decision on the same review is no query
    amended = review(plan_issued="2020-11-02", last_review="2025-01-13", review_meeting="2025-11-19",
                     decision_notified="2025-12-10", decision="amend", amendment_notice_sent="2025-12-10",
                     amended_plan_issued="2026-02-01", **Y6)
    frame = caseload_frame([amended], REVIEWS)
    assert review_queries(frame, book, D("2026-03-01")).empty


def test_needs_and_later_of_are_loaded_strictly(tmp_path):
    text = rule_problems_with(tmp_path, '''
[[clocks]]
id = "local_report"
title = "Local report target"
case = "review"
start = "review_meeting"
stop = "review_report_sent"
needs = ["report_date"]
  [clocks.later_of]
  start = "transferred_in"
  weeks = 2
  months = 1
  referenc = "typo"
  [[clocks.versions]]
  from = "2014-09-01"
  weeks = 1
  reference = "local"
''')
    assert "needs: 'report_date' is not a field of a review" in text
    assert "later_of.referenc: unknown key" in text and "later_of.reference: missing" in text
    assert "later_of: give exactly one limit" in text


def test_a_file_without_ncy_academic_year_is_not_refused_the_next_night(engine, book, tmp_path):
    """The import fills ncy_academic_year itself where ncy is given: its absence from the next file
    is not a dropped column (the import guard refuses those)."""
    header = ["review_id", "person_id", "plan_issued", "last_review", "ncy"]
    path = write_csv(tmp_path / "reviews.csv", header, [["AR1", "P1", "2021-09-06", "2025-09-02", "6"]])
    import_extract(engine, path, book, D("2025-10-01"))
    second = import_extract(engine, path, book, D("2025-10-02"))
    assert (second.unchanged, second.changed) == (1, 0)
