"""Month-end snapshots from one evaluation equal the engine run again on each day (issue 17).

``History.on(day)`` judges the clocks of one evaluation on an earlier day by interval tests over
their start, due, stop-event and closure dates (``clocks/history.py``); the old way ran the whole
engine as of that day. On random caseloads (the engine-vs-explain strategies: rows need not be
valid) and random days, every clock of every case must come out the same, field by field.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ehcp_tracker.clocks.engine import evaluate
from ehcp_tracker.clocks.history import History, cuttable, stable_from
from ehcp_tracker.schema import ASSESSMENTS, BY_CASE, REVIEWS

from .conftest import case_row, caseload_frame
from .test_engine_vs_explain import DAY0, assessment, caseloads, days_from, review

AS_OF = dt.date(2026, 10, 30)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["case_id", "clock"], kind="stable").reset_index(drop=True)


def assert_history_is_a_fresh_evaluation(book, caseload, case, as_of, days):
    cases = caseload_frame(caseload, BY_CASE[case])
    clocks = sorted({c.id for c in book.clocks_for(case)})
    history = History({case: cases}, evaluate(cases, book, as_of, case=case, stops=True), book, as_of, clocks)
    for day in days:
        fresh = evaluate(cases, book, day, case=case, stops=True)
        snapshot = history.on(day)
        if not len(fresh):
            assert not len(snapshot), day
            continue
        pd.testing.assert_frame_equal(_sorted(snapshot)[fresh.columns], _sorted(fresh), check_dtype=False,
                                      obj=f"clocks on {day} (evaluated on {as_of})")


SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(caseload=caseloads(assessment), as_of=days_from(dt.date(2018, 1, 1), 4 * 365),
       back=st.lists(st.integers(0, 3 * 365), min_size=1, max_size=4))
def test_assessment_snapshots_equal_a_fresh_evaluation(book, caseload, as_of, back):
    days = [as_of - dt.timedelta(days=b) for b in back]
    assert_history_is_a_fresh_evaluation(book, caseload, "assessment", as_of, days)


@SETTINGS
@given(caseload=caseloads(review), as_of=days_from(DAY0, 13 * 365),
       back=st.lists(st.integers(0, 4 * 365), min_size=1, max_size=4))
def test_review_snapshots_equal_a_fresh_evaluation(book, caseload, as_of, back):
    days = [as_of - dt.timedelta(days=b) for b in back]
    assert_history_is_a_fresh_evaluation(book, caseload, "review", as_of, days)


def test_the_snapshot_clocks_are_cut_not_rerun(book):
    """The clocks the snapshot KPIs use are judged by interval tests; a phase transfer (it starts on
    a date known before it comes) is the kind of clock evaluated again."""
    assert {"final_plan", "decision_to_assess"} <= cuttable(book, "assessment")
    assert "annual_review" in cuttable(book, "review")
    assert "phase_transfer" not in cuttable(book, "review")


def test_only_cases_whose_derived_dates_move_are_unsettled():
    as_of = dt.date(2026, 6, 30)
    reviews = pd.DataFrame({"plan_issued": pd.to_datetime(["2024-01-10", "2024-01-10", None, "2024-01-10"]),
                            "last_review": pd.to_datetime([None, "2025-02-01", "2025-02-01", "2026-09-01"]),
                            "ncy": pd.array([3, 3, 3, 3], dtype="Int64")})
    got = stable_from(reviews, "review", as_of)
    # the second is anchored on its plan until its last review; the fourth's review is after the as-of date
    assert list(got.astype(str)) == ["NaT", "2025-02-01", "NaT", "NaT"]
    assessments = pd.DataFrame({"closed_date": pd.to_datetime(["2025-03-01", "2025-03-01"]),
                                "request_outcome_date": pd.to_datetime(["2025-01-01", "2025-01-01"]),
                                "request_outcome": ["withdrawn", "assess"]})
    assert list(stable_from(assessments, "assessment", as_of).astype(str)) == ["2025-03-01", "NaT"]
    assert np.isnat(stable_from(assessments.iloc[:0], "assessment", as_of)).all()


@pytest.mark.parametrize("day", ["2025-01-31", "2025-02-01", "2025-02-02", "2024-06-30", "2024-01-09", "2026-06-30"])
def test_a_review_row_before_its_last_review_is_cut_from_its_plan_date(book, day):
    """Before its last review (1 Feb 2025) the row is anchored on its plan (10 Jan 2024: CFA 2014
    s44(1)'s "period of 12 months starting with" it ends 9 Jan 2025) and the history judges it from
    a second, blanked evaluation; on the day itself and after, from the first (due 31 Jan 2026).
    Either way what the engine gives on that day."""
    as_of = dt.date(2026, 6, 30)
    rows = [case_row(REVIEWS, review_id="AR1", person_id="P1", plan_issued="2024-01-10", last_review="2025-02-01",
                     review_meeting="2026-01-20", decision_notified="2026-01-30", decision="maintain", ncy=3),
            case_row(REVIEWS, review_id="AR2", person_id="P2", plan_issued="2025-03-01", last_review="2024-11-15",
                     ncy=5)]
    cases = caseload_frame(rows, REVIEWS)
    history = History({"review": cases}, evaluate(cases, book, as_of, case="review", stops=True), book, as_of,
                      ["annual_review"])
    assert history.earlier("review") is not None and len(history.earlier("review")[0]) == 2
    on = dt.date.fromisoformat(day)
    fresh = evaluate(cases, book, on, case="review", clocks=["annual_review"], stops=True)
    snapshot = history.on(on)
    pd.testing.assert_frame_equal(_sorted(snapshot)[fresh.columns], _sorted(fresh), check_dtype=False)
    due = dict(zip(snapshot["case_id"], snapshot["due"].dt.date.astype(str)))
    if on < dt.date(2024, 1, 10):
        assert "AR1" not in due
    elif on < dt.date(2025, 2, 1):
        assert due["AR1"] == "2025-01-09"
    else:
        assert due["AR1"] == "2026-01-31"


@pytest.fixture(scope="module")
def synthetic_db(tmp_path_factory, book):
    from ehcp_tracker.demo.synthetic import write_extracts
    from ehcp_tracker.ingest.importer import import_extract
    from ehcp_tracker.store import db

    folder = tmp_path_factory.mktemp("history")
    paths = write_extracts(folder / "x", 1500, 1000, 5, AS_OF)
    engine = db.connect(f"sqlite:///{folder / 'k.db'}")
    db.init_db(engine)
    for path in paths.values():
        import_extract(engine, path, book, AS_OF)
    yield engine
    engine.dispose()


def test_a_year_of_kpis_equals_the_per_month_evaluation(synthetic_db, book):
    """End to end on a synthetic caseload: ``compute_kpis`` (one evaluation) gives the figures the
    old per-month-end evaluation gave, every KPI, month and basis."""
    from ehcp_tracker.measures import kpi as K
    from ehcp_tracker.measures.catalogue import load_catalogue

    catalogue = load_catalogue(book=book)
    new = K.compute_kpis(synthetic_db, book, catalogue, year=2026, as_of=AS_OF)

    caseload = K.load_caseload(synthetic_db)
    months = K.months_for(as_of=AS_OF, year=2026)
    snapshot_clocks = sorted({k.clock for k in catalogue.kpis if k.window == "snapshot"})
    results = K.while_present(K.evaluate_caseload(caseload, book, AS_OF, sorted({k.clock for k in catalogue.kpis})),
                              caseload)
    # the per-month way, with issue 16's review history honesty: the caseload as it stood that day
    old_snapshots = K.snapshot_results(
        lambda day: K.while_present(K.evaluate_caseload(K.as_they_stood(caseload, day), book, day, snapshot_clocks),
                                    caseload, snapshot_day=day), months, AS_OF)
    old = K.kpi_table(results, catalogue, months, as_of=AS_OF, snapshots=old_snapshots,
                      history_from=K.history_start(synthetic_db))
    assert new[new["kpi"].str.startswith("open_")]["numerator"].sum() > 0  # snapshots with something in them
    pd.testing.assert_frame_equal(new.reset_index(drop=True), old.reset_index(drop=True))


def test_the_trend_months_at_once_equal_each_month_alone(synthetic_db, book):
    """The board pack's twelve trend months come from one call; each equals that month asked alone."""
    from ehcp_tracker.measures import kpi as K
    from ehcp_tracker.report.data import months_back

    trend = months_back("2026-10", 12)
    together = K.compute_kpis(synthetic_db, book, months=trend, as_of=AS_OF)
    assert sorted(together["period"].unique()) == trend
    for m in ("2025-11", "2026-01", "2026-10"):
        alone = K.compute_kpis(synthetic_db, book, month=m, as_of=AS_OF)
        pd.testing.assert_frame_equal(together[together["period"] == m].reset_index(drop=True), alone)


def test_the_backlog_from_given_results_equals_its_own_evaluation(synthetic_db, book):
    """The board pack hands its clock results to the backlog instead of evaluating twice."""
    from ehcp_tracker.listings import Filters, backlog, clock_results, review_backlog

    results = clock_results(synthetic_db, book, AS_OF)
    own = backlog(synthetic_db, book, AS_OF, Filters(kind="assessments"))
    assert len(own) > 0
    pd.testing.assert_frame_equal(backlog(synthetic_db, book, AS_OF, Filters(kind="assessments"), results=results), own)
    pd.testing.assert_frame_equal(review_backlog(synthetic_db, book, AS_OF, Filters(kind="reviews"), results=results),
                                  review_backlog(synthetic_db, book, AS_OF, Filters(kind="reviews")))
