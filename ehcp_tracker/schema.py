"""The canonical extract: the columns of design.md section 3, their types and their allowed values.

Everything else (profiles, validation, the database, the rule book's field names) refers to these
names, so a new column is added here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # "id" | "text" | "date" | "choice" | "flag" | "int"
    required: bool = False
    choices: tuple[str, ...] = ()
    personal: bool = False  # never echoed in messages or logs
    doc: str = ""
    planned: bool = False  # a date planned ahead (may lie after the as-of date), not an event that happened
    aliases: tuple[tuple[str, int], ...] = ()  # "int": words accepted for numbers, e.g. ("reception", 0)
    bounds: tuple[int, int] | None = None  # "int": the lowest and highest value allowed
    academic_year: bool = False  # "int": also read "2025/26" (the academic year starting in 2025) as 2025
    filled_with: str = ""  # filled at import (from the as-of date) whenever this other column is in the file


@dataclass(frozen=True)
class Kind:
    """One kind of case (an assessment request, or an annual review of a plan)."""

    name: str  # "assessments" | "reviews"
    case: str  # "assessment" | "review": the word rules use
    key: str
    columns: tuple[Column, ...]
    exception_columns: tuple[str, ...] = field(default=())

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def date_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.type == "date"]


ADVICE_SERVICES = ("ep", "health", "social_care", "education")

# Where a row came from when that source holds only some of the stage dates. An SEN2 return is an
# annual snapshot without advice or review-procedure dates: a clock that needs one of those dates
# is "not judged: the SEN2 does not hold this date" on such rows (clocks.engine.not_held), never a
# breach. The lists name canonical columns (derived fields count by what they are made from).
SOURCES = ("sen2",)
SOURCE_TITLES = {"sen2": "the SEN2"}
NOT_HELD = {
    "sen2": {
        "assessment": ("ep_advice_requested", "ep_advice_received", "health_advice_requested",
                       "health_advice_received", "social_care_advice_requested", "social_care_advice_received",
                       "education_advice_requested", "education_advice_received", "draft_plan_issued",
                       "tribunal_order_date", "tribunal_notice_sent", "exception_from", "exception_to"),
        "review": ("meeting_notice_sent", "advice_circulated", "review_report_sent", "amended_plan_issued",
                   "transferred_in", "transfer_notice_sent", "transfer_date", "tribunal_order_date",
                   "tribunal_amended_plan_issued"),
    },
}
_source_column = Column("source", "choice", choices=SOURCES,
                        doc="where the row came from when that source lacks some dates (sen2: imported from an "
                            "SEN2 return; its advice and review-procedure clocks are not judged); blank otherwise")
FLAGS = ("looked_after", "youth_justice", "camhs", "placed_out_of_area")
COHORTS = FLAGS

_flag_columns = tuple(Column(f, "flag", doc="priority cohort flag (yes/no)") for f in FLAGS)

# Shared by both kinds: how the tribunal's time limits start (reg 44 order, or reg 45 concession) and
# the exemption claimed against them (reg 44(3); reg 45's own list).
_tribunal_columns = (
    Column("tribunal_route", "choice", choices=("order", "unopposed"),
           doc="order (blank): the tribunal made an order (reg 44); unopposed: the LA notified the tribunal that "
               "it would not oppose the appeal, and the time limits run from that notification (reg 45)"),
    Column("tribunal_exception", "choice",
           doc="exception to the tribunal clocks: personal_circumstances, or absence_from_area of at least "
               "2 weeks (reg 44(3); reg 45)"),
)

_advice_columns = tuple(
    col
    for service in ADVICE_SERVICES
    for col in (
        Column(f"{service}_advice_requested", "date",
               doc="date the service received the request for advice (reg 8(1))"),
        Column(f"{service}_advice_received", "date", doc="date the advice was provided"),
    )
)

ASSESSMENTS = Kind(
    name="assessments",
    case="assessment",
    key="request_id",
    columns=(
        Column("request_id", "id", required=True),
        Column("person_id", "id", required=True, personal=True),
        Column("request_received", "date", required=True,
               doc="date the LA received the request (or became responsible, CFA s24)"),
        Column("caseworker", "text"),
        Column("team", "text"),
        Column("request_outcome", "choice", choices=("assess", "not_assess", "withdrawn")),
        Column("request_outcome_date", "date", doc="date the decision whether to assess was notified"),
        *_advice_columns,
        Column("assessment_outcome", "choice", choices=("issue", "not_issue")),
        Column("assessment_outcome_date", "date", doc="date the decision to issue or not was notified"),
        Column("draft_plan_issued", "date"),
        Column("final_plan_issued", "date"),
        Column("exception_reason", "choice", doc="exception to the 20-week (and 16-week) clock"),
        Column("decision_exception", "choice", doc="exception to the 6-week decision clock (extension)"),
        *(Column(f"{s}_advice_exception", "choice", doc=f"exception to the {s} advice clock")
          for s in ADVICE_SERVICES),
        Column("closed_date", "date"),
        Column("closed_reason", "text"),
        *_flag_columns,
        Column("exception_from", "date",
               doc="first day of the circumstance behind the row's exemptions (an absence, exceptional "
                   "circumstances, the missed appointment): checked against the clock's period (reg 8(2), 10(4)(c)-(d))"),
        Column("exception_to", "date", doc="last day of that circumstance (blank: it lasted to the due date)"),
        Column("assessment_type", "choice", choices=("assessment", "reassessment"),
               doc="reassessment: a request to re-assess an existing plan (regs 24-27); blank is an assessment"),
        Column("tribunal_order", "choice", choices=("assess", "make_plan", "reconsider"),
               doc="a First-tier Tribunal order on this request: to assess (or re-assess), to make a plan "
                   "(reg 44(2)(b)-(c)), or the case referred back to the LA to reconsider (reg 43(2)(d); its "
                   "time limit unverified, no clock); with tribunal_route unopposed, what the LA conceded (reg 45)"),
        Column("tribunal_order_date", "date",
               doc="the date the tribunal's order was made (reg 44); with tribunal_route unopposed, the date the "
                   "LA notified the tribunal that it would not oppose the appeal (reg 45(1))"),
        _source_column,
        *_tribunal_columns,
        Column("tribunal_notice_sent", "date",
               doc="date the LA notified the parent or young person that it will make the assessment or "
                   "re-assessment the order (or its concession) requires: within 2 weeks (reg 44(2)(b), reg 45(3))"),
    ),
    exception_columns=("exception_reason", "decision_exception",
                       *(f"{s}_advice_exception" for s in ADVICE_SERVICES), "tribunal_exception"),
)

# National curriculum years as case systems write them: Reception is year 0, the two nursery years
# before it -1 (N2, the year before Reception) and -2 (N1).
NCY_ALIASES = (("r", 0), ("reception", 0), ("yr", 0), ("n", -1), ("nursery", -1), ("n2", -1),
               ("n1", -2))
TRANSFER_TYPES = ("none", "school", "post16", "post16_move")

REVIEWS = Kind(
    name="reviews",
    case="review",
    key="review_id",
    columns=(
        Column("review_id", "id", required=True),
        Column("person_id", "id", required=True, personal=True),
        Column("caseworker", "text"),
        Column("team", "text"),
        Column("plan_issued", "date", doc="date the plan was first made"),
        Column("last_review", "date", doc="date the previous review concluded (decision letter)"),
        Column("ncy", "int", aliases=NCY_ALIASES, bounds=(-2, 14),
               doc="national curriculum year today: in the academic year containing the import's as-of date"),
        Column("ncy_academic_year", "int", bounds=(2000, 2100), academic_year=True, filled_with="ncy",
               doc="the academic year ncy is for (2025 or 2025/26: the calendar year it starts); "
                   "filled from the import's as-of date when blank"),
        Column("date_of_birth", "date", personal=True, doc="used to derive ncy when ncy is blank"),
        Column("phase_transfer", "choice", choices=TRANSFER_TYPES,
               doc="derived from ncy and the configured transfer years when blank"),
        Column("transfer_date", "date", planned=True, doc="date of a post-16 to post-16 move (reg 18(2))"),
        Column("transferred_in", "date",
               doc="date the plan was transferred in from another council (reg 15(2)); reg 15(5) first review"),
        Column("transfer_notice_sent", "date",
               doc="date the new council told the parent or young person that the plan has transferred, whether it "
                   "proposes to assess and when it will review: within 6 weeks of the transfer (reg 15(4))"),
        Column("meeting_notice_sent", "date", doc="date notice of the review meeting was given (regs 20(3), 21(3))"),
        Column("advice_circulated", "date", doc="date advice and information was circulated (regs 20(4), 21(4))"),
        Column("review_meeting", "date"),
        Column("review_report_sent", "date", doc="date the review report was sent (reg 21(7); reg 20)"),
        Column("decision_notified", "date"),
        Column("decision", "choice", choices=("maintain", "amend", "cease")),
        Column("amendment_notice_sent", "date"),
        Column("amended_plan_issued", "date"),
        Column("ceased_date", "date"),
        Column("exception_reason", "choice"),
        *_flag_columns,
        Column("tribunal_order", "choice", choices=("amend", "amend_placement", "continue", "continue_amend"),
               doc="a First-tier Tribunal order on this plan: amend (reg 44(2)(e)), amend only the school or "
                   "institution, or its type, in section I (amend_placement, reg 44(2)(f)), continue to maintain "
                   "it (continue: with immediate effect, no clock) or continue and amend it (continue_amend); with "
                   "tribunal_route unopposed, what the LA conceded (reg 45)"),
        Column("tribunal_order_date", "date",
               doc="the date the tribunal's order was made (reg 44); with tribunal_route unopposed, the date the "
                   "LA notified the tribunal that it would not oppose the appeal (reg 45(1))"),
        Column("tribunal_amended_plan_issued", "date",
               doc="the date the amended plan the order requires was issued"),
        _source_column,
        *_tribunal_columns,
    ),
    exception_columns=("exception_reason", "tribunal_exception"),
)

KINDS = {k.name: k for k in (ASSESSMENTS, REVIEWS)}
BY_CASE = {k.case: k for k in (ASSESSMENTS, REVIEWS)}
