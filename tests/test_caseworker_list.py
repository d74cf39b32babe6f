"""The caseworker's list (issue 15): ``due`` shows what is overdue first, then what is due in the
window, with the days overdue or left and the clock's title in words; ``breaches --open``; tables
fit the terminal and never split an ID or a date; CSV keeps the contract columns."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from click.testing import CliRunner

from ehcp_tracker.cli import cli
from ehcp_tracker.clocks.engine import CLOCK_COLUMNS
from ehcp_tracker.listings import days_text

from .conftest import write_csv

AS_OF = "2020-03-02"  # a Monday; the week runs to Sunday 8 March
HEADER = ["request_id", "person_id", "request_received", "caseworker", "team", "request_outcome",
          "request_outcome_date", "final_plan_issued"]
ROWS = [
    ["R0000001", "P1", "2019-09-02", "CW1", "North", "assess", "2019-10-01", ""],  # final plan 42 days overdue
    ["R0000002", "P2", "2020-01-13", "CW1", "North", "", "", ""],  # decision due 24 Feb: 7 overdue
    ["R0000003", "P3", "2020-01-27", "CW1", "North", "", "", ""],  # decision due Mon 9 Mar: next week
    ["R0000004", "P4", "2020-01-21", "CW1", "North", "", "", ""],  # decision due Tue 3 Mar: 1 left
    ["R0000005", "P5", "2019-09-02", "CW1", "North", "assess", "2019-10-01", "2020-01-27"],  # stopped late
]


@pytest.fixture
def listed(run, tmp_path):
    assert run("--as-of", AS_OF, "import", write_csv(tmp_path / "a.csv", HEADER, ROWS)).exit_code == 0
    return run


@pytest.mark.parametrize("status, days_overdue, due, expected", [
    ("overdue", 3, "2020-02-28", "3 overdue"),
    ("due_soon", 0, "2020-03-04", "2 left"),
    ("open", 0, "2020-04-01", "30 left"),
    ("due_soon", 0, "2020-03-02", "due today"),
    ("late", 5, "2020-02-01", "5 late"),
    ("met", 0, "2020-02-01", "on time"),
])
def test_days_text(status, days_overdue, due, expected):
    assert days_text(status, days_overdue, dt.date.fromisoformat(due), dt.date(2020, 3, 2)) == expected


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_due_lists_overdue_first_then_the_window_by_due_date(listed):
    result = listed("--as-of", AS_OF, "due", "--caseworker", "CW1", "--format", "csv")
    rows = csv_rows(result.stdout)
    assert result.stdout.splitlines()[0].split(",")[: len(CLOCK_COLUMNS)] == CLOCK_COLUMNS
    statuses = [r["status"] for r in rows]
    first_not_overdue = statuses.index("due_soon")
    assert set(statuses[:first_not_overdue]) == {"overdue"} and "overdue" not in statuses[first_not_overdue:]
    overdue = [r["due"] for r in rows[:first_not_overdue]]
    assert overdue == sorted(overdue) and ("R0000002", "decision_to_assess") in {
        (r["case_id"], r["clock"]) for r in rows[:first_not_overdue]}
    window = [(r["case_id"], r["clock"], r["due"]) for r in rows[first_not_overdue:]]
    assert window == [("R0000004", "decision_to_assess", "2020-03-03")]  # R0000003 is due next week
    assert "1 clock; " in result.stderr and "already overdue (listed first)" in result.stderr


def _table(run_args, columns: int):
    result = CliRunner().invoke(cli, run_args, env={"COLUMNS": str(columns)}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("columns", [80, 120])
def test_due_table_fits_the_terminal_and_keeps_ids_and_dates_whole(listed, db_url, columns):
    text = _table(["--db", db_url, "--as-of", AS_OF, "due", "--caseworker", "CW1"], columns)
    lines = text.splitlines()
    assert max(map(len, lines)) <= columns
    header = next(line for line in lines if "case_id" in line)
    assert header.split() == ["case_id", "title", "due", "days", "caseworker"]
    rows = [line for line in lines if re.match(r"\s*R\d{7}\b", line)]
    expected = csv_rows(listed("--as-of", AS_OF, "due", "--caseworker", "CW1", "--format", "csv").stdout)
    assert len(rows) == len(expected)
    for line, row in zip(rows, expected, strict=True):  # same order; every ID and date whole on its line
        assert line.split()[0] == row["case_id"] and row["due"] in line
    assert "42 overdue" in text and "1 left" in text and "Final EHC plan issued" in text
    assert "final_plan" not in text and "due_soon" not in text  # words, not identifiers


def test_a_narrow_terminal_runs_lines_on_rather_than_split_an_id(listed, db_url):
    text = _table(["--db", db_url, "--as-of", AS_OF, "due", "--caseworker", "CW1"], 30)
    assert len(re.findall(r"\bR\d{7}\b", text)) == len(csv_rows(
        listed("--as-of", AS_OF, "due", "--caseworker", "CW1", "--format", "csv").stdout))
    assert all(re.search(r"\b\d{4}-\d\d-\d\d\b", line) for line in text.splitlines() if re.match(r"\s*R\d", line))


def test_wide_shows_the_fuller_set(listed, db_url):
    text = _table(["--db", db_url, "--as-of", AS_OF, "breaches", "--wide"], 80)
    header = next(line for line in text.splitlines() if "case_id" in line).split()
    assert header == ["case_id", "kind", "caseworker", "team", "clock", "title", "started", "due", "stopped",
                      "status", "days", "exception", "statutory", "reference"]
    assert "final_plan" in text and "2019-09-02" in text and "Regulations" in text


def test_breaches_open_and_the_total_line(listed):
    every = listed("--as-of", AS_OF, "breaches", "--format", "csv")
    rows = csv_rows(every.stdout)
    late = sum(r["status"] == "late" for r in rows)
    overdue = sum(r["status"] == "overdue" for r in rows)
    assert late >= 1 and overdue >= 2
    assert (f"breaches as of Mon 02 Mar 2020: {len(rows)} in total, {overdue} still overdue, {late} stopped late"
            in every.stderr)
    still = listed("--as-of", AS_OF, "breaches", "--open", "--format", "csv")
    assert {r["status"] for r in csv_rows(still.stdout)} == {"overdue"}
    assert len(csv_rows(still.stdout)) == overdue
    assert f"breaches as of Mon 02 Mar 2020: {overdue} in total, {overdue} still overdue\n" in still.stderr
