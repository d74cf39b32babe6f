"""SEN2 returns in (issue 26): structure per year, the item -> column -> code map, keys, the clocks a
return cannot judge, the check, and hostile files refused in one line with nothing stored."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from pathlib import Path

import pytest
import sqlalchemy as sa

from ehcp_tracker.sen2.check import DFE, OURS, check_return, upn_check_letter
from ehcp_tracker.sen2.keys import person_key
from ehcp_tracker.sen2.mapping import map_return
from ehcp_tracker.sen2.read import read_return
from ehcp_tracker.sen2.structure import YEARS, xsd, xsd_path
from ehcp_tracker.store import db

from .conftest import snapshot
from ehcp_tracker.sen2.read import Node

from .sen2_returns import person, write_return

AS_OF = "2026-01-20"
ROOT = Path(__file__).resolve().parents[1]
SECRET = bytes(32)


def small_return() -> list:
    """Four invented children of the 2026 return (calendar year 2025)."""
    return [
        person(requests=[dict(ReceivedDate="2025-01-06", RequestOutcomeDate="2025-02-10", RequestOutcome="Y",
                              assessment=dict(AssessmentOutcome="Y", AssessmentOutcomeDate="2025-05-20", Week20="0"),
                              plan=dict(StartDate="2025-05-26"), active={})]),
        person(upn=None, UniqueLearnerNumber="1234567890", Surname="Other",
               requests=[dict(ReceivedDate="2025-03-03", RequestOutcomeDate="2025-04-10", RequestOutcome="Y",
                              assessment=dict(AssessmentOutcome="Y", AssessmentOutcomeDate="2025-08-01", Week20="1"),
                              plan=dict(StartDate="2025-08-04"), active={})]),
        person(upn=None, Surname="Third", birth="2010-02-02", UPNunknown="UN1",
               requests=[dict(RequestOutcome="H", assessment=dict(AssessmentOutcome="H"), plan=dict(StartDate="2019-06-03"),
                              active=dict(LastReview="2025-06-10", ReviewMeeting="2025-12-01"))]),
        person(upn="Q801200005002", Surname="Fourth",
               requests=[dict(ReceivedDate="2025-10-01", RequestOutcome="A")]),
    ]


def test_the_xsds_are_written_from_structure_py():
    for year in YEARS:
        assert xsd_path(year).read_text("utf-8") == xsd(year), f"run python -m ehcp_tracker.sen2.structure ({year})"


@pytest.mark.parametrize("year", YEARS)
def test_each_years_structure_accepts_its_own_return(tmp_path, year):
    path = write_return(tmp_path / "r.xml", small_return(), year=year)
    ret, findings = check_return(path)
    assert ret.header.year == year
    assert [f for f in findings if f.label == DFE] == []


def test_2026_moved_last_review_to_the_end_of_active_plans(tmp_path):
    """Written in the 2025 order (LastReview before ReviewOutcome), a 2026 return fails its structure."""
    persons = small_return()
    persons[2].all("Requests")[0].first("ActivePlans").fields["ReviewOutcome"] = "M"
    text = write_return(tmp_path / "r.xml", persons, year=2025).read_text("utf-8")
    path = tmp_path / "r26.xml"
    path.write_text(text.replace("<Year>2025</Year>", "<Year>2026</Year>"), encoding="utf-8")
    _, findings = check_return(path)
    structure = [f for f in findings if f.label == DFE]
    assert structure and all(f.module == "ActivePlans" and f.person == 3 for f in structure)


@pytest.mark.parametrize("item, code, column, value", [
    ("RequestOutcome", "Y", "request_outcome", "assess"),
    ("RequestOutcome", "N", "request_outcome", "not_assess"),
    ("RequestOutcome", "W", "request_outcome", "withdrawn"),
    ("RequestOutcome", "A", "request_outcome", ""),
    ("RequestOutcome", "H", None, None),  # historical: no assessment row
    ("AssessmentOutcome", "Y", "assessment_outcome", "issue"),
    ("AssessmentOutcome", "N", "assessment_outcome", "not_issue"),
    ("AssessmentOutcome", "A", "assessment_outcome", ""),
    ("AssessmentOutcome", "W", "closed_reason", "withdrawn (SEN2 AssessmentOutcome W)"),
    ("AssessmentOutcome", "H", None, None),
    ("Week20", "1", "exception_reason", "sen2_week20"),
    ("Week20", "0", "exception_reason", ""),
])
def test_each_code_maps_to_its_canonical_value(tmp_path, item, code, column, value):
    assessment = {"AssessmentOutcome": "Y", "AssessmentOutcomeDate": "2025-05-01", "Week20": "0"}
    req = {"ReceivedDate": "2025-01-06", "RequestOutcomeDate": "2025-02-10", "RequestOutcome": "Y"}
    (assessment if item != "RequestOutcome" else req)[item] = code
    path = write_return(tmp_path / "r.xml", [person(requests=[dict(**req, assessment=assessment)])])
    rows = map_return(read_return(path), lambda: SECRET).assessments
    if column is None:
        assert len(rows) == 0
    else:
        assert rows.loc[0, column] == value and rows.loc[0, "source"] == "sen2"


@pytest.mark.parametrize("column, item", [
    ("request_received", "ReceivedDate"), ("request_outcome_date", "RequestOutcomeDate"),
    ("assessment_outcome_date", "AssessmentOutcomeDate"), ("final_plan_issued", "StartDate")])
def test_each_assessment_date_comes_from_its_item(tmp_path, column, item):
    path = write_return(tmp_path / "r.xml", small_return())
    rows = map_return(read_return(path), lambda: SECRET).assessments
    expected = {"ReceivedDate": "2025-01-06", "RequestOutcomeDate": "2025-02-10",
                "AssessmentOutcomeDate": "2025-05-20", "StartDate": "2025-05-26"}[item]
    assert rows.loc[0, column] == expected


def test_review_rows_are_the_open_cycle(tmp_path):
    """last_review = LastReview (design.md s3); a meeting after it belongs to the open cycle; names,
    postcode and ethnicity are in no row."""
    path = write_return(tmp_path / "r.xml", small_return())
    mapped = map_return(read_return(path), lambda: SECRET)
    reviews = mapped.reviews.set_index("plan_issued")
    third = reviews.loc["2019-06-03"]
    assert (third["last_review"], third["review_meeting"], third["date_of_birth"]) == ("2025-06-10", "2025-12-01",
                                                                                     "2010-02-02")
    assert reviews.loc["2025-05-26", "review_meeting"] == ""
    text = mapped.assessments.to_csv() + mapped.reviews.to_csv()
    for personal in ("Zebedee", "Quentin", "Other", "Third", "WBRI", "B801200005001", "1234567890"):
        assert personal not in text
    assert any("1 historical request" in n for n in mapped.notes)


@pytest.mark.parametrize("fields, basis", [
    ({"UPN": "B801200005001", "UniqueLearnerNumber": "1234567890"}, "upn"),
    ({"UniqueLearnerNumber": "1234567890", "Surname": "A"}, "uln"),
    ({"Surname": "A", "Forename": "B", "PersonBirthDate": "2014-01-01"}, "details"),
    ({}, "position"),
])
def test_person_keys_prefer_upn_then_uln_then_details(fields, basis):
    key, found = person_key(SECRET, "340", fields, 7)
    assert found == basis and len(key) == 20
    assert key == person_key(SECRET, "340", dict(fields), 7)[0]  # stable
    assert key != person_key(bytes([1]) * 32, "340", fields, 7)[0]  # keyed by the database's secret
    for value in fields.values():
        assert value not in key


def test_details_key_ignores_case_and_spacing():
    one = person_key(SECRET, "340", {"Surname": "Smith ", "Forename": "ann  marie", "PersonBirthDate": "2014-01-01"}, 1)
    two = person_key(SECRET, "340", {"Surname": "SMITH", "Forename": "Ann Marie", "PersonBirthDate": "2014-01-01"}, 9)
    assert one == two


def _rows(db_url, table):
    engine = db.connect(db_url)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(db.metadata.tables[table]))]
    engine.dispose()
    return rows


def test_import_a_return_through_the_cli(run, db_url, tmp_path):
    path = write_return(tmp_path / "SEN2_2026.xml", small_return())
    result = run("--as-of", AS_OF, "import", path)
    assert result.exit_code == 0, result.output
    assessments, reviews = _rows(db_url, "assessment"), _rows(db_url, "review")
    assert (len(assessments), len(reviews)) == (3, 3)
    assert {r["source"] for r in assessments + reviews} == {"sen2"}
    stored = str(snapshot(db_url))
    for personal in ("Zebedee", "Quentin", "WBRI", "B801200005001", "1234567890"):
        assert personal not in stored and personal not in result.output
    clocks = list(csv.DictReader(io.StringIO(run("--as-of", AS_OF, "clocks", "--format", "csv").stdout)))
    named = {c["clock"] for c in clocks}
    # not judged: the SEN2 holds no advice or review-procedure dates, so these are never breaches
    assert not named & {"advice_ep", "review_meeting_notice", "review_advice_circulated", "review_report",
                        "amended_plan"}
    late = [c for c in clocks if c["clock"] == "final_plan" and c["started"] == "2025-03-03"]
    assert [(c["status"], c["exception"]) for c in late] == [("late", "sen2_week20")]
    pending = [c for c in clocks if c["clock"] == "review_decision"]
    assert [(c["started"], c["due"], c["status"]) for c in pending] == [("2025-12-01", "2025-12-29", "overdue")]
    third = [c for c in clocks if c["clock"] == "annual_review" and c["started"] == "2025-06-10"]
    assert [c["due"] for c in third] == ["2026-06-09"]
    queries = run("--as-of", AS_OF, "queries", "--format", "csv").stdout
    assert queries.count("sen2_exception_ground") == 1
    review_id = pending[0]["case_id"]
    explained = run("--as-of", AS_OF, "explain", review_id).stdout
    assert "not judged: the SEN2 does not hold this date (review_report_sent)" in explained


def test_reimporting_next_years_return_keeps_the_keys(run, db_url, tmp_path):
    """The 2026 return again a year on: the same children, one plan reviewed since, one new request."""
    run("--as-of", AS_OF, "import", write_return(tmp_path / "SEN2_2026.xml", small_return()))
    ids = {r["request_id"] for r in _rows(db_url, "assessment")}
    later = small_return()
    later[0].all("Requests")[0].first("ActivePlans").fields["LastReview"] = "2026-05-01"
    later.append(person(upn=None, Surname="Fifth", requests=[dict(ReceivedDate="2026-03-02", RequestOutcome="A")]))
    result = run("--as-of", "2027-01-25", "import", write_return(tmp_path / "SEN2_2027.xml", later, year=2026))
    assert result.exit_code == 0, result.output
    assert "assessments, 4 rows: 1 new, 0 changed, 3 unchanged" in result.output
    assert "reviews, 3 rows: 0 new, 1 changed, 2 unchanged" in result.output
    assert ids < {r["request_id"] for r in _rows(db_url, "assessment")}


HOSTILE = {
    "malformed": ("<Message><Header>", "not well-formed XML"),
    "wrong root": ("<Return><Header/></Return>", "root element is 'Return'"),
    "wrong collection": ("<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2026</Year>"
                         "</CollectionDetails></Header></Message>", "not 'SEN2'"),
    "unknown year": ("<Message><Header><CollectionDetails><Collection>SEN2</Collection><Year>2023</Year>"
                     "</CollectionDetails></Header></Message>", "collection year '2023' is not one"),
    "entity expansion": ('<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">'
                         '<!ENTITY c "&b;&b;&b;&b;&b;&b;">]><Message>&c;</Message>', "refused: the XML declares"),
    "external entity": ('<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                        "<Message>&x;</Message>", "refused: the XML declares"),
    "too deep": ("<Message>" + "<a>" * 40 + "</a>" * 40 + "</Message>", "nested more than"),
}


@pytest.mark.parametrize("name", [*HOSTILE, "2 GB claim"])
def test_hostile_returns_are_refused_in_one_line_with_nothing_stored(run, db_url, tmp_path, name):
    path = tmp_path / "return.xml"
    if name == "2 GB claim":
        with open(path, "wb") as handle:  # sparse: 2 GiB by its size, nothing written
            handle.write(b"<Message>")
            handle.truncate(2 * 1024 ** 3)
        expected = "larger than any SEN2 return"
    else:
        text, expected = HOSTILE[name]
        path.write_text(text, encoding="utf-8")
    before = snapshot(db_url)
    for args in (("import", path), ("sen2", "check", path)):
        result = run("--as-of", AS_OF, *args)
        assert result.exit_code == 1
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.output, result.output
    assert snapshot(db_url) == before


def test_a_return_failing_validation_is_refused_whole(run, db_url, tmp_path):
    """A bad request (no ReceivedDate) refuses the file: not even its plans are stored."""
    persons = small_return()
    del persons[0].all("Requests")[0].fields["ReceivedDate"]
    result = run("--as-of", AS_OF, "import", write_return(tmp_path / "r.xml", persons))
    assert result.exit_code == 1 and "row 1" in result.output and "Traceback" not in result.output
    assert _rows(db_url, "assessment") == [] and _rows(db_url, "review") == []


@pytest.mark.parametrize("upn, letter", [
    ("B801200005001", "B"), ("A801200005001", "B"),
    # by hand, the Standards Catalogue's rule (weights 2..13, sum mod 23, alphabet without I, O, S):
    # 2*2 + 4*7 + 9*1 + 10*6 + 12*4 + 13*9 = 266 = 11*23 + 13 -> P
    ("X207000016049", "P"),
    # temporary UPN: 2*1+3*2+4*3+5*4+6*5+7*6+8*7+9*8+10*9+11*0+12*1 = 342, final A = 0; 342 = 14*23 + 20 -> X
    ("A12345678901A", "X"),
    ("A1234567890I2", None),  # a letter inside: not a UPN's body
])
def test_upn_check_letter(upn, letter):
    assert upn_check_letter(upn) == letter


def _mutate(persons, where, **items):
    node = persons[0].all("Requests")[0]
    for step in where:
        node = node.first(step)
    for name, value in items.items():
        if value is None:
            node.fields.pop(name, None)
        else:
            node.fields[name] = value
    return persons


@pytest.mark.parametrize("where, items, label, module, item", [
    ((), {"RequestOutcomeDate": "2024-12-01"}, OURS, "Requests", "RequestOutcomeDate"),
    (("Assessment",), {"AssessmentOutcomeDate": None}, DFE, "Assessment", "AssessmentOutcomeDate"),
    (("Assessment",), {"AssessmentOutcomeDate": "2025-02-01"}, OURS, "Assessment", "AssessmentOutcomeDate"),
    (("Assessment",), {"Week20": None}, OURS, "Assessment", "Week20"),
    (("Assessment",), {"AssessmentOutcome": "N"}, OURS, "NamedPlan", "StartDate"),
    (("Assessment", "NamedPlan"), {"StartDate": "2026-02-01"}, OURS, "NamedPlan", "StartDate"),
    ((), {"ReceivedDate": None}, DFE, "Requests", "ReceivedDate"),
    ((), {"RequestOutcome": "Q"}, DFE, "Requests", "RequestOutcome"),
    (("Assessment",), {"Week20": "2"}, DFE, "Assessment", "Week20"),
])
def test_each_cross_field_rule(tmp_path, where, items, label, module, item):
    path = write_return(tmp_path / "r.xml", _mutate(small_return(), where, **items))
    _, findings = check_return(path)
    hits = [f for f in findings if (f.label, f.module, f.item) == (label, module, item)]
    assert hits and hits[0].person == 1 and hits[0].severity == "error", findings


def test_check_cli_lines_name_positions_not_people(run, tmp_path):
    persons = small_return()
    persons[1].fields["UniqueLearnerNumber"] = "12AB"
    persons[3].fields["UPN"] = "C801200005001"
    result = run("sen2", "check", write_return(tmp_path / "r.xml", persons))
    assert result.exit_code == 1
    assert "error: DfE structure: Person, person 2, UniqueLearnerNumber: not in the format \\d{10}" in result.stdout
    assert "error: ehcp-tracker rule: Person, person 4, UPN: the check letter" in result.stdout
    assert "12AB" not in result.output and "C801200005001" not in result.output and "Other" not in result.output
    clean = run("sen2", "check", write_return(tmp_path / "ok.xml", small_return()))
    assert clean.exit_code == 0 and clean.stdout == ""


def reconcile_return() -> list:
    """Five plans started in 2025, the days from request to plan chosen by hand, and one in 2024."""
    def plan(upn, received, start, week20="0", outcome="Y"):
        req = dict(ReceivedDate=received, RequestOutcomeDate=received, RequestOutcome=outcome,
                   assessment=dict(AssessmentOutcome="Y" if outcome != "H" else "H",
                                   AssessmentOutcomeDate=start, Week20=week20), plan=dict(StartDate=start))
        if outcome == "H":
            del req["ReceivedDate"], req["RequestOutcomeDate"]
        return person(upn=upn, requests=[req])
    persons = [
        plan("B801200005001", "2025-01-06", "2025-05-26"),           # 140 days: within 20 weeks (boundary)
        plan("Q801200005002", "2025-01-06", "2025-05-27"),           # 141 days: 20 to 52 weeks
        plan("M801200005003", "2024-06-02", "2025-06-02"),           # 365 days: over a year
        plan("J801200005004", "2025-02-03", "2025-05-14", "1"),      # 100 days, Week20 = 1: within, an exception
        plan("G801200005005", "", "2025-07-01", outcome="H"),        # no ReceivedDate: counted, in no band
        plan("D801200005006", "2024-01-08", "2024-05-20"),           # started 2024: not in 2025
        person(upn="Z801200005007", requests=[dict(ReceivedDate="2025-03-03", RequestOutcomeDate="2025-04-15",
                                                   RequestOutcome="N")]),  # decided on day 43: over 6 weeks
    ]
    # reviews concluded in 2025: 28 days from meeting to decision (within 4 weeks) and 29 (over)
    persons[2].all("Requests")[0].children["ActivePlans"] = [
        Node("ActivePlans", {"ReviewMeeting": "2025-09-01", "LastReview": "2025-09-29",
                             "PhaseTransferDueDate": "2025-02-14", "PhaseTransferFinalDate": "2025-02-10"})]
    persons[5].all("Requests")[0].children["ActivePlans"] = [
        Node("ActivePlans", {"ReviewMeeting": "2025-04-01", "LastReview": "2025-04-30",
                             "PhaseTransferDueDate": "2024-03-31", "PhaseTransferFinalDate": "2025-03-01"})]
    return persons


# Counted by hand from the dates above (not from the code): 5 plans started in 2025; within 20 weeks
# 140 and 100 days = 2, of which 1 is an exception; 20-52 weeks 1 (141); over a year 1 (365);
# excluding exceptions 4 plans, 1 within; average (140 + 141 + 365 + 100) / 4 / 7 = 26.64 -> 26.6
# weeks, excluding the exception (140 + 141 + 365) / 3 / 7 = 30.76 -> 30.8. Decisions whether to assess
# made in 2025: three on the day received, one on day 43 (over 6 weeks); review decisions made in
# 2025: 28 days after the meeting and 29 (one within 4 weeks, one over). Phase transfers: one review
# due in 2025 (the other was due in 2024), two final plans issued in 2025.
HAND_COUNTED = {"phase transfer reviews due in the year": 1,
                "final plans after a phase transfer review issued in the year": 2,
                "decisions whether to assess within 6 weeks": 3, "decisions whether to assess over 6 weeks": 1,
                "review decisions within 4 weeks": 1, "review decisions over 4 weeks": 1,
                "plans issued": 5, "plans issued (excl. exceptions)": 4, "within 20 weeks (incl. exceptions)": 2,
                "within 20 weeks (excl. exceptions)": 1, "20 to 52 weeks (incl. exceptions)": 1,
                "over a year (incl. exceptions)": 1, "average weeks (incl. exceptions)": 26.6,
                "average weeks (excl. exceptions)": 30.8}


def test_reconciliation_hand_counted(run, tmp_path):
    path = write_return(tmp_path / "SEN2_2026.xml", reconcile_return())
    dfe = tmp_path / "timeliness_20_week.csv"
    dfe.write_bytes(  # the 2025 edition's spelling: a BOM, PC_ and ltYear, "All EHC plans issued"
        "\ufefftime_period,time_identifier,geographic_level,old_la_code,new_la_code,la_name,breakdown_topic,breakdown,"
        "plans_issued_den,plans_issued_den_ex,plans_issued_within_20_weeks,plans_issued_20_weeks_ex,"
        "PC_plans_issued_20_weeks_ex,plans_issued_gt20weeks_ltYear,plans_issued_gt_1_year\n"
        "2025,Calendar year,Local authority,340,E08000011,Knowsley,All EHC plans issued,All EHC plans issued,"
        "6,5,3,2,40,x,1\n".encode("utf-8"))
    # the tracker holds the return, then one plan's dates are corrected in it and one case added
    assert run("--as-of", AS_OF, "import", path).exit_code == 0
    out = tmp_path / "r.csv"
    reviews = tmp_path / "annual_reviews.csv"  # the 2025 edition's misspelt column
    reviews.write_text("time_period,geographic_level,old_la_code,number_decsion_4weeks,number_decision_gt_4weeks\n"
                       "2025,Local authority,340,7,3\n", encoding="utf-8")
    result = run("--as-of", AS_OF, "sen2", "reconcile", path, "--dfe", dfe, "--dfe", reviews, "-o", out)
    assert result.exit_code == 0, result.output
    table, differences = out.read_text("utf-8").split("\n\n")
    rows = {r["measure"]: r for r in csv.DictReader(io.StringIO(table))}
    assert {m: float(r["return"]) for m, r in rows.items()} == HAND_COUNTED
    # the tracker: the historical plan (H) is no assessment case, so 4 plans; the rest as the return
    assert float(rows["plans issued"]["tracker"]) == 4
    assert float(rows["within 20 weeks (excl. exceptions)"]["tracker"]) == 1
    # the tracker's decision_to_assess clocks agree; it holds no concluded review, so no review decision
    assert [rows[f"decisions whether to assess {w} 6 weeks"]["tracker"] for w in ("within", "over")] == ["3", "1"]
    assert [rows[f"review decisions {w} 4 weeks"]["tracker"] for w in ("within", "over")] == ["0", "0"]
    assert float(rows["plans issued"]["dfe"]) == 6 and float(rows["within 20 weeks (excl. exceptions)"]["dfe"]) == 2
    assert rows["20 to 52 weeks (incl. exceptions)"]["dfe"] == ""  # x: not available
    assert (rows["review decisions within 4 weeks"]["dfe"], rows["review decisions over 4 weeks"]["dfe"]) == ("7", "3")
    listed = list(csv.DictReader(io.StringIO(differences)))
    assert [(d["person"], d["difference"]) for d in listed] == [("5", "in the return, not in the tracker")]


def test_reconciliation_lists_date_and_exception_differences(run, tmp_path):
    path = write_return(tmp_path / "SEN2_2026.xml", reconcile_return())
    run("--as-of", AS_OF, "import", path)
    changed = reconcile_return()
    first = changed[0].all("Requests")[0].first("Assessment")
    first.first("NamedPlan").fields["StartDate"] = "2025-06-02"
    changed[3].all("Requests")[0].first("Assessment").fields["Week20"] = "0"
    result = run("--as-of", AS_OF, "sen2", "reconcile", write_return(tmp_path / "v2.xml", changed))
    assert result.exit_code == 0 and "cases that differ (3)" in result.stdout, result.output
    out = tmp_path / "r.csv"
    run("--as-of", AS_OF, "sen2", "reconcile", tmp_path / "v2.xml", "-o", out)
    listed = list(csv.DictReader(io.StringIO(out.read_text("utf-8").split("\n\n")[1])))
    assert [(d["person"], d["difference"], d["tracker"], d["return"]) for d in listed] == [
        ("1", "StartDate differs", "2025-05-26", "2025-06-02"),
        ("4", "exception flag differs", "exception", "Week20 = 0"),
        ("5", "in the return, not in the tracker", "", "2025-07-01")]
    assert listed[0]["correct"] == "correct final_plan_issued in the case system, or StartDate in the return"
    assert listed[0]["case_id"].startswith("S2U-")


def test_reconciliation_says_when_the_council_is_not_in_the_dfe_file(run, tmp_path):
    path = write_return(tmp_path / "SEN2_2026.xml", reconcile_return(), la="999")
    dfe = tmp_path / "t.csv"
    dfe.write_text("time_period,geographic_level,old_la_code,breakdown,plans_issued_den\n"
                   "2025,Local authority,340,All EHC plans,6\n", encoding="utf-8")
    result = run("--as-of", AS_OF, "sen2", "reconcile", path, "--dfe", dfe, "-o", tmp_path / "r.html")
    assert result.exit_code == 0
    assert "no all-plans row for LA 999 in 2025 (the file has years 2025)" in result.output
    assert "<table>" in (tmp_path / "r.html").read_text("utf-8")


def test_round_trip_export_check_import(run, db_url, tmp_path):
    """The demo caseload imported from its CSV extracts, exported as the 2026 return, checked, and
    imported into a fresh database: the same dates, outcomes and 20-week counts."""
    from click.testing import CliRunner

    from ehcp_tracker.cli import cli
    from ehcp_tracker.clocks.rules import load_rule_book
    from ehcp_tracker.sen2.reconcile import load_convention, measures, tracker_plans

    census = "2026-01-15"
    # seed 2: seed 1 at this size draws a plan dated before September 2014, which the CSV import
    # refuses (a fault of the generator, left to its owner; the SEN2 import leaves such a date out)
    run("demo", "generate", "--requests", 400, "--reviews", 250, "--seed", 2, "--end", census, "-o", tmp_path / "csv")
    imported = run("--as-of", census, "import", tmp_path / "csv" / "assessments.csv", tmp_path / "csv" / "reviews.csv")
    assert imported.exit_code == 0, imported.output
    exported = run("--as-of", census, "sen2", "export", "--year", 2026, "--la", "340", "-o", tmp_path / "x.xml")
    assert exported.exit_code == 0, exported.output
    assert "not held: add to your extract: Person: Surname" in exported.output
    _, findings = check_return(tmp_path / "x.xml")
    # every problem is an item the tracker does not hold (names, sex, ethnicity, a birth date)
    assert {(f.label, f.item, f.severity) for f in findings} <= {
        (DFE, "Surname", "error"), (DFE, "PersonBirthDate", "error"), (OURS, "UPN", "warning")}, findings

    other = f"sqlite:///{tmp_path / 'b.db'}"
    runner = CliRunner()
    runner.invoke(cli, ["--db", other, "init"], catch_exceptions=False)
    again = runner.invoke(cli, ["--db", other, "--as-of", census, "import", str(tmp_path / "x.xml")],
                          catch_exceptions=False)
    assert again.exit_code == 0, again.output

    book = load_rule_book()
    first, last = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
    rule = load_convention(ROOT / "rules")
    counts = []
    for url in (db_url, other):
        engine = db.connect(url)
        plans_made = tracker_plans(engine, book, dt.date.fromisoformat(census), first, last)
        counts.append(measures(plans_made["days"], plans_made["exception"], rule))
        engine.dispose()
    assert counts[0] == counts[1] and counts[0]["plans issued"] > 20

    fields = ["request_received", "request_outcome", "request_outcome_date", "assessment_outcome", "final_plan_issued"]
    def keyed(url):
        return {tuple(str(r[f] or "") for f in fields) for r in _rows(url, "assessment")}
    back, original = keyed(other), keyed(db_url)
    assert back <= original and len(back) > 100


def test_demo_writes_a_clean_return_that_imports(run, tmp_path):
    result = run("demo", "generate", "--format", "sen2", "--requests", 200, "--reviews", 120, "--end", AS_OF,
                 "-o", tmp_path)
    assert result.exit_code == 0, result.output
    path = tmp_path / "sen2_2026.xml"
    assert run("sen2", "check", path).exit_code == 0
    imported = run("--as-of", AS_OF, "import", path)
    assert imported.exit_code == 0, imported.output
    assert path.read_bytes() == (run("demo", "generate", "--format", "sen2", "--requests", 200, "--reviews", 120,
                                     "--end", AS_OF, "-o", tmp_path / "again") and
                                 (tmp_path / "again" / "sen2_2026.xml").read_bytes())


DFE_EXTRACT = ROOT.parent / "shared" / "data" / "dfe" / "timeliness_20_week_2019_extract.csv"


def _edition_2025(tmp_path) -> Path:
    """The real-format extract as the 2025 edition spelt it: a BOM, PC_ and ltYear, the total row
    "All EHC plans issued", no average-weeks columns."""
    if not DFE_EXTRACT.exists():
        pytest.skip(f"the DfE extract is not at {DFE_EXTRACT}")
    lines = DFE_EXTRACT.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    keep = [i for i, h in enumerate(header) if not h.startswith("avg_weeks")]
    renamed = [h.replace("pc_plans_issued_20_weeks_ex", "PC_plans_issued_20_weeks_ex").replace("ltyear", "ltYear")
               for h in header]
    rows = [[renamed[i] for i in keep]] + [[c.replace("All EHC plans", "All EHC plans issued")
                                            for i, c in enumerate(line.split(",")) if i in keep] for line in lines[1:]]
    path = tmp_path / "timeliness_20_week.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(",".join(r) for r in rows).encode("utf-8") + b"\n")
    return path


def test_benchmark_reads_the_2025_edition(tmp_path):
    from ehcp_tracker.report.benchmark import benchmark_gaps, read_dfe

    path = _edition_2025(tmp_path)
    dfe = read_dfe(path)
    england = dfe[dfe["geographic_level"] == "National"].iloc[0]
    assert england["plans_issued_den"] == 53327 and england["pc_plans_issued_20_weeks_ex"] == 60.4
    assert benchmark_gaps(path, "340") == []
    assert benchmark_gaps(path, "999") == [
        "--benchmark timeliness_20_week.csv: no all-plans row for LA 999 in 2019 (old codes such as 340 and new ones "
        "such as E08000011 are both matched)"]


def test_report_benchmark_says_in_one_line_what_it_cannot_find(run, tmp_path):
    path = _edition_2025(tmp_path)
    result = run("--as-of", "2026-11-02", "report", "--month", "2026-10", "--benchmark", path, "--council", "999",
                 "-o", tmp_path / "p.html")
    assert result.exit_code == 0, result.output
    assert result.output.count("no all-plans row for LA 999 in 2019") == 1
    assert "no all-plans row for LA 999" in (tmp_path / "p.html").read_text("utf-8")
    national_only = tmp_path / "la.csv"
    national_only.write_text("\n".join(line for line in path.read_text("utf-8-sig").splitlines()
                                       if ",National," not in line) + "\n", encoding="utf-8")
    result = run("--as-of", "2026-11-02", "report", "--month", "2026-10", "--benchmark", national_only,
                 "-o", tmp_path / "q.html")
    assert "no England (National) all-plans row in 2019" in result.output


def test_reconcile_reads_both_editions(tmp_path):
    from ehcp_tracker.sen2.dfe import timeliness_row

    path = _edition_2025(tmp_path)
    found, why = timeliness_row(path, "340", 2019)
    assert why is None and found["plans issued"] == 214 and found["within 20 weeks (excl. exceptions)"] == 138
    assert math.isnan(found["20 to 52 weeks (incl. exceptions)"])  # x: not available before 2023
    found, _ = timeliness_row(DFE_EXTRACT, "E08000011", 2019)
    assert found["plans issued"] == 214


def _write_blade(folder: Path, persons: list, year: int = 2026, la: str = "340") -> list[Path]:
    """The persons as a COLLECT Blade export: a CSV per module linked by table IDs, Blade's dates
    ("2025-Jan-06 00:00:00") and true/false flags, rows of each module in reverse file order with
    their order column saying the real one."""
    from ehcp_tracker.sen2.blade import LAYOUT
    from ehcp_tracker.sen2.structure import MODULES

    folder.mkdir(parents=True, exist_ok=True)
    prefix = "Blade-Export_20-01-2026"
    tables: dict[str, list[dict]] = {m: [] for m in LAYOUT}
    element_of = {e: m for m, (e, _, _) in LAYOUT.items()}
    types = {i.name: i.type for items in MODULES[year].values() for i in items}

    def cell(name, value):
        if types.get(name) == "date" and value:
            return dt.date.fromisoformat(value).strftime("%Y-%b-%d 00:00:00")
        if types.get(name) == "flag" and value:
            return {"1": "true", "0": "false"}[value]
        return value

    def walk(node, parent_id, counter):
        module = element_of[node.tag]
        _, own, parent = LAYOUT[module]
        counter[module] = counter.get(module, 0) + 1
        row = {own: f"{module}-{counter[module]}", f"{module}orderseqcolumn": str(counter[module]), "NativeId": "n",
               **({parent: parent_id} if parent else {}), **{k.lower(): cell(k, v) for k, v in node.fields.items()}}
        tables[module].append(row)
        for children in node.children.values():
            for child in children:
                walk(child, row[own], counter)

    counter: dict[str, int] = {}
    for p in persons:
        walk(p, None, counter)
    paths = []
    meta = {"collection": "SEN2", "year": str(year), "referencedate": "2026-Jan-15 00:00:00", "lea": la}
    for module, rows in [("sen2", [meta]), *tables.items()]:
        path = folder / f"{prefix}_{module}.csv"
        columns = sorted({c for r in rows for c in r}) or ["NativeId"]
        with open(path, "w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(reversed(rows))
        paths.append(path)
    return paths


def test_a_blade_export_imports_as_its_xml_does(run, db_url, tmp_path):
    run("--as-of", AS_OF, "import", write_return(tmp_path / "r.xml", small_return()))
    from_xml = sorted(tuple(str(v) for v in r.values()) for r in _rows(db_url, "assessment"))
    paths = _write_blade(tmp_path / "blade", small_return())
    result = run("--as-of", AS_OF, "import", *paths)  # every module file given: one return
    assert result.exit_code == 0, result.output
    assert result.output.count("assessments, 3 rows: 0 new, 0 changed, 3 unchanged") == 1
    assert result.output.count("reviews, 3 rows: 0 new, 0 changed, 3 unchanged") == 1
    assert sorted(tuple(str(v) for v in r.values()) for r in _rows(db_url, "assessment")) == from_xml


def test_a_blade_export_without_its_person_file_is_refused(run, db_url, tmp_path):
    paths = _write_blade(tmp_path / "blade", small_return())
    (tmp_path / "blade" / "Blade-Export_20-01-2026_person.csv").unlink()
    before = snapshot(db_url)
    result = run("--as-of", AS_OF, "import", paths[0])
    assert result.exit_code == 1 and "needs at least its _sen2.csv and _person.csv" in result.output
    assert snapshot(db_url) == before


def test_dfe_requests_and_annual_reviews_files_of_each_edition(tmp_path):
    from ehcp_tracker.errors import EhcpError
    from ehcp_tracker.sen2.dfe import kpi_row

    requests = tmp_path / "requests.csv"
    requests.write_text("time_period,geographic_level,old_la_code,new_la_code,request_outcome_six_weeks,"
                        "request_outcome_six_weeks_pc,request_outcome_over_6_weeks\n"
                        "2025,National,,,100,50,100\n2025,Local authority,340,E08000011,12,60,x\n", encoding="utf-8")
    found, why = kpi_row(requests, "E08000011", 2025)
    assert why is None and found["decisions whether to assess within 6 weeks"] == 12
    assert math.isnan(found["decisions whether to assess over 6 weeks"])
    reviews = tmp_path / "annual_reviews.csv"  # the 2026 edition's names
    reviews.write_text("time_period,geographic_level,old_la_code,decision_4_weeks,decision_over_4_weeks\n"
                       "2025,Local authority,340,9,4\n", encoding="utf-8")
    assert kpi_row(reviews, "340", 2025)[0] == {"review decisions within 4 weeks": 9, "review decisions over 4 weeks": 4}
    assert kpi_row(reviews, "340", 2024) == ({}, "--dfe annual_reviews.csv: no row for LA 340 in 2024 "
                                                 "(the file has years 2025)")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(EhcpError, match="not one of DfE.s timeliness_20_week.csv, requests.csv, annual_reviews.csv or phase_transfers.csv"):
        kpi_row(other, "340", 2025)
