"""``ehcp sen2 export``: the timeliness modules of an SEN2 return written from the tracked cases.

Why only these: the tracker holds the stage dates of requests, assessments, plans and reviews, not
names, ethnicity, placements or needs. What it holds is written (Person, Requests, Assessment,
NamedPlan, ActivePlans' review items) in the year's element order (structure.py); what it does not
is left out and listed as "not held: add to your extract", and the export is checked like any return.

Which cases: a request goes in when anything happened to it in the collection period (1 January of
the calendar year to the census date: received, decided, assessed, plan issued) or it was still open
at the census date. A request decided before the period goes in only to carry an active plan, as
historical (``H``). Each review row is an active plan unless ceased before the period; it is placed
under its own request (the ``-P`` key of a row imported from a return), else under the child's request
whose plan it is (same issue date), else the child's latest plan, else a historical request of its own.
Dates after the census date are not written (the return is as at that date).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from ..clocks.engine import evaluate
from ..clocks.rules import RuleBook
from ..schema import ASSESSMENTS, REVIEWS
from ..store import db
from .read import Node
from .structure import CENSUS_DATES, YEARS

REQUEST_CODES = {"assess": "Y", "not_assess": "N", "withdrawn": "W"}
ASSESSMENT_CODES = {"issue": "Y", "not_issue": "N"}
DECISION_CODES = {"maintain": "M", "amend": "A", "cease": "C"}
NOT_HELD = ("Person: Surname, Forename, Sex, Ethnicity, PostCode, UPN / UniqueLearnerNumber / UPNunknown "
            "(and PersonBirthDate where no review row holds date_of_birth)",
            "Requests: RequestSource, RYA, RequestMediation, RequestTribunal, Exported",
            "Assessment: AssessmentMediation, AssessmentTribunal, OtherMediation, OtherTribunal",
            "NamedPlan: PlanDetail, PlanRes, PlanWBP, PB, OA, DP, CeaseReason",
            "ActivePlans: TransferLA, PlacementDetail, SENneed, PhaseTransferDueDate, PhaseTransferFinalDate")


@dataclass
class Exported:
    year: int
    reference: dt.date
    persons: list[Node]
    not_held: tuple[str, ...] = NOT_HELD
    counts: dict[str, int] = field(default_factory=dict)


def _iso(value) -> str:
    return "" if value is None or pd.isna(value) else str(pd.Timestamp(value).date())


def persons_from_cases(assessments: pd.DataFrame, reviews: pd.DataFrame, book: RuleBook, year: int) -> Exported:
    """The return's persons from canonical frames (stored cases, or the demo's invented ones)."""
    if year not in YEARS:
        from ..errors import EhcpError

        raise EhcpError(f"--year {year}: the tracker writes the {', '.join(map(str, YEARS))} structures")
    reference = dt.date.fromisoformat(CENSUS_DATES[year])
    start = pd.Timestamp(year - 1, 1, 1)
    cut = pd.Timestamp(reference)
    a = assessments.copy()
    for name in ASSESSMENTS.date_columns:
        if name in a:
            a[name] = pd.to_datetime(a[name]).where(pd.to_datetime(a[name]) <= cut)
    r = reviews.copy()
    for name in REVIEWS.date_columns:
        if name in r:
            r[name] = pd.to_datetime(r[name]).where(pd.to_datetime(r[name]) <= cut)
    a = a[a["request_received"].notna()]
    stamps = ["request_received", "request_outcome_date", "assessment_outcome_date", "final_plan_issued", "closed_date"]
    touched = np.logical_or.reduce([(a[c] >= start).to_numpy() for c in stamps])
    ended = (a["request_outcome"].isin(["not_assess", "withdrawn"]) | a["assessment_outcome"].eq("not_issue")
             | a["final_plan_issued"].notna() | a["closed_date"].notna())
    in_period = touched | ~ended.to_numpy()
    active = r[(r["ceased_date"].isna() | (r["ceased_date"] >= start))
               & (r["plan_issued"].notna() | r["last_review"].notna())]
    exception = _exceptions(a[in_period], book, reference)

    people: dict[str, Node] = {}
    requests_of: dict[str, dict[str, Node]] = {}
    order: list[str] = []

    def person_node(person_id) -> Node:
        if person_id not in people:
            people[person_id] = Node("Person", {}, {"Requests": []})
            requests_of[person_id] = {}
            order.append(person_id)
        return people[person_id]

    for row in a[in_period].sort_values(["person_id", "request_received", "request_id"]).itertuples(index=False):
        node = _request(row, exception.get(row.request_id, False))
        person_node(row.person_id).children["Requests"].append(node)
        requests_of[row.person_id][row.request_id] = node
    by_id = a.set_index("request_id", drop=False)
    for row in active.sort_values(["person_id", "review_id"]).itertuples(index=False):
        person = person_node(row.person_id)
        if _iso(row.date_of_birth):
            person.fields["PersonBirthDate"] = _iso(row.date_of_birth)
        host = _host(row, requests_of[row.person_id], by_id)
        if host is None:  # a plan made before the period: a historical request carries it
            host = Node("Requests", {"RequestOutcome": "H"}, {"Assessment": [Node("Assessment", {"AssessmentOutcome": "H"}, {
                "NamedPlan": [Node("NamedPlan", {"StartDate": _iso(row.plan_issued)})]})]})
            person.children["Requests"].append(host)
        plan = host.first("Assessment").first("NamedPlan") if host.first("Assessment") else None
        if plan is not None and _iso(row.ceased_date):
            plan.fields["CeaseDate"] = _iso(row.ceased_date)
        if host.first("ActivePlans") is None:
            host.children["ActivePlans"] = [_active(row)]
    persons = [people[p] for p in order]
    return Exported(year, reference, persons, counts={"persons": len(persons), "requests": int(in_period.sum()),
                                                      "active plans": len(active)})


def _exceptions(cases: pd.DataFrame, book: RuleBook, reference: dt.date) -> dict[str, bool]:
    """Week20: whether the tracker applies an exception to the request's 20-week clock."""
    if not len(cases):
        return {}
    clocks = evaluate(cases.reset_index(drop=True), book, reference, clocks=["final_plan"])
    return dict(zip(clocks["case_id"], clocks["exception"].notna()))


