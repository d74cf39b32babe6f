"""Each assessment clock as a table of worked cases, run through BOTH the vectorised engine and
``explain`` (style.md item 9): the two must give the same started, due, stopped, status and exception.
"""

import datetime as dt

import pandas as pd
import pytest

from ehcp_tracker.clocks.engine import evaluate
from ehcp_tracker.clocks.explain import explain_case
from ehcp_tracker.schema import ASSESSMENTS

from .conftest import caseload_frame

D = dt.date.fromisoformat


def record(**fields):
    row = {name: None for name in ASSESSMENTS.names}
    row.update(request_id="R1", person_id="P1")
    for key, value in fields.items():
        row[key] = D(value) if key in ASSESSMENTS.date_columns and value else value
    return row


def both_paths(book, row, as_of, clock_id):
    """The result for one clock through the engine and through explain; asserts they agree."""
    frame = caseload_frame([row], ASSESSMENTS)
    results = evaluate(frame, book, D(as_of))
    engine_rows = results[results["clock"] == clock_id]
    working = explain_case(row, "assessment", book, D(as_of))
    explained = next(w for w in working.clocks if w.clock.id == clock_id)
    if not explained.applies:
        assert engine_rows.empty, f"engine has {clock_id} but explain says it does not apply"
        return None
    assert len(engine_rows) == 1
    got = engine_rows.iloc[0]
    as_day = lambda v: None if pd.isna(v) else v.date()  # noqa: E731
    engine_view = (as_day(got["started"]), as_day(got["due"]), as_day(got["stopped"]), got["status"],
                   int(got["days_overdue"]), None if pd.isna(got["exception"]) else got["exception"],
                   got["rule_version"], got["reference"])
    explain_view = (explained.started, explained.due, explained.stopped, explained.status,
                    explained.days_overdue, explained.exception, explained.rule_version, explained.reference)
    assert engine_view == explain_view
    return explained


RECEIVED = "2019-09-02"  # a Monday: 6 weeks -> 14 Oct 2019, 16 weeks -> 23 Dec 2019, 20 weeks -> 20 Jan 2020

CASES = [
    # (name, clock, fields, as_of, expected due, expected status, days_overdue, exception)
    ("decision pending, not yet due", "decision_to_assess", {}, "2019-09-20", "2019-10-14", "open", 0, None),
    ("decision due within the 7-day warning", "decision_to_assess", {}, "2019-10-08", "2019-10-14", "due_soon", 0, None),
    ("decision not made, overdue", "decision_to_assess", {}, "2019-10-20", "2019-10-14", "overdue", 6, None),
    ("decision on the due date is met", "decision_to_assess",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-14"}, "2020-03-01", "2019-10-14", "met", 0, None),
    ("decision the day after is late", "decision_to_assess",
     {"request_outcome": "not_assess", "request_outcome_date": "2019-10-15"}, "2020-03-01", "2019-10-14", "late", 1, None),
    # A closure or withdrawal with the clock still running past its due date is a breach (issue 13
    # point 7; before it this was "met"): late by closure - due. On or before the due date: no breach.
    ("withdrawal after the due date is a breach", "decision_to_assess",
     {"request_outcome": "withdrawn", "request_outcome_date": "2019-11-01"}, "2020-03-01", "2019-10-14", "late", 18, None),
    ("withdrawal on the due date closes the decision clock without a breach", "decision_to_assess",
     {"request_outcome": "withdrawn", "request_outcome_date": "2019-10-14"}, "2020-03-01", "2019-10-14", "met", 0, None),
    ("final plan on day 140 is met", "final_plan",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-01", "assessment_outcome": "issue",
      "assessment_outcome_date": "2019-12-01", "final_plan_issued": "2020-01-20"}, "2020-03-01", "2020-01-20", "met", 0, None),
    ("final plan on day 141 is late", "final_plan",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-01", "assessment_outcome": "issue",
      "assessment_outcome_date": "2019-12-01", "final_plan_issued": "2020-01-21"}, "2020-03-01", "2020-01-20", "late", 1, None),
    ("an exception never moves the due date", "final_plan",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-01", "exception_reason": "school_closure",
      "education_advice_requested": "2019-10-02",
      "final_plan_issued": "2020-03-01", "assessment_outcome": "issue", "assessment_outcome_date": "2020-01-10"},
     "2020-04-01", "2020-01-20", "late", 41, "school_closure"),
    ("final plan still open past 20 weeks", "final_plan",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-01"}, "2020-02-03", "2020-01-20", "overdue", 14, None),
    ("no final-plan clock when the LA refused to assess", "final_plan",
     {"request_outcome": "not_assess", "request_outcome_date": "2019-10-01"}, "2020-03-01", None, None, 0, None),
    ("no final-plan clock after a decision not to issue", "final_plan",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-01", "assessment_outcome": "not_issue",
      "assessment_outcome_date": "2019-12-20"}, "2020-03-01", None, None, 0, None),
    ("case closed after the 20 weeks is a breach", "final_plan",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-01", "closed_date": "2020-02-10",
      "closed_reason": "moved_away"}, "2020-03-01", "2020-01-20", "late", 21, None),
    ("case closed before the 20 weeks stops the final-plan clock without a breach", "final_plan",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-01", "closed_date": "2020-01-10",
      "closed_reason": "moved_away"}, "2020-03-01", "2020-01-20", "met", 0, None),
    ("not-to-issue notice within 16 weeks", "no_plan_notice",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-01", "assessment_outcome": "not_issue",
      "assessment_outcome_date": "2019-12-23"}, "2020-03-01", "2019-12-23", "met", 0, None),
    ("not-to-issue notice a week late", "no_plan_notice",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-01", "assessment_outcome": "not_issue",
      "assessment_outcome_date": "2019-12-30"}, "2020-03-01", "2019-12-23", "late", 7, None),
    ("advice runs from the service's receipt, not the request", "advice_health",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-01", "health_advice_requested": "2019-10-03",
      "health_advice_received": "2019-11-14"}, "2020-03-01", "2019-11-14", "met", 0, None),
    ("late advice with a missed appointment exception", "advice_ep",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-01", "ep_advice_requested": "2019-10-03",
      "ep_advice_received": "2019-12-01", "ep_advice_exception": "missed_appointment"},
     "2020-03-01", "2019-11-14", "late", 17, "missed_appointment"),
    ("advice clock not started until requested", "advice_social_care",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-01"}, "2020-03-01", None, None, 0, None),
    ("an event after the as-of date has not happened yet", "final_plan",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-01", "assessment_outcome": "issue",
      "assessment_outcome_date": "2019-12-01", "final_plan_issued": "2020-01-20"}, "2020-01-10", "2020-01-20", "due_soon", 0, None),
    ("local draft target ends unjudged when a final plan has no draft date", "local_draft_plan",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-01", "assessment_outcome": "issue",
      "assessment_outcome_date": "2019-12-01", "final_plan_issued": "2020-01-20"}, "2020-03-01", "2019-12-09", "met", 0, None),
    ("local working-day target skips the weekend", "local_ep_request",
     {"request_outcome": "assess", "request_outcome_date": "2019-10-04", "ep_advice_requested": "2019-10-14"},
     "2020-03-01", "2019-10-11", "late", 3, None),
]


