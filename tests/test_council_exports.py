"""Council-shaped exports (issue 23): title lines above the header and totals below the data, in CSV
as in XLSX, are skipped and said once, never reported as bad rows; exit codes a scheduler can use
(0 imported, 3 imported with rejected rows, 1 refused); many errors of one kind come as one group.
"""

from __future__ import annotations

import json

import pytest
from openpyxl import Workbook

from ehcp_tracker.errors import Problem, grouped_problems
from ehcp_tracker.ingest.edges import footer_count, header_index, is_footer

AS_OF = "2026-11-02"
# A system's own headers (the shipped system-a-assessments profile), Windows-1252 text, CRLF line ends
HEADER = ["Request ID", "Person ID", "Date Request Received", "Caseworker", "Team Name", "Decision To Assess",
          "Date Decision To Assess Notified"]


def _rows(n: int) -> list[list[str]]:
    """``n`` good rows, dates day-first in the three spellings councils' exports mix."""
    spellings = ["05/03/2026", "05-03-2026", "2026-03-05"]
    return [[f"R{i:04d}", f"P{i:04d}", spellings[i % 3], "CW1", "Nörth", "Y", "10/04/2026"] for i in range(1, n + 1)]


def _csv(path, lines: list[list[str]], sep: str = ",", encoding: str = "cp1252"):
    path.write_bytes("".join(sep.join(cells) + "\r\n" for cells in lines).encode(encoding))
    return path


TITLE = [["EHC needs assessment requests"], ["Report run 02/11/2026 by SEND team"], []]


@pytest.mark.parametrize("sep", [",", ";"])
@pytest.mark.parametrize("footer", [
    [["Total records: 3"]],                                       # one cell
    [["Total records: 3", "", "", "", "", "", ""]],               # as wide as the header (the fast CSV path)
    [[], ["Total records: 3"], ["End of report"]],                # a blank line, then two
])
def test_a_csv_with_title_lines_and_a_footer_imports_its_cases(run, tmp_path, sep, footer):
    path = _csv(tmp_path / "council.csv", [*TITLE, HEADER, *_rows(3), *footer], sep)
    summary = tmp_path / "summary.json"
    result = run("--as-of", AS_OF, "import", path, "--summary-json", summary)
    assert result.exit_code == 0, result.output
    assert "3 new" in result.output and "rejected" not in result.output
    skipped_footer = [r for r in footer if r]
    line = next(x for x in result.output.splitlines() if "skipped" in x and "not cases" in x)
    assert "2 rows (1-2) above the header (title lines)" in line
    assert f"{len(skipped_footer)} row" in line.split("above the header")[1]
    assert "Total records" not in result.output, "a footer's text is not echoed"
    data = json.loads(summary.read_text())[0]
    assert data["skipped_rows"]["title"] == [1, 2]
    assert len(data["skipped_rows"]["footer"]) == len(skipped_footer)
    assert data["rows_read"] == 3 and data["rejected"] == 0


def test_an_xlsx_with_title_and_footer_rows_imports_its_cases(run, tmp_path):
    book = Workbook()
    sheet = book.active
    for row in [["Assessment requests"], [], HEADER, *_rows(4), [], ["Total records: 4"], ["Source: case system"]]:
        sheet.append(row)
    path = tmp_path / "council.xlsx"
    book.save(path)
    result = run("--as-of", AS_OF, "import", path)
    assert result.exit_code == 0, result.output
    assert "4 new" in result.output
    assert "skipped 1 row (1) above the header (title lines) and 2 rows (9-10) below the data" in result.output


def test_a_bad_row_with_skip_bad_rows_exits_3_and_without_it_1(run, tmp_path):
    rows = _rows(5)
    rows[2][2] = "31/02/2026"
    path = _csv(tmp_path / "council.csv", [*TITLE, HEADER, *rows, ["Total records: 5"]])
    refused = run("--as-of", AS_OF, "import", path)
    assert refused.exit_code == 1 and "nothing was imported" in refused.output
    assert "row 7, column 'Date Request Received' (request_received)" in refused.output
    assert "Total" not in refused.output and "row 9" not in refused.output, "the footer is not a bad row"
    partial = run("--as-of", AS_OF, "import", path, "--skip-bad-rows")
    assert partial.exit_code == 3, partial.output
    assert "4 new" in partial.output and "1 row rejected" in partial.output
    again = run("--as-of", AS_OF, "import", _csv(tmp_path / "clean.csv", [HEADER, *_rows(5)]))
    assert again.exit_code == 0


