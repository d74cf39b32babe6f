"""How an error message names a bad value (issue 28 point 4, and issue 23's opposite edge): a code,
or a value shaped like the column's codes, is quoted; a value that may be a name, an ID or a date of
birth is described by its length and kinds of character. One table of cases, then the rule seen
through ``ehcp import`` on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from ehcp_tracker.ingest.describe import describe, kinds

from .conftest import ASSESSMENT_HEADER, write_csv

OUTCOMES = ("assess", "not_assess", "withdrawn")


@pytest.mark.parametrize("value, column_type, known, personal, expected", [
    # quoted: known codes (any case), and values shaped like a code
    ("assesss", "choice", OUTCOMES, False, "'assesss'"),
    ("Assess", "choice", OUTCOMES, False, "'Assess'"),
    ("not assess", "choice", OUTCOMES, False, "'not assess'"),
    ("maybe", "flag", (), False, "'maybe'"),
    ("n_a", "choice", (), False, "'n_a'"),
    ("yesterday", "date", (), False, "'yesterday'"),
    ("15", "int", (), False, "'15'"),
    ("Year 15", "int", (), False, "'Year 15'"),
    ("-3", "int", (), False, "'-3'"),
    # described: names, capitals, IDs, dates, long values, controls, personal columns, free text
    ("Jane Smith", "flag", (), False, "a value of 10 characters (letters and spaces; not shown)"),
    ("Jane", "choice", OUTCOMES, False, "a value of 4 characters (letters; not shown)"),
    ("SMITH", "flag", (), False, "a value of 5 characters (letters; not shown)"),
    ("O'Brien", "choice", (), False, "a value of 7 characters (letters and punctuation or symbols; not shown)"),
    ("PX93817", "choice", (), False, "a value of 7 characters (letters and digits; not shown)"),
    ("px93817", "choice", (), False, "a value of 7 characters (letters and digits; not shown)"),
    ("2012-03-10", "date", (), False, "a value of 10 characters (digits and punctuation or symbols; not shown)"),
    ("10/03/12", "choice", (), False, "a value of 8 characters (digits and punctuation or symbols; not shown)"),
    ("1234", "int", (), False, "a value of 4 characters (digits; not shown)"),
    ("x" * 25, "choice", (), False, "a value of 25 characters (letters; not shown)"),
    ("two\nlines", "choice", (), False, "a value of 9 characters (letters and control characters; not shown)"),
    ("assess", "choice", OUTCOMES, True, "a value of 6 characters (letters; not shown)"),
    ("cw1", "id", (), False, "a value of 3 characters (letters and digits; not shown)"),
    ("Zoë", "text", (), False, "a value of 3 characters (letters; not shown)"),
    ("a", "text", (), False, "a value of 1 character (letters; not shown)"),
])
def test_a_value_is_quoted_only_when_shaped_like_a_code(value, column_type, known, personal, expected):
    assert describe(value, known=known, column_type=column_type, personal=personal) == expected


def test_kinds_of_a_blank_value():
    assert kinds("") == "blank"


@pytest.mark.parametrize("cell, shown, hidden", [
    ("Jane Smith", "a value of 10 characters (letters and spaces; not shown) is not one of: assess", "Jane"),
    ("assesss", "'assesss' is not one of: assess, not_assess, withdrawn", None),
])
def test_the_rule_through_the_import(run, tmp_path, cell, shown, hidden):
    rows = [["R0001", "P0001", "2024-03-01", "CW1", "North", cell, "2024-04-01"]]
    result = run("--as-of", "2024-05-01", "import", write_csv(tmp_path / "a.csv", ASSESSMENT_HEADER, rows))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert shown in result.stderr
    if hidden:
        assert hidden not in result.output
