"""KPIs on small hand-built caseloads with known answers, for every KPI and both bases.

The cases and their working are in ``kpi_cases.py``. Assessment KPIs run through the real clock
engine; the review KPIs run on hand-built clock results (the review clocks live on another branch).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from ehcp_tracker.measures import kpi as K
from ehcp_tracker.clocks.engine import evaluate
from ehcp_tracker.measures.catalogue import Catalogue, Settings, load_catalogue
from .kpi_cases import (AS_OF, REVIEW_AS_OF, REVIEW_RESULTS, REVIEW_SNAPSHOTS, assessment_frame,
                       result_frame)

JAN, FEB, MAR, APR = (K.month_index(2026, m) for m in (1, 2, 3, 4))


@pytest.fixture(scope="module")
def catalogue(book):
    return load_catalogue(book=book)


def run_assessments(book, catalogue, months=(JAN, FEB, MAR, APR), settings: Settings | None = None):
    cases = assessment_frame()
    results = evaluate(cases, book, AS_OF)
    usable, _ = K._usable(catalogue, book)
    if settings:
        usable = Catalogue(usable.kpis, settings, usable.targets, usable.target_sources, usable.files)
    snapshots = K.snapshot_results(lambda day: evaluate(cases, book, day, clocks=["final_plan"]), list(months), AS_OF)
    return K.kpi_table(results, usable, list(months), as_of=AS_OF, snapshots=snapshots)


@pytest.fixture(scope="module")
def assessments(book, catalogue):
    return run_assessments(book, catalogue)


def cell(frame, kpi, period, basis="month"):
    row = frame[(frame["kpi"] == kpi) & (frame["period"] == period) & (frame["basis"] == basis)]
    assert len(row) == 1, (kpi, period, basis)
    row = row.iloc[0]
    return row["numerator"], row["denominator"], row["value"]


# (kpi, period, basis, numerator, denominator, value); None = blank. Working in kpi_cases.py.
ASSESSMENT_EXPECTED = [
    ("requests_received", "2026-01", "month", 3, None, None),          # R6, R7, R12
    ("requests_received", "2026-02", "month", 1, None, None),          # R8
    ("requests_received", "2026-03", "year_to_date", 5, None, None),   # + R9
    ("requests_received", "2026-04", "month", 0, None, None),
    ("requests_agreed", "2026-01", "month", 0, None, None),
    ("requests_agreed", "2026-02", "month", 1, None, None),            # R12 on 4 Feb
    ("requests_agreed", "2026-04", "year_to_date", 1, None, None),
    ("decisions_within_6_weeks", "2026-01", "month", 0, 0, None),      # nothing to divide by: blank
    ("decisions_within_6_weeks", "2026-02", "month", 2, 2, 100.0),     # R6 (day 42), R12
    ("decisions_within_6_weeks", "2026-03", "month", 0, 1, 0.0),       # R7 (day 50); R8 withdrawn, R9 open: out
    ("decisions_within_6_weeks", "2026-03", "year_to_date", 2, 3, 66.7),
    ("plans_issued", "2026-01", "month", 3, None, None),               # R2, R3, R4
    ("plans_issued", "2026-02", "month", 2, None, None),               # R1, R5
    ("plans_issued", "2026-02", "year_to_date", 5, None, None),
    ("plans_within_20_weeks", "2026-01", "month", 1, 3, 33.3),         # R4 (an exception, on time)
    ("plans_within_20_weeks", "2026-02", "month", 1, 2, 50.0),         # R1: day 140 exactly is within
    ("plans_within_20_weeks", "2026-02", "year_to_date", 2, 5, 40.0),
    ("plans_within_20_weeks_excl_exceptions", "2026-01", "month", 0, 2, 0.0),   # R2, R3 (R4 removed)
    ("plans_within_20_weeks_excl_exceptions", "2026-02", "month", 1, 1, 100.0),  # R1 (R5 removed)
    ("plans_within_20_weeks_excl_exceptions", "2026-02", "year_to_date", 1, 3, 33.3),
    ("plans_20_to_52_weeks", "2026-01", "month", 1, 3, 33.3),          # R2 (day 141)
    ("plans_20_to_52_weeks", "2026-02", "month", 1, 2, 50.0),          # R5 (day 200, an exception)
    ("plans_20_to_52_weeks", "2026-02", "year_to_date", 2, 5, 40.0),
    ("plans_20_to_52_weeks_excl_exceptions", "2026-01", "month", 1, 2, 50.0),
    ("plans_20_to_52_weeks_excl_exceptions", "2026-02", "month", 0, 1, 0.0),
    ("plans_20_to_52_weeks_excl_exceptions", "2026-02", "year_to_date", 1, 3, 33.3),
    ("plans_over_52_weeks", "2026-01", "month", 1, 3, 33.3),           # R3 (day 400)
    ("plans_over_52_weeks", "2026-02", "year_to_date", 1, 5, 20.0),
    ("plans_over_52_weeks_excl_exceptions", "2026-01", "month", 1, 2, 50.0),
    ("plans_over_52_weeks_excl_exceptions", "2026-02", "year_to_date", 1, 3, 33.3),
    ("plans_over_52_weeks_excl_exceptions", "2026-03", "month", 0, 0, None),
    ("no_plan_within_16_weeks", "2026-02", "month", 1, 1, 100.0),      # R10 on day 112 exactly
    ("no_plan_within_16_weeks", "2026-03", "month", 0, 1, 0.0),        # R11 on day 120
    ("no_plan_within_16_weeks", "2026-04", "year_to_date", 1, 2, 50.0),
    ("advice_within_6_weeks_ep", "2026-03", "month", 1, 1, 100.0),     # R12 EP on day 42
    ("advice_within_6_weeks_ep_excl_exceptions", "2026-03", "month", 1, 1, 100.0),
    ("advice_within_6_weeks_health", "2026-03", "month", 0, 1, 0.0),  # R12 health late, exemption
    ("advice_within_6_weeks_health_excl_exceptions", "2026-03", "month", 0, 0, None),
    ("advice_within_6_weeks_social_care", "2026-03", "year_to_date", 0, 0, None),
    ("advice_within_6_weeks_social_care_excl_exceptions", "2026-03", "month", 0, 0, None),
    ("advice_within_6_weeks_education", "2026-03", "month", 0, 0, None),
    ("advice_within_6_weeks_education_excl_exceptions", "2026-03", "year_to_date", 0, 0, None),
    # Cohort from 1 January 2025 (R3 received before it): due by the period end.
    ("cohort_within_20_weeks", "2026-01", "month", 0, 3, 0.0),         # R2, R5 late; R13 open
    ("cohort_within_20_weeks", "2026-02", "month", 1, 4, 25.0),        # + R1 (met)
    ("cohort_within_20_weeks", "2026-03", "month", 2, 5, 40.0),        # + R4 (met, exception counted)
    ("cohort_within_20_weeks", "2026-03", "year_to_date", 2, 5, 40.0),  # cumulative either way
    # Snapshots at each month end (as of 15 April for April).
    ("open_assessments", "2026-01", "month", 4, None, None),           # R1, R5, R12, R13
    ("open_assessments", "2026-01", "year_to_date", 4, None, None),
    ("open_assessments", "2026-02", "month", 2, None, None),           # R12, R13
    ("open_assessments", "2026-03", "month", 3, None, None),           # R9, R12, R13
    ("open_assessments", "2026-04", "month", 3, None, None),
    ("open_assessments_0_6_weeks", "2026-01", "month", 1, None, None),    # R12 (26 days)
    ("open_assessments_6_20_weeks", "2026-01", "month", 1, None, None),   # R1 (122 days)
    ("open_assessments_20_52_weeks", "2026-01", "month", 2, None, None),  # R5, R13
    ("open_assessments_52_plus_weeks", "2026-01", "month", 0, None, None),
    ("open_assessments_20_52_weeks", "2026-02", "month", 1, None, None),  # R13 at 364 days: still 52 weeks
    ("open_assessments_52_plus_weeks", "2026-03", "month", 1, None, None),  # R13 at 395 days
    ("open_assessments_0_6_weeks", "2026-03", "month", 1, None, None),    # R9
    ("open_assessments_over_20_weeks", "2026-01", "month", 2, None, None),  # R5, R13 (R1 due 18 Feb)
    ("open_assessments_over_20_weeks", "2026-04", "month", 1, None, None),  # R13
    # The request cohort: requests received in the month, by what has become of them by 15 April.
    ("request_cohort_agreed", "2026-01", "month", 1, None, None),      # R12
    ("request_cohort_refused", "2026-01", "month", 2, None, None),     # R6, R7
    ("request_cohort_withdrawn", "2026-02", "month", 1, None, None),   # R8
    ("request_cohort_undecided", "2026-03", "month", 1, None, None),   # R9 (26 days: not yet over)
    ("request_cohort_agreed", "2026-03", "year_to_date", 1, None, None),
    ("request_cohort_refused", "2026-03", "year_to_date", 2, None, None),
    ("request_cohort_withdrawn", "2026-03", "year_to_date", 1, None, None),
    ("request_cohort_undecided", "2026-03", "year_to_date", 1, None, None),  # 1+2+1+1 = requests_received 5
    ("request_cohort_decided_within_6_weeks", "2026-01", "month", 2, 3, 66.7),  # R6, R12 met; R7 late
    ("request_cohort_decided_within_6_weeks", "2026-02", "month", 0, 0, None),  # R8 withdrawn: outside
    ("request_cohort_decided_within_6_weeks", "2026-03", "month", 0, 0, None),  # R9 inside its 6 weeks
    # Average weeks to final plan: Jan R2 141 + R3 400 + R4 100 = 641 days / 3 plans / 7 = 30.52.
    ("avg_weeks_to_final_plan", "2026-01", "month", 641, 3, 30.5),
    ("avg_weeks_to_final_plan", "2026-02", "month", 340, 2, 24.3),             # R1 140 + R5 200: 24.29
    ("avg_weeks_to_final_plan", "2026-02", "year_to_date", 981, 5, 28.0),      # 981 / 35 = 28.03
    ("avg_weeks_to_final_plan", "2026-03", "month", 0, 0, None),
    ("avg_weeks_to_final_plan_excl_exceptions", "2026-01", "month", 541, 2, 38.6),  # R2, R3: 38.64
    ("avg_weeks_to_final_plan_excl_exceptions", "2026-02", "month", 140, 1, 20.0),  # R1 exactly 20
    ("avg_weeks_to_final_plan_excl_exceptions", "2026-02", "year_to_date", 681, 3, 32.4),  # 681 / 21 = 32.43
    # Caseload: every case here is CW001's, so median = max = the open assessments (see the
    # multi-caseworker test below).
    ("caseload_per_caseworker_median", "2026-01", "month", 4, 1, 4.0),
    ("caseload_per_caseworker_max", "2026-02", "month", 2, 1, 2.0),
]


@pytest.mark.parametrize("kpi, period, basis, numerator, denominator, value", ASSESSMENT_EXPECTED,
                         ids=[f"{e[0]}-{e[1]}-{e[2]}" for e in ASSESSMENT_EXPECTED])
def test_assessment_kpis(assessments, kpi, period, basis, numerator, denominator, value):
    assert cell(assessments, kpi, period, basis) == (numerator, denominator, value)


REVIEW_CLOCKS = ("annual_review", "review_decision", "amended_plan", "phase_transfer")


def test_every_assessment_kpi_is_checked(catalogue):
    assert {k.id for k in catalogue.kpis if k.clock not in REVIEW_CLOCKS} == {e[0] for e in ASSESSMENT_EXPECTED}


def test_a_plan_issued_exactly_20_weeks_after_the_request_is_within(book, catalogue):
    """Day 140 is the last compliant day (reg 13(2), start day excluded): R1 counts as within."""
    results = evaluate(assessment_frame(), book, AS_OF)
    r1 = results[(results["case_id"] == "R1") & (results["clock"] == "final_plan")].iloc[0]
    assert (r1["stopped"] - r1["started"]).days == 140
    assert r1["status"] == "met"


def test_shape_columns_and_targets(assessments):
    assert list(assessments.columns[:len(K.KPI_COLUMNS)]) == K.KPI_COLUMNS
    # every KPI of the catalogue (35 assessment, 13 review) x 4 months x 2 bases
    assert len(assessments) == 48 * 4 * 2
    # trajectory: 60% from January 2026 (rules/kpi/targets.toml)
    row = assessments[(assessments["kpi"] == "plans_within_20_weeks_excl_exceptions")].iloc[0]
    assert row["target"] == 60.0
    assert assessments[assessments["kpi"] == "plans_issued"]["target"].isna().all()
    ytd = assessments[(assessments["basis"] == "year_to_date") & (assessments["kpi"] == "plans_issued")]
    assert set(ytd["period_start"].dt.date) == {dt.date(2026, 1, 1)}
    april = assessments[assessments["period"] == "2026-04"]
    assert set(april["period_end"].dt.date) == {AS_OF}  # month to date


def test_bands_partition_the_plans_issued(assessments):
    for suffix in ("", "_excl_exceptions"):
        rows = {k: assessments[assessments["kpi"] == k + suffix].reset_index(drop=True)
                for k in ("plans_within_20_weeks", "plans_20_to_52_weeks", "plans_over_52_weeks")}
        total = sum(r["numerator"] for r in rows.values())
        assert (total == rows["plans_within_20_weeks"]["denominator"].astype(int)).all()


def test_year_to_date_sums_the_months(assessments):
    period = assessments[assessments["kpi"].isin(["requests_received", "plans_issued", "requests_agreed"])]
    month = period[period["basis"] == "month"].groupby("kpi")["numerator"].sum()
    last = period[(period["basis"] == "year_to_date") & (period["period"] == "2026-04")].set_index("kpi")["numerator"]
    assert month.sort_index().tolist() == last.sort_index().tolist()


def test_reporting_year_from_april(book, catalogue):
    """With the year starting in April, March's year to date runs from the previous April."""
    settings = Settings(year_start=4, cohort_start=dt.date(2025, 1, 1))
    frame = run_assessments(book, catalogue, months=(K.month_index(2026, 3), K.month_index(2026, 4)),
                            settings=settings)
    assert cell(frame, "plans_issued", "2026-03", "year_to_date")[0] == 5
    assert cell(frame, "plans_issued", "2026-04", "year_to_date")[0] == 0  # a new year
    # received April 2025 to March 2026: all but R3 (December 2024) and R13 (March 2025)
    assert cell(frame, "requests_received", "2026-03", "year_to_date")[0] == 11
    assert K.months_for(as_of=dt.date(2026, 11, 2), year=2025, year_start=4) == list(
        range(K.month_index(2025, 4), K.month_index(2026, 4)))


