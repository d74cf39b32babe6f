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

from .conftest import D, case_row, caseload_frame, day_of, write_csv


def request(request_id="R1", person_id="P1", **fields) -> dict:
    return case_row(ASSESSMENTS, request_id=request_id, person_id=person_id, **fields)


def both_paths(rows: list[dict], book, as_of: dt.date) -> dict[tuple[str, str], tuple]:
    """(case, clock) -> (due, stopped, status, days_overdue, exception), after checking explain agrees."""
    frame = caseload_frame(rows, ASSESSMENTS)
    results = evaluate(frame, book, as_of)
    bulk = {(r.case_id, r.clock): (day_of(r.due), day_of(r.stopped), r.status, int(r.days_overdue),
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


# ------------------------------------ point 1: school closure against the council's term dates
#
# The example term dates: summer 2025 closed from Wed 23 Jul 2025, re-opening Wed 3 Sep 2025
# (42 days, at least 4 weeks). Reg 10(4)(a): the window begins one week before the closure (16 Jul)
# and ends one week before the re-opening (27 Aug), both days in. Christmas 2024 (21 Dec to 6 Jan,
# 16 days) is shorter than 4 weeks: it opens no window. Request received Mon 12 May 2025: 20 weeks
# (reg 13(2)) = Mon 29 Sep 2025; final plan 20 Oct 2025, 21 days late.
@pytest.fixture(scope="module")
def term_book(tmp_path_factory):
    import shutil

    from ehcp_tracker.clocks.rules import default_rules_dir, load_rule_book

    folder = tmp_path_factory.mktemp("rules") / "rules"
    shutil.copytree(default_rules_dir(), folder)
    shutil.copy(folder / "local" / "term-dates.example.toml", folder / "local" / "term-dates.toml")
    return load_rule_book(folder)


@pytest.mark.parametrize("asked, with_terms, applied", [
    ("2025-07-16", True, True),    # first day of the window
    ("2025-07-15", True, False),   # the day before it: not supported
    ("2025-08-27", True, True),    # last day of the window
    ("2025-08-28", True, False),   # the day after it
    ("2025-06-02", True, False),   # term time
    ("2025-07-15", False, True),   # without term dates the recorded claim is trusted
])
def test_school_closure_needs_the_request_in_the_window(book, term_book, asked, with_terms, applied):
    rules = term_book if with_terms else book
    row = request(request_received="2025-05-12", request_outcome="assess", request_outcome_date="2025-06-20",
                  education_advice_requested=asked, assessment_outcome="issue", assessment_outcome_date="2025-10-01",
                  draft_plan_issued="2025-10-01", final_plan_issued="2025-10-20", exception_reason="school_closure")
    got = both_paths([row], rules, D("2025-11-03"))
    assert got[("R1", "final_plan")][:5] == (D("2025-09-29"), D("2025-10-20"), "late", 21,
                                             "school_closure" if applied else None)
    queries = assessment_queries(caseload_frame([row], ASSESSMENTS), rules, D("2025-11-03"))
    if applied:
        assert queries.empty
    else:
        assert queries[["code", "clock"]].values.tolist() == [["exemption_not_supported", "final_plan"]]
        assert "outside every closure window" in queries["message"].iloc[0]
        notes = explain_case(row, "assessment", rules, D("2025-11-03")).notes
        assert any("outside every closure window" in n for n in notes)


def test_a_short_holiday_opens_no_window(term_book):
    # Christmas 2024: 21 Dec to 6 Jan, 16 days; a request on 20 Dec is in no window
    closure = next(c for c in term_book.term_dates.closures if c.name == "Christmas 2024")
    assert (closure.reopens - closure.closed_from).days == 16 and not closure.long_enough
    assert term_book.term_dates.window_for(D("2024-12-20")) is None
    summer = term_book.term_dates.window_for(D("2025-08-01"))
    assert summer.name == "Summer holiday 2025" and summer.window == (D("2025-07-16"), D("2025-08-27"))


def test_term_dates_are_read_strictly(tmp_path):
    from ehcp_tracker.clocks.rules import default_rules_dir, load_rule_book
    from ehcp_tracker.errors import RuleBookError
    import shutil

    folder = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), folder)
    (folder / "local" / "term-dates.csv").write_text(
        "name,closed_from,reopens\nSummer,2025-07-23,2025-09-03\nTypo,2025-13-01,2025-09-03\nBackwards,2025-09-03,2025-07-23\n")
    with pytest.raises(RuleBookError) as error:
        load_rule_book(folder)
    text = str(error.value)
    assert "term-dates.csv row 3.closed_from: not an ISO date" in text
    assert "term-dates.csv row 4.reopens: must be after closed_from" in text
    (folder / "local" / "term-dates.csv").write_text("name,closed_from,reopens\nSummer,2025-07-23,2025-09-03\n")
    loaded = load_rule_book(folder)
    assert loaded.term_dates.windows == [(D("2025-07-16"), D("2025-08-27"))]


