"""An SEN2 return's modules mapped to the canonical rows: one assessment per request, one review per
active plan. The map is data (``ASSESSMENT_MAP``, ``REVIEW_MAP``, ``CODES``): docs/sen2.md prints it.

Why these choices (each also in docs/sen2.md):
- ``H`` (historical: decided before the collection period) at the request or the assessment starts
  no decision clock: such a request is not an assessment case here (its plan, if active, still
  gives a review row).
- ``A`` (not yet decided) is a blank outcome: the clock runs, as it does in any extract.
- ``Week20 = 1`` is the exception ``sen2_week20`` (rule book): applied as DfE applies it, and queried.
- The review row is the plan's open review cycle, as the import contract reads SEN2 ``LastReview``
  (design.md section 3: ``last_review`` "i.e. the decision letter, SEN2 LastReview"): due within 12
  months of it. ``ReviewMeeting`` belongs to that open cycle only when later than ``LastReview``;
  ``ReviewOutcome`` and ``ReviewDraft`` are the concluded review's, so no row carries them
  (``NOT_CARRIED`` says where each such item goes instead). A plan with a ``CeaseDate`` is no longer
  reviewed: no review row.
- Names, postcode and ethnicity are never copied into a row; names and birth date only mint keys
  (keys.py). The birth date is kept on review rows (``date_of_birth``: the year group, hence the
  phase transfer, comes from it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from .keys import person_key, request_key
from .read import Node, Return

SOURCE = "sen2"
# SEND Regulations 2014 reg 1: in force 1 September 2014; a plan dated before it, with no review since,
# gives no clock the rule book can work out (validation would refuse the whole return for it)
LAW_IN_FORCE = "2014-09-01"
WEEK20_EXCEPTION = "sen2_week20"

# SEN2 code -> canonical value ("" = blank: not yet decided). H is handled before these apply.
CODES = {
    "RequestOutcome": {"Y": "assess", "N": "not_assess", "W": "withdrawn", "A": ""},
    "AssessmentOutcome": {"Y": "issue", "N": "not_issue", "A": "", "W": ""},
    "Week20": {"1": WEEK20_EXCEPTION, "0": ""},
}

# canonical column -> (module/item, how) for docs/sen2.md and the messages (``sources``)
ASSESSMENT_MAP = {
    "request_id": ("Person + Requests/ReceivedDate", "minted (keys.py)"),
    "person_id": ("Person/UPN, else UniqueLearnerNumber, else LA + names + PersonBirthDate", "minted (keys.py)"),
    "request_received": ("Requests/ReceivedDate (2.1)", "date"),
    "request_outcome": ("Requests/RequestOutcome (2.5)", "Y assess, N not_assess, W withdrawn, A blank, H no row"),
    "request_outcome_date": ("Requests/RequestOutcomeDate (2.4)", "date"),
    "assessment_outcome": ("Assessment/AssessmentOutcome (3.1)", "Y issue, N not_issue, A blank, W blank + closed, H no row"),
    "assessment_outcome_date": ("Assessment/AssessmentOutcomeDate (3.2)", "date"),
    "final_plan_issued": ("NamedPlan/StartDate (4.1)", "date"),
    "exception_reason": ("Assessment/Week20 (3.7)", "1 sen2_week20, 0 blank"),
    "closed_date": ("Assessment/AssessmentOutcomeDate when AssessmentOutcome is W", "date"),
    "closed_reason": ("Assessment/AssessmentOutcome W", "'withdrawn (SEN2 AssessmentOutcome W)'"),
    "source": ("(every row)", "sen2"),
}
REVIEW_MAP = {
    "review_id": ("the request's key + '-P'", "minted"),
    "person_id": ("as for assessments", "minted"),
    "plan_issued": ("NamedPlan/StartDate (4.1)", "date"),
    "last_review": ("ActivePlans/LastReview (5.4b)", "date"),
    "date_of_birth": ("Person/PersonBirthDate (1.3)", "date (the year group and phase transfer)"),
    "review_meeting": ("ActivePlans/ReviewMeeting (5.4a)", "date, when later than LastReview"),
    "ceased_date": ("NamedPlan/CeaseDate (4.5)", "a ceased plan gives no review row"),
    "source": ("(every row)", "sen2"),
}

# The ActivePlans review items no review row carries, and where each goes instead (docs/sen2.md prints
# this; tests/test_sen2_inputs.py holds every ActivePlans item to REVIEW_MAP or here).
NOT_CARRIED = {
    "TransferLA": "no transfer date in the return, so the reg 15 transfer clocks cannot start: counted in the "
                  "import's notes (record transferred_in in your extract)",
    "ReviewOutcome": "the concluded review's decision (its LastReview), not the open cycle's: checked "
                     "(ReviewDraft only after A); C with no CeaseDate is counted in the import's notes",
    "ReviewDraft": "the concluded review's draft amended plan (sent with or after its decision): checked "
                   "against ReviewOutcome; the amended-plan clock is not judged on a return",
    "PhaseTransferDueDate": "DfE's count of phase-transfer reviews due in the year: counted by "
                            "ehcp sen2 reconcile beside phase_transfers.csv; the tracker derives the transfer "
                            "from the birth date",
    "PhaseTransferFinalDate": "DfE's count of final plans after a phase-transfer review: counted by "
                              "ehcp sen2 reconcile beside phase_transfers.csv",
}


@dataclass
class Mapped:
    assessments: pd.DataFrame
    reviews: pd.DataFrame
    positions: dict[str, list[int]]  # kind -> the person position of each row
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bases: dict[str, int] = field(default_factory=dict)  # how persons were keyed


def _historical(request: Node) -> bool:
    assessment = request.first("Assessment")
    return request.get("RequestOutcome") == "H" or (assessment is not None and assessment.get("AssessmentOutcome") == "H")


def map_return(ret: Return, secret: Callable[[], bytes]) -> Mapped:
    """Every request and active plan as canonical cells (text; validation parses them)."""
    key_secret = secret()
    assessments, reviews = [], []
    positions: dict[str, list[int]] = {"assessments": [], "reviews": []}
    historical = undatable = ceased = early = transferred = ceasing = 0
    bases: dict[str, int] = {}
    for position, person in enumerate(ret.persons, start=1):
        person_id, basis = person_key(key_secret, ret.header.la, person.fields, position)
        bases[basis] = bases.get(basis, 0) + 1
        seen: dict[str, int] = {}
        for request in person.all("Requests"):
            received = request.get("ReceivedDate")
            request_id = request_key(person_id, received, seen)
            assessment = request.first("Assessment") or Node("Assessment")
            plan = assessment.first("NamedPlan") or Node("NamedPlan")
            if _historical(request):
                historical += 1
            else:
                outcome = assessment.get("AssessmentOutcome")
                row = {
                    "request_id": request_id, "person_id": person_id, "request_received": received,
                    "request_outcome": _code("RequestOutcome", request.get("RequestOutcome")),
                    "request_outcome_date": request.get("RequestOutcomeDate"),
                    "assessment_outcome": _code("AssessmentOutcome", outcome),
                    "assessment_outcome_date": assessment.get("AssessmentOutcomeDate") if outcome in ("Y", "N") else "",
                    "final_plan_issued": plan.get("StartDate"),
                    "exception_reason": _code("Week20", assessment.get("Week20")),
                    "closed_date": assessment.get("AssessmentOutcomeDate") if outcome == "W" else "",
                    "closed_reason": "withdrawn (SEN2 AssessmentOutcome W)" if outcome == "W" else "",
                    "source": SOURCE,
                }
                assessments.append(row)
                positions["assessments"].append(position)
            active = request.first("ActivePlans")
            if active is None:
                continue
            last = active.get("LastReview")
            current = (lambda day: day if day and (not last or day > last) else "")
            row = {
                "review_id": f"{request_id}-P", "person_id": person_id, "plan_issued": plan.get("StartDate"),
                "last_review": last, "date_of_birth": person.get("PersonBirthDate"),
                "review_meeting": current(active.get("ReviewMeeting")),
                "ceased_date": plan.get("CeaseDate"), "source": SOURCE,
            }
            transferred += bool(active.get("TransferLA"))
            if row["ceased_date"]:  # a plan ceased is no longer reviewed: no review clock
                ceased += 1
                continue
            ceasing += active.get("ReviewOutcome") == "C"
            if row["plan_issued"] and row["plan_issued"] < LAW_IN_FORCE:  # a statement's date, not a clock's
                row["plan_issued"] = ""
                early += 1
            if not row["last_review"] and not row["plan_issued"]:
                undatable += 1
                continue
            reviews.append(row)
            positions["reviews"].append(position)
    mapped = Mapped(pd.DataFrame(assessments, columns=list(ASSESSMENT_MAP), dtype=object),
                    pd.DataFrame(reviews, columns=list(REVIEW_MAP), dtype=object), positions, bases=bases)
    if historical:
        mapped.notes.append(f"{ret.file}: {historical} historical request(s) (RequestOutcome or AssessmentOutcome H) "
                            "start no decision clock: not imported as assessments")
    if early:
        mapped.notes.append(f"{ret.file}: {early} plan(s) with a StartDate before 1 September 2014 (SEND Regulations "
                            "2014 reg 1): plan_issued left blank; the review is due from LastReview")
    if ceased:
        mapped.notes.append(f"{ret.file}: {ceased} active plan(s) with a NamedPlan CeaseDate: ceased, so no review "
                            "clock; not imported as reviews")
    if transferred:
        mapped.notes.append(f"{ret.file}: {transferred} active plan(s) transferred in from another LA (TransferLA): "
                            "the return gives no transfer date, so the transfer clocks (reg 15) are not judged; "
                            "record transferred_in in your extract")
    if ceasing:
        mapped.notes.append(f"{ret.file}: {ceasing} active plan(s) whose last review decided to cease the plan "
                            "(ReviewOutcome C) with no CeaseDate: their next review is tracked until the plan's "
                            "CeaseDate is recorded")
    if undatable:
        mapped.warnings.append(f"{ret.file}: {undatable} active plan(s) with no LastReview and no NamedPlan StartDate "
                               "on or after 1 September 2014: no review clock can start; not imported (add the dates "
                               "to the return)")
    if bases.get("position"):
        mapped.warnings.append(f"{ret.file}: {bases['position']} person(s) with no UPN, ULN, names or birth date "
                               "are keyed by their position in the file: next year's return will not find them")
    return mapped


@dataclass(frozen=True)
class Plan:
    """A named plan of the return, keyed as ``map_return`` keys its request."""

    position: int
    request_id: str
    received: str
    start: str
    exception: bool
    historical: bool


def plans(ret: Return, secret: Callable[[], bytes]) -> list[Plan]:
    """Every request's NamedPlan with a StartDate (historical ones too), for the 20-week measures."""
    key_secret = secret()
    out = []
    for position, person in enumerate(ret.persons, start=1):
        person_id, _ = person_key(key_secret, ret.header.la, person.fields, position)
        seen: dict[str, int] = {}
        for request in person.all("Requests"):
            request_id = request_key(person_id, request.get("ReceivedDate"), seen)
            assessment = request.first("Assessment") or Node("Assessment")
            plan = assessment.first("NamedPlan")
            if plan is not None and plan.get("StartDate"):
                out.append(Plan(position, request_id, request.get("ReceivedDate"), plan.get("StartDate"),
                                assessment.get("Week20") == "1", _historical(request)))
    return out


def _code(item: str, value: str) -> str:
    """The canonical value; an unknown code is passed through for validation to reject by name."""
    return CODES[item].get(value, value)
