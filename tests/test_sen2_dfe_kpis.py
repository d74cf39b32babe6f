"""DfE's other published files as benchmarks (issue 26, point 5): requests.csv (6-week decisions),
annual_reviews.csv (4-week review decisions) and phase_transfers.csv, each edition read as it comes
(a byte-order mark, names in any case, the 2025 edition's misspelt column, the all-cases row found
among the breakdowns), shown in the board pack beside the council's own figure, and one line when
England's or the council's rows are not in the file."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ehcp_tracker.sen2.dfe import kpi_row, release_rows

from .test_report_board import AS_OF, small  # noqa: F401 - the fixture: a small caseload of 2025-26

AREAS = ("time_period,time_identifier,geographic_level,country_code,country_name,region_code,region_name,"
         "new_la_code,old_la_code,la_name")
ENGLAND = "Calendar year,National,E92000001,England,,,,,"
NORTH_WEST = "Calendar year,Regional,E92000001,England,E12000002,North West,,,"
KNOWSLEY = "Calendar year,Local authority,E92000001,England,E12000002,North West,E08000011,340,Knowsley"


def _write(path: Path, header: str, rows: list[str], bom: bool = True) -> Path:
    text = "\n".join([header, *rows]) + "\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def requests_2025(folder: Path) -> Path:
    """The 2025 edition's shape (data 2024): a BOM, names in mixed case as a spreadsheet re-save leaves
    them, an age breakdown before the all-requests row."""
    header = AREAS + (",breakdown_topic,breakdown,Request_Outcome_Six_Weeks,request_outcome_six_weeks_pc,"
                      "REQUEST_OUTCOME_OVER_6_WEEKS,request_outcome_over_6_weeks_pc")
    return _write(folder / "requests.csv", header, [
        f"2024,{ENGLAND},Age at time of request,Aged 5,900,50,900,50",
        f"2024,{ENGLAND},All requests for EHC needs assessments,All requests for EHC needs assessments,"
        "30000,60,20000,40",
        f"2024,{NORTH_WEST},All requests for EHC needs assessments,All requests for EHC needs assessments,"
        "3000,75,1000,25",
        f"2024,{KNOWSLEY},Age at time of request,Aged 5,1,100,0,0",
        f"2024,{KNOWSLEY},All requests for EHC needs assessments,All requests for EHC needs assessments,90,45,110,55",
        f"2026,{KNOWSLEY},All requests for EHC needs assessments,All requests for EHC needs assessments,x,x,x,x",
    ])


def annual_reviews(folder: Path, edition: int) -> Path:
    """The 2025 edition's misspelt number_decsion_4weeks / number_decision_gt_4weeks, or the 2026
    edition's decision_4_weeks / decision_over_4_weeks with its "All reviews of EHC plans" row."""
    within, over = (("number_decsion_4weeks", "number_decision_gt_4weeks") if edition == 2025
                    else ("decision_4_weeks", "decision_over_4_weeks"))
    total = "All reviews of EHC plans"
    year = edition - 1
    return _write(folder / "annual_reviews.csv", f"{AREAS},breakdown_topic,breakdown,{within},{over}", [
        f"{year},{ENGLAND},Sex,Female,10,90",
        f"{year},{ENGLAND},{total},{total},161396,177631",
        f"{year},{KNOWSLEY},{total},{total},30,70",
    ], bom=edition == 2026)


def phase_transfers(folder: Path, council: bool = True) -> Path:
    """The 2026 edition's new file: no breakdown at all, columns named by the two-digit year."""
    rows = [f"2025,{ENGLAND},718838,12232,142257,38887,602"]
    if council:
        rows.append(f"2025,{KNOWSLEY},3172,182,117,19,0")
    return _write(folder / "phase_transfers.csv", f"{AREAS},number_plans,due_25,due_26,final_25,final_26", rows)


def test_requests_of_the_2025_edition_read_the_all_requests_row(tmp_path):
    path = requests_2025(tmp_path)
    kind, rows = release_rows(path)
    assert kind == "requests" and {r["breakdown"] for r in rows} == {"All requests for EHC needs assessments"}
    found, why = kpi_row(path, "340", 2024)
    assert why is None
    assert found == {"decisions whether to assess within 6 weeks": 90, "decisions whether to assess over 6 weeks": 110}
    found, _ = kpi_row(path, "E08000011", 2026)  # x: not available
    assert all(math.isnan(v) for v in found.values())


@pytest.mark.parametrize("edition", [2025, 2026])
def test_annual_reviews_of_each_edition(tmp_path, edition):
    path = annual_reviews(tmp_path, edition)
    found, why = kpi_row(path, "340", edition - 1)
    assert why is None
    assert found == {"review decisions within 4 weeks": 30, "review decisions over 4 weeks": 70}


def test_phase_transfers_name_their_columns_by_the_year(tmp_path):
    path = phase_transfers(tmp_path)
    assert release_rows(path)[0] == "phase_transfers"
    found, why = kpi_row(path, "340", 2025)
    assert why is None and found == {"phase transfer reviews due in the year": 182,
                                     "final plans after a phase transfer review issued in the year": 19}