# ------------------------------------ point 1: reg 8(2) "during that 6 week period", absence 4 weeks
#
# Health advice requested (received by the body) Mon 2 Mar 2026: the 6 weeks run from Tue 3 Mar to
# Mon 13 Apr 2026 (the request day excluded). Advice provided Mon 20 Apr 2026: 7 days late.
@pytest.mark.parametrize("code, first, last, applied", [
    ("personal_circumstances", "2026-03-10", "2026-03-20", True),
    ("personal_circumstances", "2026-01-05", "2026-03-02", False),  # ended on the request day: outside
    ("personal_circumstances", "2026-04-13", None, True),           # the due date is in the period
    ("personal_circumstances", "2026-04-14", None, False),          # after the period
    ("absence_from_area", "2026-03-03", "2026-03-30", True),        # 28 days: 4 weeks
    ("absence_from_area", "2026-03-03", "2026-03-29", False),       # 27 days
    ("absence_from_area", "2026-02-01", "2026-03-31", True),        # 29 days of it in the period
    ("absence_from_area", "2026-03-20", None, False),               # 20 Mar to 13 Apr: 25 days
    ("missed_appointment", "2026-03-16", "2026-03-16", True),
    ("missed_appointment", "2026-02-20", "2026-02-20", False),      # before the request
    ("absence_from_area", None, None, True),                        # no dates given: not checked
])
def test_advice_exemption_during_the_six_weeks(book, code, first, last, applied):
    row = request(request_received="2026-02-02", request_outcome="assess", request_outcome_date="2026-02-27",
                  health_advice_requested="2026-03-02", health_advice_received="2026-04-20",
                  health_advice_exception=code, exception_from=first, exception_to=last)
    got = both_paths([row], book, D("2026-05-01"))
    assert got[("R1", "advice_health")][:5] == (D("2026-04-13"), D("2026-04-20"), "late", 7, code if applied else None)
    queries = assessment_queries(caseload_frame([row], ASSESSMENTS), book, D("2026-05-01"))
    assert len(queries) == (0 if applied else 1)


def test_la_absence_must_be_four_weeks_of_the_twenty(book):
    # reg 10(4)(d) via 13(3): request Mon 12 May 2025, period 13 May to 29 Sep 2025; absent from
    # 10 Sep to 15 Oct 2025: 20 days of it in the period -> not supported
    row = request(request_received="2025-05-12", request_outcome="assess", request_outcome_date="2025-06-20",
                  assessment_outcome="issue", assessment_outcome_date="2025-10-01", draft_plan_issued="2025-10-01",
                  final_plan_issued="2025-10-20", exception_reason="absence_from_area",
                  exception_from="2025-09-10", exception_to="2025-10-15")
    got = both_paths([row], book, D("2025-11-03"))
    assert got[("R1", "final_plan")][:5] == (D("2025-09-29"), D("2025-10-20"), "late", 21, None)
    working = explain_case(row, "assessment", book, D("2025-11-03"))
    final = next(w for w in working.clocks if w.clock.id == "final_plan")
    assert any("not supported, so not applied" in s and "fewer than 28 days" in s for s in final.steps)


