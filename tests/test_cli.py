"""The command line end to end through click's CliRunner, on a real database file."""

import csv
import io
import json
import os
import stat

import pytest
from click.testing import CliRunner

from ehcp_tracker.cli import cli
from ehcp_tracker.clocks.engine import CLOCK_COLUMNS

from .conftest import write_csv

HEADER = ["request_id", "person_id", "request_received", "caseworker", "team", "request_outcome",
          "request_outcome_date", "final_plan_issued"]
ROWS = [
    ["R1", "P1", "2019-09-02", "CW1", "North", "", "", ""],
    ["R2", "P2", "2019-09-02", "CW1", "North", "assess", "2019-10-10", "2020-01-20"],
    ["R3", "P3", "2019-09-02", "=HYPERLINK(\"x\")", "South", "assess", "2019-10-20", "2020-01-21"],
    ["R4", "P4", "2019-12-02", "CW2", "South", "", "", ""],
]


@pytest.fixture
def loaded(run, tmp_path):
    result = run("--as-of", "2020-03-01", "import", write_csv(tmp_path / "a.csv", HEADER, ROWS))
    assert result.exit_code == 0, result.output
    return run


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_explain_worked_example(loaded):
    result = loaded("--as-of", "2019-09-03", "explain", "R1")
    assert result.exit_code == 0
    assert "due Mon 14 Oct 2019" in result.stdout and "reg 5(1)" in result.stdout
    assert "due Mon 20 Jan 2020" in result.stdout and "reg 13(2)" in result.stdout
    assert "rule version from 2014-09-01" in result.stdout
    as_json = json.loads(loaded("--as-of", "2019-09-03", "explain", "R1", "--format", "json").stdout)
    final = next(r for r in as_json if r["clock"] == "final_plan")
    assert final["due"] == "2020-01-20" and "reg 13(2)" in final["reference"]


def test_clocks_csv_has_the_contract_columns_in_order(loaded):
    result = loaded("--as-of", "2020-03-01", "clocks", "--format", "csv")
    header = result.stdout.splitlines()[0].split(",")
    assert header[: len(CLOCK_COLUMNS)] == CLOCK_COLUMNS
    statuses = {r["status"] for r in csv_rows(result.stdout)}
    assert statuses <= {"open", "due_soon", "overdue", "met", "late"}


def test_due_defaults_to_this_week_monday_to_sunday(loaded):
    # Wednesday 15 January 2020: the week is Mon 13 - Sun 19 January; no 20-week date falls in it
    result = loaded("--as-of", "2020-01-15", "due", "--format", "csv")
    assert "due Mon 13 Jan 2020 to Sun 19 Jan 2020" in result.stderr
    # the week of Mon 20 January holds the 20-week dates of R1..R3 (R2, R3 still open on the 20th)
    result = loaded("--as-of", "2020-01-20", "due", "--format", "csv")
    rows = [r for r in csv_rows(result.stdout) if r["clock"] == "final_plan"]
    assert {r["case_id"] for r in rows} == {"R1", "R3"}  # R2's plan was issued on the day, R3 is issued the 21st
    assert all(r["due"] == "2020-01-20" for r in rows)


def test_due_days_and_caseworker_filter(loaded):
    result = loaded("--as-of", "2020-01-10", "due", "--days", "14", "--caseworker", "CW1", "--format", "json")
    rows = json.loads(result.stdout)
    assert rows and {r["caseworker"] for r in rows} == {"CW1"}
    # Issue 15: what is already overdue comes first (it used to be left out), then the window.
    overdue = [r for r in rows if r["status"] == "overdue"]
    assert rows[: len(overdue)] == overdue and all(r["due"] < "2020-01-10" for r in overdue)
    assert all("2020-01-10" <= r["due"] <= "2020-01-24" for r in rows[len(overdue):])