def test_kpi_benchmarks_in_the_pack_beside_the_council(small, engine, book, tmp_path):  # noqa: F811
    import datetime as dt

    from ehcp_tracker.report.data import PackOptions, gather

    files = (requests_2025(tmp_path), annual_reviews(tmp_path, 2026), phase_transfers(tmp_path))
    pack = gather(engine, book, "2026-10", dt.date.fromisoformat(AS_OF),
                  options=PackOptions(kpi_benchmarks=files, council="340", compare_with=("999",)))
    assert pack.benchmark is None  # no timeliness file given: the other KPIs stand alone
    table = pack.kpi_benchmark
    shown = {(r.year, r.measure, r.area): r.value for r in table.itertuples()}
    assert shown[("2024", "decisions_within_6_weeks", "England")] == 60.0   # 30000 / (30000 + 20000)
    assert shown[("2024", "decisions_within_6_weeks", "North West")] == 75.0
    assert shown[("2024", "decisions_within_6_weeks", "Knowsley (published)")] == 45.0  # 90 / 200
    assert math.isnan(shown[("2026", "decisions_within_6_weeks", "Knowsley (published)")])
    # the tracker's own figure for 2026 beside it: S1, D140 and D141 decided within 6 weeks
    assert shown[("2026", "decisions_within_6_weeks", "This council (ehcp-tracker)")] == 100.0
    assert shown[("2025", "review_decisions_within_4_weeks", "England")] == round(100 * 161396 / 339027, 1)
    assert shown[("2025", "review_decisions_within_4_weeks", "Knowsley (published)")] == 30.0
    assert shown[("2025", "phase_transfer_reviews_due", "Knowsley (published)")] == 182
    assert shown[("2025", "phase_transfer_final_plans", "England")] == 38887
    assert ("2025", "phase_transfers_by_deadline", "This council (ehcp-tracker)") in shown
    assert ("2024", "decisions_within_6_weeks", "LA 999 (not in the file)") in shown
    assert [n for n in pack.notes if "--benchmark" in n] == []
    from ehcp_tracker.report.data import publish

    public = publish(pack).kpi_benchmark  # 3 decisions: a rate that reveals a count under 5
    mine = public[(public["role"] == "council") & (public["measure"] == "decisions_within_6_weeks")
                  & (public["year"] == "2026")]
    assert mine["value"].tolist() == ["fewer than 5"]


def test_report_benchmark_with_every_file_through_the_cli(small, tmp_path):  # noqa: F811
    from .test_sen2 import DFE_EXTRACT

    files = [requests_2025(tmp_path), annual_reviews(tmp_path, 2025), phase_transfers(tmp_path)]
    if DFE_EXTRACT.exists():
        files.append(DFE_EXTRACT)
    args = [a for f in files for a in ("--benchmark", f)]
    for output in ("p.html", "p.xlsx"):
        result = small("--as-of", AS_OF, "report", "--month", "2026-10", *args, "--council", "340",
                       "-o", tmp_path / output)
        assert result.exit_code == 0, result.output
        assert "note: --benchmark" not in result.output
    page = (tmp_path / "p.html").read_text("utf-8")
    assert "Decisions, reviews and phase transfers" in page and "45.0%" in page and "Knowsley (published)" in page
    from openpyxl import load_workbook

    assert "Benchmarks, other KPIs" in load_workbook(tmp_path / "p.xlsx", read_only=True).sheetnames


def test_one_line_when_the_council_or_england_is_not_in_a_file(small, tmp_path):  # noqa: F811
    path = phase_transfers(tmp_path, council=False)
    result = small("--as-of", AS_OF, "report", "--month", "2026-10", "--benchmark", path, "--council", "340",
                   "-o", tmp_path / "p.html")
    assert result.exit_code == 0, result.output
    expected = ("--benchmark phase_transfers.csv: no all-cases row for LA 340 in 2025 (old codes such as 340 and new "
                "ones such as E08000011 are both matched)")
    assert result.output.count(expected) == 1
    assert "no all-cases row for LA 340 in 2025" in (tmp_path / "p.html").read_text("utf-8")
    regional_only = _write(tmp_path / "requests.csv", f"{AREAS},request_outcome_six_weeks,request_outcome_over_6_weeks",
                           [f"2024,{NORTH_WEST},3000,1000"])
    result = small("--as-of", AS_OF, "report", "--month", "2026-10", "--benchmark", regional_only,
                   "-o", tmp_path / "q.html")
    assert result.output.count("--benchmark requests.csv: no England (National) all-cases row in 2024") == 1
    twice = small("--as-of", AS_OF, "report", "--month", "2026-10", "--benchmark", path, "--benchmark", path,
                  "-o", tmp_path / "r.html")
    assert twice.exit_code == 1 and "a second phase_transfers.csv" in twice.output