EVIDENCE_HEADER = ["request_id", "person_id", "request_received", "request_outcome", "request_outcome_date",
                   "education_advice_requested", "exception_reason", "exception_from", "exception_to"]


@pytest.mark.parametrize("cells, column, words", [
    (["2025-06-20", "", "school_closure", "", ""], "exception_reason", "education_advice_requested is blank"),
    (["2025-06-20", "", "early_years_closure", "", ""], "exception_reason", "education_advice_requested is blank"),
    (["2025-06-20", "2025-06-23", "absence_from_area", "2025-09-10", "2025-09-01"], "exception_to",
     "exception_to is before exception_from"),
    (["2025-06-20", "2025-06-23", "", "2025-09-10", ""], "exception_from", "no exemption it could evidence"),
    (["2025-06-20", "2025-06-23", "absence_from_area", "", "2025-09-10"], "exception_from",
     "exception_from is blank"),
])
def test_import_rejects_an_exemption_the_row_cannot_support(run, tmp_path, cells, column, words):
    path = write_csv(tmp_path / "requests.csv", EVIDENCE_HEADER,
                     [["R1", "P1", "2025-05-12", "assess", *cells]])
    result = run("--as-of", "2025-11-03", "import", path)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "row 2" in result.stderr and column in result.stderr and words in result.stderr
    assert json.loads(run("--as-of", "2025-11-03", "clocks", "--format", "json").stdout) == []


def test_new_columns_are_stored_and_listed(run, tmp_path):
    path = write_csv(tmp_path / "requests.csv", EVIDENCE_HEADER, [
        ["R1", "P1", "2025-05-12", "assess", "2025-06-20", "2025-06-23", "absence_from_area", "2025-09-10",
         "2025-10-15"]])
    assert run("--as-of", "2025-11-03", "import", path).exit_code == 0
    shown = run("--as-of", "2025-11-03", "explain", "R1")
    assert "exception 'absence_from_area' recorded but not supported" in shown.stdout
    assert "query exemption_not_supported" in shown.stdout
    rows = json.loads(run("--as-of", "2025-11-03", "clocks", "--clock", "final_plan", "--format", "json").stdout)
    assert [(r["case_id"], r["exception"]) for r in rows] == [("R1", None)]


# ------------------------------------------------------- point 5: 15 days for representations
#
# Reg 13(1)(a) (and reg 22(2)(c) for an amendment): "at least 15 days, beginning with the day on which
# the draft plan was served". Served Mon 2 Mar 2026 is day 1; day 15 is Mon 16 Mar. A final plan on
# 16 Mar is 14 days after the draft, inside the period: a query. On 17 Mar (15 days after): none.
@pytest.mark.parametrize("draft, final, query", [
    ("2026-03-02", "2026-03-16", True),
    ("2026-03-02", "2026-03-17", False),
    ("2026-03-02", "2026-03-02", True),   # the same day
    ("2026-02-20", "2026-03-06", True),   # across a short February: 14 days
    ("2026-02-20", "2026-03-07", False),
])
def test_final_plan_fewer_than_15_days_after_the_draft(book, draft, final, query):
    row = request(request_received="2026-01-05", request_outcome="assess", request_outcome_date="2026-02-09",
                  assessment_outcome="issue", assessment_outcome_date="2026-02-16", draft_plan_issued=draft,
                  final_plan_issued=final)
    found = assessment_queries(caseload_frame([row], ASSESSMENTS), book, D("2026-04-01"))
    assert found[["code", "kind", "clock"]].values.tolist() == (
        [["representations_15_days", "request", "final_plan"]] if query else [])
    notes = explain_case(row, "assessment", book, D("2026-04-01")).notes
    assert any(n.startswith("query representations_15_days") for n in notes) == query


def review_row(**fields) -> dict:
    return case_row(REVIEWS, **{"review_id": "AR1", "person_id": "P1", "plan_issued": "2023-01-09", **fields})


