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

from ..schema import BY_CASE
from .engine import condition_mask, prepare
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


EXEMPTION_NOT_SUPPORTED = Query(
    "exemption_not_supported", "",
    "the {code} exemption recorded on the {clock} clock is not supported: {why}; it is kept, not applied",
    "check the exemption against the regulation and correct or remove it in the case system; the clock is "
    "judged without it")


def assessment_queries(cases: pd.DataFrame, book: RuleBook, as_of: dt.date) -> pd.DataFrame:
    """The queries of the request rows in ``cases`` (canonical columns), as of ``as_of``: exemptions
    the row cannot support (a stored exemption on a refusal to assess, reg 4(1))."""
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
    return _frame(frames)


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
    if record.get("exception_reason") in NO_REVIEW_EXEMPTIONS:
        found.append(f"query {REVIEW_EXEMPTION_STORED.code}: "
                     + REVIEW_EXEMPTION_STORED.message.format(code=record["exception_reason"]))
    return found


def assessment_record_queries(record: dict, book: RuleBook) -> list[str]:
    """The assessment findings for one prepared request record (``explain``), as sentences."""
    found = []
    for clock in book.clocks_for("assessment"):
        code = record.get(clock.exception_field) if clock.exception_field else None
        if code is None:
            continue
        for limit in clock.exception_limits:
            if code not in limit.allowed and all(record.get(f) in v for f, v in limit.when.items()):
                found.append(f"query {EXEMPTION_NOT_SUPPORTED.code}: "
                             + EXEMPTION_NOT_SUPPORTED.message.format(code=code, clock=clock.id, why=limit.reference)
                             + f"; {EXEMPTION_NOT_SUPPORTED.action}")
    return found
