"""A nightly import a council can leave unattended (issue 11): broken extracts, as councils really
send them, each imported through the CLI on SQLite and PostgreSQL over a stored caseload.

Each broken extract is built here from the stored caseload (synthetic: R0001, P0001, CW001), so
what it breaks is plain to read. Every test asserts the exit code, the message, that there is no
"Traceback", and what is stored: for a refused file, every table exactly as before (a file that
fails validation leaves only its own audit row in ``import_run``, status ``rejected``).
"""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest

from .conftest import snapshot, write_csv

AS_OF = "2024-12-02"
HEADER = ["request_id", "person_id", "request_received", "caseworker", "team", "request_outcome",
          "request_outcome_date", "assessment_outcome", "assessment_outcome_date", "draft_plan_issued",
          "final_plan_issued"]
N = 60


def _day(start: str, days: int) -> str:
    return (dt.date.fromisoformat(start) + dt.timedelta(days=days)).isoformat()


def caseload(n: int = N) -> list[dict]:
    """``n`` requests received every other day from 2 January 2024; the even ones have a final plan,
    every fourth on time (130 days), the others late (160 days > 20 weeks); the odd ones are open
    and, as of 2 December 2024, overdue."""
    rows = []
    for i in range(1, n + 1):
        received = _day("2024-01-01", 2 * i)
        row = dict.fromkeys(HEADER, "")
        row.update(request_id=f"R{i:04d}", person_id=f"P{i:04d}", request_received=received,
                   caseworker=f"CW{1 + i % 15:03d}", team="North" if i % 2 else "South")
        if i % 2 == 0:
            row.update(request_outcome="assess", request_outcome_date=_day(received, 35),
                       assessment_outcome="issue", assessment_outcome_date=_day(received, 100),
                       draft_plan_issued=_day(received, 110),
                       final_plan_issued=_day(received, 130 if i % 4 == 0 else 160))
        rows.append(row)
    return rows


def extract(path, rows: list[dict], header: list[str] = HEADER, rename: dict | None = None, delimiter: str = ","):
    rename = rename or {}
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow([rename.get(h, h) for h in header])
        writer.writerows([[r.get(h, "") for h in header] for r in rows])
    return path


@pytest.fixture
def stored(run, tmp_path):
    """The database after last night's good import of the caseload."""
    result = run("--as-of", AS_OF, "import", extract(tmp_path / "last-night.csv", caseload()))
    assert result.exit_code == 0, result.output
    return run


def no_change(before: dict, after: dict, audit: int = 0) -> None:
    """Every table as before, except ``audit`` new import_run rows recording a refused file."""
    assert {k: v for k, v in after.items() if k != "import_run"} == {k: v for k, v in before.items() if k != "import_run"}
    added = [r for r in after["import_run"] if r not in before["import_run"]]
    assert len(added) == audit and all(r[set_status(after)] in ("rejected", "partial") for r in added), added
    assert set(before["import_run"]) <= set(after["import_run"])


def set_status(snap: dict) -> int:
    """The position of import_run.status in a snapshot row (columns as the database holds them)."""
    from ehcp_tracker.store import db

    return [c.name for c in db.import_run.columns].index("status")


