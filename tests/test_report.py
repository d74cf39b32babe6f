"""The board pack (``ehcp report``): the adapter, the HTML and XLSX renderers, the CLI and the demo.

The figures are checked against the KPI source the pack itself uses (``report_data.kpi_source()``:
the KPI library), never against hard-coded numbers,
so they hold whatever the catalogue defines. The browser test is in
``test_report_browser.py``.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import pandas as pd
import pytest
from click.testing import CliRunner

from ehcp_tracker.report import data as report_data
from ehcp_tracker.store import db
from ehcp_tracker.cli import cli
from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.listings import clock_results
from ehcp_tracker.report.data import direction, gather, months_back, rag

from .conftest import ROOT, write_csv

SAMPLE_AS_OF = dt.date(2026, 11, 2)
MONTH = "2026-10"


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory, book):
    """The synthetic sample caseload, imported once for the module."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sample') / 'sample.db'}"
    engine = db.connect(url)
    db.init_db(engine)
    for name in ("assessments.csv", "reviews.csv"):
        import_extract(engine, ROOT / "sample_data" / name, book, SAMPLE_AS_OF)
    yield url, engine
    engine.dispose()


@pytest.fixture(scope="module")
def sample_pack(sample_db, book):
    return gather(sample_db[1], book, MONTH, SAMPLE_AS_OF)


@pytest.mark.parametrize("value, target, unit, better, expected", [
    (60.0, 60.0, "percent", 1, "green"),     # on target is green
    (55.0, 60.0, "percent", 1, "amber"),     # 5 points below: still amber
    (54.9, 60.0, "percent", 1, "red"),
    (22.0, 20.0, "count", -1, "amber"),      # a count where lower is better: 10% over the target is amber
    (23.0, 20.0, "count", -1, "red"),
    (15.0, 20.0, "count", -1, "green"),
    # issue 16: a target with nothing to measure is "No data", not "No target"
    (math.nan, 60.0, "percent", 1, "no_data"),
    (50.0, math.nan, "percent", 1, "no_target"),
    (50.0, 60.0, "count", 0, "no_target"),   # a volume (better = neither) is never judged against a target
])
def test_rag_against_target(value, target, unit, better, expected):
    assert rag(value, target, unit, better) == expected


@pytest.mark.parametrize("value, previous, better, expected", [
    (57.1, 60.0, 1, ("down", "worse")), (60.0, 57.1, 1, ("up", "better")), (24, 23, -1, ("up", "worse")),
    (14, 6, 0, ("up", "")), (50.0, 50.0, 1, ("same", "")), (50.0, math.nan, 1, ("none", "")),
])
def test_direction_of_travel(value, previous, better, expected):
    assert direction(value, previous, better) == expected


def test_months_back_and_month_checks():
    assert months_back("2026-02", 3) == ["2025-12", "2026-01", "2026-02"]
    assert report_data.check_month("2026-10", SAMPLE_AS_OF) == "2026-10"
    with pytest.raises(report_data.EhcpError, match="starts after the as-of date"):
        report_data.check_month("2026-12", SAMPLE_AS_OF)
    with pytest.raises(report_data.EhcpError, match="YYYY-MM"):
        report_data.check_month("10/2026", SAMPLE_AS_OF)


def test_pack_figures_are_the_kpi_librarys(sample_db, sample_pack, book):
    source = report_data.kpi_source()
    expected = report_data.with_counts_as_values(source.month(sample_db[1], book, MONTH, SAMPLE_AS_OF))
    monthly = expected[expected["basis"] == "month"].set_index("kpi")
    to_date = expected[expected["basis"] == "year_to_date"].set_index("kpi")
    headline = sample_pack.headline.set_index("kpi")
    assert list(headline.index) == list(monthly.index)
    for column in ("value", "numerator", "denominator", "target"):
        pd.testing.assert_series_equal(headline[column], monthly[column].astype(float), check_names=False, check_index_type=False)
    pd.testing.assert_series_equal(headline["ytd_value"], to_date["value"].astype(float), check_names=False, check_index_type=False)
    trend = sample_pack.trend
    assert trend.groupby("kpi").size().eq(12).all()
    assert trend["month"].iloc[-1] == MONTH and trend["month"].iloc[0] == "2025-11"
    september = report_data.with_counts_as_values(source.month(sample_db[1], book, "2026-09", SAMPLE_AS_OF))
    september = september[september["basis"] == "month"].set_index("kpi")["value"].astype(float)
    pd.testing.assert_series_equal(headline["previous"], september, check_names=False, check_index_type=False)


