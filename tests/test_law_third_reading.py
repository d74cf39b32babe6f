"""The law, third reading (issue 24): worked dates computed by hand from the regulations, each run
through BOTH the vectorised engine and ``explain`` (which must agree), then the CLI on SQLite and
PostgreSQL.

1. a recorded phase_transfer on a review row with no meeting is the transfer of the child's year
   group (reg 18(1)), with the same children with a meeting as controls;
2. a missed appointment (reg 8(2)(c)) is an event of one day: before, inside and after the 6 weeks;
3. regs 44-45: the 2-week notice, unopposed appeals, continue and amend, reg 44(3)'s exceptions;
4. reg 15(4): the new council's 6-week notice after a transfer in;
5. [counting] weeks_before / months_before: a named reading, stated by explain.

Boundary days: for each new clock, stopped the day before its due date, on it and the day after,
and still running on those three days.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ehcp_tracker.clocks.explain import explain_case
from ehcp_tracker.clocks.queries import assessment_queries
from ehcp_tracker.schema import ASSESSMENTS, REVIEWS

from .conftest import D, case_row, caseload_frame, write_csv
from .test_assessment_law import both_paths as assessment_paths
from .test_legal_review import both_paths as review_paths
from .test_review_rules import rule_book_with

ONE_DAY = dt.timedelta(days=1)


def review(review_id="AR1", person_id="P1", **fields) -> dict:
    return case_row(REVIEWS, review_id=review_id, person_id=person_id, **fields)


def request(request_id="R1", person_id="P1", **fields) -> dict:
    return case_row(ASSESSMENTS, request_id=request_id, person_id=person_id, **fields)


def steps_of(row, case, book, as_of, clock_id, siblings=None) -> list[str]:
    working = explain_case(row, case, book, as_of, siblings)
    return next(w for w in working.clocks if w.clock.id == clock_id).steps


# ------------------------------------------------ 1. a recorded phase transfer without a meeting
#
# Reg 18(1): where a child "is within 12 months of a transfer between phases of education", review
# and amend before 31 March (secondary to post-16) / 15 February (any other case) "in the calendar
# year of the ... transfer"; the last compliant day is the day before. Both children: last review
# concluded 20 November 2025, so this cycle runs 20 Nov 2025 .. 19 Nov 2026; year group stated for
# 2025/26 (ncy_academic_year 2025); judged on 15 April 2026.
#
# - A year 11 staying on in the school's sixth form, recorded `none`: no transfer in September 2026
#   (CFA 2014 s83(2): a school sixth form is not a "post-16 institution"). The bug tied the record
#   to September 2027 (the first 1 September after the due date 19 Nov 2026) and left the derived
#   September 2026 transfer standing: 30 March 2026, overdue on 15 April (a false breach).
# - A year 2 moving from infant to junior school (reg 2(1)(b)), recorded `school`: the transfer is
#   1 September 2026, due 14 February 2026, no review meeting in 1 Sep 2025 .. 31 Aug 2026, so
#   overdue on 15 April 2026 by 60 days (14 Feb -> 15 Apr: 14 + 31 + 15). The bug gave 14 February
#   2027, "open" (a missed breach).
# Controls: the same children with a meeting recorded on 20 January 2026 (the first 1 September
# after it is 2026 too).
CYCLE = dict(plan_issued="2019-05-01", last_review="2025-11-20", ncy_academic_year=2025)
AS_OF_TRANSFER = D("2026-04-15")
PHASE_TRANSFERS = [
    (dict(ncy=11, phase_transfer="none"), None),
    (dict(ncy=11, phase_transfer="none", review_meeting="2026-01-20"), None),
    (dict(ncy=2, phase_transfer="school"), ("2026-01-01", "2026-02-14", None, "overdue", 60)),
    (dict(ncy=2, phase_transfer="school", review_meeting="2026-01-20"), ("2026-01-01", "2026-02-14", None, "overdue", 60)),
    # the control concluded: meeting 20 Jan, amend decided and noticed 27 Jan, amended plan 10 Feb
    (dict(ncy=2, phase_transfer="school", review_meeting="2026-01-20", decision="amend",
          decision_notified="2026-01-27", amendment_notice_sent="2026-01-27", amended_plan_issued="2026-02-10"),
     ("2026-01-01", "2026-02-14", "2026-02-10", "met", 0)),
    # year 11 with nothing recorded: the derived September 2026 post-16 transfer, before 31 March
    (dict(ncy=11), ("2026-01-01", "2026-03-30", None, "overdue", 16)),
]


@pytest.mark.parametrize("fields, expected", PHASE_TRANSFERS)
def test_a_recorded_phase_transfer_is_the_year_groups_transfer(book, fields, expected):
    got = review_paths([review(**CYCLE, **fields)], book, AS_OF_TRANSFER)
    if expected is None:
        assert ("AR1", "phase_transfer") not in got
        assert ("AR1", "annual_review") in got  # the review itself still runs: due 19 Nov 2026
    else:
        started, due, stopped, status, days = expected
        assert got[("AR1", "phase_transfer")] == (D(started), D(due), stopped and D(stopped), status, days)


def test_explain_names_the_year_groups_transfer_without_a_meeting(book):
    working = explain_case(review(**CYCLE, ncy=2, phase_transfer="school"), "review", book, AS_OF_TRANSFER)
    assert any("school transfer on 01 Sep 2026 (phase_transfer school recorded on AR1)" in n for n in working.notes)


def test_a_row_without_meeting_or_year_group_keeps_the_due_date_reading(book):
    # date_of_birth only: no year group on the row, so the record is about the first 1 September on
    # or after the due date (19 Nov 2026 -> 1 Sep 2027): before 15 February 2027
    row = review(plan_issued="2019-05-01", last_review="2025-11-20", date_of_birth="2017-03-01",
                 phase_transfer="school")
    got = review_paths([row], book, AS_OF_TRANSFER)
    assert got[("AR1", "phase_transfer")] == (D("2027-01-01"), D("2027-02-14"), None, "open", 0)


# ------------------------------------------------------ 2. a missed appointment is one day
#
# Reg 8(2)(c): the body need not comply if "the child or young person fails to keep an appointment
# for an examination or test made by the body during that 6 week period". Health advice requested
# (received by the body) Mon 2 Mar 2026: the 6 weeks run Tue 3 Mar .. Mon 13 Apr 2026 (the request
# day excluded); advice provided Mon 20 Apr 2026, 7 days late. The appointment is exception_from, a
# single day; exception_to is not read (blank used to mean "to the due date", so an appointment
# missed before the advice was even requested exempted the clock).
@pytest.mark.parametrize("first, last, applied", [
    ("2026-02-20", None, False),          # before the request (the bug: applied)
    ("2026-02-20", "2026-03-20", False),  # before, whatever exception_to says
    ("2026-03-02", None, False),          # the request day itself is not in the period
    ("2026-03-03", None, True),           # the period's first day
    ("2026-03-16", None, True),           # inside
    ("2026-03-16", "2026-05-30", True),   # inside; exception_to not read
    ("2026-04-13", None, True),           # the due date, the period's last day
    ("2026-04-14", None, False),          # the day after
])
def test_a_missed_appointment_is_an_event_of_one_day(book, first, last, applied):
    row = request(request_received="2026-02-02", request_outcome="assess", request_outcome_date="2026-02-27",
                  health_advice_requested="2026-03-02", health_advice_received="2026-04-20",
                  health_advice_exception="missed_appointment", exception_from=first, exception_to=last)
    got = assessment_paths([row], book, D("2026-05-01"))
    assert got[("R1", "advice_health")][:5] == (D("2026-04-13"), D("2026-04-20"), "late", 7,
                                                "missed_appointment" if applied else None)
    queries = assessment_queries(caseload_frame([row], ASSESSMENTS), book, D("2026-05-01"))
    assert list(queries["code"]) == ([] if applied else ["exemption_not_supported"])
    if not applied:
        assert "an event of one day" in queries["message"].iloc[0]
        steps = steps_of(row, "assessment", book, D("2026-05-01"), "advice_health")
        assert any("not supported, so not applied" in s and "an event of one day" in s for s in steps)


def test_a_circumstance_with_no_end_still_lasts_to_the_due_date(book):
    # the other dated codes are states: exceptional circumstances from 10 Apr, no end -> in the period
    row = request(request_received="2026-02-02", request_outcome="assess", request_outcome_date="2026-02-27",
                  health_advice_requested="2026-03-02", health_advice_received="2026-04-20",
                  health_advice_exception="personal_circumstances", exception_from="2026-02-20")
    assert assessment_paths([row], book, D("2026-05-01"))[("R1", "advice_health")][4] == "personal_circumstances"


# ------------------------------------------- 3-4. the new clocks at their boundary days
#
# Every limit is "within N weeks of" an event, the event day excluded: due = event + 7N days.
# - reg 44(2)(b): order to assess Mon 2 Mar 2026 -> notice by Mon 16 Mar 2026;
# - reg 45(3): the LA notified the tribunal on Mon 2 Mar 2026 it would not oppose an appeal against
#   a refusal to assess -> notice by Mon 16 Mar; reg 45(3A)(a) no-plan decision by Mon 11 May
#   (+70); reg 45(3A)(b) finalised plan by Mon 8 Jun (+98);
# - reg 45, refusal to issue conceded Mon 2 Feb 2026: draft by Mon 9 Mar (+35), final by Mon 20 Apr
#   (+77) (SEND Advice Surrey; paragraph unverified);
# - on review rows, order or concession Mon 1 Jun 2026: continue and amend -> Mon 6 Jul (+35);
#   reg 45(4) contents conceded -> Mon 6 Jul; section I only conceded -> Mon 15 Jun (+14);
#   cease conceded with amendments -> Mon 6 Jul;
# - reg 15(4): plan transferred in Mon 19 Jan 2026 -> the new council's notice by Mon 2 Mar 2026 (+42).
REFUSED = dict(request_received="2025-09-01", request_outcome="not_assess", request_outcome_date="2025-10-10",
               tribunal_order="assess", tribunal_order_date="2026-03-02")
NOT_ISSUED = dict(request_received="2025-06-02", request_outcome="assess", request_outcome_date="2025-07-10",
                  assessment_outcome="not_issue", assessment_outcome_date="2026-01-15",
                  tribunal_order="make_plan", tribunal_order_date="2026-02-02")
UNOPPOSED = dict(tribunal_route="unopposed")
ON_PLAN = dict(plan_issued="2023-01-09", last_review="2025-03-03", review_meeting="2025-10-01",
               decision_notified="2025-10-20", tribunal_order_date="2026-06-01")
ASSESSMENT_CLOCKS = [
    # clock, the row, its stop field, due date, the reference must say
    ("tribunal_assess_notice", REFUSED, "tribunal_notice_sent", "2026-03-16", "reg 44(2)(b)"),
    ("unopposed_assess_notice", {**REFUSED, **UNOPPOSED}, "tribunal_notice_sent", "2026-03-16", "reg 45(3)"),
    ("unopposed_no_plan", {**REFUSED, **UNOPPOSED, "assessment_outcome": "not_issue"}, "assessment_outcome_date",
     "2026-05-11", "reg 45(3A)(a)"),
    ("unopposed_final_plan", {**REFUSED, **UNOPPOSED, "assessment_outcome": "issue"}, "final_plan_issued",
     "2026-06-08", "reg 45(3A)(b)"),
    ("unopposed_draft_plan", {**NOT_ISSUED, **UNOPPOSED}, "draft_plan_issued", "2026-03-09", "reg 45 as substituted"),
    ("unopposed_ordered_plan", {**NOT_ISSUED, **UNOPPOSED}, "final_plan_issued", "2026-04-20", "reg 45 as substituted"),
]
REVIEW_CLOCKS = [
    ("tribunal_continue_amend", {**ON_PLAN, "decision": "cease", "tribunal_order": "continue_amend"},
     "tribunal_amended_plan_issued", "2026-07-06", "reg 44(2)"),
    ("unopposed_amended_plan", {**ON_PLAN, "decision": "maintain", "tribunal_order": "amend", **UNOPPOSED},
     "tribunal_amended_plan_issued", "2026-07-06", "reg 45(4)"),
    ("unopposed_amended_placement", {**ON_PLAN, "decision": "maintain", "tribunal_order": "amend_placement",
                                     **UNOPPOSED}, "tribunal_amended_plan_issued", "2026-06-15", "reg 45 as substituted"),
    ("unopposed_continue_amend", {**ON_PLAN, "decision": "cease", "tribunal_order": "continue_amend", **UNOPPOSED},
     "tribunal_amended_plan_issued", "2026-07-06", "reg 45 as substituted"),
    ("transfer_in_notice", dict(plan_issued="2023-01-09", last_review="2025-03-03", transferred_in="2026-01-19"),
     "transfer_notice_sent", "2026-03-02", "reg 15(4)"),
]
BOUNDARY = [(-1, "met", 0), (0, "met", 0), (1, "late", 1)]
RUNNING = [(-1, "due_soon", 0), (0, "due_soon", 0), (1, "overdue", 1)]


def _judged(case, clock, row, as_of, book):
    if case == "assessment":
        due, stopped, status, days, _, _ = assessment_paths([request(**row)], book, as_of)[("R1", clock)]
        return due, stopped, status, days
    _, due, stopped, status, days = review_paths([review(**row)], book, as_of)[("AR1", clock)]
    return due, stopped, status, days


CASES = [("assessment", *c) for c in ASSESSMENT_CLOCKS] + [("review", *c) for c in REVIEW_CLOCKS]


@pytest.mark.parametrize("offset, status, days", BOUNDARY)
@pytest.mark.parametrize("case, clock, row, stop, due, cited", CASES, ids=[c[1] for c in CASES])
def test_new_clock_stopped_at_its_boundary_days(book, case, clock, row, stop, due, cited, offset, status, days):
    stopped = D(due) + dt.timedelta(days=offset)
    got = _judged(case, clock, {**row, stop: stopped.isoformat()}, D("2026-09-30"), book)
    assert got == (D(due), stopped, status, days)


@pytest.mark.parametrize("offset, status, days", RUNNING)
@pytest.mark.parametrize("case, clock, row, stop, due, cited", CASES, ids=[c[1] for c in CASES])
def test_new_clock_running_on_its_boundary_days(book, case, clock, row, stop, due, cited, offset, status, days):
    got = _judged(case, clock, row, D(due) + dt.timedelta(days=offset), book)
    assert got == (D(due), None, status, days)


@pytest.mark.parametrize("case, clock, row, stop, due, cited", CASES, ids=[c[1] for c in CASES])
def test_explain_cites_each_new_clock_and_says_what_is_unverified(book, case, clock, row, stop, due, cited):
    record = request(**row) if case == "assessment" else review(**row)
    steps = steps_of(record, case, book, D("2026-09-30"), clock)
    limit = next(s for s in steps if s.startswith("limit:"))
    assert cited in limit
    verified = clock in ("unopposed_assess_notice", "unopposed_no_plan", "unopposed_final_plan",
                         "unopposed_amended_plan", "transfer_in_notice")
    assert ("text read on legislation.gov.uk" in limit) is verified
    assert ("unverified" in limit) is not verified


@pytest.mark.parametrize("transferred_in, applies", [
    ("2025-03-02", False),  # the day before the cycle began (last review 3 Mar 2025): an earlier cycle's transfer
    ("2025-03-03", True),   # the cycle's first day
])
def test_the_transfer_notice_belongs_to_the_cycle_of_the_transfer(book, transferred_in, applies):
    row = review(plan_issued="2023-01-09", last_review="2025-03-03", transferred_in=transferred_in)
    got = review_paths([row], book, D("2026-01-05"))
    assert (("AR1", "transfer_in_notice") in got) is applies
    if not applies:
        steps = steps_of(row, "review", book, D("2026-01-05"), "transfer_in_notice")
        assert any("is before this review period began" in s for s in steps)


def test_a_concession_runs_the_reg_45_clocks_not_the_reg_44_ones(book):
    got = assessment_paths([request(**REFUSED, **UNOPPOSED)], book, D("2026-04-01"))
    assert {clock for _, clock in got} >= {"unopposed_assess_notice", "unopposed_final_plan"}
    assert not {clock for _, clock in got if clock.startswith("tribunal_")}
    ordered = assessment_paths([request(**REFUSED)], book, D("2026-04-01"))
    assert not {clock for _, clock in ordered if clock.startswith("unopposed_")}


@pytest.mark.parametrize("order, words", [
    ("reconsider", "reg 43(2)(d)): the time limit reg 44 sets for a remitted case is unverified"),
])
def test_an_order_without_a_verified_limit_is_recorded_and_explained(book, order, words):
    row = request(**{**NOT_ISSUED, "tribunal_order": order})
    got = assessment_paths([row], book, D("2026-04-01"))
    assert not {clock for _, clock in got if clock.startswith(("tribunal_", "unopposed_"))}
    assert any(words in note for note in explain_case(row, "assessment", book, D("2026-04-01")).notes)


def test_an_order_to_continue_has_no_period_to_count(book):
    row = review(**ON_PLAN, decision="cease", tribunal_order="continue")
    got = review_paths([row], book, D("2026-07-01"))
    assert not {clock for _, clock in got if clock.startswith(("tribunal_", "unopposed_"))}
    notes = explain_case(row, "review", book, D("2026-07-01")).notes
    assert any("continue to maintain the plan: with immediate effect" in n for n in notes)


# Reg 44(3) as HMCTS SEND18 gives it: an absence "for a continuous period of 2 weeks or longer during
# the relevant time period". Order Mon 2 Mar 2026; the final plan's period runs 3 Mar .. 8 Jun 2026;
# the plan issued 15 Jun, 7 days late. Absent 1 Jun .. 14 Jun: 8 days inside the period -> not
# supported; 20 May .. 2 Jun: 14 days inside (20 May .. 2 Jun) -> supported. The same 14-day absence
# against the 20 weeks of reg 13(2) needs 28 days (reg 10(4)(d)): the control.
@pytest.mark.parametrize("first, last, applied", [
    ("2026-05-20", "2026-06-02", True),
    ("2026-05-21", "2026-06-02", False),
    ("2026-06-01", "2026-06-14", False),
])
def test_tribunal_absence_needs_two_weeks(book, first, last, applied):
    row = request(**REFUSED, assessment_outcome="issue", assessment_outcome_date="2026-05-01",
                  final_plan_issued="2026-06-15", tribunal_exception="absence_from_area",
                  exception_from=first, exception_to=last)
    got = assessment_paths([row], book, D("2026-07-01"))
    assert got[("R1", "tribunal_final_plan")][:5] == (D("2026-06-08"), D("2026-06-15"), "late", 7,
                                                      "absence_from_area" if applied else None)
    if not applied:
        steps = steps_of(row, "assessment", book, D("2026-07-01"), "tribunal_final_plan")
        assert any("fewer than 14 days" in s for s in steps)


def test_a_fourteen_day_absence_is_too_short_for_the_twenty_weeks(book):
    row = request(request_received="2026-01-05", request_outcome="assess", request_outcome_date="2026-02-10",
                  assessment_outcome="issue", assessment_outcome_date="2026-05-01", final_plan_issued="2026-06-01",
                  exception_reason="absence_from_area", exception_from="2026-05-01", exception_to="2026-05-14")
    got = assessment_paths([row], book, D("2026-07-01"))
    assert got[("R1", "final_plan")][4] is None  # 20 weeks from 5 Jan: 25 May; 14 days < 28


# ------------------------------------------------------------- 5. counting conventions, stated
#
# Regs 20(3), 21(3): "at least two weeks' notice of the date of the meeting". Meeting Wed 10 Jun
# 2026. corresponding_day (default): notice on Wed 27 May (10 Jun - 14 days) is on time. clear_days
# (Re Hector Whaling Ltd [1936] Ch 208: "not less than" N days = N clear days, both excluded): 14
# clear days between notice and meeting, so notice by Tue 26 May; 27 May is 1 day late.
NOTICE = dict(plan_issued="2023-01-09", last_review="2025-06-30", review_meeting="2026-06-10",
              meeting_notice_sent="2026-05-27")


@pytest.mark.parametrize("reading, due, status, days", [
    ("corresponding_day", "2026-05-27", "met", 0),
    ("clear_days", "2026-05-26", "late", 1),
])
def test_weeks_before_is_a_named_reading(tmp_path, reading, due, status, days):
    book = rule_book_with(tmp_path, counting=f'weeks_before = "{reading}"')
    got = review_paths([review(**NOTICE)], book, D("2026-06-20"))
    assert got[("AR1", "review_meeting_notice")] == (D("2026-06-10"), D(due), D("2026-05-27"), status, days)
    limit = next(s for s in steps_of(review(**NOTICE), "review", book, D("2026-06-20"), "review_meeting_notice")
                 if s.startswith("limit:"))
    other = "clear_days" if reading == "corresponding_day" else "corresponding_day"
    assert f'[counting] weeks_before = "{reading}" in force' in limit and f'the other reading: "{other}"' in limit


def test_the_default_reading_is_stated_for_months_before(book):
    # reg 18(2): post-16 move on Tue 1 Sep 2026 -> at least five months before: 1 Apr 2026
    row = review(plan_issued="2024-01-08", last_review="2025-10-01", phase_transfer="post16_move",
                 transfer_date="2026-09-01")
    steps = steps_of(row, "review", book, D("2026-03-01"), "phase_transfer")
    assert any('[counting] months_before = "corresponding_day" in force' in s and '"clear_months"' in s for s in steps)
    assert review_paths([row], book, D("2026-03-01"))[("AR1", "phase_transfer")][1] == D("2026-04-01")


def test_a_reading_outside_the_choices_is_refused(tmp_path):
    from ehcp_tracker.errors import RuleBookError

    with pytest.raises(RuleBookError, match=r"\[counting\]\.weeks_before: must be one of corresponding_day, clear_days"):
        rule_book_with(tmp_path, counting='weeks_before = "whole_weeks"')


# ------------------------------------------------------------------------- through the CLI
REVIEW_HEADER = ["review_id", "person_id", "plan_issued", "last_review", "ncy", "ncy_academic_year", "phase_transfer",
                 "transferred_in", "transfer_notice_sent", "review_meeting", "decision_notified", "decision",
                 "tribunal_order", "tribunal_order_date", "tribunal_route", "tribunal_amended_plan_issued"]
REQUEST_HEADER = ["request_id", "person_id", "request_received", "request_outcome", "request_outcome_date",
                  "tribunal_order", "tribunal_order_date", "tribunal_route", "tribunal_notice_sent"]


def _clocks(run, as_of):
    rows = json.loads(run("--as-of", as_of, "clocks", "--format", "json").stdout)
    return {(r["case_id"], r["clock"]): (r["due"][:10], r["status"]) for r in rows}


def test_the_third_reading_through_the_cli(run, tmp_path):
    reviews = write_csv(tmp_path / "reviews.csv", REVIEW_HEADER, [
        ["AR1", "P1", "2019-05-01", "2025-11-20", "2", "2025", "school", "", "", "", "", "", "", "", "", ""],
        ["AR2", "P2", "2019-05-01", "2025-11-20", "11", "2025", "none", "", "", "", "", "", "", "", "", ""],
        ["AR3", "P3", "2023-01-09", "2025-03-03", "", "", "", "2026-01-19", "2026-03-03", "", "", "", "", "", "", ""],
        ["AR4", "P4", "2023-01-09", "2025-03-03", "", "", "", "", "", "2025-10-01", "2025-10-20", "maintain", "amend",
         "2026-03-02", "unopposed", ""],
    ])
    requests = write_csv(tmp_path / "requests.csv", REQUEST_HEADER, [
        ["R1", "P5", "2025-09-01", "not_assess", "2025-10-10", "assess", "2026-03-02", "", "2026-03-16"],
        ["R2", "P6", "2025-09-01", "not_assess", "2025-10-10", "assess", "2026-03-02", "unopposed", ""],
    ])
    for path in (reviews, requests):
        result = run("--as-of", "2026-04-15", "import", path)
        assert result.exit_code == 0, result.stderr
    got = _clocks(run, "2026-04-15")
    assert got[("AR1", "phase_transfer")] == ("2026-02-14", "overdue")
    assert not any(case == "AR2" and clock == "phase_transfer" for case, clock in got)
    assert got[("AR3", "transfer_in_notice")] == ("2026-03-02", "late")
    assert got[("AR4", "unopposed_amended_plan")] == ("2026-04-06", "overdue")
    assert got[("R1", "tribunal_assess_notice")] == ("2026-03-16", "met")
    assert got[("R2", "unopposed_assess_notice")] == ("2026-03-16", "overdue")
    shown = run("--as-of", "2026-04-15", "explain", "R2")
    assert shown.exit_code == 0 and "reg 45(3), as substituted by SI 2015/359" in shown.stdout
    shown = run("--as-of", "2026-04-15", "explain", "R1")
    assert "unverified" in shown.stdout and "reg 44(2)(b)" in shown.stdout


@pytest.mark.parametrize("header, cells, column, words", [
    (REQUEST_HEADER, ["R1", "P1", "2025-09-01", "not_assess", "2025-10-10", "", "", "unopposed", ""],
     "tribunal_route", "tribunal_route is recorded but tribunal_order is blank"),
    (REQUEST_HEADER, ["R1", "P1", "2025-09-01", "not_assess", "2025-10-10", "assess", "2026-03-02", "", "2026-03-01"],
     "tribunal_notice_sent", "tribunal_notice_sent is before tribunal_order_date"),
    (REVIEW_HEADER, ["AR1", "P1", "2023-01-09", "2025-03-03", "", "", "", "2026-01-19", "2026-01-10", "", "", "", "",
                     "", "", ""], "transfer_notice_sent", "transfer_notice_sent is before transferred_in"),
    (REVIEW_HEADER, ["AR1", "P1", "2023-01-09", "2025-03-03", "", "", "", "", "", "2025-10-01", "2025-10-20", "cease",
                     "continue", "2026-03-02", "unopposed", ""], "tribunal_route",
     "tribunal_order continue is an order the tribunal makes"),
])
def test_import_refuses_what_the_row_contradicts(run, tmp_path, header, cells, column, words):
    path = write_csv(tmp_path / "extract.csv", header, [cells])
    result = run("--as-of", "2026-04-15", "import", path)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "row 2" in result.stderr and f"column {column}" in result.stderr and words in result.stderr
    assert run("--as-of", "2026-04-15", "clocks", "--format", "json").stdout.strip() in ("[]", "")
