"""`ehcp demo generate`: synthetic extracts from the command line, importable as they stand."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from ehcp_tracker.cli import cli

END = "2026-10-30"


def generate(folder, *extra):
    return CliRunner().invoke(cli, ["demo", "generate", "--requests", "200", "--reviews", "140",
                                    "--seed", "7", "--end", END, "--output", str(folder), *extra])


def test_generate_writes_both_extracts_with_the_asked_row_counts(tmp_path):
    result = generate(tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stdout == "", "messages go to stderr"
    assert "wrote assessments" in result.stderr and "wrote reviews" in result.stderr
    assessments = (tmp_path / "out" / "assessments.csv").read_text(encoding="utf-8").splitlines()
    reviews = (tmp_path / "out" / "reviews.csv").read_text(encoding="utf-8").splitlines()
    assert assessments[0].startswith("request_id,person_id,request_received")
    assert reviews[0].startswith("review_id,person_id")
    assert (len(assessments) - 1, len(reviews) - 1) == (200, 140)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        assert CliRunner().invoke(cli, ["demo", "generate", "--requests", "100", "--reviews", "50", "--seed", seed,
                                        "--end", END, "-o", str(tmp_path / name)]).exit_code == 0
    read = lambda name: (tmp_path / name / "assessments.csv").read_bytes()  # noqa: E731
    assert read("a") == read("b") and read("a") != read("c")


def test_generated_extracts_import_cleanly(run, tmp_path):
    assert generate(tmp_path).exit_code == 0
    result = run("--as-of", END, "import", tmp_path / "assessments.csv", tmp_path / "reviews.csv")
    assert result.exit_code == 0, result.stderr
    assert "200 rows: 200 new" in result.stderr and "140 rows: 140 new" in result.stderr


def test_end_defaults_to_as_of(tmp_path):
    result = CliRunner().invoke(cli, ["--as-of", "2025-03-31", "demo", "generate", "--requests", "50",
                                      "--reviews", "0", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    received = [line.split(",")[2] for line in
                (tmp_path / "assessments.csv").read_text(encoding="utf-8").splitlines()[1:]]
    assert max(received) <= "2025-03-31"


def test_usage_errors_and_demo_alone_still_works(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["demo", "generate", "--requests", "10"]).exit_code == 2  # no --output
    assert runner.invoke(cli, ["demo", "generate", "--requests", "-1", "-o", str(tmp_path)]).exit_code == 2
    assert runner.invoke(cli, ["demo", "generate", "--end", "31/03/2025", "-o", str(tmp_path)]).exit_code == 2
    help_text = runner.invoke(cli, ["demo", "--help"]).output
    assert "generate" in help_text and "Example" in help_text
    assert "Example" in runner.invoke(cli, ["demo", "generate", "--help"]).output


@pytest.mark.parametrize("end", ["2025-01-31", "2015-03-01", "2014-10-12"])
def test_an_early_end_generates_only_what_its_own_importer_takes(run, tmp_path, end):
    """Issue 23: `--end 2025-01-31` wrote plans made before 1 September 2014, which the importer
    refuses (the SEND Regulations 2014 judge nothing earlier): generate, import, exit 0. The default
    sizes, as the report had them (9 of 700 reviews were refused)."""
    result = CliRunner().invoke(cli, ["demo", "generate", "--end", end, "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "reviews.csv", encoding="utf-8") as handle:
        plans = [row["plan_issued"] for row in csv.DictReader(handle)]
    assert min(plans) >= "2014-09-01"
    result = run("--as-of", end, "import", tmp_path / "assessments.csv", tmp_path / "reviews.csv")
    assert result.exit_code == 0, result.stderr
    assert "1000 rows: 1000 new" in result.stderr and "problem" not in result.stderr


def test_an_end_before_any_plan_could_be_made_is_refused_in_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "generate", "--end", "2014-10-01", "-o", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--end 2014-10-01: give a day from 12 October 2014" in result.output
    assert not (tmp_path / "reviews.csv").exists()
