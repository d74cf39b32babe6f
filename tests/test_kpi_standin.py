"""The interim KPI stand-in (``ehcp_tracker/kpi_standin.py``): delete this file with it when the KPI
library (issue 4) is merged."""

from ehcp_tracker import kpi_standin
from ehcp_tracker.listings import Filters, clock_results

from .test_report import MONTH, SAMPLE_AS_OF, sample_db  # noqa: F401 - the shared sample database fixture


def test_standin_counts_plans_from_the_final_plan_clock(sample_db, book):  # noqa: F811
    """The stand-in's 20-week figure, recounted by hand from the clock results."""
    engine = sample_db[1]
    frame = kpi_standin.compute_kpis(engine, book, kpi_standin.load_catalogue(), month=MONTH, as_of=SAMPLE_AS_OF)
    row = frame[(frame["kpi"] == "plans_within_20_weeks") & (frame["basis"] == "month")].iloc[0]
    results = clock_results(engine, book, SAMPLE_AS_OF, Filters(clock="final_plan"))
    issued = results[(results["stop_reason"] == "event") & (results["stopped"].dt.strftime("%Y-%m") == MONTH)]
    assert (row["numerator"], row["denominator"]) == ((issued["status"] == "met").sum(), len(issued))
    assert row["value"] == round(100 * row["numerator"] / row["denominator"], 1)