def test_breaches_and_backlog(loaded):
    breaches = csv_rows(loaded("--as-of", "2020-03-01", "breaches", "--format", "csv").stdout)
    pairs = {(r["case_id"], r["clock"], r["status"]) for r in breaches}
    assert ("R1", "final_plan", "overdue") in pairs and ("R3", "final_plan", "late") in pairs
    assert ("R2", "final_plan", "met") not in pairs
    backlog = csv_rows(loaded("--as-of", "2020-03-01", "backlog", "--format", "csv").stdout)
    assert [(r["case_id"], r["due_month"], r["weeks_overdue"]) for r in backlog] == [("R1", "2020-01", "5")]
    summary = csv_rows(loaded("--as-of", "2020-03-01", "backlog", "--summary", "--format", "csv").stdout)
    assert summary == [{"due_month": "2020-01", "open_cases": "1", "with_exception": "0", "oldest_weeks_overdue": "5"}]


def test_exports_neutralise_formula_injection(loaded, tmp_path):
    text = loaded("--as-of", "2020-03-01", "clocks", "--format", "csv").stdout
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    out = tmp_path / "c.xlsx"
    result = loaded("--as-of", "2020-03-01", "clocks", "--format", "xlsx", "--output", out)
    assert result.exit_code == 0 and result.stdout == ""
    from openpyxl import load_workbook

    sheet = load_workbook(out).active
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert "'=HYPERLINK(\"x\")" in values
    assert not any(isinstance(v, str) and v.startswith("=") for v in values)
    due_column = [c.value for c in sheet[1]].index("due") + 1
    import datetime as dt

    assert isinstance(sheet.cell(row=2, column=due_column).value, dt.datetime)  # a real date cell


def test_usage_errors_exit_2_and_bad_input_exit_1(loaded, tmp_path):
    bad_date = loaded("--as-of", "01/03/2020", "due")
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output
    unknown = loaded("--as-of", "2020-03-01", "explain", "NOPE")
    assert unknown.exit_code == 1 and "no assessment request or review with ID 'NOPE'" in unknown.stderr
    assert "Traceback" not in unknown.output
    xlsx_no_output = loaded("clocks", "--format", "xlsx")
    assert xlsx_no_output.exit_code == 2


def test_commands_refuse_a_database_without_schema(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", f"sqlite:///{tmp_path / 'empty.db'}", "due"])
    assert result.exit_code == 1 and "does not exist: run `ehcp init` to create it" in result.stderr
    assert not (tmp_path / "empty.db").exists()  # nothing left behind (issue 28 point 6)
    (tmp_path / "empty.db").touch()
    result = runner.invoke(cli, ["--db", f"sqlite:///{tmp_path / 'empty.db'}", "due"])
    assert result.exit_code == 1 and "run `ehcp init` first" in result.stderr


def test_sqlite_file_is_readable_by_its_owner_only(tmp_path):
    runner = CliRunner()
    path = tmp_path / "private.db"
    assert runner.invoke(cli, ["--db", f"sqlite:///{path}", "init"]).exit_code == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_default_database_is_ehcp_db_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EHCP_DB", raising=False)
    assert CliRunner().invoke(cli, ["init"]).exit_code == 0
    assert (tmp_path / "ehcp.db").exists()


def test_as_of_defaults_to_today_in_london(loaded):
    from freezegun import freeze_time

    with freeze_time("2020-01-14T23:30:00+00:00"):
        result = loaded("due", "--format", "csv")
    assert "Mon 13 Jan 2020 to Sun 19 Jan 2020" in result.stderr


def test_help_explains_every_command():
    runner = CliRunner()
    for command in ["init", "import", "clocks", "due", "breaches", "backlog", "explain", "demo"]:
        result = runner.invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output, command


def test_demo_runs_on_the_sample_data():
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    assert "== Due" in result.stdout and "== Breaches" in result.stdout and "== Backlog" in result.stdout
    assert "0 new, 0 changed" in result.stderr, "the council XLSX holds the same cases as the CSV"