def test_months_for():
    as_of = dt.date(2026, 4, 15)
    assert K.months_for(as_of=as_of) == [APR]
    assert K.months_for(as_of=as_of, month="2026-02") == [FEB]
    assert K.months_for(as_of=as_of, year=2026) == [JAN, FEB, MAR, APR]  # not past the as-of date
    assert len(K.months_for(as_of=as_of, year=2025)) == 12


@pytest.mark.parametrize("month, year, message", [
    ("2026-05", None, "after the as-of date"),
    (None, 2027, "after the as-of date"),
    ("2026-02", 2026, "not both"),
    ("2026-13", None, "not a month"),
])
def test_months_for_errors(month, year, message):
    with pytest.raises(K.EhcpError, match=message):
        K.months_for(as_of=dt.date(2026, 4, 15), month=month, year=year)


@pytest.mark.parametrize("numerator, denominator, expected", [
    (2, 3, 66.7), (1, 3, 33.3), (1, 8, 12.5), (1, 16, 6.3),  # 6.25 rounds half up, not to even
    (0, 5, 0.0), (5, 5, 100.0), (29895, 49519, 60.4), (31313, 53327, 58.7),  # DfE 2019 check
])
def test_percent_to_one_decimal(numerator, denominator, expected):
    assert float(K.percent(numerator, denominator)) == expected