def refused(result, *fragments) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def read_rejects(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def kpi(run, month: str, name: str) -> tuple[int, int]:
    out = run("--as-of", AS_OF, "kpi", "--month", month, "--kpi", name, "--format", "json")
    assert out.exit_code == 0, out.output
    row = next(r for r in json.loads(out.stdout) if r["basis"] == "month")
    return row["numerator"], row["denominator"]


# --------------------------------------------------------------------------- 1. a column absent

def test_a_misspelled_column_refuses_the_file_naming_it(stored, db_url, tmp_path):
    """`final_plan_isued` for `final_plan_issued`: once ignored with a warning and every final plan
    blanked (24 late plans "met" or "overdue"); now refused, nothing stored."""
    before = snapshot(db_url)
    path = extract(tmp_path / "tonight.csv", caseload(), rename={"final_plan_issued": "final_plan_isued"})
    result = stored("--as-of", AS_OF, "--quiet", "import", path)
    refused(result, "column final_plan_issued is not in the file, but 30 stored cases hold it",
            "'final_plan_isued' looks like 'final_plan_issued'", "--keep-absent final_plan_issued")
    assert len([line for line in result.output.splitlines() if line.startswith("error:")]) == 1
    no_change(before, snapshot(db_url))


def test_a_column_dropped_on_purpose_keeps_the_stored_values(stored, db_url, tmp_path):
    late_before = kpi(stored, "2024-06", "plans_issued")
    header = [h for h in HEADER if h != "final_plan_issued"]
    result = stored("--as-of", AS_OF, "import", extract(tmp_path / "tonight.csv", caseload(), header=header),
                    "--keep-absent", "final_plan_issued")
    assert result.exit_code == 0, result.output
    assert "stored values kept (--keep-absent): final_plan_issued" in result.output
    assert "0 changed" in result.output and "0 missing" in result.output
    assert kpi(stored, "2024-06", "plans_issued") == late_before
    changes = stored("changes", "--fields", "--format", "json")
    assert json.loads(changes.stdout) == []


def test_keep_absent_names_a_real_column(stored, tmp_path):
    result = stored("--as-of", AS_OF, "import", extract(tmp_path / "t.csv", caseload()), "--keep-absent", "final_plan")
    assert result.exit_code == 2 and "--keep-absent: no column 'final_plan'" in result.output
    assert "Traceback" not in result.output


def test_blank_cells_in_a_present_column_still_mean_not_happened_yet(stored, db_url, tmp_path):
    """The column is there, its cells blank: the plans really were withdrawn from the record. The
    import does it, but says so even under --quiet (mass change), and reports the statuses it changed."""
    rows = caseload()
    for r in rows:
        r["final_plan_issued"] = ""
    summary = tmp_path / "summary.json"
    result = stored("--as-of", AS_OF, "--quiet", "import", extract(tmp_path / "tonight.csv", rows),
                    "--summary-json", summary)
    assert result.exit_code == 0, result.output
    assert "mass change: final_plan_issued changed on 30 of 60 stored cases (50.0 %), cleared on 30" in result.output
    data = json.loads(summary.read_text())[0]
    assert data["mass_changes"] and len(data["statuses_changed"]) == 30
    assert {(c["old_status"], c["new_status"]) for c in data["statuses_changed"]} == {("met", "overdue"),
                                                                                      ("late", "overdue")}
    listed = json.loads(stored("changes", "--format", "json").stdout)
    assert len([c for c in listed if c["clock"] == "final_plan" and c["change"] == "status"]) == 30


# --------------------------------------------------------------------------- 2. a shrinking extract

def test_a_truncated_extract_is_refused_with_the_counts(stored, db_url, tmp_path):
    before = snapshot(db_url)
    result = stored("--as-of", AS_OF, "import", extract(tmp_path / "cut.csv", caseload()[:5]))
    refused(result, "would mark 55 of the 60 cases present in the last extract (91.7 %) as missing",
            "more than --max-missing 10 %", "--max-missing 92")
    no_change(before, snapshot(db_url))


def test_accepted_missing_cases_keep_counting_in_past_months(stored, db_url, tmp_path):
    """With --max-missing 100 the 55 are marked missing: gone from the current listings (back with
    --include-missing and a missing_since column), still counted in the months their events happened."""
    past = {name: kpi(stored, "2024-06", name) for name in ("plans_issued", "plans_within_20_weeks", "open_assessments")}
    assert past["open_assessments"][0] == 51 and kpi(stored, "2024-12", "open_assessments")[0] == 30
    overdue = stored("--as-of", AS_OF, "backlog", "--format", "json")
    assert len(json.loads(overdue.stdout)) == 30
    result = stored("--as-of", AS_OF, "import", extract(tmp_path / "cut.csv", caseload()[:5]), "--max-missing", "100")
    assert result.exit_code == 0 and "55 missing from the extract (kept)" in result.output
    assert {name: kpi(stored, "2024-06", name) for name in past} == past
    assert kpi(stored, "2024-12", "open_assessments")[0] == 3  # today, only the five still in the extract count
    assert len(json.loads(stored("--as-of", AS_OF, "backlog", "--format", "json").stdout)) == 3
    listed = json.loads(stored("--as-of", AS_OF, "clocks", "--clock", "final_plan", "--include-missing",
                               "--format", "json").stdout)
    assert len(listed) == 60
    assert {r["case_id"] for r in listed if r["missing_since"]} == {f"R{i:04d}" for i in range(6, N + 1)}
    assert {r["missing_since"][:10] for r in listed if r["missing_since"]} == {AS_OF}


# --------------------------------------------------------------------------- 3. rejected, not missing

def test_a_rejected_row_keeps_its_case_and_goes_only_to_the_rejects_file(stored, db_url, tmp_path):
    rows = caseload()
    rows[3]["final_plan_issued"] = "31/02/2024"  # R0004: one bad cell
    path = extract(tmp_path / "tonight.csv", rows)
    before = snapshot(db_url)
    result = stored("--as-of", AS_OF, "import", path, "--skip-bad-rows")
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert "0 missing from the extract" in result.output and "1 row rejected" in result.output
    no_change(before, snapshot(db_url), audit=1)  # R0004 keeps its values and its presence
    rejects = read_rejects(tmp_path / "tonight.rejects.csv")
    assert [(r["row"], r["column"], r["request_id"]) for r in rejects] == [("5", "final_plan_issued", "R0004")]
    assert "R0004" in {r["case_id"] for r in json.loads(stored("--as-of", AS_OF, "clocks", "--format", "json").stdout)}


def test_a_file_whose_only_row_is_bad_marks_nothing_missing(stored, db_url, tmp_path):
    rows = caseload()[:1]
    rows[0]["request_received"] = "soon"
    before = snapshot(db_url)
    result = stored("--as-of", AS_OF, "import", extract(tmp_path / "one.csv", rows), "--skip-bad-rows")
    refused(result, "would mark 59 of the 60 cases present")
    no_change(before, snapshot(db_url))


def test_several_files_each_get_their_own_rejects_file(stored, tmp_path):
    first, second = caseload()[:30], caseload()[30:]
    first[0]["request_received"] = "soon"
    second[0]["request_received"] = "later"
    a, b = extract(tmp_path / "north.csv", first), extract(tmp_path / "south.csv", second)
    result = stored("--as-of", AS_OF, "import", a, b, "--skip-bad-rows", "--rejects", tmp_path / "bad.csv",
                    "--max-missing", "100")
    assert result.exit_code == 3 and "Traceback" not in result.output
    for name, case in (("bad.north.csv", "R0001"), ("bad.south.csv", "R0031")):
        rows = read_rejects(tmp_path / name)
        assert [r["request_id"] for r in rows] == [case], name


# --------------------------------------------------------------------------- 4. dates no rule judges

@pytest.mark.parametrize("column,value,why", [
    ("request_received", "2004-03-01", "is before 1 September 2014, the first day the rule book judges"),
    ("request_received", "01/03/1904", "is before 1 September 2014"),
    ("final_plan_issued", "2034-06-01", "date is after the as-of date"),
])
def test_dates_the_rule_book_cannot_judge_are_rejected(stored, db_url, tmp_path, column, value, why):
    rows = caseload()
    rows[0][column] = value
    before = snapshot(db_url)
    result = stored("--as-of", AS_OF, "import", extract(tmp_path / "typo.csv", rows))
    refused(result, f"row 2, column {column}", why, "nothing was imported")
    no_change(before, snapshot(db_url), audit=1)


# --------------------------------------------------------------------------- 5. month-first columns

def test_a_month_first_file_is_never_stored_with_day_and_month_swapped(stored, db_url, tmp_path):
    """US dates (MM/DD/YYYY): 2 June written 06/02/2024 would read as 6 February. One impossible
    day-first cell in a column makes all its ambiguous cells suspect, even with --skip-bad-rows."""
    def us(iso: str) -> str:
        return f"{iso[5:7]}/{iso[8:10]}/{iso[:4]}" if iso else ""
    rows = [{k: (us(v) if k in HEADER[2:3] or k.endswith(("_date", "_issued")) else v) for k, v in r.items()}
            for r in caseload()]
    before = snapshot(db_url)
    result = stored("--as-of", AS_OF, "import", extract(tmp_path / "us.csv", rows), "--skip-bad-rows")
    assert result.exit_code == 3 and "Traceback" not in result.output
    line = next(x for x in result.output.splitlines() if "us.csv: column request_received looks month-first (US)" in x)
    assert "of 60 dates are impossible day-first" in line
    assert result.output.count("request_received looks month-first") == 1
    # nothing stored differs: every row was either rejected or had dates the same either way round
    no_change(before, snapshot(db_url), audit=1)


def test_one_impossible_day_first_cell_makes_the_ambiguous_ones_rejected_too(stored, db_url, tmp_path):
    """19 rows prove the column month-first; the 20th, 06/02/2024 (2 June), reads day-first as
    6 February: it is rejected with them, even with --skip-bad-rows, and so never stored swapped."""
    rows = [{"request_id": f"R{100 + i:04d}", "person_id": f"P{100 + i:04d}", "request_received": f"02/{13 + i}/2024"}
            for i in range(19)]
    rows.append({"request_id": "R0120", "person_id": "P0120", "request_received": "06/02/2024"})
    rows += caseload()  # the stored cases, unchanged
    result = stored("--as-of", AS_OF, "import", extract(tmp_path / "us-new.csv", rows), "--skip-bad-rows")
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert "column request_received looks month-first (US): 19 of 80 dates are impossible day-first" in result.output
    assert "row 21, column request_received: ambiguous in a month-first column" in result.output
    assert "0 new" in result.output
    assert stored("--as-of", AS_OF, "explain", "R0120").exit_code == 1


def test_a_column_without_a_month_first_cell_is_read_day_first(run, tmp_path):
    path = write_csv(tmp_path / "uk.csv", ["request_id", "person_id", "request_received"],
                     [["R1", "P1", "06/02/2024"], ["R2", "P2", "13/02/2024"]])
    assert run("--as-of", AS_OF, "import", path).exit_code == 0
    listed = json.loads(run("--as-of", AS_OF, "clocks", "--clock", "final_plan", "--format", "json").stdout)
    assert {r["case_id"]: r["started"][:10] for r in listed} == {"R1": "2024-02-06", "R2": "2024-02-13"}


def test_review_dates_no_rule_judges(run, db_url, tmp_path):
    """A planned transfer decades ahead, a date of birth a lifetime ago: rejected, the birth date
    never echoed."""
    path = write_csv(tmp_path / "r.csv", ["review_id", "person_id", "plan_issued", "phase_transfer", "transfer_date",
                                          "date_of_birth"],
                     [["AR1", "P1", "2023-01-10", "post16_move", "2040-09-01", ""],
                      ["AR2", "P2", "2023-01-10", "", "", "1950-05-17"]])
    before = snapshot(db_url)
    result = run("--as-of", AS_OF, "import", path)
    refused(result, "row 2, column transfer_date: more than 5 years after the as-of date",
            "row 3, column date_of_birth: more than 30 years before the as-of date")
    assert "1950" not in result.output
    no_change(before, snapshot(db_url), audit=1)


# --------------------------------------------------------------------------- 6. separators

@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_european_excel_separators_are_read(stored, db_url, tmp_path, delimiter):
    before = snapshot(db_url)
    result = stored("--as-of", AS_OF, "import", extract(tmp_path / "eu.csv", caseload(), delimiter=delimiter))
    assert result.exit_code == 0, result.output
    assert "60 unchanged" in result.output
    assert {k: v for k, v in snapshot(db_url).items() if k != "import_run"} == \
        {k: v for k, v in before.items() if k != "import_run"}


def test_a_pipe_separated_file_is_refused_by_name(stored, db_url, tmp_path):
    before = snapshot(db_url)
    result = stored("--as-of", AS_OF, "import", extract(tmp_path / "pipe.csv", caseload(), delimiter="|"))
    refused(result, "pipe.csv: the header is separated by pipe (|), which is not read")
    assert "required" not in result.output  # not the misleading "required column missing"
    no_change(before, snapshot(db_url), audit=0)


@pytest.mark.parametrize("header", ["request_id|person_id|request_received", "request_id^person_id"])
def test_an_unread_separator_is_named(header):
    from ehcp_tracker.errors import EhcpError
    from ehcp_tracker.ingest.extract import _separator

    with pytest.raises(EhcpError, match="is not read"):
        _separator(f"{header}\nR1|P1|2024-01-01\n", "x.csv")


# --------------------------------------------------------------------------- 7. ehcp changes

def test_changes_reports_the_whole_import_command_and_its_fields(stored, tmp_path):
    rows = caseload()
    rows[0]["request_received"] = "2024-01-05"  # R0001 moves
    rows[1]["caseworker"] = "CW009"
    reviews = tmp_path / "reviews.csv"
    write_csv(reviews, ["review_id", "person_id", "plan_issued"], [["AR1", "P1", "2023-01-10"]])
    result = stored("--as-of", AS_OF, "import", extract(tmp_path / "tonight.csv", rows), reviews)
    assert result.exit_code == 0, result.output
    listed = stored("changes", "--format", "json")
    assert "import runs 2, 3:" in listed.output
    moves = json.loads(listed.stdout)
    assert {(m["case_id"], m["clock"]) for m in moves} >= {("R0001", "final_plan")}
    fields = json.loads(stored("changes", "--fields", "--format", "json").stdout)
    pairs = {(f["case_id"], f["field"], f["old_value"], f["new_value"]) for f in fields}
    assert ("R0001", "request_received", "2024-01-03", "2024-01-05") in pairs
    assert ("R0002", "caseworker", "CW003", "CW009") in pairs
    assert ("AR1", "(new case)", "", "created") in pairs


# --------------------------------------------------------------------------- 8. filters

@pytest.mark.parametrize("given", ["CW005", "cw005", " CW005 "])
def test_caseworker_filter_forgives_case_and_spaces(stored, given):
    out = stored("--as-of", AS_OF, "clocks", "--caseworker", given, "--format", "json")
    assert out.exit_code == 0, out.output
    assert {r["caseworker"] for r in json.loads(out.stdout)} == {"CW005"}


def test_team_filter_forgives_case(stored):
    out = stored("--as-of", AS_OF, "breaches", "--team", "north", "--format", "json")
    assert out.exit_code == 0 and {r["team"] for r in json.loads(out.stdout)} == {"North"}


def test_an_unknown_caseworker_is_an_error_naming_the_known_ones(stored):
    out = stored("--as-of", AS_OF, "due", "--caseworker", "CW999")
    refused(out, "no caseworker 'CW999' (known: CW001 ... CW015")
    assert out.stdout == ""


def test_explain_suggests_the_closest_ids(stored):
    out = stored("--as-of", AS_OF, "explain", "R00012")
    refused(out, "no assessment request or review with ID 'R00012'; closest: R0012")
    assert stored("--as-of", AS_OF, "explain", " r0012 ").exit_code == 0


# --------------------------------------------------------------------------- 9. the file's language

PROFILE = """
[profile]
name = "letters"
kind = "reviews"
[columns]
"Review No" = "review_id"
"Child No" = "person_id"
"Plan Date" = "plan_issued"
"Meeting Date" = "review_meeting"
"Decision Letter Sent" = "decision_notified"
"Outcome" = "decision"
"""


def test_a_profile_error_names_the_files_own_header_and_no_false_blank(run, db_url, tmp_path):
    profile = tmp_path / "letters.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    path = tmp_path / "reviews.csv"
    write_csv(path, ["Review No", "Child No", "Plan Date", "Meeting Date", "Decision Letter Sent", "Outcome"],
              [["AR1", "P1", "2023-01-10", "2024-01-05", "31/02/2024", "maintain"],
               ["AR2", "P2", "2023-01-10", "2024-01-05", "", "maintain"]])
    before = snapshot(db_url)
    result = run("--as-of", AS_OF, "import", path, "--profile", profile)
    refused(result, "row 2, column 'Decision Letter Sent' (decision_notified): no such day in the calendar",
            "row 3, column 'Decision Letter Sent' (decision_notified): decision is recorded but "
            "decision_notified ('Decision Letter Sent') is blank")
    # the bad date of row 2 is not also "decision recorded but its date blank"
    assert "row 2, column 'Decision Letter Sent' (decision_notified): decision is recorded" not in result.output
    no_change(before, snapshot(db_url), audit=1)


def test_twenty_thousand_unknown_columns_are_one_warning(run, tmp_path):
    header = ["request_id", "person_id", "request_received"] + [f"junk{i}" for i in range(20_000)]
    path = write_csv(tmp_path / "wide.csv", header, [["R1", "P1", "2024-03-01"] + [""] * 20_000])
    result = run("--as-of", AS_OF, "import", path)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: wide.csv: 20000 columns are not recognised and were ignored "
                        "('junk0', 'junk1', 'junk2', 'junk3', 'junk4', ...)"]


