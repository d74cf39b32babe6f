"""Issue 16: a board pack a SEND board can trust and act on. Direction words from the catalogue's
polarity, "No data" against a target, commentary, team and public packs, benchmarks from the DfE
file, the ageing chart agreeing with the backlog at day 140, and percentages in every XLSX.

Each test builds its own small caseload with the answer worked out beside it, through the CLI on
SQLite and PostgreSQL; the DfE extract is copied from the shared data folder into the test's
tmp_path (no national figure is committed to the repository).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ehcp_tracker.measures.catalogue import load_catalogue
from ehcp_tracker.report import data as report_data
from ehcp_tracker.report.data import PackOptions, gather

from .conftest import write_csv

AS_OF = "2026-11-02"
# shared/ stands beside the checkout (the developers' and CI's layout).
DFE_EXTRACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "dfe" / "timeliness_20_week_2019_extract.csv"
HEADER = ["request_id", "person_id", "request_received", "caseworker", "team", "request_outcome",
          "request_outcome_date", "assessment_outcome", "assessment_outcome_date", "final_plan_issued"]


def _day(text: str, days: int) -> str:
    return (dt.date.fromisoformat(text) + dt.timedelta(days=days)).isoformat()


# S1: plan in September after 100 days (within 20 weeks); O1: plan in October after 400 days (over 52
# weeks): plans_over_52_weeks goes from 0% (Sep) to 100% (Oct): up, and WORSE (better = lower).
# N1-N3 North, received in October, open: open_assessments_0_6_weeks rises (a volume: no judgement).
# D140: received exactly 140 days before the as-of date, open: on time (16 to 20 weeks, not backlog);
# D141: 141 days: past its 20 weeks (20 to 26 weeks, in the backlog).
ROWS = [
    ["S1", "P1", _day("2026-09-10", -100), "CW1", "South", "assess", _day("2026-09-10", -70), "issue", "2026-09-01",
     "2026-09-10"],
    ["O1", "P2", _day("2026-10-12", -400), "CW1", "South", "assess", _day("2026-10-12", -360), "issue", "2026-10-01",
     "2026-10-12"],
    ["N1", "P3", "2026-10-05", "CW2", "North", "", "", "", "", ""],
    ["N2", "P4", "2026-10-06", "CW2", "North", "", "", "", "", ""],
    ["N3", "P5", "2026-10-07", "CW3", "North", "", "", "", "", ""],
    ["D140", "P6", _day(AS_OF, -140), "CW3", "North", "assess", _day(AS_OF, -110), "", "", ""],
    ["D141", "P7", _day(AS_OF, -141), "CW3", "South", "assess", _day(AS_OF, -110), "", "", ""],
]


@pytest.fixture
def small(run, tmp_path):
    result = run("--as-of", AS_OF, "import", write_csv(tmp_path / "a.csv", HEADER, ROWS))
    assert result.exit_code == 0, result.output
    return run


def _pack(engine, book, **options):
    return gather(engine, book, "2026-10", dt.date.fromisoformat(AS_OF), options=PackOptions(**options))


def test_direction_words_come_from_the_catalogue(small, engine, book):
    pack = _pack(engine, book)
    h = pack.headline.set_index("kpi")
    kinds = {k.id: k for k in load_catalogue(book=book).kpis}
    assert (h["better"] == [kinds[k].direction for k in h.index]).all()
    assert (h.loc["plans_over_52_weeks", ["previous", "value"]] == [0.0, 100.0]).all()
    assert tuple(h.loc["plans_over_52_weeks", ["movement", "judgement"]]) == ("up", "worse")
    assert h.loc["open_assessments_0_6_weeks", "movement"] == "up"
    assert h.loc["open_assessments_0_6_weeks", "judgement"] == ""  # a volume is neither better nor worse
    # a target with nothing to measure is "No data", not "No target"
    assert h.loc["review_decisions_within_4_weeks", "rag"] == "no_data"
    assert h.loc["plans_issued", "rag"] == "no_target"
    from ehcp_tracker.report.html import render

    page = render(pack)
    row = re.search(r'<tr data-kpi="plans_over_52_weeks".*?</tr>', page).group(0)
    assert 'class="worse">worse' in row
    assert re.search(r'data-kpi="review_decisions_within_4_weeks".*?No data', page)


def test_ageing_agrees_with_the_backlog_at_day_140(small, engine, book):
    """D140 is on time on day 140 (reg 13(2)): it is in "16 to 20 weeks" and not in the backlog;
    D141 is the one assessment past its 20 weeks, in the chart and the backlog alike."""
    pack = _pack(engine, book)
    ageing = pack.ageing_assessments.set_index("band")
    assert ageing.loc["16 to 20 weeks", "open_cases"] == 1
    assert ageing.loc["20 to 26 weeks", "open_cases"] == 1
    past = ageing.loc[ageing["past_20_weeks"] == "yes", "open_cases"].sum()
    assessments = pack.backlog[pack.backlog["kind"] == "assessment"]
    assert past == len(assessments) == 1 and assessments["case_id"].tolist() == ["D141"]
    assert "1 of them past their 20 weeks" in pack.open_counts


def test_commentary_beside_red_kpis_and_needs_commentary(small, engine, book, tmp_path):
    """plans_within_20_weeks (incl.) is 0% against 55% in October: red, with commentary;
    plans_within_20_weeks_excl_exceptions is 0% against 60%: red, without - listed at the top."""
    notes = write_csv(tmp_path / "notes.csv", ["KPI", "Month", "Commentary", "Action", "Owner"], [
        ["plans_within_20_weeks", "2026-10", "One plan, 400 days old, issued at last.", "Panel weekly", "Head of SEND"],
        ["plans_within_20_weeks", "2026-09", "Last month's note.", "", ""],
    ])
    pack = _pack(engine, book, commentary=notes)
    h = pack.headline.set_index("kpi")
    assert h.loc["plans_within_20_weeks", "rag"] == "red"
    assert pack.commentary["kpi"].tolist() == ["plans_within_20_weeks"]
    title = h.loc["plans_within_20_weeks_excl_exceptions", "title"]
    assert title in pack.needs_commentary and h.loc["plans_within_20_weeks", "title"] not in pack.needs_commentary
    from ehcp_tracker.report.html import render

    page = render(pack)
    assert page.index('id="needs-commentary"') < page.index('id="headline"')
    beside = re.search(r'<tr data-kpi="plans_within_20_weeks".*?</tr>\n<tr class="commentary"[^>]*>(.*?)</tr>',
                       page, re.S)
    assert beside and "400 days old" in beside.group(1) and "Head of SEND" in beside.group(1)


@pytest.mark.parametrize("header, row, message", [
    (["kpi", "month", "commentary", "action"], ["plans_issued", "2026-10", "x", ""], "row 1: missing column(s) owner"),
    (["kpi", "month", "commentary", "action", "owner"], ["no_such", "2026-10", "x", "", ""],
     "row 2, column kpi: no KPI 'no_such'"),
    (["kpi", "month", "commentary", "action", "owner"], ["plans_issued", "Oct 2026", "x", "", ""],
     "row 2, column month: 'Oct 2026' is not a month"),
])
def test_a_bad_commentary_file_is_one_line(small, tmp_path, header, row, message):
    notes = write_csv(tmp_path / "notes.csv", header, [row])
    result = small("--as-of", AS_OF, "report", "--month", "2026-10", "--commentary", notes, "-o", tmp_path / "p.html")
    assert result.exit_code == 1 and message in result.stderr and "notes.csv" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "p.html").exists()


def test_team_pack(small, engine, book, tmp_path):
    pack = _pack(engine, book, team="North")
    h = pack.headline.set_index("kpi")
    assert h.loc["open_assessments", "value"] == 4        # N1, N2, N3, D140 (31 October)
    assert h.loc["plans_issued", "value"] == 0            # both plans were South's
    assert pack.backlog.empty                             # D141 is South's
    result = small("--as-of", AS_OF, "report", "--month", "2026-10", "--team", "North", "-o", tmp_path / "n.html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "n.html").read_text(encoding="utf-8")
    assert "North team" in page and "D141" not in page


def test_public_pack_suppresses_small_counts_and_lists_no_case(small, engine, book, tmp_path):
    pack = _pack(engine, book, public=True)
    h = pack.headline.set_index("kpi")
    assert h.loc["plans_issued", "value"] == report_data.SUPPRESSED               # 1 plan
    assert h.loc["plans_within_20_weeks", "value"] == report_data.SUPPRESSED      # 0 of 1: reveals a count
    assert h.loc["open_assessments_6_20_weeks", "value"] == report_data.SUPPRESSED  # D140, D141 on 31 Oct
    assert h.loc["open_assessments_52_plus_weeks", "value"] == 0                  # zero is shown
    for frame, columns in ((pack.ageing_assessments, ["open_cases", "with_exception"]),
                           (pack.tracker, ["requests_agreed", "plans_issued", "issued_within_20_weeks"]),
                           (pack.trend[pack.trend["unit"] == "count"], ["value"])):
        for column in columns:
            assert not [v for v in frame[column] if not isinstance(v, str) and 0 < v < 5], column
    assert pack.backlog.empty
    for suffix in ("html", "xlsx"):
        out = tmp_path / f"public.{suffix}"
        result = small("--as-of", AS_OF, "report", "--month", "2026-10", "--public", "-o", out)
        assert result.exit_code == 0, result.output
    page = (tmp_path / "public.html").read_text(encoding="utf-8")
    assert not re.search(r">(S1|O1|N\d|D14[01])<", page) and "fewer than 5" in page
    from openpyxl import load_workbook

    values = {c.value for s in load_workbook(tmp_path / "public.xlsx").worksheets for r in s.iter_rows() for c in r}
    assert not values & {"S1", "O1", "N1", "N2", "N3", "D140", "D141"}


def test_public_headline_shows_no_count_from_1_to_4(small, engine, book):
    pack = _pack(engine, book, public=True)
    for _, r in pack.headline.iterrows():
        for prefix in ("", "ytd_", "rolling_", "last_year_"):
            for name in ("numerator", "denominator"):
                v = r[f"{prefix}{name}"]
                assert isinstance(v, str) or v != v or not 0 < v < 5, (r["kpi"], prefix, name, v)
        if r["unit"] == "count":
            assert isinstance(r["value"], str) or r["value"] != r["value"] or not 0 < r["value"] < 5, r["kpi"]


# ---- benchmarks ---------------------------------------------------------------------------------------

@pytest.fixture
def dfe_file(tmp_path):
    if not DFE_EXTRACT.exists():
        pytest.skip(f"the DfE extract is not at {DFE_EXTRACT}")
    path = tmp_path / "timeliness_20_week.csv"
    text = DFE_EXTRACT.read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    # the 2025 edition spelt some columns PC_...: matched case-insensitively
    path.write_text(header.replace("pc_plans", "PC_plans").replace("time_period", "Time_Period") + "\n" + rest,
                    encoding="utf-8")
    return path


def test_benchmark_reads_the_dfe_file_as_downloaded(dfe_file):
    from ehcp_tracker.report.benchmark import read_dfe

    dfe = read_dfe(dfe_file)
    england = dfe[dfe["geographic_level"] == "National"].iloc[0]
    assert england["time_period"] == "2019"
    assert england["plans_issued_den"] == 53327 and england["pc_plans_issued_20_weeks_ex"] == 60.4
    assert pd.isna(england["avg_weeks_issue_plan"])  # "x" in 2019: not available


def test_benchmark_in_the_pack(small, engine, book, dfe_file, tmp_path):
    pack = _pack(engine, book, benchmark=dfe_file, council="340", compare_with=("341", "E08000013", "999"))
    b = pack.benchmark
    assert b["year"].unique().tolist() == ["2019"]
    by_area = b.set_index("area")
    assert by_area.loc["England", "within_20_weeks_excl_exceptions"] == 60.4
    assert by_area.loc["North West", "role"] == "region"                    # Knowsley's region
    assert by_area.loc["Knowsley (published)", "within_20_weeks"] == 64.5
    assert by_area.loc["Liverpool", "within_20_weeks"] == 7.5               # old code 341
    assert "St. Helens" in by_area.index                                     # new code E08000013
    assert "LA 999 (not in the file)" in by_area.index
    assert by_area.loc["This council (ehcp-tracker)", "plans_issued"] == 0  # no 2019 cases in this caseload
    result = small("--as-of", AS_OF, "report", "--month", "2026-10", "--benchmark", dfe_file, "--council", "340",
                   "--compare-with", "341,E08000013", "-o", tmp_path / "b.html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "b.html").read_text(encoding="utf-8")
    assert 'id="benchmark"' in page and 'id="chart-benchmark-2019"' in page and "60.4%" in page


def test_a_file_that_is_not_the_dfe_file_is_one_line(small, tmp_path):
    bad = write_csv(tmp_path / "other.csv", ["year", "value"], [["2019", "1"]])
    result = small("--as-of", AS_OF, "report", "--month", "2026-10", "--benchmark", bad, "-o", tmp_path / "p.html")
    assert result.exit_code == 1 and "not the DfE timeliness_20_week.csv" in result.stderr
    assert "Traceback" not in result.output
    bad_code = small("--as-of", AS_OF, "report", "--month", "2026-10", "--compare-with", "Knowsley",
                     "-o", tmp_path / "p.html")
    assert bad_code.exit_code == 2 and "LA code" in bad_code.output


def test_no_national_figures_are_shipped():
    root = Path(__file__).resolve().parent.parent
    for path in [*root.glob("ehcp_tracker/**/*"), *root.glob("rules/**/*"), *root.glob("sample_data/**/*")]:
        if path.is_file() and path.suffix in (".csv", ".py", ".toml"):
            assert "53327" not in path.read_text(encoding="utf-8", errors="ignore"), path


# ---- XLSX percentages ---------------------------------------------------------------------------------

def test_kpi_xlsx_writes_percentages_as_percentages(small, tmp_path):
    """`ehcp kpi --format xlsx` wrote 90.8 as the number 90.8; a ratio's value and target are now
    fractions shown 0.0% (and a count stays a count)."""
    from openpyxl import load_workbook

    out = tmp_path / "kpi.xlsx"
    result = small("--as-of", AS_OF, "kpi", "--month", "2026-10", "--kpi", "plans_within_20_weeks",
                   "--kpi", "plans_issued", "--format", "xlsx", "-o", out)
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[1]]
    rows = {(r[0].value, r[2].value): r for r in sheet.iter_rows(min_row=2)}
    ratio = rows[("plans_within_20_weeks", "month")]
    assert ratio[header.index("value")].value == 0.0 and ratio[header.index("value")].number_format == "0.0%"
    assert ratio[header.index("target")].value == pytest.approx(0.55)
    assert ratio[header.index("target")].number_format == "0.0%"
    ytd = rows[("plans_within_20_weeks", "year_to_date")]
    assert ytd[header.index("value")].value == pytest.approx(0.5)  # S1 within, O1 not: 50.0%
    count = rows[("plans_issued", "month")]
    assert count[header.index("numerator")].value == 1 and count[header.index("value")].value is None


def test_html_lists_the_25_longest_waiting():
    assert report_data.HTML_BACKLOG_LIMIT == 25


def test_catalogue_copy_without_better_fails_the_pack(tmp_path, run):
    """`rules check` and every command reading the catalogue refuse a KPI with no polarity."""
    root = Path(__file__).resolve().parent.parent
    rules = tmp_path / "rules"
    shutil.copytree(root / "rules", rules)
    path = rules / "kpi" / "catalogue.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('better = "neither"\n', "", 1), encoding="utf-8")
    result = run("--rules", rules, "--as-of", AS_OF, "kpi", "--month", "2026-10")
    assert result.exit_code == 1 and "which way is better" in result.output and "Traceback" not in result.output
