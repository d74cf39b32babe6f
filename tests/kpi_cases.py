"""Hand-built caseloads for the KPI tests, each case with its answer worked out in the comment.

Assessments are looked at as of Wednesday 15 April 2026, reporting January to April 2026. Offsets
are calendar days after the request was received (the 20-week clock is due on day 140, the 6-week
decision on day 42, the 16-week no-plan notice on day 112, advice on day 42 from the request to
the service).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ehcp_tracker.clocks.engine import CLOCK_COLUMNS, EXTRA_COLUMNS
from ehcp_tracker.demo.synthetic import ASSESSMENT_COLUMNS

AS_OF = dt.date(2026, 4, 15)
D = dt.date.fromisoformat


def _case(rid: str, received: str, *, decision: tuple[str, int] | None = None,
          final: int | None = None, not_issue: int | None = None, **fields) -> dict:
    start = D(received)
    row = {c: None for c in ASSESSMENT_COLUMNS}
    row.update(request_id=rid, person_id="P" + rid[1:], request_received=start, caseworker="CW001", team="North",
               looked_after="no", youth_justice="no", camhs="no", placed_out_of_area="no")
    if decision:
        row.update(request_outcome=decision[0], request_outcome_date=start + dt.timedelta(days=decision[1]))
    if final is not None:
        row.update(assessment_outcome="issue", assessment_outcome_date=start + dt.timedelta(days=final),
                   final_plan_issued=start + dt.timedelta(days=final))
    if not_issue is not None:
        row.update(assessment_outcome="not_issue", assessment_outcome_date=start + dt.timedelta(days=not_issue))
    row.update(fields)
    return row


ASSESSMENT_CASES = [
    # R1: plan issued on day 140 exactly (18 Feb 2026): within 20 weeks.
    _case("R1", "2025-10-01", decision=("assess", 35), final=140),
    # R2: plan on day 141 (20 Jan 2026): late by a day, in the 20-52 week band.
    _case("R2", "2025-09-01", decision=("assess", 49), final=141),
    # R3: plan on day 400 (5 Jan 2026): over 52 weeks.
    _case("R3", "2024-12-01", decision=("assess", 30), final=400),
    # R4: plan on day 100 (23 Jan 2026) within 20 weeks, but with an exception recorded.
    _case("R4", "2025-10-15", decision=("assess", 40), final=100, exception_reason="personal_circumstances"),
    # R5: plan on day 200 (17 Feb 2026), late, with an exception: out of the "excluding" figures.
    _case("R5", "2025-08-01", decision=("assess", 20), final=200, exception_reason="personal_circumstances"),
    # R6: refused on day 42 (21 Feb 2026): a decision within 6 weeks.
    _case("R6", "2026-01-10", decision=("not_assess", 42)),
    # R7: refused on day 50 (3 Mar 2026): late.
    _case("R7", "2026-01-12", decision=("not_assess", 50)),
    # R8: withdrawn on day 10: not a decision, outside the 6-week measure.
    _case("R8", "2026-02-01", decision=("withdrawn", 10), closed_date=D("2026-02-11"), closed_reason="withdrawn"),
    # R9: received 20 March 2026, undecided at the as-of date.
    _case("R9", "2026-03-20"),
    # R10: no plan, notified on day 112 (21 Feb 2026): within 16 weeks.
    _case("R10", "2025-11-01", decision=("assess", 30), not_issue=112),
    # R11: no plan, notified on day 120 (3 Mar 2026): late.
    _case("R11", "2025-11-03", decision=("assess", 30), not_issue=120),
    # R12: agreed on 4 Feb 2026, still being assessed; EP advice on day 42 of its request (met),
    #      health advice on day 50 (late) with a missed-appointment exemption.
    _case("R12", "2026-01-05", decision=("assess", 30),
          ep_advice_requested=D("2026-02-06"), ep_advice_received=D("2026-03-20"),
          health_advice_requested=D("2026-02-06"), health_advice_received=D("2026-03-28"),
          health_advice_exception="missed_appointment"),
    # R13: received 1 March 2025, agreed, still open: 364 days old on 28 Feb 2026 (the 20-52 band
    #      still), 395 on 31 March (52+).
    _case("R13", "2025-03-01", decision=("assess", 40)),
]


def assessment_frame() -> pd.DataFrame:
    return pd.DataFrame(ASSESSMENT_CASES, columns=ASSESSMENT_COLUMNS)


def result(case_id: str, clock: str, started: str, due: str, stopped: str | None, status: str,
           stop_reason: str, exception: str | None = None, transfer_type: str | None = None,
           snapshot: str | None = None, decision: str | None = None, caseworker: str = "CW001") -> dict:
    """One hand-built clock result (the review clocks are written on another branch)."""
    row = {c: None for c in CLOCK_COLUMNS + EXTRA_COLUMNS}
    row.update(case_id=case_id, kind="review", person_id="P" + case_id, caseworker=caseworker, team="North",
               clock=clock, started=D(started), due=D(due), stopped=D(stopped) if stopped else None,
               status=status, days_overdue=0, exception=exception, statutory="yes", stop_reason=stop_reason,
               transfer_type=transfer_type, decision=decision)
    if snapshot:
        row["snapshot"] = D(snapshot)
    return row


def result_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for key in ("started", "due", "stopped", "snapshot"):
        if key in frame:
            frame[key] = pd.to_datetime(frame[key]).astype("datetime64[s]")
    frame["days_overdue"] = frame["days_overdue"].astype(np.int64)
    return frame


# Reviews as of 31 March 2026, January to March.
REVIEW_AS_OF = dt.date(2026, 3, 31)
REVIEW_RESULTS = [
    # annual_review: V1 concluded early (met), V2 concluded late, V3 still open and overdue,
    # V4 plan ceased before the review (closed: not due), V5 concluded on its due date (met).
    # Outcomes: V1 maintain, V2 amend, V5 cease; V3 has none yet.
    result("V1", "annual_review", "2025-01-21", "2026-01-20", "2026-01-10", "met", "event", decision="maintain"),
    result("V2", "annual_review", "2025-01-26", "2026-01-25", "2026-02-10", "late", "event", decision="amend"),
    result("V3", "annual_review", "2025-02-15", "2026-02-14", None, "overdue", ""),
    result("V4", "annual_review", "2025-02-21", "2026-02-20", "2026-02-01", "met", "closed"),
    result("V5", "annual_review", "2025-03-11", "2026-03-10", "2026-03-10", "met", "event", decision="cease"),
    # review_decision: January one met, one late; February one met with an exception (included).
    result("D1", "review_decision", "2025-12-20", "2026-01-17", "2026-01-15", "met", "event"),
    result("D2", "review_decision", "2025-12-20", "2026-01-17", "2026-01-30", "late", "event"),
    result("D3", "review_decision", "2026-01-10", "2026-02-07", "2026-02-02", "met", "event",
           exception="personal_circumstances"),
    result("D4", "review_decision", "2026-03-10", "2026-04-07", None, "due_soon", ""),
    # amended_plan: February one met, one late.
    result("M1", "amended_plan", "2025-12-20", "2026-02-14", "2026-02-10", "met", "event"),
    result("M2", "amended_plan", "2025-12-20", "2026-02-14", "2026-02-20", "late", "event"),
    # phase_transfer: two school transfers due 14 February (one met, one still open), a post-16
    # transfer due 30 March (met), a post-16 move due 6 March (late).
    result("P1", "phase_transfer", "2025-09-01", "2026-02-14", "2026-02-01", "met", "event", transfer_type="school"),
    result("P2", "phase_transfer", "2025-09-01", "2026-02-14", None, "overdue", "", transfer_type="school"),
    result("P3", "phase_transfer", "2025-09-01", "2026-03-30", "2026-03-01", "met", "event", transfer_type="post16"),
    result("P4", "phase_transfer", "2025-09-01", "2026-03-06", "2026-03-20", "late", "event",
           transfer_type="post16_move"),
]
# The annual review clocks as the engine would judge them at each month end.
REVIEW_SNAPSHOTS = [
    result("V1", "annual_review", "2025-01-21", "2026-01-20", "2026-01-10", "met", "event", snapshot="2026-01-31"),
    result("V2", "annual_review", "2025-01-26", "2026-01-25", None, "overdue", "", snapshot="2026-01-31"),
    result("V3", "annual_review", "2025-02-15", "2026-02-14", None, "due_soon", "", snapshot="2026-01-31"),
    result("V2", "annual_review", "2025-01-26", "2026-01-25", "2026-02-10", "late", "event", snapshot="2026-02-28"),
    result("V3", "annual_review", "2025-02-15", "2026-02-14", None, "overdue", "", snapshot="2026-02-28"),
    result("V3", "annual_review", "2025-02-15", "2026-02-14", None, "overdue", "", snapshot="2026-03-31"),
    result("V5", "annual_review", "2025-03-11", "2026-03-10", "2026-03-10", "met", "event", snapshot="2026-03-31"),
]
