"""Legal queries: what the law or the data makes doubtful but that is not a clock.

A query is not a breach: nothing here is late. It is a finding a caseworker should look at, with
what to do about it, in the manner of the data-quality queries of the DfE's own validators. Each
finding is worked vectorised over the caseload here, and one case at a time by ``explain`` (as a
note), from the same derived fields.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pendulum

from ..schema import BY_CASE
from .dates import NAT, add_months
from .engine import condition_mask, evaluate, prepare
from .exemptions import unsupported, why_unsupported
from .rules import RuleBook

QUERY_COLUMNS = ["code", "case_id", "kind", "person_id", "caseworker", "team", "clock", "date", "message",
                 "action"]


@dataclass(frozen=True)
class Query:
    """One kind of finding: its code, the clock it is about, and what to do."""

    code: str
    clock: str
    message: str
    action: str


MAINTAIN_ON_TRANSFER = Query(
    "maintain_on_transfer", "phase_transfer",
    "the phase transfer review ended with a decision to maintain the plan unchanged: reg 18(1) requires "
    "the plan to be amended where necessary so that it names the school or institution the child will "
    "attend after the transfer",
    "check that the plan already names the next school or institution; if not, amend it (reg 22) before "
    "the transfer deadline")
REVIEW_EXEMPTION_STORED = Query(
    "review_exemption_not_applied", "annual_review",
    "an exemption is stored on this review ({code}), but the review clocks have none in law (CFA 2014 s44, "
    "SEND Regulations 2014 regs 18, 20-22; only the 2020 coronavirus relaxation): it is kept, not applied",
    "remove the exemption from the case system; the review clocks are judged without it")
NO_REVIEW_EXEMPTIONS = ("personal_circumstances", "absence_from_area")
# "at least 15 days, beginning with the day on which the draft plan was served": the served day is
# day 1, so the last day for representations is the served day + 14 and a final plan issued fewer
# than 15 days after the draft (or the amendment notice) cut them short.
REPRESENTATION_DAYS = 15
FIFTEEN_DAYS_DRAFT = Query(
    "representations_15_days", "final_plan",
    "the final plan was issued fewer than 15 days after the draft plan: reg 13(1)(a) gives the parent or young "
    "person at least 15 days, beginning with the day the draft was served, to make representations and ask "
    "for a school or a meeting",
    "check the draft's service date and whether representations were cut short; if they were, offer the "
    "meeting and reconsider the plan with them")
FIFTEEN_DAYS_AMENDMENT = Query(
    "representations_15_days", "amended_plan",
    "the final amended plan was issued fewer than 15 days after the amendment notice: reg 22(2)(c) gives the "
    "parent or young person at least 15 days, beginning with the day it was served, to make representations",
    "check the notice's service date and whether representations were cut short; if they were, reconsider "
    "the amendments with them")
# Cessation: the plan must be maintained until the time for appealing has passed (CFA 2014 s45, as the
# Act's Explanatory Notes para 247 put it; the subsection's text unverified). The time for an appeal:
# "within 2 months after written notice of the decision being challenged was sent" or 1 month from a
# mediation certificate if later (Tribunal Procedure (First-tier Tribunal) (HESC) Rules 2008 r20(1)(c)).
APPEAL_MONTHS = 2
CEASED_EARLY = Query(
    "ceased_before_appeal_period", "review_decision",
    "the plan is recorded as ceased on or before the last day for appealing the decision to cease (2 months "
    "after the decision notice was sent, Tribunal Procedure (HESC) Rules 2008 r20(1)(c)): the plan must be "
    "maintained until the time for an appeal has passed (CFA 2014 s45)",
    "check ceased_date; reinstate the plan until the appeal period has passed (later still with a mediation "
    "certificate, 1 month from its issue, or an appeal, until it is determined)")

# An SEN2 return's Week20 = 1: an exception whose ground the return does not hold (rule book
# [exceptions.sen2_week20]). Applied, as DfE does, and queried so the ground gets recorded.
SEN2_GROUND = "sen2_week20"
SEN2_EXCEPTION_GROUND = Query(
    "sen2_exception_ground", "final_plan",
    "the SEN2 return says an exception to the 20-week limit applies (Week20 = 1) but not which ground "
    "(reg 13(3): reg 10(4)(a)-(d)); it is applied to the measures excluding exceptions, as DfE does",
    "record the ground (school_closure, early_years_closure, personal_circumstances or absence_from_area, "
    "with exception_from/exception_to) in the case system, or clear it if none applied")

EXEMPTION_NOT_SUPPORTED = Query(
    "exemption_not_supported", "",
    "the {code} exemption recorded on the {clock} clock is not supported: {why}; it is kept, not applied",
    "check the exemption against the regulation and correct or remove it in the case system; the clock is "
    "judged without it")


def assessment_queries(cases: pd.DataFrame, book: RuleBook, as_of: dt.date) -> pd.DataFrame:
    """The queries of the request rows in ``cases`` (canonical columns), as of ``as_of``: exemptions
    the row cannot support (a stored exemption on a refusal to assess, reg 4(1); a claim its own dates
    or the council's term dates contradict, exemptions.py), and the 15-day representations."""
    kind = BY_CASE["assessment"]
    if not len(cases):
        return pd.DataFrame(columns=QUERY_COLUMNS)
    columns = prepare(cases, "assessment", as_of, book.transfers)
    n = len(cases)
    frames = []
    for clock in book.clocks_for("assessment"):
        if not clock.exception_field:
            continue
        recorded = columns[clock.exception_field]
        for limit in clock.exception_limits:
            matching = condition_mask(limit.when, columns, n, any_of=False)
            barred = matching & (recorded != None) & ~np.isin(recorded, list(limit.allowed))  # noqa: E711
            for code in sorted({c for c in recorded[barred]}):
                hit = barred & (recorded == code)
                frames.append(_found(columns, kind.key, hit, EXEMPTION_NOT_SUPPORTED, columns[clock.start],
                                     EXEMPTION_NOT_SUPPORTED.message.format(code=code, clock=clock.id,
                                                                            why=limit.reference),
                                     clock=clock.id, case_kind="request"))
    frames += _unsupported_claims(cases, columns, book, as_of)
    frames.append(_found(columns, kind.key, columns["exception_reason"] == SEN2_GROUND, SEN2_EXCEPTION_GROUND,
                         columns["request_received"], SEN2_EXCEPTION_GROUND.message, case_kind="request"))
    frames.append(_found(columns, kind.key, _cut_short(columns["draft_plan_issued"], columns["final_plan_issued"]),
                         FIFTEEN_DAYS_DRAFT, columns["final_plan_issued"], FIFTEEN_DAYS_DRAFT.message,
                         case_kind="request"))
    return _frame(frames)


def _cut_short(served: np.ndarray, final: np.ndarray) -> np.ndarray:
    """Final issued fewer than 15 days after the served date (both known)."""
    gap = (final - served).astype("timedelta64[D]").astype(np.int64)
    return ~np.isnat(served) & ~np.isnat(final) & (gap < REPRESENTATION_DAYS)


def _unsupported_claims(cases: pd.DataFrame, columns, book: RuleBook, as_of: dt.date) -> list[pd.DataFrame]:
    """Exemptions recorded on a clock that applies, in its scope, but that the row does not support."""
    kind = BY_CASE["assessment"]
    key = kind.key
    # only the rows with an exemption recorded need their clocks worked out
    claims = np.flatnonzero(np.logical_or.reduce([columns[name] != None for name in kind.exception_columns]))  # noqa: E711
    if not len(claims):
        return []
    results = evaluate(cases.iloc[claims].reset_index(drop=True), book, as_of)
    at = pd.Index(pd.Series(columns[key][claims], dtype=object).astype(str))
    frames = []
    for clock in book.clocks_for("assessment"):
        if not clock.exception_field:
            continue
        part = results[results["clock"] == clock.id]
        if not len(part):
            continue
        rows = claims[at.get_indexer(part["case_id"].astype(str))]
        start = part["started"].to_numpy(dtype="datetime64[D]")
        due = part["due"].to_numpy(dtype="datetime64[D]")
        recorded = columns[clock.exception_field][rows]
        barred = np.zeros(len(rows), dtype=bool)
        for limit in clock.exception_limits:  # queried above, as exemption_not_supported with its own why
            barred |= condition_mask(limit.when, columns, len(cases), any_of=False)[rows] & ~np.isin(
                recorded, list(limit.allowed))
        for reason in book.exceptions_for(clock):
            claimed = (recorded == reason.code) & ~barred
            if not claimed.any():
                continue
            bad, why = unsupported(reason.code, start, due, columns, rows, book.term_dates, clock.exception_scope)
            for text in sorted({w for w in why[claimed & bad]}):
                hit = np.zeros(len(cases), dtype=bool)
                hit[rows[claimed & bad & (why == text)]] = True
                frames.append(_found(columns, key, hit, EXEMPTION_NOT_SUPPORTED, columns[clock.start],
                                     EXEMPTION_NOT_SUPPORTED.message.format(code=reason.code, clock=clock.id,
                                                                            why=text),
                                     clock=clock.id, case_kind="request"))
    return frames


def caseload_queries(requests: pd.DataFrame, reviews: pd.DataFrame, book: RuleBook,
                     as_of: dt.date) -> pd.DataFrame:
    """Every query of the caseload: the one entry point for listings, the board pack and the import."""
    frames = [f for f in (assessment_queries(requests, book, as_of), review_queries(reviews, book, as_of))
              if len(f)]
    if not frames:
        return pd.DataFrame(columns=QUERY_COLUMNS)
    return pd.concat(frames, ignore_index=True)[QUERY_COLUMNS].sort_values(
        ["code", "case_id"], kind="stable").reset_index(drop=True)


def review_queries(cases: pd.DataFrame, book: RuleBook, as_of: dt.date) -> pd.DataFrame:
    """The queries of the review rows in ``cases`` (canonical columns), as of ``as_of``."""
    kind = BY_CASE["review"]
    if not len(cases):
        return pd.DataFrame(columns=QUERY_COLUMNS)
    columns = prepare(cases, "review", as_of, book.transfers)
    frames = []
    transfer = np.isin(columns["transfer_type"], ["school", "post16"]) & columns["transfer_covered"]
    maintained = transfer & (columns["decision"] == "maintain") & ~np.isnat(columns["transfer_review_completed"])
    frames.append(_found(columns, kind.key, maintained, MAINTAIN_ON_TRANSFER, columns["decision_notified"],
                         MAINTAIN_ON_TRANSFER.message))
    amend = columns["decision"] == "amend"
    frames.append(_found(columns, kind.key, amend & _cut_short(columns["amendment_notice_sent"],
                                                               columns["amended_plan_issued"]),
                         FIFTEEN_DAYS_AMENDMENT, columns["amended_plan_issued"], FIFTEEN_DAYS_AMENDMENT.message))
    notified, ceased = columns["decision_notified"], columns["ceased_date"]
    known = (columns["decision"] == "cease") & ~np.isnat(notified) & ~np.isnat(ceased)
    last_day = np.full(len(ceased), NAT)
    last_day[known] = add_months(notified[known], APPEAL_MONTHS)
    frames.append(_found(columns, kind.key, known & (ceased <= last_day), CEASED_EARLY, ceased, CEASED_EARLY.message))
    stored = columns["exception_reason"]
    for code in NO_REVIEW_EXEMPTIONS:
        hit = stored == code
        frames.append(_found(columns, kind.key, hit, REVIEW_EXEMPTION_STORED, columns["review_anchor"],
                             REVIEW_EXEMPTION_STORED.message.format(code=code)))
    return _frame(frames)


def _found(columns, key: str, mask: np.ndarray, query: Query, dates: np.ndarray, message: str, *,
           clock: str | None = None, case_kind: str = "review") -> pd.DataFrame:
    rows = np.flatnonzero(mask)
    return pd.DataFrame({
        "code": query.code, "case_id": columns[key][rows], "kind": case_kind,
        "person_id": columns["person_id"][rows], "caseworker": columns["caseworker"][rows],
        "team": columns["team"][rows], "clock": clock or query.clock,
        "date": pd.Series(dates[rows]).astype("datetime64[s]"), "message": message, "action": query.action})


def _frame(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=QUERY_COLUMNS)
    return pd.concat(frames, ignore_index=True)[QUERY_COLUMNS].sort_values(
        ["code", "case_id"], kind="stable").reset_index(drop=True)


def record_queries(record: dict) -> list[str]:
    """The same findings for one prepared review record (``explain``), as sentences."""
    found = []
    if (record.get("transfer_type") in ("school", "post16") and record.get("transfer_covered")
            and record.get("decision") == "maintain" and record.get("transfer_review_completed") is not None):
        found.append(f"query {MAINTAIN_ON_TRANSFER.code}: {MAINTAIN_ON_TRANSFER.message}; "
                     f"{MAINTAIN_ON_TRANSFER.action}")
    notice, amended = record.get("amendment_notice_sent"), record.get("amended_plan_issued")
    if (record.get("decision") == "amend" and notice is not None and amended is not None
            and (amended - notice).days < REPRESENTATION_DAYS):
        found.append(f"query {FIFTEEN_DAYS_AMENDMENT.code}: {FIFTEEN_DAYS_AMENDMENT.message} "
                     f"({(amended - notice).days} days); {FIFTEEN_DAYS_AMENDMENT.action}")
    notified, ceased = record.get("decision_notified"), record.get("ceased_date")
    if record.get("decision") == "cease" and notified is not None and ceased is not None:
        moved = pendulum.date(notified.year, notified.month, notified.day).add(months=APPEAL_MONTHS)
        last_day = dt.date(moved.year, moved.month, moved.day)
        if ceased <= last_day:
            found.append(f"query {CEASED_EARLY.code}: {CEASED_EARLY.message} (last day for an appeal "
                         f"{last_day:%d %b %Y}); {CEASED_EARLY.action}")
    if record.get("exception_reason") in NO_REVIEW_EXEMPTIONS:
        found.append(f"query {REVIEW_EXEMPTION_STORED.code}: "
                     + REVIEW_EXEMPTION_STORED.message.format(code=record["exception_reason"]))
    return found


def assessment_record_queries(record: dict, book: RuleBook, periods: dict[str, tuple] | None = None) -> list[str]:
    """The assessment findings for one prepared request record (``explain``), as sentences;
    ``periods`` gives each applying clock's (started, due), as explain worked them out."""
    found = []
    periods = periods or {}
    say = lambda code, clock, why: found.append(  # noqa: E731
        f"query {EXEMPTION_NOT_SUPPORTED.code}: " + EXEMPTION_NOT_SUPPORTED.message.format(code=code, clock=clock, why=why)
        + f"; {EXEMPTION_NOT_SUPPORTED.action}")
    for clock in book.clocks_for("assessment"):
        code = record.get(clock.exception_field) if clock.exception_field else None
        if code is None:
            continue
        barred = [limit for limit in clock.exception_limits
                  if code not in limit.allowed and all(record.get(f) in v for f, v in limit.when.items())]
        for limit in barred:
            say(code, clock.id, limit.reference)
        if barred or clock.id not in periods or code not in {r.code for r in book.exceptions_for(clock)}:
            continue
        why = why_unsupported(code, *periods[clock.id], record, book.term_dates, clock.exception_scope)
        if why is not None:
            say(code, clock.id, why)
    if record.get("exception_reason") == SEN2_GROUND:
        found.append(f"query {SEN2_EXCEPTION_GROUND.code}: {SEN2_EXCEPTION_GROUND.message}; "
                     f"{SEN2_EXCEPTION_GROUND.action}")
    draft, final = record.get("draft_plan_issued"), record.get("final_plan_issued")
    if draft is not None and final is not None and (final - draft).days < REPRESENTATION_DAYS:
        found.append(f"query {FIFTEEN_DAYS_DRAFT.code}: {FIFTEEN_DAYS_DRAFT.message} ({(final - draft).days} days); "
                     f"{FIFTEEN_DAYS_DRAFT.action}")
    return found
