"""SEN2 returns in their other forms (issue 26): the pre-submission workbook imported as its XML is,
hostile and malformed workbooks refused in one line with nothing stored, and ``ehcp sen2 check`` on
a Blade export and a workbook finding what it finds in the XML, labelled and placed the same way."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest

from ehcp_tracker.sen2.check import DFE, OURS, check_return
from ehcp_tracker.sen2.structure import MODULES

from . import hostile
from .conftest import snapshot
from .sen2_returns import write_return
from .test_sen2 import AS_OF, _rows, _write_blade, small_return

# element -> the workbook's sheet
SHEET_OF = {"Person": "Person", "Requests": "Requests", "Assessment": "Assessments", "NamedPlan": "Named Plan",
            "PlanDetail": "Plan Detail", "ActivePlans": "Active Plan", "PlacementDetail": "Placement Detail",
            "SENneed": "SEN Need"}


def write_workbook(path: Path, persons: list, year: int = 2026, text_dates: bool = False) -> Path:
    """The persons as the pre-submission workbook: a sheet per module, lower-case element names in
    row 1 (Requests' ``rquestsource`` as the workbook spells it), persons keyed by ``persontableid``
    and every other module by its request's ``requeststableid``; dates as Excel dates (or as
    dd/mm/yyyy text), IDs and flags as numbers the way Excel keeps them."""
    from openpyxl import Workbook

    types = {i.name: i.type for items in MODULES[year].values() for i in items}
    rows: dict[str, list[dict]] = {sheet: [] for sheet in SHEET_OF.values()}

    def cell(name, value):
        if types.get(name) == "date" and value:
            day = dt.date.fromisoformat(value)
            return day.strftime("%d/%m/%Y") if text_dates else dt.datetime(day.year, day.month, day.day)
        if types.get(name) in ("flag", "uln") and value:
            return int(value)
        return value

    def add(node, keys):
        fields = {("rquestsource" if k == "RequestSource" else k.lower()): cell(k, v) for k, v in node.fields.items()}
        rows[SHEET_OF[node.tag]].append({**keys, **fields})

    request_number = 0
    for number, p in enumerate(persons, start=101):
        add(p, {"persontableid": number})
        for r in p.all("Requests"):
            request_number += 1
            keys = {"persontableid": number, "requeststableid": 5000 + request_number}
            add(r, keys)
            stack = [child for children in r.children.values() for child in children]
            while stack:
                node = stack.pop(0)
                add(node, keys)
                stack += [child for children in node.children.values() for child in children]
    book = Workbook()
    book.remove(book.active)
    for sheet, records in rows.items():
        ws = book.create_sheet(sheet)
        columns = list(dict.fromkeys(c for r in records for c in r)) or ["requeststableid"]
        ws.append(columns)
        for r in records:
            ws.append([r.get(c) for c in columns])
    book.save(path)
    return path


def test_a_presubmission_workbook_imports_as_its_xml_does(run, db_url, tmp_path):
    run("--as-of", AS_OF, "import", write_return(tmp_path / "r.xml", small_return()))
    from_xml = {kind: sorted(tuple(str(v) for v in r.values()) for r in _rows(db_url, kind))
                for kind in ("assessment", "review")}
    path = write_workbook(tmp_path / "SEN2_presubmission.xlsx", small_return())
    result = run("--as-of", AS_OF, "import", path, "--la", "340")
    assert result.exit_code == 0, result.output
    assert "assessments, 3 rows: 0 new, 0 changed, 3 unchanged" in result.output
    assert "reviews, 3 rows: 0 new, 0 changed, 3 unchanged" in result.output
    for kind in from_xml:
        assert sorted(tuple(str(v) for v in r.values()) for r in _rows(db_url, kind)) == from_xml[kind]
    for personal in ("Zebedee", "Quentin", "B801200005001", "1234567890"):
        assert personal not in result.output


def test_a_workbook_with_text_dates_imports_the_same_dates_and_outcomes(run, db_url, tmp_path):
    run("--as-of", AS_OF, "import", write_workbook(tmp_path / "a.xlsx", small_return(), text_dates=True),
        "--la", "340")
    stored = sorted((r["request_received"], r["request_outcome"], r["assessment_outcome"], r["final_plan_issued"],
                     r["exception_reason"]) for r in _rows(db_url, "assessment"))
    assert stored == [(dt.date(2025, 1, 6), "assess", "issue", dt.date(2025, 5, 26), None),
                      (dt.date(2025, 3, 3), "assess", "issue", dt.date(2025, 8, 4), "sen2_week20"),
                      (dt.date(2025, 10, 1), None, None, None, None)]


def test_a_workbook_needs_the_la_only_for_children_keyed_by_their_details(run, db_url, tmp_path):
    before = snapshot(db_url)
    result = run("--as-of", AS_OF, "import", write_workbook(tmp_path / "w.xlsx", small_return()))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "give --la CODE" in lines[0] and "1 person(s)" in lines[0]
    assert snapshot(db_url) == before
    with_upns = [p for p in small_return() if p.get("UPN") or p.get("UniqueLearnerNumber")]
    result = run("--as-of", AS_OF, "import", write_workbook(tmp_path / "u.xlsx", with_upns))
    assert result.exit_code == 0, result.output


def _as_presubmission(data: bytes) -> bytes:
    """A hostile workbook whose sheets are named as the pre-submission workbook's (Person, Requests),
    so it is recognised as a return and refused by the return's reader, not the extract's."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/workbook.xml":
                content = content.replace(b'name="Sheet1"', b'name="Person"').replace(
                    b"</sheets>", b'<sheet name="Requests" sheetId="2" r:id="rId1"/></sheets>')
            elif info.filename.startswith("xl/worksheets/"):  # its first column the Person sheet's link
                content = content.replace(b">request_id<", b">persontableid<")
            out.writestr(info, content)
    return buffer.getvalue()