def test_percent_blank_when_nothing_to_divide_by():
    assert pd.isna(K.percent(0, 0))


def test_exception_share_warning(book, catalogue):
    """2 of the 5 plans issued have an exception (40%): above 25%, once there are enough plans."""
    quiet = run_assessments(book, catalogue)
    assert quiet.attrs["warnings"] == []  # fewer than 20 plans: no warning
    noisy = run_assessments(book, catalogue, settings=Settings(cohort_start=dt.date(2025, 1, 1),
                                                               exception_share_min_plans=5))
    [warning] = noisy.attrs["warnings"]
    assert "2 of 5 plans issued Jan 2026 to Apr 2026 (40.0%)" in warning
    assert "6.6%" in warning
    relaxed = run_assessments(book, catalogue, settings=Settings(
        cohort_start=dt.date(2025, 1, 1), exception_share_min_plans=5, exception_share_warning=40.0))
    assert relaxed.attrs["warnings"] == []


def test_snapshot_kpis_need_snapshots(book, catalogue):
    usable, _ = K._usable(catalogue, book)
    with pytest.raises(ValueError, match="snapshot"):
        K.kpi_table(evaluate(assessment_frame(), book, AS_OF), usable, [JAN], as_of=AS_OF)


# ------------------------------------------------------------------ review KPIs (hand-built results)

