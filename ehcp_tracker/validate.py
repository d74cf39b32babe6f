"""Validation of an extract: every bad cell of every row, collected before anything is stored.

Built in layers, as ehrql's file readers are: a column parser turns raw cells into typed values and
marks the cells it cannot read; the cross-field checks mark rows whose stage dates contradict each
other; each mark becomes a ``Problem`` (file, row, column, reason code, message), which is both the
error report and the rejects file. Nothing here echoes personal values (names, dates of birth).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

from .engine import evaluate, window_mask
from .dates import to_day_array
from .errors import Problem
from .extract import RawExtract
from .rules import RuleBook
from .schema import ADVICE_SERVICES, ASSESSMENTS, KINDS, Kind


class Reason(str, Enum):
    REQUIRED = "required"
    BAD_DATE = "bad_date"
    IMPOSSIBLE_DATE = "impossible_date"
    FUTURE_DATE = "future_date"
    BAD_VALUE = "bad_value"
    BAD_FLAG = "bad_flag"
    BAD_NUMBER = "bad_number"
    DUPLICATE = "duplicate_id"
    ORDER = "date_order"
    INCONSISTENT = "inconsistent"
    EXCEPTION = "exception_not_allowed"


YES = {"yes", "y", "true", "t", "1", "1.0"}
NO = {"no", "n", "false", "f", "0", "0.0", ""}

# Day-first formats only: 05/03/2024 is 5 March, never 3 May.
_DATE_FORMATS = (
    (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"),
    (r"\d{4}-\d{2}-\d{2}[ T]00:00(?::00(?:\.0+)?)?", "ISO8601"),
    (r"\d{1,2}/\d{1,2}/\d{4}", "%d/%m/%Y"),
    (r"\d{1,2}-\d{1,2}-\d{4}", "%d-%m-%Y"),
    (r"\d{1,2}\.\d{1,2}\.\d{4}", "%d.%m.%Y"),
    (r"\d{1,2}/\d{1,2}/\d{2}", "%d/%m/%y"),
)


@dataclass
class Validated:
    frame: pd.DataFrame  # typed canonical columns, every row (bad cells blank)
    problems: list[Problem]
    bad_rows: np.ndarray  # bool per row

    @property
    def good(self) -> pd.DataFrame:
        return self.frame[~self.bad_rows].reset_index(drop=True)


class _Collector:
    def __init__(self, raw: RawExtract):
        self.raw = raw
        self.problems: list[Problem] = []
        self.bad = np.zeros(len(raw.cells), dtype=bool)

    def mark(self, mask, column: str | None, reason: Reason, message) -> None:
        mask = np.asarray(mask, dtype=bool)
        for index in np.flatnonzero(mask):
            text = message(index) if callable(message) else message
            self.problems.append(Problem(self.raw.file, int(self.raw.row_numbers.iloc[index]), column,
                                         reason.value, text))
        self.bad |= mask


def _strings(values: pd.Series) -> pd.Series:
    def text(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))  # Excel turns numeric IDs into floats: 12345.0 -> "12345"
        return str(v)
    return values.map(text).astype(object).str.strip()


def parse_dates(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(days, unreadable, impossible) for a column of raw date cells."""
    n = len(values)
    days = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    is_native = values.map(lambda v: isinstance(v, (dt.date, dt.datetime))).to_numpy(dtype=bool)
    if is_native.any():
        days[is_native] = to_day_array(values[is_native].map(
            lambda v: v.date() if isinstance(v, dt.datetime) else v))
    text = _strings(values.where(~is_native, ""))
    unreadable = (~is_native) & (text != "").to_numpy()
    impossible = np.zeros(n, dtype=bool)
    for pattern, fmt in _DATE_FORMATS:
        matched = text.str.fullmatch(pattern).to_numpy(dtype=bool) & unreadable
        if not matched.any():
            continue
        parsed = pd.to_datetime(text[matched], format=fmt, errors="coerce")
        good = parsed.notna().to_numpy()
        days[np.flatnonzero(matched)[good]] = parsed[good].to_numpy(dtype="datetime64[D]")
        impossible[np.flatnonzero(matched)[~good]] = True
        unreadable &= ~matched
    return days, unreadable, impossible