def test_ageing_and_backlog(sample_db, sample_pack, book):
    results = clock_results(sample_db[1], book, SAMPLE_AS_OF)
    running = results["status"].isin(["open", "due_soon", "overdue"])
    assert sample_pack.ageing_assessments["open_cases"].sum() == (running & (results["clock"] == "final_plan")).sum()
    assert sample_pack.ageing_reviews["open_reviews"].sum() == (running & (results["clock"] == "annual_review")).sum()
    backlog = sample_pack.backlog
    assert list(backlog.columns) == report_data.BACKLOG_COLUMNS
    assert not {"person_id", "caseworker"} & set(backlog.columns), "the board pack lists IDs only"
    assert set(backlog["kind"]) == {"assessment", "review"}


def test_data_quality_notes(sample_pack, engine, book):
    assert any("cases in the backlog" in n for n in sample_pack.notes)
    empty = gather(engine, book, "2020-01", dt.date(2020, 2, 3))
    assert "No extract has been imported: every figure is blank or zero." in empty.notes


def test_pack_of_an_empty_database(run, tmp_path):
    for suffix in ("html", "xlsx"):
        result = run("--as-of", "2020-02-03", "report", "--month", "2020-01", "--output", tmp_path / f"p.{suffix}")
        assert result.exit_code == 0, result.output
    page = (tmp_path / "p.html").read_text(encoding="utf-8")
    assert "0 cases past their limit" in page and "nothing to measure in these months" in page


def test_implausible_exception_share_is_a_data_quality_note(engine, book, tmp_path):
    header = ["request_id", "person_id", "request_received", "request_outcome", "request_outcome_date",
              "assessment_outcome", "assessment_outcome_date", "final_plan_issued", "exception_reason"]
    rows = [[f"R{i}", f"P{i}", "2020-01-06", "assess", "2020-02-10", "issue", "2020-05-01", "2020-05-20",
             "personal_circumstances"] for i in range(25)]  # the library warns from 20 plans up
    import_extract(engine, write_csv(tmp_path / "a.csv", header, rows), book, dt.date(2020, 6, 1))
    pack = gather(engine, book, "2020-05", dt.date(2020, 6, 1))
    assert any(n.startswith("KPI figures:") and "exception" in n for n in pack.notes), pack.notes


# ---- HTML ---------------------------------------------------------------------------------------------