def test_a_wider_row_in_the_data_says_so_plainly(run, tmp_path):
    rows = _rows(4)
    rows[1] = rows[1] + ["stray", "cells"]
    result = run("--as-of", AS_OF, "import", _csv(tmp_path / "wide.csv", [*TITLE, HEADER, *rows]))
    assert result.exit_code == 1
    assert "wide.csv, row 6: 9 cells but the header has 7 (header row 4): is a comma inside an unquoted value" \
        in result.output
    assert "Traceback" not in result.output


def test_many_errors_of_one_kind_are_one_group_with_count_and_first_rows(run, tmp_path):
    rows = _rows(40)
    for row in rows[5:35]:
        row[6] = "not a date"
    rows[0][5] = "Maybe"
    result = run("--as-of", AS_OF, "import", _csv(tmp_path / "many.csv", [HEADER, *rows]))
    assert result.exit_code == 1
    out = result.output
    assert "31 problems in 31 rows" in out
    group = next(x for x in out.splitlines() if "30 rows" in x)
    assert "(request_outcome_date)" in group and "7, 8, 9, 10, 11, 12, 13, 14, 15, 16 and 20 more" in group
    assert sum(", column 'Date Decision To Assess Notified'" in x for x in out.splitlines()) == 3, "the first 3 in full"
    assert "row 2, column 'Decision To Assess' (request_outcome)" in out


@pytest.mark.parametrize("rows, expected", [
    ([["Title"], [], ["request_id", "person_id", "x"]], 2),
    ([["request_id", "person_id"], ["R1", "P1"]], 0),
    ([["Report"], ["Request ID", "Person ID"]], 1),          # a profile's headers count as known
    ([["R1", "P1", "2024-01-01"]], 0),                        # no known header: the first row (refused later)
    ([[], [" "]], None),
])
def test_header_index(rows, expected):
    known = {"request_id", "person_id", "request id", "person id"}
    assert header_index(rows, known) == expected


@pytest.mark.parametrize("row, footer", [
    (["Total records: 3000", "", ""], True),
    (["TOTAL", "3000", ""], True),
    (["", "Grand total", "12"], True),
    (["Number of records 12"], True),
    (["End of report"], True),
    (["Report generated on 02/11/2026"], True),
    (["", "", ""], True),
    (["Exported from the case system"], True),                # one cell of words
    (["R0003", "P0003", "2026-03-05"], False),               # a case row
    (["R0003"], False),                                       # a cut-off case row: reported, not skipped
    (["Totally R0003", "P0003", "2026-03-05"], False),
])
def test_is_footer(row, footer):
    assert is_footer(row, 7) is footer


def test_footer_count_takes_only_the_trailing_run():
    rows = [["R1", "P1", "d"], ["Total: 1"], ["R2", "P2", "d"], ["Total records: 2"], ["End of report"]]
    assert footer_count(rows, 3) == 2
    assert footer_count(rows[:3], 3) == 0


def test_grouping_keeps_small_groups_whole():
    problems = [Problem("f.csv", r, "team", "bad_value", f"bad {r}") for r in (2, 3)]
    problems += [Problem("f.csv", r, "request_received", "bad_date", "not a date") for r in range(4, 10)]
    lines = grouped_problems(problems)
    assert lines[:2] == ["f.csv, row 2, column team: bad 2", "f.csv, row 3, column team: bad 3"]
    assert lines[2] == "column request_received, bad date: 6 rows (4, 5, 6, 7, 8, 9); the first 3:"
    assert lines[3:] == [f"  f.csv, row {r}, column request_received: not a date" for r in (4, 5, 6)]