@pytest.mark.parametrize("notice, amended, query", [
    ("2025-11-03", "2025-11-17", True),    # 14 days after the notice
    ("2025-11-03", "2025-11-18", False),   # 15 days
    ("2025-12-24", "2026-01-07", True),    # over the new year: 14 days
])
def test_final_amended_plan_fewer_than_15_days_after_the_notice(book, notice, amended, query):
    from ehcp_tracker.clocks.queries import review_queries

    row = review_row(review_meeting="2025-10-20", decision_notified=notice, decision="amend",
                     amendment_notice_sent=notice, amended_plan_issued=amended)
    found = review_queries(caseload_frame([row], REVIEWS), book, D("2026-02-01"))
    codes = found[["code", "kind", "clock"]].values.tolist()
    assert (["representations_15_days", "review", "amended_plan"] in codes) == query
    notes = explain_case(row, "review", book, D("2026-02-01"), [row]).notes
    assert any(n.startswith("query representations_15_days") for n in notes) == query


# --------------------------------------------------- point 6: cessation before the appeal period
#
# Tribunal Procedure (HESC) Rules 2008 r20(1)(c)(i): an appeal "within 2 months after written notice
# of the decision being challenged was sent". Notice sent 10 Mar 2026: the last day is 10 May 2026;
# a plan ceased on or before it is a query (CFA 2014 s45: maintained until the time for appealing
# has passed). Notice 31 Dec 2025: 2 months on is 28 Feb 2026 (no 31 Feb).
@pytest.mark.parametrize("notified, ceased, query", [
    ("2026-03-10", "2026-03-10", True),
    ("2026-03-10", "2026-05-10", True),    # the last day for an appeal
    ("2026-03-10", "2026-05-11", False),
    ("2025-12-31", "2026-02-28", True),
    ("2025-12-31", "2026-03-01", False),
])
def test_plan_ceased_before_the_appeal_period_ended(book, notified, ceased, query):
    from ehcp_tracker.clocks.queries import review_queries

    row = review_row(review_meeting="2025-12-01" if notified < "2026" else "2026-02-23", decision_notified=notified,
                     decision="cease", ceased_date=ceased)
    found = review_queries(caseload_frame([row], REVIEWS), book, D("2026-06-01"))
    codes = found[["code", "clock"]].values.tolist()
    assert (["ceased_before_appeal_period", "review_decision"] in codes) == query
    notes = explain_case(row, "review", book, D("2026-06-01"), [row]).notes
    assert any(n.startswith("query ceased_before_appeal_period") for n in notes) == query


# ---------------------------------------------------------------- point 4: re-assessment (regs 24-27)
#
# Request to re-assess received Mon 2 Mar 2026. The decision within 15 days (reg 25(1); the 15 days
# unverified, see the rule file): 2 Mar + 15 = Tue 17 Mar 2026. Notified 17 Mar: the finalised plan
# within 14 weeks of that notification (reg 27(2)): 17 Mar + 98 days = Tue 23 Jun 2026.
@pytest.mark.parametrize("decided, final, expected", [
    ("2026-03-17", "2026-06-23", {"reassessment_decision": (D("2026-03-17"), "met", 0),
                                  "reassessment_plan": (D("2026-06-23"), "met", 0)}),
    ("2026-03-18", "2026-06-25", {"reassessment_decision": (D("2026-03-17"), "late", 1),
                                  "reassessment_plan": (D("2026-06-24"), "late", 1)}),
])
def test_reassessment_has_its_own_clocks(book, decided, final, expected):
    row = request(request_received="2026-03-02", assessment_type="reassessment", request_outcome="assess",
                  request_outcome_date=decided, assessment_outcome="issue", assessment_outcome_date="2026-06-01",
                  draft_plan_issued="2026-06-01", final_plan_issued=final)
    got = both_paths([row], book, D("2026-07-01"))
    clocks = {clock for (_, clock) in got}
    assert "decision_to_assess" not in clocks and "final_plan" not in clocks  # not the 6 and 20 weeks
    for clock, (due, status, days) in expected.items():
        assert (got[("R1", clock)][0], got[("R1", clock)][2], got[("R1", clock)][3]) == (due, status, days)