def test_report_html_is_self_contained_and_accessible(sample_db, sample_pack, tmp_path):
    out = tmp_path / "pack.html"
    result = CliRunner().invoke(cli, ["--db", sample_db[0], "--as-of", str(SAMPLE_AS_OF), "report", "--month", MONTH,
                                      "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and f"written to {out}" in result.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en-GB">' in page
    assert "<title>EHC board pack: October 2026</title>" in page
    # nothing to fetch: no scripts, stylesheets, images, fonts or links off the page
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(|src=", page)
    assert not re.search(r'href="(?!#)', page)
    # every table header is scoped; every chart is labelled and described
    assert "<th>" not in page and '<th scope="col"' in page and '<th scope="row"' in page
    charts = re.findall(r'<svg class="chart[^"]*" id="([^"]+)"[^>]*role="img" aria-labelledby="([^"]+)"', page)
    assert len(charts) == len(sample_pack.headline) + 2  # a trend per KPI, and the two ageing charts
    for chart_id, labels in charts:
        assert labels == f"{chart_id}-t {chart_id}-d"
        assert f'<title id="{chart_id}-t">' in page and f'<desc id="{chart_id}-d">' in page
    # RAG is a word and a symbol as well as a colour
    assert re.search(r'class="rag rag-(green|amber|red)"><span aria-hidden="true">[●▲■]</span> (Green|Amber|Red)',
                     page)
    assert "@media print" in page and "@page" in page
    # the rule book and the as-of date
    assert 'data-as-of="2026-11-02"' in page and "rules/england/send-regs-2014.toml" in page
    assert re.search(r"<code data-fingerprint>[0-9a-f]{12}</code>", page)


def test_report_html_backlog_lists_ids_only(sample_db, sample_pack):
    from ehcp_tracker.report.html import render

    page = render(sample_pack)
    backlog = page[page.index('id="backlog"'):page.index('id="quality"')]
    assert "R0000130" in backlog and "CW0" not in backlog and not re.search(r"P\d{7}", backlog)


def test_report_options_and_errors(sample_db, tmp_path):
    def run(*args):
        return CliRunner().invoke(cli, ["--db", sample_db[0], "--as-of", str(SAMPLE_AS_OF), "report", *args])

    bad_month = run("--month", "Oct 2026", "--output", str(tmp_path / "p.html"))
    assert bad_month.exit_code == 2 and "YYYY-MM" in bad_month.output
    bad_suffix = run("--month", MONTH, "--output", str(tmp_path / "p.pdf"))
    assert bad_suffix.exit_code == 2 and ".html or .xlsx" in bad_suffix.output
    future = run("--month", "2027-01", "--output", str(tmp_path / "p.html"))
    assert future.exit_code == 1 and "starts after the as-of date" in future.stderr
    assert "Traceback" not in bad_month.output + bad_suffix.output + future.output
    forced = run("--month", MONTH, "--output", str(tmp_path / "pack.out"), "--format", "xlsx")
    assert forced.exit_code == 0 and (tmp_path / "pack.out").read_bytes()[:2] == b"PK"


# ---- XLSX ---------------------------------------------------------------------------------------------


def test_report_xlsx_read_back(sample_db, sample_pack, tmp_path):
    """Words, not identifiers, in sheet names and headers (issue 16; they were `kpi`, `ytd_value`,
    `Headline 2026-10`); every percentage a real percentage cell; the KPI id kept as a reference."""
    from openpyxl import load_workbook

    out = tmp_path / "pack.xlsx"
    result = CliRunner().invoke(cli, ["--db", sample_db[0], "--as-of", str(SAMPLE_AS_OF), "report", "--month", MONTH,
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    workbook = load_workbook(out)
    assert workbook.sheetnames == ["Headline October 2026", "20-week trend", "Twelve-month trend", "Monthly tracker",
                                   "Ageing of assessments", "Ageing of reviews", "Backlog", "Data quality", "About"]
    for sheet in workbook.worksheets:
        assert sheet.freeze_panes == "B2", sheet.title
        assert all(cell.font.b for cell in sheet[1]), sheet.title
        assert sheet.column_dimensions["A"].width >= 9
        header = [c.value for c in sheet[1]]
        assert not [h for h in header if re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+", str(h))], (sheet.title, header)
    headline = workbook["Headline October 2026"]
    header = [c.value for c in headline[1]]
    assert header[:6] == ["Measure", "October 2026", "Counted", "Out of", "Target", "Against target"]
    ref = header.index("Reference")
    rows = {r[ref]: dict(zip(header, r)) for r in headline.iter_rows(min_row=2, values_only=True)}
    cells = {r[ref].value: r for r in headline.iter_rows(min_row=2)}
    for kpi in sample_pack.headline.itertuples():
        got = rows[kpi.kpi]["October 2026"]
        for column in ("October 2026", "Target", "Last month", "Year to date", "Rolling 12 months"):
            cell = cells[kpi.kpi][header.index(column)]
            if kpi.unit == "percent" and cell.value is not None:
                assert cell.number_format == "0.0%", (kpi.kpi, column)
        value_cell = cells[kpi.kpi][header.index("October 2026")]
        if math.isnan(kpi.value):
            assert got is None
        elif kpi.unit == "percent":
            assert got == pytest.approx(kpi.value / 100) and value_cell.number_format == "0.0%"
        elif kpi.unit == "count":
            assert got == kpi.value and value_cell.number_format == "#,##0"
        else:
            assert got == pytest.approx(kpi.value)
    assert rows["plans_within_20_weeks"]["Against target"] in {"Green", "Amber", "Red"}
    trend = workbook["20-week trend"]
    assert [c.value for c in trend[1]] == ["Month", "Within 20 weeks, including exceptions",
                                           "Within 20 weeks, excluding exceptions", "Target"]
    assert isinstance(trend["A2"].value, dt.datetime) and trend["A2"].number_format == "mmm yyyy"
    assert trend["B2"].number_format == "0.0%"
    (chart,) = trend._charts
    assert type(chart).__name__ == "LineChart" and len(chart.series) == 3
    twelve = workbook["Twelve-month trend"]
    for row in twelve.iter_rows(min_row=2):
        kpi = row[7].value
        if sample_pack.headline.set_index("kpi").loc[kpi, "unit"] == "percent" and row[4].value is not None:
            assert row[4].number_format == "0.0%", kpi
    backlog = workbook["Backlog"]
    assert [c.value for c in backlog[1]] == ["Case", "Kind of case", "Team", "Deadline", "Due", "Weeks overdue",
                                             "Band", "Exception"]
    assert isinstance(backlog["E2"].value, dt.datetime) and backlog["E2"].number_format == "dd/mm/yyyy"
    assert backlog.max_row - 1 == len(sample_pack.backlog)
    assert {c.value for c in backlog["B"][1:]} == {"Assessment", "Annual review"}
    assert "final_plan" not in {c.value for c in backlog["D"][1:]}
    tracker = workbook["Monthly tracker"]
    assert isinstance(tracker["A2"].value, dt.datetime) and tracker.cell(tracker.max_row, 1).value == "total"
    about = {r[0]: r[1] for r in workbook["About"].iter_rows(min_row=2, values_only=True)}
    assert about["Figures as at"] == dt.datetime(2026, 11, 2) and about["Rule book version"] == sample_pack.rule_fingerprint


# ---- formula injection in every export ----------------------------------------------------------------

INJECTION_HEADER = ["request_id", "person_id", "request_received", "caseworker", "team", "request_outcome",
                    "request_outcome_date"]
INJECTION_ROWS = [
    ["R1", "P1", "2019-09-02", "=HYPERLINK(\"x\")", "@SUM(A1)", "assess", "2019-10-10"],  # overdue 20 weeks
    ["R2", "P2", "2019-10-14", "=HYPERLINK(\"x\")", "+North", "", ""],                    # 20 weeks due 2 March
]


@pytest.fixture
def injected(run, tmp_path):
    result = run("--as-of", "2020-03-01", "import", write_csv(tmp_path / "a.csv", INJECTION_HEADER, INJECTION_ROWS))
    assert result.exit_code == 0, result.output
    return run


def _xlsx_values(path):
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    return workbook, [c.value for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row]


@pytest.mark.parametrize("command", [["clocks"], ["due", "--days", "14"], ["breaches"], ["backlog"],
                                     ["backlog", "--summary"]])
def test_listing_xlsx_exports(injected, tmp_path, command):
    out = tmp_path / "listing.xlsx"
    result = injected("--as-of", "2020-03-01", *command, "--format", "xlsx", "--output", out)
    assert result.exit_code == 0 and result.stdout == ""
    workbook, values = _xlsx_values(out)
    sheet = workbook.active
    assert sheet.freeze_panes == "A2" and sheet.max_row >= 2
    assert not any(isinstance(v, str) and v[:1] in "=+-@" for v in values)
    header = [c.value for c in sheet[1]]
    if "caseworker" in header:
        assert "'=HYPERLINK(\"x\")" in values
    if "due" in header:
        assert isinstance(sheet.cell(row=2, column=header.index("due") + 1).value, dt.datetime)


def test_board_pack_neutralises_formula_injection(injected, db_url, tmp_path):
    for suffix in ("html", "xlsx"):
        result = injected("--as-of", "2020-03-01", "report", "--month", "2020-02", "--output", tmp_path / f"p.{suffix}")
        assert result.exit_code == 0, result.output
    _, values = _xlsx_values(tmp_path / "p.xlsx")
    assert "'@SUM(A1)" in values
    assert not any(isinstance(v, str) and v[:1] in "=+-@" for v in values)
    page = (tmp_path / "p.html").read_text(encoding="utf-8")
    assert "&#x27;@SUM(A1)" in page and ">@SUM" not in page


# ---- demo ---------------------------------------------------------------------------------------------


def test_demo_writes_the_board_pack():
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    assert "== Board pack for October 2026 ==" in result.stdout
    paths = re.findall(r"^(/\S+board-pack-2026-10\.(?:html|xlsx))$", result.stdout, re.M)
    assert [p.rsplit(".", 1)[1] for p in paths] == ["html", "xlsx"]
    from pathlib import Path

    assert all(Path(p).stat().st_size > 10_000 for p in paths)


def test_html_backlog_lists_the_longest_waiting_when_long(sample_pack, monkeypatch):
    from ehcp_tracker.report import html as report_html

    monkeypatch.setattr(report_html, "HTML_BACKLOG_LIMIT", 5)
    page = report_html.render(sample_pack)
    backlog = page[page.index('id="backlog"'):page.index('id="quality"')]
    listed = re.findall(r'<tr><th scope="row">(\w+)</th>', backlog[backlog.index('<table class="backlog"'):])
    oldest = sample_pack.backlog.nlargest(5, "weeks_overdue", keep="first")
    assert sorted(listed) == sorted(oldest["case_id"]) and "AR0000001" in listed
    assert f"{len(sample_pack.backlog):,} cases past their limit" in backlog and "The 5 longest waiting" in backlog


def test_the_pack_reads_the_caseload_once(sample_db, book, monkeypatch):
    """Every section (the trends, this month, the tracker, ageing, backlog, queries) works from one
    read of each kind of case: at a million cases each read takes seconds, and the pack used to
    read them four times over. The pack is the same either way."""
    before = gather(sample_db[1], book, MONTH, SAMPLE_AS_OF)
    reads = []
    real = db.load_cases

    def counted(conn, kind, where=None, include_missing=True):
        reads.append(kind.case)
        return real(conn, kind, where, include_missing)

    monkeypatch.setattr(db, "load_cases", counted)
    after = gather(sample_db[1], book, MONTH, SAMPLE_AS_OF)
    assert sorted(reads) == ["assessment", "review"]
    for name in ("headline", "trend", "tracker", "ageing_assessments", "ageing_reviews", "backlog", "query_counts"):
        pd.testing.assert_frame_equal(getattr(after, name), getattr(before, name), obj=name)
