"""Golden snapshot of a year of KPIs on the committed sample caseload (sample_data/): a rule,
catalogue or engine change shows up as a reviewable diff of figures. Regenerate (and review the
diff) with ``EHCP_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_kpi_snapshot.py``.

The caseload goes through the real path: the sample extracts are imported into a fresh SQLite
database and ``compute_kpis`` runs over it for calendar 2026, as of the demo's date.
"""

from __future__ import annotations

import io
import os

import pandas as pd
import pytest

from .conftest import ROOT
from ehcp_tracker.store import db
from ehcp_tracker.measures import kpi as K
from ehcp_tracker.demo.demo import SAMPLE_AS_OF as AS_OF
from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.measures.catalogue import load_catalogue
from ehcp_tracker.output import to_csv

SNAPSHOT = ROOT / "tests" / "snapshots" / "kpi_sample_2026.csv"


@pytest.fixture(scope="module")
def sample_kpis(tmp_path_factory, book):
    engine = db.connect(f"sqlite:///{tmp_path_factory.mktemp('kpi') / 'sample.db'}")
    db.init_db(engine)
    for name in ("assessments.csv", "reviews.csv"):
        import_extract(engine, ROOT / "sample_data" / name, book, AS_OF)
    frame = K.compute_kpis(engine, book, year=2026, as_of=AS_OF)
    engine.dispose()
    return frame[K.KPI_COLUMNS + ["period_end"]].sort_values(["kpi", "basis", "period"], kind="stable")


def test_kpi_snapshot(sample_kpis):
    text = to_csv(sample_kpis)
    if os.environ.get("EHCP_UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8")


def test_snapshot_invariants(sample_kpis):
    frame = pd.read_csv(io.StringIO(to_csv(sample_kpis)), dtype={"period": str})
    ratio_ids = {k.id for k in load_catalogue().kpis if k.type == "ratio"}
    ratios = frame[frame["kpi"].isin(ratio_ids)]
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
    # the request cohort's outcomes, the review outcomes and the phase-transfer types are partitions
    cohort = ["request_cohort_agreed", "request_cohort_refused", "request_cohort_withdrawn", "request_cohort_undecided"]
    assert (snap[cohort].sum(axis=1) == snap["requests_received"]).all()
    outcomes = ["review_outcome_maintained", "review_outcome_amended", "review_outcome_ceased", "review_outcome_none"]
    assert (snap[outcomes].sum(axis=1) == snap["reviews_due"]).all()
    den = frame[frame["basis"] == "month"].pivot(index="period", columns="kpi", values="denominator")
    types = ["phase_transfers_by_deadline_school", "phase_transfers_by_deadline_post16",
             "phase_transfers_by_deadline_post16_move"]
    assert (den[types].sum(axis=1) == den["phase_transfers_by_deadline"]).all()
    assert den["phase_transfers_by_deadline_school"].sum() > 0  # issue 16: they were always 0 of 0