def test_using_a_profile_is_information_not_a_warning(run):
    from .conftest import ROOT

    result = run("--as-of", AS_OF, "import", ROOT / "tests" / "data" / "system-a-assessments.csv")
    assert result.exit_code == 0, result.output
    assert "note: system-a-assessments.csv: using profile 'system-a-assessments'" in result.output
    assert "warning: system-a-assessments.csv: using profile" not in result.output


# --------------------------------------------------------------------------- the rules, as tables

@pytest.mark.parametrize("cell,order", [
    ("2024-03-05", 0),          # ISO: never ambiguous
    (dt.date(2024, 3, 5), 0),   # an Excel date cell
    ("05/03/2024", 1),          # 5 March or 3 May
    ("5.3.24", 1),
    ("05/05/2024", 0),          # the same day either way round
    ("25/03/2024", 0),          # day-first only
    ("03/25/2024", 2),          # month-first only
    ("03-25-2024", 2),
    ("13/13/2024", 0),          # neither: the calendar check rejects it
    ("soon", 0),
])
def test_date_order_of_a_cell(cell, order):
    from ehcp_tracker.ingest.validate import _date_order

    assert _date_order(cell) == order


@pytest.mark.parametrize("header,separator", [
    ("request_id,person_id,request_received", ","),
    ("request_id;person_id;request_received", ";"),
    ("request_id\tperson_id\trequest_received", "\t"),
    ('"a;b",person_id,request_received', ","),  # more commas than semicolons: a comma file
    ("request_id", ","),
])
def test_separator_is_read_from_the_header_line(header, separator):
    from ehcp_tracker.ingest.extract import _separator

    assert _separator(f"\n{header}\nR1,P1,2024-01-01\n") == separator


@pytest.mark.parametrize("changed,stored_cases,warned", [
    (10, 100, True),    # 10 % of the stored cases
    (5, 100, False),    # exactly 5 %: not more than it
    (9, 20, False),     # 45 %, but fewer than MASS_CHANGE_MIN_CASES
    (60, 1000, True),   # 6 %
    (50, 1000, False),  # 5 %
])
def test_mass_change_threshold(changed, stored_cases, warned):
    import numpy as np

    from ehcp_tracker.ingest.guards import mass_changes

    differs = np.zeros((stored_cases, 2), dtype=bool)
    differs[:changed, 0] = True
    after = np.full((stored_cases, 2), "x", dtype=object)
    lines = mass_changes("f.csv", ["caseworker", "team"], differs, after, stored_cases)
    assert bool(lines) == warned and all("caseworker" in line for line in lines)
