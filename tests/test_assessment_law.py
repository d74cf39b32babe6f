"""The assessment side as the law reads it (issue 14): worked cases computed by hand from the
regulations, each run through BOTH the vectorised engine and ``explain`` (which must agree), and the
import's refusals through the CLI on SQLite and PostgreSQL.

Each comment gives the arithmetic and cites the paragraph; none of the expected values is read back
from the code.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from ehcp_tracker.clocks.engine import evaluate
from ehcp_tracker.clocks.explain import explain_case
from ehcp_tracker.clocks.queries import QUERY_COLUMNS, assessment_queries, caseload_queries
from ehcp_tracker.clocks.rulebook_view import describe_clock, rule_table
from ehcp_tracker.schema import ASSESSMENTS, REVIEWS

from .conftest import D, caseload_frame, write_csv


def request(request_id="R1", person_id="P1", **fields) -> dict:
    row = {name: None for name in ASSESSMENTS.names}
    row.update(request_id=request_id, person_id=person_id)
    row.update({k: D(v) if k in ASSESSMENTS.date_columns and isinstance(v, str) else v for k, v in fields.items()})
    return row


def _day(value):
    return None if pd.isna(value) else value.date()


def both_paths(rows: list[dict], book, as_of: dt.date) -> dict[tuple[str, str], tuple]:
    """(case, clock) -> (due, stopped, status, days_overdue, exception), after checking explain agrees."""
    frame = caseload_frame(rows, ASSESSMENTS)
    results = evaluate(frame, book, as_of)
    bulk = {(r.case_id, r.clock): (_day(r.due), _day(r.stopped), r.status, int(r.days_overdue),
                                   None if pd.isna(r.exception) else r.exception, r.statutory)
            for r in results.itertuples()}
    scalar = {}
    for row in rows:
        for w in explain_case(row, "assessment", book, as_of).clocks:
            if w.applies:
                scalar[(row["request_id"], w.clock.id)] = (w.due, w.stopped, w.status, w.days_overdue, w.exception,
                                                           w.clock.statutory)
    assert bulk == scalar
    return bulk


# ------------------------------------------------------------ point 2: who reg 8 binds (basis labels)
#
# Reg 8(1) binds "a body" whose co-operation the LA requests under CFA 2014 s31: the health body (and
# another council or a youth offending team), not the council's own educational psychology or social
# care services, nor a school. So only the health advice clock is a duty in law; the other three are
# the Code of Practice's 6 weeks; the example council's targets are local.
@pytest.mark.parametrize("clock, basis", [
    ("advice_health", "yes"), ("advice_ep", "guidance"), ("advice_social_care", "guidance"),
    ("advice_education", "guidance"), ("decision_to_assess", "yes"), ("no_plan_notice", "yes"),
    ("final_plan", "yes"), ("annual_review", "yes"), ("local_draft_plan", "no"), ("local_ep_request", "no"),
])
def test_each_clock_has_its_true_basis(book, clock, basis):
    assert book.clock(clock).statutory == basis
    table = rule_table(book)
    assert set(table.loc[table["clock"] == clock, "statutory"]) == {basis}
    shown = describe_clock(book, clock)
    assert shown.splitlines()[1].startswith(f"  basis: {basis}")


def test_basis_is_carried_by_every_clock_row_and_explain(book):
    # requested 2 Mar 2026 (a Monday): 6 weeks = 13 Apr 2026, each advice clock open on 1 Apr
    row = request(request_received="2026-02-02", request_outcome="assess", request_outcome_date="2026-02-27",
                  **{f"{s}_advice_requested": "2026-03-02" for s in ("ep", "health", "social_care", "education")})
    got = both_paths([row], book, D("2026-04-01"))
    assert {clock: value[-1] for (_, clock), value in got.items() if clock.startswith("advice_")} == {
        "advice_ep": "guidance", "advice_health": "yes", "advice_social_care": "guidance", "advice_education": "guidance"}
    assert all(value[0] == D("2026-04-13") for (_, clock), value in got.items() if clock.startswith("advice_"))
    steps = {w.clock.id: w.steps[0] for w in explain_case(row, "assessment", book, D("2026-04-01")).clocks}
    assert steps["advice_health"].endswith("[advice_health, statutory]")
    assert steps["advice_ep"].endswith("[advice_ep, guidance (Code of Practice), not statutory]")
    assert steps["local_draft_plan"].endswith("[local_draft_plan, local target (not statutory)]")


def test_a_clock_basis_is_read_strictly(tmp_path):
    from ehcp_tracker.clocks.rules import load_rule_book
    from ehcp_tracker.errors import RuleBookError

    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "x.toml").write_text(
        '[ruleset]\nid = "x"\ntitle = "x"\nstatutory = false\n[[clocks]]\nid = "c"\ntitle = "c"\n'
        'case = "assessment"\nstart = "request_received"\nstop = "final_plan_issued"\nstatutory = "perhaps"\n'
        '  [[clocks.versions]]\n  from = "2014-09-01"\n  weeks = 3\n  reference = "local"\n')
    with pytest.raises(RuleBookError) as error:
        load_rule_book(folder)
    assert "must be one of yes, guidance, no" in str(error.value)
    (folder / "x.toml").write_text((folder / "x.toml").read_text().replace('"perhaps"', '"guidance"'))
    with pytest.raises(RuleBookError) as error:
        load_rule_book(folder)
    assert "cannot be statutory or guidance" in str(error.value)


# ------------------------------------------------- point 1: a refusal to assess has no exemption
#
# Received Mon 7 Sep 2026; 6 weeks (reg 4(1) for a refusal, reg 5(1) for a decision either way) =
# Mon 19 Oct 2026. Notified 30 Oct: 11 days late. With decision "assess" reg 5(4)'s exemptions apply;
# with "not_assess" reg 4(1) has none, so a stored exemption is not applied (and is a query).
@pytest.mark.parametrize("outcome, exception, status, days, applied", [
    ("assess", "personal_circumstances", "late", 11, "personal_circumstances"),
    ("assess", "absence_from_area", "late", 11, "absence_from_area"),
    ("not_assess", "personal_circumstances", "late", 11, None),
    ("not_assess", "school_closure", "late", 11, None),
    ("not_assess", None, "late", 11, None),
])
def test_refusal_to_assess_takes_no_exemption(book, outcome, exception, status, days, applied):
    row = request(request_received="2026-09-07", request_outcome=outcome, request_outcome_date="2026-10-30",
                  decision_exception=exception, education_advice_requested=None)
    got = both_paths([row], book, D("2026-11-02"))
    assert got[("R1", "decision_to_assess")][:5] == (D("2026-10-19"), D("2026-10-30"), status, days, applied)
    queries = assessment_queries(caseload_frame([row], ASSESSMENTS), book, D("2026-11-02"))
    notes = explain_case(row, "assessment", book, D("2026-11-02")).notes
    if outcome == "not_assess" and exception:
        assert queries[["code", "case_id", "kind", "clock"]].values.tolist() == [
            ["exemption_not_supported", "R1", "request", "decision_to_assess"]]
        assert any(n.startswith("query exemption_not_supported") and "reg 4(1)" in n for n in notes)
    else:
        assert queries.empty and not any(n.startswith("query") for n in notes)


def test_the_coronavirus_limb_still_reaches_a_refusal(book):
    # reg 4(3) (SI 2020/471): received Mon 6 Apr 2020, due 18 May 2020, inside 1 May-25 Sep 2020
    row = request(request_received="2020-04-06", request_outcome="not_assess", request_outcome_date="2020-06-01",
                  decision_exception="coronavirus")
    got = both_paths([row], book, D("2020-07-01"))
    assert got[("R1", "decision_to_assess")][:5] == (D("2020-05-18"), D("2020-06-01"), "late", 14, "coronavirus")


def test_caseload_queries_keeps_its_columns(book):
    row = request(request_received="2026-09-07", request_outcome="not_assess", request_outcome_date="2026-10-30",
                  decision_exception="personal_circumstances")
    frame = caseload_queries(caseload_frame([row], ASSESSMENTS), pd.DataFrame(columns=REVIEWS.names), book,
                             D("2026-11-02"))
    assert list(frame.columns) == QUERY_COLUMNS and len(frame) == 1


ASSESS_HEADER = ["request_id", "person_id", "request_received", "request_outcome", "request_outcome_date",
                 "decision_exception"]


def test_import_rejects_an_exemption_on_a_refusal(run, tmp_path, db_url):
    path = write_csv(tmp_path / "requests.csv", ASSESS_HEADER, [
        ["R1", "P1", "2026-09-07", "not_assess", "2026-10-30", "personal_circumstances"],
        ["R2", "P2", "2026-09-07", "assess", "2026-10-30", "personal_circumstances"],
    ])
    result = run("--as-of", "2026-11-02", "import", path)
    assert result.exit_code == 1
    assert "row 2" in result.stderr and "decision_exception" in result.stderr and "reg 4(1)" in result.stderr
    assert "row 3" not in result.stderr and "Traceback" not in result.stderr
    assert "P1" not in result.stderr  # no person ids in messages
    listed = run("--as-of", "2026-11-02", "clocks", "--format", "json")
    assert json.loads(listed.stdout) == []  # nothing stored half-written
    fixed = write_csv(tmp_path / "fixed.csv", ASSESS_HEADER, [
        ["R1", "P1", "2026-09-07", "not_assess", "2026-10-30", ""],
        ["R2", "P2", "2026-09-07", "assess", "2026-10-30", "personal_circumstances"],
    ])
    assert run("--as-of", "2026-11-02", "import", fixed).exit_code == 0
    rows = json.loads(run("--as-of", "2026-11-02", "clocks", "--clock", "decision_to_assess", "--format", "json").stdout)
    assert {(r["case_id"], r["exception"], r["statutory"]) for r in rows} == {
        ("R1", None, "yes"), ("R2", "personal_circumstances", "yes")}