REVIEW_EXPECTED = [
    ("reviews_due", "2026-01", "month", 2, None, None),                 # V1, V2
    ("reviews_due", "2026-02", "month", 1, None, None),                 # V3 (V4 ceased: not due)
    ("reviews_due", "2026-03", "year_to_date", 4, None, None),          # + V5
    ("reviews_on_time", "2026-01", "month", 1, 2, 50.0),
    ("reviews_on_time", "2026-02", "month", 0, 1, 0.0),
    ("reviews_on_time", "2026-03", "month", 1, 1, 100.0),               # V5 on its due date
    ("reviews_on_time", "2026-03", "year_to_date", 2, 4, 50.0),
    ("review_decisions_within_4_weeks", "2026-01", "month", 1, 2, 50.0),
    ("review_decisions_within_4_weeks", "2026-02", "month", 1, 1, 100.0),  # exception included
    ("review_decisions_within_4_weeks", "2026-03", "year_to_date", 2, 3, 66.7),  # D4 open: out
    ("amendments_within_8_weeks", "2026-02", "month", 1, 2, 50.0),
    ("amendments_within_8_weeks", "2026-01", "month", 0, 0, None),
    ("phase_transfers_by_deadline", "2026-02", "month", 1, 2, 50.0),    # P1 met, P2 open past 14 Feb
    ("phase_transfers_by_deadline", "2026-03", "month", 1, 2, 50.0),    # P3 met, P4 late
    ("phase_transfers_by_deadline", "2026-03", "year_to_date", 2, 4, 50.0),
    ("phase_transfers_by_deadline_school", "2026-02", "month", 1, 2, 50.0),
    ("phase_transfers_by_deadline_school", "2026-03", "month", 0, 0, None),
    ("phase_transfers_by_deadline_post16", "2026-03", "month", 1, 1, 100.0),
    ("phase_transfers_by_deadline_post16_move", "2026-03", "month", 0, 1, 0.0),
    ("open_reviews_overdue", "2026-01", "month", 1, None, None),        # V2 at 31 January
    ("open_reviews_overdue", "2026-02", "month", 1, None, None),        # V3
    ("open_reviews_overdue", "2026-03", "year_to_date", 1, None, None),
    # Review outcomes of the reviews due: V1 maintained (Jan), V2 amended (Jan, concluded in Feb),
    # V3 no outcome (Feb), V5 ceased (Mar); V4's plan ceased before it was due (not due).
    ("review_outcome_maintained", "2026-01", "month", 1, None, None),
    ("review_outcome_amended", "2026-01", "month", 1, None, None),
    ("review_outcome_none", "2026-01", "month", 0, None, None),
    ("review_outcome_none", "2026-02", "month", 1, None, None),
    ("review_outcome_ceased", "2026-03", "month", 1, None, None),
    ("review_outcome_maintained", "2026-03", "year_to_date", 1, None, None),
    ("review_outcome_amended", "2026-03", "year_to_date", 1, None, None),
    ("review_outcome_ceased", "2026-03", "year_to_date", 1, None, None),
    ("review_outcome_none", "2026-03", "year_to_date", 1, None, None),  # 1+1+1+1 = reviews_due 4
]