HOSTILE = {"whitespace zip bomb": "refused as a possible zip bomb",
           "billion laughs in the sheet": "not a readable Excel workbook",
           "external entity in the sheet": "not a readable Excel workbook",
           "sheet cut mid-tag": "not a readable Excel workbook",
           "shared strings inflated past the cells": "out of proportion to its cells",
           "an inline string longer than Excel allows": "sheet 'Person', row 2, column 1: a cell of 40,000 characters",
           "a row numbered past Excel's last": "no column requeststableid"}  # its rows stop at Excel's last


@pytest.mark.parametrize("name", [*HOSTILE, "orphan request", "duplicate person id", "no link column"])
def test_hostile_and_malformed_workbooks_are_refused_in_one_line_with_nothing_stored(run, db_url, tmp_path, name):
    path = tmp_path / "SEN2_presubmission.xlsx"
    if name in HOSTILE:
        path.write_bytes(_as_presubmission(hostile.hostile_workbooks()[name]))
        expected = HOSTILE[name]
    else:
        from openpyxl import load_workbook

        write_workbook(path, small_return())
        book = load_workbook(path)
        if name == "orphan request":
            book["Requests"]["A2"] = 999
            expected = "sheet 'Requests', row 2, column persontableid: no Person row for it"
        elif name == "duplicate person id":
            book["Person"]["A3"] = book["Person"]["A2"].value
            expected = "sheet 'Person', row 3, column persontableid: the same ID as an earlier row"
        else:
            book["Assessments"]["B1"] = "something"
            expected = "sheet 'Assessments', row 1: no column requeststableid"
        book.save(path)
    before = snapshot(db_url)
    for args in (("import", path, "--la", "340"), ("sen2", "check", path, "--year", "2026")):
        result = run("--as-of", AS_OF, *args)
        assert result.exit_code == 1, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.output, result.output
        assert "Zebedee" not in result.output
    assert snapshot(db_url) == before