@pytest.mark.parametrize("name,clock,fields,as_of,due,status,days_overdue,exception", CASES,
                         ids=[c[0] for c in CASES])
def test_assessment_clock(book, name, clock, fields, as_of, due, status, days_overdue, exception):
    row = record(request_received=RECEIVED, **fields)
    result = both_paths(book, row, as_of, clock)
    if due is None:
        assert result is None
        return
    assert (result.due, result.status, result.days_overdue, result.exception) == (D(due), status, days_overdue,
                                                                                 exception)


def test_coronavirus_exception_is_a_dated_rule_version(book):
    """Only a recorded coronavirus exception on a clock due 1 May - 25 Sept 2020 invokes SI 2020/471."""
    row = record(request_received="2020-01-06", request_outcome="assess", request_outcome_date="2020-02-10",
                 exception_reason="coronavirus", assessment_outcome="issue", assessment_outcome_date="2020-06-01",
                 final_plan_issued="2020-07-20")
    result = both_paths(book, row, "2020-12-01", "final_plan")
    assert result.due == D("2020-05-25")  # the due date does not move
    assert result.status == "late" and result.exception == "coronavirus"
    assert result.rule_version.startswith("coronavirus-2020") and "SI 2020/471" in result.reference
    plain = both_paths(book, record(request_received="2020-01-06"), "2020-12-01", "final_plan")
    assert plain.rule_version.startswith("send-regs-2014") and "reg 13(2)" in plain.reference


def test_explain_shows_the_worked_example(book):
    """Done-when: a request received on 2 September 2019 with nothing else recorded."""
    working = explain_case(record(request_received=RECEIVED), "assessment", book, D("2019-09-03"))
    by_id = {w.clock.id: w for w in working.clocks}
    assert by_id["decision_to_assess"].due == D("2019-10-14")
    assert by_id["final_plan"].due == D("2020-01-20")
    assert "reg 5(1)" in by_id["decision_to_assess"].reference
    assert "reg 13(2)" in by_id["final_plan"].reference
    assert "2014-09-01" in by_id["final_plan"].rule_version


def test_a_request_before_the_2014_regulations_has_no_version(book):
    working = explain_case(record(request_received="2014-08-01"), "assessment", book, D("2015-01-01"))
    final = next(w for w in working.clocks if w.clock.id == "final_plan")
    assert not final.applies and "no version of this rule was in force" in final.steps[-1]
    frame = pd.DataFrame([record(request_received="2014-08-01")])
    frame["request_received"] = pd.to_datetime(frame["request_received"])
    assert evaluate(frame, book, D("2015-01-01")).empty