REVIEW_KPIS = sorted({e[0] for e in REVIEW_EXPECTED})


@pytest.fixture(scope="module")
def reviews(catalogue):
    months = [JAN, FEB, MAR]
    return K.kpi_table(result_frame(REVIEW_RESULTS), catalogue.only(REVIEW_KPIS), months, as_of=REVIEW_AS_OF,
                       snapshots=result_frame(REVIEW_SNAPSHOTS))


@pytest.mark.parametrize("kpi, period, basis, numerator, denominator, value", REVIEW_EXPECTED,
                         ids=[f"{e[0]}-{e[1]}-{e[2]}" for e in REVIEW_EXPECTED])
def test_review_kpis(reviews, kpi, period, basis, numerator, denominator, value):
    assert cell(reviews, kpi, period, basis) == (numerator, denominator, value)


def test_every_review_kpi_is_checked(catalogue, book):
    book_clocks = {c.id for c in book.clocks}
    assert {k.id for k in catalogue.kpis if k.clock not in book_clocks} <= set(REVIEW_KPIS)
    assert {k.id for k in catalogue.kpis if k.clock in REVIEW_CLOCKS} == set(REVIEW_KPIS)


def test_review_target(reviews):
    assert cell(reviews, "review_decisions_within_4_weeks", "2026-01")[2] == 50.0
    row = reviews[reviews["kpi"] == "review_decisions_within_4_weeks"].iloc[0]
    assert row["target"] == 60.0