def test_refused_reassessment_has_no_plan_clock(book):
    row = request(request_received="2026-03-02", assessment_type="reassessment", request_outcome="not_assess",
                  request_outcome_date="2026-03-10")
    got = both_paths([row], book, D("2026-07-01"))
    assert got[("R1", "reassessment_decision")][:3] == (D("2026-03-17"), D("2026-03-10"), "met")
    assert ("R1", "reassessment_plan") not in got


# ---------------------------------------------------------------------- point 3: tribunal orders
#
# Reg 44(2)(b): an order to assess (made Mon 2 Mar 2026) -> a decision not to issue within 10 weeks
# (Mon 11 May 2026) or the finalised plan within 14 weeks (Mon 8 Jun 2026). Reg 44(2)(c): an order to
# make a plan (made Mon 2 Feb 2026) -> the draft within 5 weeks (Mon 9 Mar 2026) and the finalised
# plan within 11 weeks (Mon 20 Apr 2026), not 20 weeks from the request.
REFUSED = dict(request_received="2025-09-01", request_outcome="not_assess", request_outcome_date="2025-10-10")
NO_PLAN = dict(request_received="2025-06-02", request_outcome="assess", request_outcome_date="2025-07-07",
               assessment_outcome="not_issue", assessment_outcome_date="2025-09-15")


@pytest.mark.parametrize("as_of, fields, expected, absent", [
    ("2026-07-01", dict(REFUSED, tribunal_order="assess", tribunal_order_date="2026-03-02", assessment_outcome="issue",
          assessment_outcome_date="2026-05-11", draft_plan_issued="2026-05-11", final_plan_issued="2026-06-08"),
     {"tribunal_final_plan": (D("2026-06-08"), "met", 0)}, ("final_plan", "tribunal_no_plan")),
    ("2026-07-01", dict(REFUSED, tribunal_order="assess", tribunal_order_date="2026-03-02", assessment_outcome="not_issue",
          assessment_outcome_date="2026-05-12"),
     {"tribunal_no_plan": (D("2026-05-11"), "late", 1)}, ("final_plan", "tribunal_final_plan")),
    ("2026-07-01", dict(NO_PLAN, tribunal_order="make_plan", tribunal_order_date="2026-02-02", draft_plan_issued="2026-03-09",
          final_plan_issued="2026-04-21"),
     {"tribunal_draft_plan": (D("2026-03-09"), "met", 0), "tribunal_ordered_plan": (D("2026-04-20"), "late", 1)},
     ("final_plan", "tribunal_final_plan")),
    ("2026-04-01", dict(NO_PLAN, tribunal_order="make_plan", tribunal_order_date="2026-02-02"),
     {"tribunal_draft_plan": (D("2026-03-09"), "overdue", 23), "tribunal_ordered_plan": (D("2026-04-20"), "due_soon", 0)},
     ()),
])
def test_tribunal_order_starts_its_own_clocks(book, as_of, fields, expected, absent):
    row = request(**fields)
    got = both_paths([row], book, D(as_of))
    for clock, (due, status, days) in expected.items():
        assert (got[("R1", clock)][0], got[("R1", clock)][2], got[("R1", clock)][3]) == (due, status, days)
    for clock in absent:
        assert ("R1", clock) not in got
    text = "\n".join(s for w in explain_case(row, "assessment", book, D(as_of)).clocks for s in w.steps)
    assert "started" in text and "(tribunal_order_date)" in text


TRIBUNAL_HEADER = ["request_id", "person_id", "request_received", "request_outcome", "request_outcome_date",
                   "tribunal_order", "tribunal_order_date"]


