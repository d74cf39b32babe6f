"""Issue 16: polarity as data, the time bases, the request cohort's undecided requests, caseload
per caseworker, and review history honesty, each on a hand-built caseload with the answer worked
out beside it (cases in ``kpi_cases.py``)."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest

from .conftest import ROOT
from ehcp_tracker.clocks.engine import evaluate
from ehcp_tracker.measures import kpi as K
from ehcp_tracker.measures.catalogue import BETTER, KpiCatalogueError, load_catalogue
from .kpi_cases import (AS_OF, REVIEW_AS_OF, REVIEW_SNAPSHOTS, _case, assessment_frame, result,
                        result_frame)
from .test_kpi import cell

JAN, FEB, MAR, APR = (K.month_index(2026, m) for m in (1, 2, 3, 4))

# Which way is better, KPI by KPI: a second, independent statement of the catalogue's polarity, so
# a flipped `better` (the inverted lateness bands of issue 16) fails here.
LOWER = {"plans_20_to_52_weeks", "plans_20_to_52_weeks_excl_exceptions", "plans_over_52_weeks",
         "plans_over_52_weeks_excl_exceptions", "open_assessments_20_52_weeks", "open_assessments_52_plus_weeks",
         "open_assessments_over_20_weeks", "open_reviews_overdue", "avg_weeks_to_final_plan",
         "avg_weeks_to_final_plan_excl_exceptions", "review_outcome_none", "caseload_per_caseworker_max"}
NEITHER = {"requests_received", "requests_agreed", "plans_issued", "open_assessments", "open_assessments_0_6_weeks",
           "open_assessments_6_20_weeks", "reviews_due", "request_cohort_agreed", "request_cohort_refused",
           "request_cohort_withdrawn", "request_cohort_undecided", "review_outcome_maintained",
           "review_outcome_amended", "review_outcome_ceased", "caseload_per_caseworker_median"}


@pytest.mark.parametrize("kpi", [k.id for k in load_catalogue().kpis])
def test_every_kpi_declares_which_way_is_better(kpi):
    found = load_catalogue().kpi(kpi)
    expected = "lower" if kpi in LOWER else "neither" if kpi in NEITHER else "higher"
    assert found.better == expected
    assert found.direction == {"higher": 1, "lower": -1, "neither": 0}[expected]


def test_rules_check_refuses_a_kpi_without_polarity(tmp_path, run):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    path = rules / "kpi" / "catalogue.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('better = "lower"\n', "", 1).replace('better = "higher"', 'better = "up"', 1),
                    encoding="utf-8")
    with pytest.raises(KpiCatalogueError) as caught:
        load_catalogue(rules / "kpi")
    problems = "\n".join(caught.value.problems)
    assert ".better" in problems and "missing: every KPI says which way is better" in problems
    assert "must be one of higher, lower, neither, got 'up'" in problems
    result = run("--rules", rules, "rules", "check")
    assert result.exit_code == 1 and "which way is better" in result.output and "Traceback" not in result.output
    assert BETTER == ("higher", "lower", "neither")


# ------------------------------------------------------------------ time bases

@pytest.fixture(scope="module")
def every_basis(book):
    cases = assessment_frame()
    usable, _ = K._usable(load_catalogue(book=book), book)
    months = [JAN, FEB, MAR, APR]
    snapshots = K.snapshot_results(lambda day: evaluate(cases, book, day, clocks=["final_plan"]),
                                   K.snapshot_months(months, K.ALL_BASES), AS_OF)
    return K.kpi_table(evaluate(cases, book, AS_OF), usable, months, as_of=AS_OF, snapshots=snapshots,
                       bases=K.ALL_BASES)


BASIS_EXPECTED = [
    # Rolling 12 months to April 2026 (May 2025 - April 2026): every request but R3 (Dec 2024) and
    # R13 (Mar 2025).
    ("requests_received", "2026-04", "rolling_12_months", 11, None, None),
    # ... of which decided within 6 weeks: R1, R4, R5, R6, R10, R11, R12 met; R2 (day 49), R7 late;
    # R8 withdrawn and R9 inside its 6 weeks are outside.
    ("request_cohort_decided_within_6_weeks", "2026-04", "rolling_12_months", 7, 9, 77.8),
    # The same periods a year earlier: March 2025 holds R13; January-April 2025 too; May 2024 -
    # April 2025 holds R3 and R13.
    ("requests_received", "2026-03", "month_last_year", 1, None, None),
    ("requests_received", "2026-04", "year_to_date_last_year", 1, None, None),
    ("requests_received", "2026-04", "rolling_12_months_last_year", 2, None, None),
    # Plans issued Mar 2025 - Feb 2026: R1-R5 (none in 2025), R1 and R4 within 20 weeks.
    ("plans_within_20_weeks", "2026-02", "rolling_12_months", 2, 5, 40.0),
    ("plans_within_20_weeks", "2026-02", "month_last_year", 0, 0, None),
    ("avg_weeks_to_final_plan", "2026-02", "rolling_12_months", 981, 5, 28.0),
    # A snapshot on a last-year basis is the snapshot at that month end a year earlier: on 31
    # January 2025 only R3 (received 1 Dec 2024) was open; R13 arrived in March.
    ("open_assessments", "2026-01", "month_last_year", 1, None, None),
    ("open_assessments", "2026-01", "rolling_12_months", 4, None, None),    # as on the month basis
    ("open_assessments", "2026-03", "rolling_12_months_last_year", 2, None, None),  # R3, R13 on 31 Mar 2025
]


@pytest.mark.parametrize("kpi, period, basis, numerator, denominator, value", BASIS_EXPECTED,
                         ids=[f"{e[0]}-{e[1]}-{e[2]}" for e in BASIS_EXPECTED])
def test_time_bases(every_basis, kpi, period, basis, numerator, denominator, value):
    assert cell(every_basis, kpi, period, basis) == (numerator, denominator, value)


def test_every_kpi_comes_on_every_basis_with_its_dates(every_basis):
    assert set(every_basis["basis"]) == set(K.ALL_BASES)
    assert len(every_basis) == len(set(every_basis["kpi"])) * 4 * len(K.ALL_BASES)
    row = every_basis[(every_basis["kpi"] == "requests_received") & (every_basis["period"] == "2026-04")
                      & (every_basis["basis"] == "rolling_12_months_last_year")].iloc[0]
    assert (row["period_start"].date(), row["period_end"].date()) == (dt.date(2024, 5, 1), dt.date(2025, 4, 30))
    ytd = every_basis[(every_basis["kpi"] == "requests_received") & (every_basis["period"] == "2026-04")
                      & (every_basis["basis"] == "year_to_date")].iloc[0]
    assert (ytd["period_start"].date(), ytd["period_end"].date()) == (dt.date(2026, 1, 1), AS_OF)


def test_an_unknown_basis_is_a_user_error(book):
    from ehcp_tracker.errors import EhcpError

    with pytest.raises(EhcpError, match="no basis 'fortnight'"):
        K.kpi_table(K.empty_result(), load_catalogue().only(["plans_issued"]), [JAN], as_of=AS_OF,
                    bases=("fortnight",))


def test_kpi_cli_basis_option(run, tmp_path):
    path = tmp_path / "assessments.csv"
    assessment_frame().to_csv(path, index=False)
    assert run("--as-of", AS_OF.isoformat(), "import", path).exit_code == 0
    result = run("--as-of", AS_OF.isoformat(), "kpi", "--month", "2026-04", "--kpi", "requests_received",
                 "--basis", "rolling_12_months", "--basis", "year_to_date_last_year", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "requests_received,2026-04,rolling_12_months,11," in result.stdout
    assert "requests_received,2026-04,year_to_date_last_year,1," in result.stdout
    everything = run("--as-of", AS_OF.isoformat(), "kpi", "--month", "2026-04", "--kpi", "requests_received",
                     "--basis", "all", "--format", "csv")
    assert everything.stdout.count("requests_received,2026-04,") == len(K.ALL_BASES)


# ------------------------------------------------------------------ request cohort: undecided

def test_an_undecided_request_older_than_6_weeks_counts_as_over(book):
    """U1 received 5 Jan 2026, still undecided on 15 April (100 days): over 6 weeks, in the
    denominator and not the numerator; U2 received 1 April, undecided, inside its 6 weeks: out."""
    cases = pd.DataFrame([_case("U1", "2026-01-05"), _case("U2", "2026-04-01"),
                          _case("U3", "2026-01-20", decision=("assess", 20))])
    catalogue = load_catalogue(book=book).only(["request_cohort_decided_within_6_weeks", "request_cohort_undecided"])
    out = K.kpi_table(evaluate(cases, book, AS_OF), catalogue, [JAN, APR], as_of=AS_OF)
    assert cell(out, "request_cohort_decided_within_6_weeks", "2026-01") == (1, 2, 50.0)  # U3 met, U1 over
    assert cell(out, "request_cohort_decided_within_6_weeks", "2026-04") == (0, 0, None)
    assert cell(out, "request_cohort_undecided", "2026-01")[0] == 1
    assert cell(out, "request_cohort_undecided", "2026-04")[0] == 1


# ------------------------------------------------------------------ caseload per caseworker

def test_caseload_per_caseworker_median_and_max():
    """At 31 January: CW1 holds 3 open assessments, CW2 1, CW3 2 (median 2, max 3); one open case
    has no caseworker (left out); a closed one does not count. At 28 February CW1 holds 2, CW2 2:
    median 2, max 2."""
    rows = []
    for i, who in enumerate(["CW1", "CW1", "CW1", "CW2", "CW3", "CW3", None]):
        rows.append(result(f"A{i}", "final_plan", "2025-12-01", "2026-04-20", None, "open", "",
                           snapshot="2026-01-31", caseworker=who))
    rows.append(result("A9", "final_plan", "2025-12-01", "2026-04-20", "2026-01-10", "met", "event",
                       snapshot="2026-01-31", caseworker="CW2"))
    for i, who in enumerate(["CW1", "CW1", "CW2", "CW2"]):
        rows.append(result(f"B{i}", "final_plan", "2025-12-01", "2026-04-20", None, "open", "",
                           snapshot="2026-02-28", caseworker=who))
    snaps = result_frame(rows)
    catalogue = load_catalogue().only(["caseload_per_caseworker_median", "caseload_per_caseworker_max"])
    out = K.kpi_table(K.empty_result(), catalogue, [JAN, FEB], as_of=dt.date(2026, 3, 1), snapshots=snaps)
    assert cell(out, "caseload_per_caseworker_median", "2026-01") == (6, 3, 2.0)
    assert cell(out, "caseload_per_caseworker_max", "2026-01") == (6, 3, 3.0)
    assert cell(out, "caseload_per_caseworker_median", "2026-02") == (4, 2, 2.0)
    assert cell(out, "caseload_per_caseworker_max", "2026-02") == (4, 2, 2.0)


# ------------------------------------------------------------------ review history honesty

def test_a_review_row_does_not_exist_before_its_cycle_began():
    """R-NEW's cycle began with the review concluded on 10 March 2026 (last_review): at 31 January
    it did not exist (the cycle current then is another row, or not in the extract), so it is left
    out, never judged from its older plan_issued anchor. R-OLD (anchor 1 June 2025) is kept."""
    reviews = pd.DataFrame({"review_id": ["R-NEW", "R-OLD"], "plan_issued": ["2024-06-01", "2025-06-01"],
                            "last_review": ["2026-03-10", None]})
    stood = K.as_they_stood({"review": reviews, "assessment": pd.DataFrame({"request_id": ["A"]})},
                            dt.date(2026, 1, 31))
    assert stood["review"]["review_id"].tolist() == ["R-OLD"]
    assert len(stood["assessment"]) == 1
    assert K.as_they_stood({"review": reviews}, dt.date(2026, 3, 10))["review"]["review_id"].tolist() == [
        "R-NEW", "R-OLD"]


def test_review_snapshots_before_the_first_import_are_partial():
    catalogue = load_catalogue().only(["open_reviews_overdue", "reviews_due"])
    out = K.kpi_table(result_frame(REVIEW_SNAPSHOTS), catalogue, [JAN, FEB, MAR], as_of=REVIEW_AS_OF,
                      snapshots=result_frame(REVIEW_SNAPSHOTS), history_from=dt.date(2026, 2, 15))
    snap = out[(out["kpi"] == "open_reviews_overdue") & (out["basis"] == "month")]
    assert snap["complete"].tolist() == ["no", "yes", "yes"]  # 31 Jan is before the first import
    assert set(out[out["kpi"] == "reviews_due"]["complete"]) == {"yes"}
    whole = K.kpi_table(result_frame(REVIEW_SNAPSHOTS), catalogue, [JAN], as_of=REVIEW_AS_OF,
                        snapshots=result_frame(REVIEW_SNAPSHOTS))
    assert set(whole["complete"]) == {"yes"}


def test_history_honesty_through_the_database(engine, book, tmp_path):
    """Imported on 31 March 2026: R1's plan was issued 1 Feb 2025, its review concluded 20 Feb 2026
    (the row now holds that cycle). At 31 January 2026 the old anchor would make it overdue (due
    31 Jan 2026 ... not concluded by then) - but the row's cycle began on 20 February, so it is not
    in January's figure, and January is marked partial."""
    from ehcp_tracker.demo.synthetic import REVIEW_COLUMNS
    from ehcp_tracker.ingest.importer import import_extract

    row = {c: None for c in REVIEW_COLUMNS}
    row.update(review_id="RV1", person_id="P1", plan_issued="2025-01-15", last_review="2026-02-20", ncy="3",
               looked_after="no", youth_justice="no", camhs="no", placed_out_of_area="no")
    file = tmp_path / "reviews.csv"
    pd.DataFrame([row], columns=REVIEW_COLUMNS).to_csv(file, index=False)
    import_extract(engine, file, book, dt.date(2026, 3, 31))
    out = K.compute_kpis(engine, book, load_catalogue(book=book).only(["open_reviews_overdue"]), year=2026,
                         as_of=dt.date(2026, 3, 31))
    month = out[out["basis"] == "month"].set_index("period")
    assert month.loc["2026-01", "numerator"] == 0
    assert month.loc["2026-01", "complete"] == "no" and month.loc["2026-03", "complete"] == "yes"