def test_engine_results_carry_transfer_type_and_decision(book):
    """The per-type phase-transfer KPIs read ``transfer_type`` from the clock results (they were
    always 0 of 0 when the engine did not carry it); review outcomes read ``decision``."""
    from ehcp_tracker.demo.synthetic import REVIEW_COLUMNS

    row = {c: None for c in REVIEW_COLUMNS}
    row.update(review_id="T1", person_id="P1", plan_issued=dt.date(2025, 3, 1), ncy="6",
               review_meeting=dt.date(2026, 1, 10), decision_notified=dt.date(2026, 1, 20), decision="maintain")
    results = evaluate(pd.DataFrame([row], columns=REVIEW_COLUMNS), book, dt.date(2026, 3, 31), case="review")
    transfer = results[results["clock"] == "phase_transfer"]
    assert transfer["transfer_type"].tolist() == ["school"]
    assert set(results["decision"]) == {"maintain"}
    catalogue = load_catalogue(book=book).only(["phase_transfers_by_deadline_school", "review_outcome_maintained"])
    out = K.kpi_table(results, catalogue, [FEB], as_of=dt.date(2026, 3, 31))
    assert cell(out, "phase_transfers_by_deadline_school", "2026-02")[1] == 1


# ------------------------------------------------------------------ the tracker

def test_tracker_table(assessments):
    table = K.tracker_table(assessments)
    assert list(table.columns) == K.TRACKER_COLUMNS
    assert table["month"].tolist() == ["2026-01", "2026-02", "2026-03", "2026-04", "total"]
    assert table["requests_agreed"].tolist() == [0, 1, 0, 0, 1]
    assert table["plans_issued"].tolist() == [3, 2, 0, 0, 5]
    assert table["issued_within_20_weeks"].tolist() == [1, 1, 0, 0, 2]
    assert table["pct_within_20_weeks"].tolist() == [33.3, 50.0, None, None, 40.0]
    assert table["plans_issued_cumulative"].tolist() == [3, 5, 5, 5, 5]
