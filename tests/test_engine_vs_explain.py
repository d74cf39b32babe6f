"""The bulk engine and ``explain`` must never disagree (design.md section 1).

Hypothesis builds random caseloads (valid or not: the engine must cope with anything stored) and every
clock of every case is compared field by field between the two independent implementations.
"""

import datetime as dt

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ehcp_tracker.engine import evaluate
from ehcp_tracker.explain import explain_case
from ehcp_tracker.schema import ASSESSMENTS

DAY0 = dt.date(2018, 1, 1)
dates = st.one_of(st.none(), st.integers(0, 3 * 365).map(lambda n: DAY0 + dt.timedelta(days=n)))
EXCEPTIONS = [None, "school_closure", "early_years_closure", "personal_circumstances", "absence_from_area",
              "missed_appointment", "coronavirus"]


@st.composite
def assessment(draw, index):
    row = {name: None for name in ASSESSMENTS.names}
    received = DAY0 + dt.timedelta(days=draw(st.integers(0, 2 * 365)))
    row.update(request_id=f"R{index}", person_id=f"P{index}", request_received=received,
               caseworker=draw(st.sampled_from(["CW1", "CW2", None])))
    for name in ASSESSMENTS.date_columns:
        if name != "request_received":
            row[name] = draw(dates)
    row["request_outcome"] = draw(st.sampled_from([None, "assess", "not_assess", "withdrawn"]))
    row["assessment_outcome"] = draw(st.sampled_from([None, "issue", "not_issue"]))
    for name in ASSESSMENTS.exception_columns:
        row[name] = draw(st.sampled_from(EXCEPTIONS))
    return row


caseloads = st.integers(1, 25).flatmap(lambda n: st.tuples(*[assessment(i) for i in range(n)]))


def _day(value):
    return None if pd.isna(value) else value.date()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(caseload=caseloads, as_of=st.integers(0, 4 * 365).map(lambda n: DAY0 + dt.timedelta(days=n)))
def test_bulk_engine_and_explain_agree(book, caseload, as_of):
    frame = pd.DataFrame(list(caseload))
    for name in ASSESSMENTS.date_columns:
        frame[name] = pd.to_datetime(frame[name])
    bulk = evaluate(frame, book, as_of)
    bulk_rows = {(r.case_id, r.clock): (_day(r.started), _day(r.due), _day(r.stopped), r.status, int(r.days_overdue),
                                        None if pd.isna(r.exception) else r.exception, r.rule_version,
                                        r.reference, r.stop_reason)
                 for r in bulk.itertuples()}
    explained = {}
    for row in caseload:
        for w in explain_case(row, "assessment", book, as_of).clocks:
            if w.applies:
                explained[(row["request_id"], w.clock.id)] = (
                    w.started, w.due, w.stopped, w.status, w.days_overdue, w.exception, w.rule_version,
                    w.reference, w.stop_reason)
    assert bulk_rows == explained
