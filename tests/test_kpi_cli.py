"""`ehcp kpi` end to end: import a hand-built caseload, run the KPIs through the CLI, compare with the
library; errors are one line with the right exit code; the catalogue is checked strictly."""

from __future__ import annotations

import io
import json
import shutil

import pandas as pd
import pytest

from .conftest import ROOT
from ehcp_tracker.measures import kpi as K
from ehcp_tracker.clocks.engine import evaluate
from ehcp_tracker.measures.catalogue import KpiCatalogueError, load_catalogue
from .kpi_cases import AS_OF, assessment_frame

ARGS = ("--as-of", AS_OF.isoformat())


@pytest.fixture
def loaded(run, tmp_path):
    path = tmp_path / "assessments.csv"
    assessment_frame().to_csv(path, index=False)
    result = run(*ARGS, "import", path)
    assert result.exit_code == 0, result.output
    return run


def test_kpi_year_csv_matches_the_library(loaded, book):
    result = loaded(*ARGS, "kpi", "--year", "2026", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    frame = pd.read_csv(io.StringIO(result.stdout), dtype={"period": str})
    assert list(frame.columns) == K.KPI_COLUMNS + K.EXTRA_KPI_COLUMNS
    assert sorted(frame["period"].unique()) == ["2026-01", "2026-02", "2026-03", "2026-04"]
    # the library on the same cases, without a database
    cases = assessment_frame()
    months = K.months_for(as_of=AS_OF, year=2026)
    usable, skipped = K._usable(load_catalogue(book=book), book)
    expected = K.kpi_table(evaluate(cases, book, AS_OF), usable, months, as_of=AS_OF,
                           snapshots=K.snapshot_results(lambda d: evaluate(cases, book, d), months, AS_OF))
    assert frame["kpi"].tolist() == expected["kpi"].tolist()
    assert frame["numerator"].tolist() == expected["numerator"].tolist()
    assert frame["denominator"].fillna(-1).tolist() == expected["denominator"].fillna(-1).tolist()
    assert frame["value"].fillna(-1).tolist() == expected["value"].fillna(-1).tolist()
    plans = frame[(frame["kpi"] == "plans_within_20_weeks") & (frame["period"] == "2026-02")]
    assert plans[["basis", "numerator", "denominator", "value"]].values.tolist() == [
        ["month", 1, 2, 50.0], ["year_to_date", 2, 5, 40.0]]
    assert "1,2,50.0" in result.stdout and "2,5,40.0" in result.stdout  # whole numbers stay whole
    if skipped:
        assert "left out" in result.stderr


def test_kpi_month_json(loaded):
    result = loaded(*ARGS, "kpi", "--month", "2026-02", "--kpi", "decisions_within_6_weeks", "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [(r["basis"], r["numerator"], r["denominator"], r["value"], r["target"]) for r in rows] == [
        ("month", 2, 2, 100.0, 90.0), ("year_to_date", 2, 2, 100.0, 90.0)]


def test_kpi_default_is_the_as_of_month_and_table_output(loaded):
    result = loaded(*ARGS, "kpi", "--kpi", "requests_received")
    assert result.exit_code == 0
    assert "2026-04" in result.stdout and "year_to_date" in result.stdout


def test_kpi_year_start_option(loaded):
    result = loaded(*ARGS, "kpi", "--month", "2026-03", "--year-start", "april", "--kpi", "requests_received",
                    "--format", "csv")
    assert result.exit_code == 0
    assert "requests_received,2026-03,year_to_date,11," in result.stdout


def test_tracker(loaded, tmp_path):
    out = tmp_path / "tracker.csv"
    result = loaded(*ARGS, "kpi", "--tracker", "--year", "2026", "--format", "csv", "--output", out)
    assert result.exit_code == 0
    assert result.stdout == ""
    table = pd.read_csv(out)
    assert list(table.columns) == K.TRACKER_COLUMNS
    assert table.iloc[-1].tolist() == ["total", 1, 5, 2, 40.0, 5]


def test_kpi_list(run):
    result = run("kpi", "--list", "--format", "csv")
    assert result.exit_code == 0
    listed = pd.read_csv(io.StringIO(result.stdout))["kpi"].tolist()
    assert listed == [k.id for k in load_catalogue().kpis]


@pytest.mark.parametrize("args, code, message", [
    (("kpi", "--month", "2026-13"), 2, "not a month in the form YYYY-MM"),
    (("kpi", "--month", "2026-05"), 1, "after the as-of date 2026-04-15"),
    (("kpi", "--month", "2026-02", "--year", "2026"), 2, "not both"),
    (("kpi", "--year", "2027"), 1, "after the as-of date"),
    (("kpi", "--kpi", "nope"), 1, "no KPI 'nope'"),
    (("kpi", "--tracker", "--month", "2026-02"), 2, "give --year"),
])
def test_kpi_errors(run, args, code, message):
    result = run(*ARGS, *args)
    assert result.exit_code == code
    assert message in result.stderr
    assert "Traceback" not in result.output


def _rules_copy(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    return rules


def test_exception_share_warning_on_stderr(loaded, tmp_path):
    rules = _rules_copy(tmp_path)
    catalogue = rules / "kpi" / "catalogue.toml"
    catalogue.write_text(catalogue.read_text().replace("exception_share_min_plans = 20", "exception_share_min_plans = 5"))
    result = loaded(*ARGS, "--rules", rules, "kpi", "--year", "2026", "--format", "csv")
    assert result.exit_code == 0
    assert "warning: 2 of 5 plans issued" in result.stderr
    assert "warning" not in result.stdout


def test_rules_check_checks_the_catalogue(run):
    result = run("rules", "check")
    assert result.exit_code == 0
    assert "KPI catalogue OK" in result.stderr


BROKEN = {
    'counts_by = "started"\ndefinition = "Requests received': ('counts_by = "received"\ndefinition = "Requests received',
                                                              "(requests_received).counts_by: must be one of started"),
    'clock = "no_plan_notice"': ('clock = "no_plan_notic"', "(no_plan_within_16_weeks).clock: no clock 'no_plan_notic'"),
    'where = { stop_reason = ["event"], request_outcome = ["assess"] }': (
        'where = { stop_reason = ["event"], request_outcome = ["agreed"] }',
        "(requests_agreed).where.request_outcome: unknown value(s) 'agreed'"),
    'id = "plans_issued"\ntitle': ('id = "plans_issued"\ncolour = "red"\ntitle', "(plans_issued).colour: unknown key"),
    'year_start = "january"': ('year_start = "june"', "[settings].year_start: must be one of january, april, september"),
}


def test_broken_catalogue_lists_every_problem(run, tmp_path):
    rules = _rules_copy(tmp_path)
    path = rules / "kpi" / "catalogue.toml"
    text = path.read_text()
    for old, (new, _) in BROKEN.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text)
    targets = rules / "kpi" / "targets.toml"
    targets.write_text(targets.read_text() + '\n[targets.no_such_kpi]\nsource = "x"\ntrajectory = [{ from = "2025-13-01", target = 5 }]\n')
    with pytest.raises(KpiCatalogueError) as caught:
        load_catalogue(rules / "kpi", None)
    result = run("--rules", rules, "rules", "check")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    for _, message in BROKEN.values():
        assert message in result.stderr, message
    assert "kpi/catalogue.toml [[kpis]]" in result.stderr  # the file is named
    assert "kpi/targets.toml [targets.no_such_kpi]: no KPI 'no_such_kpi' in the catalogue" in result.stderr
    assert len(caught.value.problems) >= len(BROKEN)


def test_rule_book_loader_skips_the_kpi_folder(book):
    assert not any("kpi" in p.parts for p in book.files)


def test_kpi_on_an_empty_database(run):
    result = run(*ARGS, "kpi", "--kpi", "open_assessments", "--kpi", "plans_within_20_weeks", "--format", "csv")
    assert result.exit_code == 0
    assert "plans_within_20_weeks,2026-04,month,0,0,,55.0" in result.stdout
    assert "open_assessments,2026-04,month,0,,," in result.stdout
    tracker = run(*ARGS, "kpi", "--tracker", "--format", "csv")
    assert tracker.stdout.splitlines()[-1] == "total,0,0,0,,0"


def test_kpi_team_filter(loaded):
    # a team no case has is a mistake, not "0" (issue 11 point 8: it used to print 0 silently)
    other = loaded(*ARGS, "kpi", "--team", "South", "--kpi", "requests_received", "--format", "csv")
    assert other.exit_code == 1 and "no team 'South' (known: North" in other.output
    assert other.stdout == "" and "Traceback" not in other.output
    mine = loaded(*ARGS, "kpi", "--team", "North", "--kpi", "requests_received", "--format", "csv")
    assert "requests_received,2026-04,year_to_date,5," in mine.stdout
