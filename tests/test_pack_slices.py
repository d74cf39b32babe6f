"""The KPIs and the board pack read from the database a slice at a time equal the one-caseload path (issue 27).

``compute_kpis`` without a caseload reads the cases a slice at a time (``measures.parts``), and the
pack hands each slice to every section in one pass (``report.passes``), so a national caseload is
never in memory at once. The figures must not move for it: on the sample data and on a generated
caseload, in slices of a few dozen cases (``store.caseload.SLICE_CASES``, which keeps a child's review rows
together), on SQLite and PostgreSQL, the same KPI frames (every basis, a team, a kind) and the same
pack bytes, HTML and XLSX, as the whole caseload read once and shared.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd
import pytest

from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.listings import Filters
from ehcp_tracker.measures import kpi as K
from ehcp_tracker.measures.catalogue import Catalogue, load_catalogue
from ehcp_tracker.measures.parts import caseload_parts
from ehcp_tracker.report import data as report_data, write_pack
from ehcp_tracker.store import caseload as stored_caseload

from .conftest import ROOT

WHOLE = 10**9
TINY = 40  # several slices of each kind on both caseloads (a slice is whole rows of a child)
CASES = {"sample": (dt.date(2026, 11, 2), "2026-10"), "generated": (dt.date(2026, 10, 30), "2026-10")}


@pytest.fixture(params=sorted(CASES))
def loaded(request, engine, book, tmp_path):
    """``engine`` (SQLite or PostgreSQL) holding the sample extracts or a generated caseload."""
    as_of, month = CASES[request.param]
    if request.param == "sample":
        paths = [ROOT / "sample_data" / name for name in ("assessments.csv", "reviews.csv")]
    else:
        from ehcp_tracker.demo.synthetic import write_extracts

        paths = list(write_extracts(tmp_path / "x", 160, 110, 3, as_of).values())
    for path in paths:
        import_extract(engine, path, book, as_of)
    return engine, as_of, month


def _loud(book) -> Catalogue:
    """The shipped catalogue with the exception-share warning at 0%, so the warning's counts are compared too."""
    catalogue = load_catalogue(book=book)
    settings = replace(catalogue.settings, exception_share_min_plans=1, exception_share_warning=0.0)
    return Catalogue(catalogue.kpis, settings, catalogue.targets, catalogue.target_sources, catalogue.files)


def test_the_kpis_read_a_slice_at_a_time_equal_the_one_caseload(loaded, book, monkeypatch):
    engine, as_of, month = loaded
    team = K.load_caseload(engine)["assessment"]["team"].dropna().iloc[0]
    runs = [dict(catalogue=_loud(book), year=as_of.year, bases=K.ALL_BASES, filters=Filters()),
            dict(months=report_data.months_back(month, 12), filters=Filters(team=team)),
            dict(month=month, filters=Filters(kind="reviews"))]
    wholes = []
    for run in runs:
        whole = K.compute_kpis(engine, book, as_of=as_of, caseload=K.load_caseload(engine, run["filters"]),
                               slice_size=WHOLE, **run)
        assert whole["numerator"].sum() > 0
        wholes.append(whole)
    monkeypatch.setattr(stored_caseload, "SLICE_CASES", TINY)
    assert len(list(caseload_parts(engine))) > 5  # several slices, each of one kind
    for run, whole in zip(runs, wholes):
        sliced = K.compute_kpis(engine, book, as_of=as_of, **run)
        pd.testing.assert_frame_equal(sliced, whole, obj=str(run["filters"]))
        assert sliced.attrs == whole.attrs
    assert wholes[0].attrs["warnings"]  # the exception-share warning's counts added up over the slices


def test_a_tracker_read_a_slice_at_a_time_is_the_same_tracker(loaded, book, monkeypatch):
    engine, as_of, _ = loaded
    whole = K.tracker(engine, book, as_of.year, as_of, caseload=K.load_caseload(engine))
    monkeypatch.setattr(stored_caseload, "SLICE_CASES", TINY)
    sliced = K.tracker(engine, book, as_of.year, as_of)
    pd.testing.assert_frame_equal(sliced, whole)
    assert sliced.attrs == whole.attrs


@pytest.mark.parametrize("loaded", ["generated"], indirect=True)  # the whole pack is slow: one caseload
def test_the_pack_from_one_pass_in_slices_is_the_same_bytes(loaded, book, tmp_path, monkeypatch):
    """HTML and XLSX byte for byte: the one-caseload path (the caseload read whole and shared, as
    before) against one pass over slices of a few dozen cases. A workbook is a zip that stamps its entries,
    and openpyxl its properties (``docProps/core.xml``), with the time it was written, so the
    workbook is compared part by part, every part's bytes, those two stamps blanked."""
    import io
    import re
    import zipfile

    engine, as_of, month = loaded

    def parts(data: bytes) -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(data)) as workbook:
            out = {name: workbook.read(name) for name in workbook.namelist()}
        out["docProps/core.xml"] = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\1", out["docProps/core.xml"])
        return out

    def pack(folder):
        folder.mkdir()
        html = write_pack(engine, book, month, as_of, folder / "pack.html", "html").read_bytes()
        return html, parts(write_pack(engine, book, month, as_of, folder / "pack.xlsx", "xlsx").read_bytes())

    with monkeypatch.context() as m:
        m.setattr(report_data._KpiSource, "one_pass", lambda self, *args: None)
        whole = pack(tmp_path / "whole")  # (equal to the sliced pack below: the bytes are the data's)
    monkeypatch.setattr(stored_caseload, "SLICE_CASES", TINY)
    calls = []
    real = report_data._KpiSource.one_pass
    monkeypatch.setattr(report_data._KpiSource, "one_pass", lambda self, *a: calls.append(1) or real(self, *a))
    sliced = pack(tmp_path / "sliced")
    assert calls and sliced[0] == whole[0]
    assert sliced[1] == whole[1]
    assert len(sliced[1]) > 5


@pytest.mark.parametrize("loaded", ["generated"], indirect=True)
def test_a_team_pack_from_one_pass_is_the_same_pack(loaded, book, monkeypatch):
    """A team's running clocks come from its stored clocks once, not once a slice."""
    engine, as_of, month = loaded
    team = K.load_caseload(engine)["assessment"]["team"].dropna().iloc[0]
    options = report_data.PackOptions(team=team)
    with monkeypatch.context() as m:
        m.setattr(report_data._KpiSource, "one_pass", lambda self, *args: None)
        whole = report_data.gather(engine, book, month, as_of, options=options)
    monkeypatch.setattr(stored_caseload, "SLICE_CASES", TINY)
    sliced = report_data.gather(engine, book, month, as_of, options=options)
    for name in ("headline", "trend", "tracker", "ageing_assessments", "ageing_reviews", "backlog", "query_counts"):
        pd.testing.assert_frame_equal(getattr(sliced, name), getattr(whole, name), obj=name)
    assert sliced.notes == whole.notes
