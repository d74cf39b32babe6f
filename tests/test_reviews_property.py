"""The bulk engine and ``explain`` agree on random review caseloads, field by field (design.md s1).

Rows need not be valid: the engine must cope with anything stored (blank anchors, a decision with no
date, a transfer type with no curriculum year, dates in any order).
"""

import datetime as dt

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ehcp_tracker.engine import evaluate
from ehcp_tracker.explain import explain_case
from ehcp_tracker.schema import REVIEWS

DAY0 = dt.date(2014, 6, 1)
dates = st.one_of(st.none(), st.integers(0, 12 * 365).map(lambda n: DAY0 + dt.timedelta(days=n)))
EXCEPTIONS = [None, "personal_circumstances", "absence_from_area", "coronavirus", "school_closure"]


@st.composite
def review(draw, index):
    row = {name: None for name in REVIEWS.names}
    row.update(review_id=f"AR{index}", person_id=f"P{index}", caseworker=draw(st.sampled_from(["CW1", None])))
    for name in REVIEWS.date_columns:
        row[name] = draw(dates)
    row["ncy"] = draw(st.one_of(st.none(), st.integers(-2, 14)))
    row["phase_transfer"] = draw(st.sampled_from([None, None, "none", "school", "post16", "post16_move"]))
    row["decision"] = draw(st.sampled_from([None, "maintain", "amend", "cease"]))
    row["exception_reason"] = draw(st.sampled_from(EXCEPTIONS))
    row["looked_after"] = draw(st.sampled_from([None, True, False]))
    return row


caseloads = st.integers(1, 25).flatmap(lambda n: st.tuples(*[review(i) for i in range(n)]))


def _day(value):
    return None if pd.isna(value) else value.date()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(caseload=caseloads, as_of=st.integers(0, 13 * 365).map(lambda n: DAY0 + dt.timedelta(days=n)))
def test_bulk_engine_and_explain_agree_on_reviews(book, caseload, as_of):
    frame = pd.DataFrame(list(caseload))
    for name in REVIEWS.date_columns:
        frame[name] = pd.to_datetime(frame[name])
    frame["ncy"] = frame["ncy"].astype("Int64")
    bulk = evaluate(frame, book, as_of, case="review")
    bulk_rows = {(r.case_id, r.clock): (_day(r.started), _day(r.due), _day(r.stopped), r.status, int(r.days_overdue),
                                        None if pd.isna(r.exception) else r.exception, r.rule_version,
                                        r.reference, r.stop_reason)
                 for r in bulk.itertuples()}
    assert len(bulk_rows) == len(bulk)  # at most one row per (case, clock): variants never overlap
    explained = {}
    for row in caseload:
        for w in explain_case(row, "review", book, as_of).clocks:
            if w.applies:
                explained[(row["review_id"], w.clock.id)] = (
                    w.started, w.due, w.stopped, w.status, w.days_overdue, w.exception, w.rule_version,
                    w.reference, w.stop_reason)
    assert bulk_rows == explained