def validate(raw: RawExtract, book: RuleBook, as_of: dt.date) -> Validated:
    kind = KINDS[raw.kind]
    out = _Collector(raw)
    frame = pd.DataFrame(index=raw.cells.index)
    allowed = _allowed_values(kind, book)
    for col in kind.columns:
        if col.name not in raw.cells:
            frame[col.name] = (np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[D]")
                               if col.type == "date" else None)
            continue
        values = raw.cells[col.name]
        if col.type == "date":
            days, unreadable, impossible = parse_dates(values)
            text = _strings(values)
            # a personal value (a date of birth) is never echoed back
            out.mark(unreadable, col.name, Reason.BAD_DATE,
                     lambda i, t=text, hide=col.personal: "not a date"
                     + ("" if hide else f": {t.iloc[i]!r}") + " (expected YYYY-MM-DD or DD/MM/YYYY)")
            out.mark(impossible, col.name, Reason.IMPOSSIBLE_DATE, "no such day in the calendar")
            if col.required:
                out.mark(np.isnat(days) & ~unreadable & ~impossible, col.name, Reason.REQUIRED, "required but blank")
            future = days > np.datetime64(as_of, "D")
            out.mark(future, col.name, Reason.FUTURE_DATE, f"date is after the as-of date {as_of.isoformat()}")
            days[future] = np.datetime64("NaT")
            frame[col.name] = days
            continue
        text = _strings(values)
        if col.type in ("id", "text"):
            if col.required:
                out.mark(text == "", col.name, Reason.REQUIRED, "required but blank")
            too_long = text.str.len() > (64 if col.type == "id" else 200)
            out.mark(too_long, col.name, Reason.BAD_VALUE, "value too long")
            frame[col.name] = text.where(text != "", None)
        elif col.type == "choice":
            lowered = text.str.lower().str.replace(" ", "_", regex=False)
            valid = allowed[col.name]
            bad = (lowered != "") & ~lowered.isin(valid)
            out.mark(bad, col.name, Reason.BAD_VALUE,
                     lambda i, t=text: f"{t.iloc[i]!r} is not one of: {', '.join(valid)}")
            frame[col.name] = lowered.where((lowered != "") & ~bad, None)
        elif col.type == "flag":
            lowered = text.str.lower()
            bad = ~lowered.isin(YES | NO)
            out.mark(bad, col.name, Reason.BAD_FLAG, lambda i, t=text: f"{t.iloc[i]!r} is not yes or no")
            frame[col.name] = lowered.isin(YES).astype(object).where(lowered != "", None)
        elif col.type == "int":
            numbers = pd.to_numeric(text.where(text != "", None), errors="coerce")
            bad = (text != "") & (numbers.isna() | (numbers % 1 != 0))
            out.mark(bad, col.name, Reason.BAD_NUMBER, lambda i, t=text: f"{t.iloc[i]!r} is not a whole number")
            frame[col.name] = numbers.where(~bad).astype("Int64")

    key = frame[kind.key]
    duplicated = key.notna() & key.duplicated(keep=False)
    if duplicated.any():
        first_row = {}
        for index in np.flatnonzero(duplicated.to_numpy()):
            first_row.setdefault(key.iloc[index], int(raw.row_numbers.iloc[index]))
        out.mark(duplicated.to_numpy(), kind.key, Reason.DUPLICATE,
                 lambda i: f"{kind.key} {key.iloc[i]} appears more than once in the file "
                           f"(first at row {first_row[key.iloc[i]]})")
    for check in CROSS_CHECKS.get(kind.name, []):
        check(frame, out)
    _check_exceptions(kind, frame, book, as_of, out)
    return Validated(frame.reset_index(drop=True), out.problems, out.bad)


def _allowed_values(kind: Kind, book: RuleBook) -> dict[str, tuple[str, ...]]:
    allowed = {c.name: c.choices for c in kind.columns if c.type == "choice"}
    for name in kind.exception_columns:
        allowed[name] = tuple(sorted(book.exceptions))
    return allowed


