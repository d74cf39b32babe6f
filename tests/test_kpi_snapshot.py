"""Golden snapshot of a year of KPIs on a synthetic caseload: a rule, catalogue or engine change
shows up as a reviewable diff of figures. Regenerate (and review the diff) with
``EHCP_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_kpi_snapshot.py``.

Built from ``synthetic.generate_assessments`` (the committed sample_data/ is generated on another
branch; once it lands, this can switch to it). The review KPIs join when the review clocks do.
"""

from __future__ import annotations

import datetime as dt
import io
import os

import pandas as pd

from .conftest import ROOT
from ehcp_tracker import kpi as K
from ehcp_tracker.engine import evaluate
from ehcp_tracker.kpi_catalogue import load_catalogue
from ehcp_tracker.output import to_csv
from ehcp_tracker.synthetic import generate_assessments

SNAPSHOT = ROOT / "tests" / "snapshots" / "kpi_synthetic_2026.csv"
END, AS_OF, SEED = dt.date(2026, 10, 30), dt.date(2026, 11, 2), 20261030


def year_of_kpis(book) -> pd.DataFrame:
    cases = generate_assessments(n=400, seed=SEED, end=END)
    usable, _ = K._usable(load_catalogue(book=book), book)
    months = K.months_for(as_of=AS_OF, year=2026)
    snapshots = K.snapshot_results(lambda day: evaluate(cases, book, day, clocks=["final_plan"]), months, AS_OF)
    frame = K.kpi_table(evaluate(cases, book, AS_OF), usable, months, as_of=AS_OF, snapshots=snapshots)
    return frame[K.KPI_COLUMNS + ["period_end"]].sort_values(["kpi", "basis", "period"], kind="stable")


def test_kpi_snapshot(book):
    text = to_csv(year_of_kpis(book))
    if os.environ.get("EHCP_UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8")


def test_snapshot_invariants(book):
    frame = pd.read_csv(io.StringIO(to_csv(year_of_kpis(book))), dtype={"period": str})
    ratios = frame[frame["denominator"].notna()]
    assert (ratios["numerator"] <= ratios["denominator"]).all()
    december = frame[frame["period"] == frame["period"].max()]
    month = frame[frame["basis"] == "month"].groupby("kpi")["numerator"].sum()
    for kpi in ("requests_received", "requests_agreed", "plans_issued"):
        ytd = december[(december["kpi"] == kpi) & (december["basis"] == "year_to_date")]["numerator"].item()
        assert ytd == month[kpi]
    snap = frame[frame["basis"] == "month"].pivot(index="period", columns="kpi", values="numerator")
    bands = ["open_assessments_0_6_weeks", "open_assessments_6_20_weeks", "open_assessments_20_52_weeks",
             "open_assessments_52_plus_weeks"]
    assert (snap[bands].sum(axis=1) == snap["open_assessments"]).all()
    assert (snap["open_assessments_20_52_weeks"] + snap["open_assessments_52_plus_weeks"]
            == snap["open_assessments_over_20_weeks"]).all()