@pytest.mark.parametrize("cells, column, words", [
    (["assess", "2025-10-10", "assess", "2026-03-02"], "tribunal_order", "answers a refusal"),
    (["not_assess", "2025-10-10", "assess", ""], "tribunal_order_date", "tribunal_order_date is blank"),
    (["not_assess", "2025-10-10", "", "2026-03-02"], "tribunal_order", "tribunal_order (assess, make_plan, reconsider) is blank"),
    (["not_assess", "2025-10-10", "assess", "2025-10-01"], "tribunal_order_date", "follows the decision appealed"),
    (["not_assess", "2025-10-10", "make_plan", "2026-03-02"], "tribunal_order", "decision not to issue"),
])
def test_import_rejects_a_tribunal_order_the_row_contradicts(run, tmp_path, cells, column, words):
    path = write_csv(tmp_path / "requests.csv", TRIBUNAL_HEADER, [["R1", "P1", "2025-09-01", *cells]])
    result = run("--as-of", "2026-04-01", "import", path)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "row 2" in result.stderr and column in result.stderr and words in result.stderr


def imported_clocks(run, path, as_of: str) -> dict[tuple[str, str], tuple[str, str]]:
    """Import ``path`` through the CLI, then (case, clock) -> (due, status) from ``ehcp clocks``."""
    result = run("--as-of", as_of, "import", path)
    assert result.exit_code == 0, result.stderr
    rows = json.loads(run("--as-of", as_of, "clocks", "--format", "json").stdout)
    return {(r["case_id"], r["clock"]): (r["due"][:10], r["status"]) for r in rows}


def test_tribunal_and_reassessment_rows_through_the_cli(run, tmp_path):
    header = TRIBUNAL_HEADER + ["assessment_type", "assessment_outcome", "assessment_outcome_date"]
    path = write_csv(tmp_path / "requests.csv", header, [
        ["R1", "P1", "2025-09-01", "not_assess", "2025-10-10", "assess", "2026-03-02", "", "", ""],
        ["R2", "P2", "2026-03-02", "assess", "2026-03-18", "", "", "reassessment", "", ""],
    ])
    got = imported_clocks(run, path, "2026-04-01")
    assert got[("R1", "tribunal_final_plan")] == ("2026-06-08", "open")
    assert got[("R2", "reassessment_decision")] == ("2026-03-17", "late")
    assert got[("R2", "reassessment_plan")] == ("2026-06-24", "open")  # 18 Mar + 14 weeks
    assert ("R2", "decision_to_assess") not in got and ("R1", "final_plan") not in got


# Reg 44(2)(e)-(f), on review rows: an order to amend the plan (made Mon 1 Jun 2026) -> the amended
# plan within 5 weeks (Mon 6 Jul 2026); an order to amend only the school or institution named in
# section I -> within 2 weeks (Mon 15 Jun 2026).
APPEALED = dict(review_meeting="2026-02-16", decision_notified="2026-03-02", decision="maintain")


@pytest.mark.parametrize("as_of, fields, clock, expected", [
    ("2026-08-01", dict(tribunal_order="amend", tribunal_amended_plan_issued="2026-07-06"),
     "tribunal_amended_plan", (D("2026-07-06"), "met", 0)),
    ("2026-08-01", dict(tribunal_order="amend", tribunal_amended_plan_issued="2026-07-07"),
     "tribunal_amended_plan", (D("2026-07-06"), "late", 1)),
    ("2026-06-20", dict(tribunal_order="amend_placement"), "tribunal_amended_placement", (D("2026-06-15"), "overdue", 5)),
    ("2026-06-20", dict(tribunal_order="amend_placement", tribunal_amended_plan_issued="2026-06-15"),
     "tribunal_amended_placement", (D("2026-06-15"), "met", 0)),
])
def test_tribunal_order_to_amend_starts_its_own_clock(book, as_of, fields, clock, expected):
    row = review_row(**APPEALED, tribunal_order_date="2026-06-01", **fields)
    results = evaluate(caseload_frame([row], REVIEWS), book, D(as_of), case="review")
    got = {r.clock: (day_of(r.due), r.status, int(r.days_overdue)) for r in results.itertuples()}
    assert got[clock] == expected
    other = {"tribunal_amended_plan", "tribunal_amended_placement"} - {clock}
    assert not other & set(got)  # one order, one clock
    worked = {w.clock.id: w for w in explain_case(row, "review", book, D(as_of)).clocks if w.applies}
    assert (worked[clock].due, worked[clock].status, worked[clock].days_overdue) == expected
    assert any("(tribunal_order_date)" in step for step in worked[clock].steps)


