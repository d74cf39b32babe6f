"""KPIs counted a slice of cases at a time equal the KPIs of the whole caseload at once (issue 27).

``compute_kpis`` evaluates, snapshots and counts one part of the caseload at a time
(``clocks/slices.py``, ``measures.kpi.KpiTally``) so a national caseload's results never sit in
memory together. Parts of a few dozen cases on a synthetic caseload must give every figure, flag
and warning of the one-part run, on every basis; the parts themselves must cover every case once
and never split a child's review rows (the engine's phase transfers are the child's).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ehcp_tracker.clocks.slices import case_slices
from ehcp_tracker.listings import Filters
from ehcp_tracker.store import caseload as stored_caseload
from ehcp_tracker.measures import kpi as K
from ehcp_tracker.measures.catalogue import Catalogue, load_catalogue

from .test_history import AS_OF, synthetic_db  # noqa: F401  (the fixture: 1,500 requests, 1,000 reviews)

WHOLE = 10**9


@pytest.fixture(scope="module")
def caseload(synthetic_db):  # noqa: F811
    return K.load_caseload(synthetic_db)


@pytest.fixture(scope="module")
def loud_catalogue(book):
    """The shipped catalogue with the exception-share warning at 0%: any plan with an exception
    warns, and the warning's counts show whether the slices' plans add up."""
    catalogue = load_catalogue(book=book)
    settings = replace(catalogue.settings, exception_share_min_plans=1, exception_share_warning=0.0)
    return Catalogue(catalogue.kpis, settings, catalogue.targets, catalogue.target_sources, catalogue.files)


@pytest.mark.parametrize("size", [1, 7, 250, 999, 1000, 1500, WHOLE])
def test_every_case_is_in_one_part_and_no_child_is_split(caseload, size):
    parts = list(case_slices(caseload, size))
    for case, cases in caseload.items():
        key = "request_id" if case == "assessment" else "review_id"
        mine = [p[case] for p in parts if case in p]
        ids = pd.concat([m[key] for m in mine])
        assert sorted(ids) == sorted(cases[key]) and ids.is_unique
        if case == "review":
            child = [set(m["person_id"].fillna("")) for m in mine]
            assert sum(len(c) for c in child) == len(set().union(*child))  # no child in two parts
        biggest = cases["person_id"].value_counts().max() if case == "review" else 1
        assert all(len(m) <= size + biggest - 1 for m in mine)
    if size >= max(len(c) for c in caseload.values()):
        assert parts == [caseload]  # nothing to cut: the caseload itself, no copy


def test_a_blank_person_is_one_child():
    reviews = pd.DataFrame({"review_id": ["V1", "V2", "V3", "V4"], "person_id": [None, "P1", np.nan, "P2"]})
    parts = list(case_slices({"review": reviews}, 1))
    assert [list(p["review"]["review_id"]) for p in parts] == [["V1", "V3"], ["V2"], ["V4"]]


def test_a_slice_holds_a_case():
    with pytest.raises(ValueError):
        list(case_slices({"assessment": pd.DataFrame({"request_id": ["R1"]})}, 0))


@pytest.fixture(scope="module")
def whole_year(synthetic_db, book, caseload, loud_catalogue):  # noqa: F811
    whole = K.compute_kpis(synthetic_db, book, loud_catalogue, year=2026, as_of=AS_OF, bases=K.ALL_BASES,
                           caseload=caseload, slice_size=WHOLE)
    assert whole["numerator"].sum() > 0 and whole.attrs["warnings"]  # figures and a warning to compare
    assert (whole.loc[whole["kpi"].str.startswith("caseload_per_caseworker"), "value"].notna()).any()
    return whole


@pytest.mark.parametrize("size", [37, 700])
def test_a_year_of_kpis_counted_in_slices_equals_the_whole(synthetic_db, book, caseload, loud_catalogue,  # noqa: F811
                                                            whole_year, size):
    sliced = K.compute_kpis(synthetic_db, book, loud_catalogue, year=2026, as_of=AS_OF, bases=K.ALL_BASES,
                            caseload=caseload, slice_size=size)
    pd.testing.assert_frame_equal(sliced, whole_year)
    assert sliced.attrs == whole_year.attrs


def test_the_pack_trends_and_a_team_counted_in_slices_equal_the_whole(synthetic_db, book):  # noqa: F811
    from ehcp_tracker.report.data import months_back

    team = K.load_caseload(synthetic_db)["assessment"]["team"].dropna().iloc[0]
    for filters in (Filters(team=team), Filters(kind="reviews")):
        months = months_back("2026-10", 12)
        whole = K.compute_kpis(synthetic_db, book, months=months, as_of=AS_OF, filters=filters, slice_size=WHOLE)
        sliced = K.compute_kpis(synthetic_db, book, months=months, as_of=AS_OF, filters=filters, slice_size=150)
        pd.testing.assert_frame_equal(sliced, whole, obj=str(filters))


def test_the_board_pack_in_slices_is_the_same_pack(synthetic_db, book, tmp_path, monkeypatch):  # noqa: F811
    """Every section of the pack (trends, month, tracker, ageing, backlog, queries) from slices of
    150 cases: the same HTML byte for byte, the same XLSX cell for cell."""
    import openpyxl

    from ehcp_tracker.clocks import slices
    from ehcp_tracker.report import write_pack

    def pack(folder):
        folder.mkdir()
        html = write_pack(synthetic_db, book, "2026-10", AS_OF, folder / "pack.html", "html").read_bytes()
        workbook = openpyxl.load_workbook(write_pack(synthetic_db, book, "2026-10", AS_OF, folder / "pack.xlsx", "xlsx"))
        cells = {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in workbook.worksheets}
        return html, cells

    whole = pack(tmp_path / "whole")
    monkeypatch.setattr(slices, "SLICE_CASES", 150)
    assert len(list(slices.case_slices(K.load_caseload(synthetic_db)))) > 10
    sliced = pack(tmp_path / "sliced")
    assert sliced[0] == whole[0]
    assert sliced[1] == whole[1]


def test_the_running_clocks_in_slices_are_the_listings(synthetic_db, book, caseload):  # noqa: F811
    from ehcp_tracker.clocks.engine import OPEN_STATUSES
    from ehcp_tracker.listings import clock_results
    from ehcp_tracker.report.data import running_clocks

    every = clock_results(synthetic_db, book, AS_OF, Filters(), caseload=caseload)
    running = every[every["status"].isin(OPEN_STATUSES)].reset_index(drop=True)
    assert len(running) and len(running) < len(every)
    pd.testing.assert_frame_equal(running_clocks(synthetic_db, book, AS_OF, Filters(), caseload, 97), running)


@pytest.mark.parametrize("seen", ["first run", "a later run"])
def test_the_alerts_from_slices_are_the_alerts_of_the_whole(synthetic_db, book, monkeypatch, seen):  # noqa: F811
    """``alerts`` reads, evaluates and narrows a slice of the caseload at a time: the same rows
    reach ``events.detect`` in the same order, so the same alerts come out."""
    from ehcp_tracker.alerts import events
    from ehcp_tracker.alerts.run import _news
    from ehcp_tracker.ingest import refresh
    from ehcp_tracker.listings import clock_results, clock_titles

    every = clock_results(synthetic_db, book, AS_OF, Filters())
    late = every[every["status"] == "late"]
    seen = (dict(since=None, changed={}, alerted_overdue=set()) if seen == "first run" else
            dict(since=events.Since(AS_OF - dt.timedelta(days=40), None),
                 changed={(k, c): {"closed_date"} for k, c in zip(late["kind"][::3], late["case_id"][::3])},
                 alerted_overdue={(r.kind, r.case_id, r.clock, r.due.date()) for r in late[1::5].itertuples()}))
    whole = events.news(every, **seen)
    monkeypatch.setattr(stored_caseload, "SLICE_CASES", 150)
    sliced = _news(synthetic_db, book, AS_OF, **seen)
    pd.testing.assert_frame_equal(sliced, whole.reset_index(drop=True))
    assert 0 < len(whole) < len(every)
    assert (whole["status"] == "late").any() == (seen["since"] is not None)  # late news only on a later run

    def alerts(results):
        return events.detect(results, clock_titles(book), {c.id: c.stop for c in book.clocks}, AS_OF,
                             moves=pd.DataFrame(columns=["run_id", "kind", "case_id", "clock", "old_due", "new_due", "why"]),
                             escalate_after=14, **seen)
    assert alerts(sliced) == alerts(every)


def test_the_memory_of_the_kpis_is_the_slices_not_the_caseloads(synthetic_db, book, caseload):  # noqa: F811
    """The peak of what ``compute_kpis`` allocates for three months (numpy and Python, as
    tracemalloc sees them) over 2,500 cases in slices of 250 is well under the peak of counting them in one part: it fails
    if the results or the month-end snapshots of the whole caseload come back into memory at once."""
    import gc
    import tracemalloc

    def peak(size):
        gc.collect()
        tracemalloc.start()
        try:
            K.compute_kpis(synthetic_db, book, months=["2026-08", "2026-09", "2026-10"], as_of=AS_OF,
                           caseload=caseload, slice_size=size)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    whole, sliced = peak(WHOLE), peak(250)
    assert sliced < 0.5 * whole, f"sliced peak {sliced / 2**20:.1f} MiB against {whole / 2**20:.1f} MiB whole"