def _request(row, exception: bool) -> Node:
    decided = _iso(row.request_outcome_date)  # an outcome after the census date is not yet made
    fields = {"ReceivedDate": _iso(row.request_received), "RequestOutcomeDate": decided,
              "RequestOutcome": REQUEST_CODES.get(row.request_outcome or "", "A") if decided else "A"}
    node = Node("Requests", fields)
    if fields["RequestOutcome"] != "Y":
        return node
    outcome = ASSESSMENT_CODES.get(row.assessment_outcome or "")
    # item 3.2: the date the plan was issued (Y) or the no-issue decision notified (N)
    made = _iso(row.assessment_outcome_date) or (_iso(row.final_plan_issued) if outcome == "Y" else "")
    if outcome is None or not made:
        outcome = "W" if _iso(row.closed_date) else "A"
    items = {"AssessmentOutcome": outcome}
    if outcome in ("Y", "N"):
        items["AssessmentOutcomeDate"] = made
    elif outcome == "W" and _iso(row.closed_date):
        items["AssessmentOutcomeDate"] = _iso(row.closed_date)
    if outcome == "Y":
        items["Week20"] = "1" if exception else "0"
    assessment = Node("Assessment", items)
    if outcome == "Y" and _iso(row.final_plan_issued):
        assessment.children["NamedPlan"] = [Node("NamedPlan", {"StartDate": _iso(row.final_plan_issued)})]
    node.children["Assessment"] = [assessment]
    return node


def _host(review, requests: dict[str, Node], by_id: pd.DataFrame) -> Node | None:
    own = review.review_id[:-2] if str(review.review_id).endswith("-P") else None
    if own in requests:
        return requests[own]
    with_plan = [(rid, node) for rid, node in requests.items()
                 if node.first("Assessment") and node.first("Assessment").first("NamedPlan")
                 and node.first("ActivePlans") is None]
    issued = _iso(review.plan_issued)
    for rid, node in with_plan:
        if node.first("Assessment").first("NamedPlan").get("StartDate") == issued:
            return node
    return with_plan[-1][1] if with_plan else None


def _active(review) -> Node:
    last = _iso(review.decision_notified) or _iso(review.last_review)
    fields = {"ReviewMeeting": _iso(review.review_meeting), "LastReview": last,
              "ReviewDraft": _iso(review.amendment_notice_sent)}
    if _iso(review.decision_notified) and review.decision in DECISION_CODES:
        fields["ReviewOutcome"] = DECISION_CODES[review.decision]
    return Node("ActivePlans", {k: v for k, v in fields.items() if v})


def export_cases(engine: Engine, book: RuleBook, year: int) -> Exported:
    with engine.connect() as conn:
        assessments = db.load_cases(conn, ASSESSMENTS, include_missing=False)
        reviews = db.load_cases(conn, REVIEWS, include_missing=False)
    return persons_from_cases(assessments, reviews, book, year)