def test_review_without_an_order_has_no_tribunal_clock(book):
    results = evaluate(caseload_frame([review_row(**APPEALED)], REVIEWS), book, D("2026-08-01"), case="review")
    assert not {"tribunal_amended_plan", "tribunal_amended_placement"} & set(results["clock"])


REVIEW_TRIBUNAL_HEADER = ["review_id", "person_id", "plan_issued", "review_meeting", "decision_notified", "decision",
                          "tribunal_order", "tribunal_order_date", "tribunal_amended_plan_issued"]


@pytest.mark.parametrize("cells, column, words", [
    (["amend", "", ""], "tribunal_order_date", "tribunal_order_date is blank"),
    (["", "2026-06-01", ""], "tribunal_order", "tribunal_order (amend, amend_placement, continue, continue_amend) is blank"),
    (["amend", "2026-02-20", ""], "tribunal_order_date", "follows the review decision appealed"),
    (["amend", "2026-06-01", "2026-05-29"], "tribunal_amended_plan_issued", "the order comes first"),
    (["", "", "2026-06-10"], "tribunal_amended_plan_issued", "no tribunal order"),
    (["cease", "2026-06-01", ""], "tribunal_order", "cease"),  # not a choice of the column
])
def test_import_rejects_a_review_tribunal_order_the_row_contradicts(run, tmp_path, cells, column, words):
    path = write_csv(tmp_path / "reviews.csv", REVIEW_TRIBUNAL_HEADER,
                     [["AR1", "P1", "2023-01-09", "2026-02-16", "2026-03-02", "maintain", *cells]])
    result = run("--as-of", "2026-07-01", "import", path)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "row 2" in result.stderr and column in result.stderr and words in result.stderr, result.stderr


def test_review_tribunal_order_through_the_cli(run, tmp_path):
    path = write_csv(tmp_path / "reviews.csv", REVIEW_TRIBUNAL_HEADER, [
        ["AR1", "P1", "2023-01-09", "2026-02-16", "2026-03-02", "maintain", "amend", "2026-06-01", ""],
        ["AR2", "P2", "2023-01-09", "2026-02-16", "2026-03-02", "maintain", "amend_placement", "2026-06-01",
         "2026-06-12"],
    ])
    got = imported_clocks(run, path, "2026-07-01")
    assert got[("AR1", "tribunal_amended_plan")] == ("2026-07-06", "due_soon")
    assert got[("AR2", "tribunal_amended_placement")] == ("2026-06-15", "met")


# --------------------------------------------- point 9: the fallback each coronavirus limb left
@pytest.mark.parametrize("clock, words", [
    ("decision_to_assess", "as soon as practicable (a coronavirus limb added: reg 4(3)"),
    ("final_plan", "as soon as practicable (a coronavirus limb added to the reg 10(4) list"),
    ("annual_review", "as soon as reasonably practicable (reg 18A"),
    ("review_decision", "as soon as reasonably practicable (reg 2A"),
])
def test_coronavirus_names_the_fallback_of_each_regulation(book, clock, words):
    corona = book.exceptions["coronavirus"]
    assert corona.fallback_for(clock).startswith(words)
    assert words in describe_clock(book, clock)


def test_explain_names_the_fallback(book):
    # received Mon 6 Apr 2020: the decision due Mon 18 May 2020, inside the window; refused 1 Jun
    row = request(request_received="2020-04-06", request_outcome="not_assess", request_outcome_date="2020-06-01",
                  decision_exception="coronavirus")
    working = explain_case(row, "assessment", book, D("2020-07-01"))
    steps = next(w for w in working.clocks if w.clock.id == "decision_to_assess").steps
    assert any("gives way to: as soon as practicable" in s and "reg 4(3)" in s for s in steps)