def _check_exceptions(kind: Kind, frame: pd.DataFrame, book: RuleBook, as_of: dt.date, out: _Collector) -> None:
    """Each exception code is only valid on the clocks its regulation covers (design.md section 3)."""
    for name in kind.exception_columns:
        codes = book.exception_codes_for_field(kind.case, name)
        recorded = frame[name]
        present = recorded.notna().to_numpy()
        if not present.any():
            continue
        wrong = present & ~recorded.isin(list(codes)).to_numpy()
        clocks_here = sorted({c.id for cs in codes.values() for c in cs})
        out.mark(wrong, name, Reason.EXCEPTION,
                 lambda i: f"exception {recorded.iloc[i]!r} cannot apply to the {', '.join(clocks_here) or 'clocks of this column'} "
                           f"clock (allowed here: {', '.join(sorted(codes))})")
        for code, clocks in codes.items():
            reason = book.exceptions[code]
            if reason.due_from is None:
                continue
            rows = np.flatnonzero(present & (recorded == code).to_numpy())
            if not len(rows):
                continue
            subset = frame.iloc[rows].reset_index(drop=True)
            results = evaluate(subset, book, as_of, case=kind.case, clocks=[c.id for c in clocks])
            case_ids = subset[kind.key]
            in_window = set(results.loc[window_mask(results["due"].to_numpy(dtype="datetime64[D]"), reason),
                                        "case_id"])
            outside = np.zeros(len(frame), dtype=bool)
            outside[rows] = ~case_ids.isin(in_window).to_numpy()
            out.mark(outside, name, Reason.EXCEPTION,
                     f"the {code} exception only applies to a clock due between "
                     f"{reason.due_from:%d %B %Y} and {reason.due_until:%d %B %Y} (SI 2020/471)")


def _before(frame, later: str, earlier: str) -> np.ndarray:
    a, b = frame[later].to_numpy(dtype="datetime64[D]"), frame[earlier].to_numpy(dtype="datetime64[D]")
    return ~np.isnat(a) & ~np.isnat(b) & (a < b)


def _blank(frame, name) -> np.ndarray:
    values = frame[name]
    if values.dtype.kind == "M":
        return np.isnat(values.to_numpy(dtype="datetime64[D]"))
    return values.isna().to_numpy()


def _check_assessment_order(frame: pd.DataFrame, out: _Collector) -> None:
    for col in ASSESSMENTS.date_columns:
        if col != "request_received":
            out.mark(_before(frame, col, "request_received"), col, Reason.ORDER,
                     f"{col} is before request_received")
    pairs = [(f"{s}_advice_received", f"{s}_advice_requested") for s in ADVICE_SERVICES]
    pairs += [("final_plan_issued", "draft_plan_issued"), ("assessment_outcome_date", "request_outcome_date"),
              ("draft_plan_issued", "request_outcome_date"), ("final_plan_issued", "request_outcome_date")]
    for later, earlier in pairs:
        out.mark(_before(frame, later, earlier), later, Reason.ORDER, f"{later} is before {earlier}")
    for s in ADVICE_SERVICES:
        out.mark(~_blank(frame, f"{s}_advice_received") & _blank(frame, f"{s}_advice_requested"),
                 f"{s}_advice_received", Reason.INCONSISTENT, f"advice received but {s}_advice_requested is blank")
    for stage in [c for c in ASSESSMENTS.date_columns if c not in ("request_received", "closed_date")]:
        out.mark(_before(frame, "closed_date", stage), stage, Reason.ORDER, f"{stage} is after the case closed (closed_date)")


def _check_assessment_outcomes(frame: pd.DataFrame, out: _Collector) -> None:
    request_outcome, outcome = frame["request_outcome"], frame["assessment_outcome"]
    pairs = [("request_outcome", "request_outcome_date"), ("assessment_outcome", "assessment_outcome_date")]
    for choice, date in pairs:
        out.mark(~_blank(frame, choice) & _blank(frame, date), date, Reason.INCONSISTENT,
                 f"{choice} is recorded but {date} is blank")
        out.mark(_blank(frame, choice) & ~_blank(frame, date), choice, Reason.INCONSISTENT,
                 f"{date} is recorded but {choice} is blank")
    not_assessed = request_outcome.isin(["not_assess", "withdrawn"]).to_numpy()
    out.mark(~_blank(frame, "assessment_outcome") & not_assessed, "assessment_outcome", Reason.INCONSISTENT,
             "an assessment outcome is recorded but the request was not assessed (request_outcome)")
    for stage in ("draft_plan_issued", "final_plan_issued"):
        out.mark(~_blank(frame, stage) & (outcome == "not_issue").to_numpy(), stage, Reason.INCONSISTENT,
                 f"{stage} is recorded but assessment_outcome is not_issue")
        out.mark(~_blank(frame, stage) & not_assessed, stage, Reason.INCONSISTENT,
                 f"{stage} is recorded but the request was not assessed (request_outcome)")


CROSS_CHECKS = {"assessments": [_check_assessment_order, _check_assessment_outcomes]}