def _broken() -> list:
    """The small return with one structure error (a ULN of 9 digits, person 2) and one cross-field
    rule broken (a request decided before it was received, person 1)."""
    persons = small_return()
    persons[1].fields["UniqueLearnerNumber"] = "123456789"
    persons[0].all("Requests")[0].fields["RequestOutcomeDate"] = "2025-01-01"
    return persons


def _found(findings) -> set:
    return {(f.label, f.module, f.person, f.item) for f in findings}


def test_check_finds_in_a_blade_export_and_a_workbook_what_it_finds_in_the_xml(tmp_path):
    _, from_xml = check_return(write_return(tmp_path / "r.xml", _broken()))
    expected = {(DFE, "Person", 2, "UniqueLearnerNumber"), (OURS, "Requests", 1, "RequestOutcomeDate")}
    assert _found(from_xml) == expected
    blade = _write_blade(tmp_path / "blade", _broken())
    _, from_blade = check_return(blade[1])
    assert _found(from_blade) == expected
    assert [str(f) for f in from_blade] == [str(f) for f in from_xml]
    _, from_workbook = check_return(write_workbook(tmp_path / "w.xlsx", _broken()), 2026)
    assert _found(from_workbook) == expected


def test_check_cli_on_a_blade_export_and_a_workbook(run, tmp_path):
    blade = _write_blade(tmp_path / "blade", _broken())
    result = run("sen2", "check", blade[3])
    assert result.exit_code == 1
    assert "error: ehcp-tracker rule: Requests, person 1, RequestOutcomeDate: before ReceivedDate" in result.stdout
    assert "error: DfE structure: Person, person 2, UniqueLearnerNumber: not in the format" in result.stdout
    workbook = write_workbook(tmp_path / "w.xlsx", small_return())
    result = run("sen2", "check", workbook)
    assert result.exit_code == 1 and "give --year YYYY" in result.output
    result = run("sen2", "check", workbook, "--year", "2026")
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output and "Zebedee" not in result.output


def test_every_active_plans_review_item_is_carried_or_says_where_it_goes():
    """Each simple item of ActivePlans (2026) is in the review map or in NOT_CARRIED, and docs/sen2.md's
    table of ActivePlans items names it (so the documented map cannot drift from the code's)."""
    from ehcp_tracker.sen2.mapping import NOT_CARRIED, REVIEW_MAP

    items = [i.name for i in MODULES[2026]["ActivePlans"] if i.type not in MODULES[2026]]
    carried = {source.split(" ")[0].removeprefix("ActivePlans/") for source, _ in REVIEW_MAP.values()}
    assert [i for i in items if i not in carried and i not in NOT_CARRIED] == []
    assert set(NOT_CARRIED) <= set(items)
    docs = (Path(__file__).resolve().parents[1] / "docs" / "sen2.md").read_text("utf-8")
    for item in items:
        assert f"| ActivePlans/{item} " in docs, item


def test_items_no_row_carries_are_said_in_the_import_notes(run, tmp_path):
    persons = small_return()
    persons[0].all("Requests")[0].first("ActivePlans").fields.update(TransferLA="341", ReviewOutcome="C")
    result = run("--as-of", AS_OF, "import", write_return(tmp_path / "r.xml", persons))
    assert result.exit_code == 0, result.output
    assert "1 active plan(s) transferred in from another LA (TransferLA)" in result.output
    assert "1 active plan(s) whose last review decided to cease the plan (ReviewOutcome C)" in result.output


def test_a_draft_amended_plan_needs_a_decision_to_amend(tmp_path):
    persons = small_return()
    persons[2].all("Requests")[0].first("ActivePlans").fields.update(ReviewOutcome="M", ReviewDraft="2025-06-20")
    _, findings = check_return(write_return(tmp_path / "r.xml", persons))
    assert [(f.label, f.module, f.person, f.item, f.severity) for f in findings] == [
        (OURS, "ActivePlans", 3, "ReviewDraft", "warning")]
    persons[2].all("Requests")[0].first("ActivePlans").fields["ReviewOutcome"] = "A"
    assert check_return(write_return(tmp_path / "r.xml", persons))[1] == []
