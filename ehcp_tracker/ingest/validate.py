"""Validation of an extract: every bad cell of every row, collected before anything is stored.

Built in layers, as ehrql's file readers are: a column parser turns raw cells into typed values and
marks the cells it cannot read; the cross-field checks mark rows whose stage dates contradict each
other; each mark becomes a ``Problem`` (file, row, column, reason code, message), which is both the
error report and the rejects file. Nothing here echoes personal values (names, dates of birth).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

from ..clocks.engine import evaluate, window_mask
from ..clocks.exemptions import CLOSURE_CODES, EVIDENCE_CODES
from ..clocks.rules import RuleBook
from ..errors import Problem
from ..output import CONTROL
from ..schema import ADVICE_SERVICES, ASSESSMENTS, KINDS, Kind
from .describe import describe
from .extract import RawExtract, shown_header


class Reason(str, Enum):
    REQUIRED = "required"
    BAD_DATE = "bad_date"
    IMPOSSIBLE_DATE = "impossible_date"
    FUTURE_DATE = "future_date"
    BAD_VALUE = "bad_value"
    BAD_FLAG = "bad_flag"
    BAD_NUMBER = "bad_number"
    OUT_OF_RANGE = "out_of_range"
    DUPLICATE = "duplicate_id"
    ORDER = "date_order"
    INCONSISTENT = "inconsistent"
    EXCEPTION = "exception_not_allowed"
    CONTROL = "control_character"
    MONTH_FIRST = "month_first"
    UNJUDGEABLE = "date_out_of_range"


# Dates the rule book cannot judge. The floor is not a number here: it is the first day any clock's
# first rule version is in force (1 September 2014, SEND Regulations 2014 reg 1: "come into force on
# 1st September 2014"), read from the rule book, so no EHC event is dated before the law that made it.
# The other two are plausibility margins, not law:
OLDEST_BIRTH_YEARS = 30  # a plan may run to the end of the academic year of the 25th birthday (Regs reg 46)
PLANNED_YEARS_AHEAD = 5  # a planned date (a post-16 move, reg 18(2)) further ahead is a typo


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
_DATE_PATTERNS = tuple((re.compile(pattern), fmt) for pattern, fmt in _DATE_FORMATS)


_DAY_MONTH = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}")


def _date_order(cell) -> int:
    """How a text date reads: 0 unambiguous (ISO, an Excel date, day == month, or day over 12),
    1 ambiguous (both parts 12 or less: 05/03/2024 could be 3 May), 2 month-first only
    (03/25/2024 has no 25th month: whoever wrote it put the month first)."""
    if isinstance(cell, dt.date):
        return 0
    match = _DAY_MONTH.fullmatch(_cell_text(cell))
    if not match:
        return 0
    first, second = int(match.group(1)), int(match.group(2))
    if first <= 12 and 12 < second <= 31:
        return 2
    return 1 if first <= 12 and second <= 12 and first != second else 0


def date_orders(values: pd.Series) -> np.ndarray:
    """``_date_order`` of every cell of a column (worked out once per distinct cell)."""
    codes, orders = _per_distinct(values, _date_order)
    return np.asarray(orders, dtype=np.int8)[codes]


@dataclass
class Validated:
    frame: pd.DataFrame  # typed canonical columns, every row (bad cells blank)
    problems: list[Problem]
    bad_rows: np.ndarray  # bool per row

    @property
    def good(self) -> pd.DataFrame:
        """The rows without a problem (the frame itself when every row is good: no copy of a million rows)."""
        if not self.bad_rows.any():
            return self.frame
        return self.frame[~self.bad_rows].reset_index(drop=True)


class _Shared(dict):
    """The unusable cells, in ``frame.attrs`` while the cross-checks run (``_blank`` reads them).
    pandas deep-copies a frame's attrs into every column and frame it hands out: this one is handed
    on as it is (a million-row extract's cross-checks made 3,850 copies of it, 1.9 s)."""

    def __deepcopy__(self, memo):
        return self


class _Collector:
    def __init__(self, raw: RawExtract):
        self.raw = raw
        self.problems: list[Problem] = []
        self.bad = np.zeros(len(raw.cells), dtype=bool)

    def header(self, column: str | None) -> str | None:
        """The file's own header for a canonical column when a profile renamed it (messages speak
        the file's language: 'Decision Letter Sent', not decision_notified)."""
        source = self.raw.sources.get(column) if column else None
        return source if source and source.strip().lower() != column else None

    @functools.cached_property
    def _renamed(self) -> list[tuple[re.Pattern, str]]:
        """Canonical names a profile renamed, as they appear in messages (``decision_notified``)."""
        return [(re.compile(rf"\b{re.escape(name)}\b"), f"{name} ({source!r})")
                for name, source in self.raw.sources.items() if "_" in name and self.header(name)]

    def speak_the_files_language(self, text: str) -> str:
        """A message naming other columns names them as the file does too:
        "decision_notified ('Decision Letter Sent') is recorded but ..."."""
        for pattern, named in self._renamed:
            text = pattern.sub(named, text)
        return text

    def mark(self, mask, column: str | None, reason: Reason, message) -> None:
        mask = np.asarray(mask, dtype=bool)
        header = self.header(column)
        if not callable(message) and mask.any():
            message = self.speak_the_files_language(message)
        for index in np.flatnonzero(mask):
            text = message(index) if callable(message) else message
            self.problems.append(Problem(self.raw.file, int(self.raw.row_numbers.iloc[index]), column,
                                         reason.value, text, header))
        self.bad |= mask

    def note(self, reason: Reason, message: str) -> None:
        """A problem of the whole file or a whole column (said once, naming the column itself), on top
        of the cells marked for it."""
        self.problems.append(Problem(self.raw.file, None, None, reason.value, message))


def _cell_text(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))  # Excel turns numeric IDs into floats: 12345.0 -> "12345"
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    return str(v).strip()


def _per_distinct(values: pd.Series, convert) -> tuple[np.ndarray, np.ndarray]:
    """(codes, converted distinct values): the work is done once per distinct cell, not per row.

    A million-row extract holds a few thousand distinct dates and a handful of outcome codes, so
    parsing the distinct values and indexing back is what keeps validation linear and fast.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):  # the fast CSV reader's columns: already distinct
        codes, uniques = values.cat.codes.to_numpy(), values.cat.categories.to_numpy(dtype=object)
    else:
        codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    converted = np.empty(len(uniques) + 1, dtype=object)
    converted[:] = [convert(u) for u in uniques] + [convert(None)]
    return codes, converted  # code -1 (a missing cell) indexes the final entry


def _distinct_strings(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes, text of each distinct cell): checks run once per distinct value, then index back by code."""
    if isinstance(values.dtype, pd.CategoricalDtype) and pd.api.types.infer_dtype(values.cat.categories) == "string":
        # CSV cells are all text: _cell_text is then just strip (a shortcut for a million distinct IDs)
        texts = np.empty(len(values.cat.categories) + 1, dtype=object)
        texts[:] = [u.strip() for u in values.cat.categories.to_numpy(dtype=object)] + [""]
        return values.cat.codes.to_numpy(), pd.Series(texts, dtype=object)
    codes, texts = _per_distinct(values, _cell_text)
    return codes, pd.Series(texts, dtype=object)


def shown(value, col=None, known=()) -> str:
    """A cell as a message may show it (``describe``: quoted if a code or shaped like the column's
    codes, else its length and kinds of character)."""
    if col is None:
        return describe(value, known=known)
    return describe(value, known=known, column_type=col.type, personal=col.personal)


def _case_id(value) -> str:
    """A case ID (which messages may name) as long as it is one line an ID column could hold."""
    text = str(value)
    return text if len(text) <= 64 and not CONTROL.search(text) else f"(an ID of {len(text)} characters)"


def _control_problem(text: str) -> str:
    found = CONTROL.search(text)
    return (f"contains the control character U+{ord(found.group()):04X} (line breaks, tabs and escape "
            "sequences are not allowed in extract values)")


def _parse_one_date(cell) -> tuple[np.datetime64, int]:
    """(day, state) for one distinct cell; state 0 ok or blank, 1 unreadable, 2 impossible."""
    if isinstance(cell, dt.datetime):
        return np.datetime64(cell.date(), "D"), 0
    if isinstance(cell, dt.date):
        return np.datetime64(cell, "D"), 0
    text = _cell_text(cell)
    if text == "":
        return np.datetime64("NaT"), 0
    for pattern, fmt in _DATE_PATTERNS:
        if pattern.fullmatch(text):
            try:
                if fmt == "ISO8601":
                    return np.datetime64(text[:10], "D"), 0
                return np.datetime64(dt.datetime.strptime(text, fmt).date(), "D"), 0
            except ValueError:
                return np.datetime64("NaT"), 2
    return np.datetime64("NaT"), 1


def parse_dates(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(days, unreadable, impossible) for a column of raw date cells."""
    codes, parsed = _per_distinct(values, _parse_one_date)
    days = np.array([p[0] for p in parsed], dtype="datetime64[D]")[codes]
    state = np.array([p[1] for p in parsed], dtype=np.int8)[codes]
    return days, state == 1, state == 2


def validate(raw: RawExtract, book: RuleBook, as_of: dt.date) -> Validated:
    kind = KINDS[raw.kind]
    out = _Collector(raw)
    frame: dict[str, object] = {}  # typed columns, made a DataFrame once at the end (cheaper than column by column)
    allowed = _allowed_values(kind, book)
    floor = book_floor(book, kind)
    invalid: dict[str, np.ndarray] = {}  # cells that held something unusable: not blank to the cross-checks
    for col in kind.columns:
        if col.name not in raw.cells:
            frame[col.name] = (np.full(len(raw.cells), np.datetime64("NaT"), dtype="datetime64[D]")
                               if col.type == "date" else np.full(len(raw.cells), None, dtype=object))
            continue
        values = raw.cells[col.name]
        _check_control(values, col.name, out)
        if col.type == "date":
            days, invalid[col.name] = _check_dates(col, values, floor, as_of, out)
            frame[col.name] = days
            continue
        # every check below runs on the distinct cells (text) and is spread back to the rows by code
        codes, text = _distinct_strings(values)
        each = lambda distinct, c=codes: np.asarray(distinct)[c]  # noqa: E731 - distinct values -> rows
        if col.type in ("id", "text"):
            if col.required:
                out.mark(each(text == ""), col.name, Reason.REQUIRED, "required but blank")
            too_long = text.str.len() > (64 if col.type == "id" else 200)
            out.mark(each(too_long), col.name, Reason.BAD_VALUE, "value too long")
            frame[col.name] = each(text.where(text != "", None))
        elif col.type == "choice":
            lowered = text.str.lower().str.replace(" ", "_", regex=False)
            valid = allowed[col.name]
            bad = (lowered != "") & ~lowered.isin(valid)
            out.mark(each(bad), col.name, Reason.BAD_VALUE,
                     lambda i, t=text, c=codes, k=col, v=valid: f"{shown(t.iloc[c[i]], k, v)} is not one of: {', '.join(v)}")
            invalid[col.name] = each(bad)
            frame[col.name] = each(lowered.where((lowered != "") & ~bad, None))
        elif col.type == "flag":
            lowered = text.str.lower()
            bad = ~lowered.isin(YES | NO)
            out.mark(each(bad), col.name, Reason.BAD_FLAG,
                     lambda i, t=text, c=codes, k=col: f"{shown(t.iloc[c[i]], k, YES | NO)} is not yes or no")
            frame[col.name] = each(lowered.isin(YES).astype(object).where(lowered != "", None))
        elif col.type == "int":
            spelled = text
            if col.academic_year:
                spelled = text.map(_academic_year_text)  # "2025/26" -> "2025"
            if col.aliases:
                # "R", "Reception", "N1"; "Year 6", "Y6", "Yr 6" -> 6
                lowered = text.str.lower().str.replace(r"^(?:year|yr|y)\s*(-?\d+)$", r"\1", regex=True)
                spelled = lowered.map(lambda v, words=dict(col.aliases): str(words.get(v.strip(), v)))
            numbers = pd.to_numeric(spelled.where(spelled != "", None), errors="coerce")
            bad = (text != "") & (numbers.isna() | (numbers % 1 != 0))
            out.mark(each(bad), col.name, Reason.BAD_NUMBER,
                     lambda i, t=text, c=col, k=codes: f"{shown(t.iloc[k[i]], c, [w for w, _ in c.aliases])} is not a whole number"
                     + (" or one of: " + ", ".join(sorted({w.upper() if len(w) < 3 else w.title() for w, _ in c.aliases}))
                        if c.aliases else ""))
            if col.bounds:
                low, high = col.bounds
                outside = ~bad & numbers.notna() & ((numbers < low) | (numbers > high))
                out.mark(each(outside.to_numpy(dtype=bool)), col.name, Reason.OUT_OF_RANGE,
                         lambda i, t=text, k=codes, c=col: f"{shown(t.iloc[k[i]], c)} is outside {low}..{high}")
                bad |= outside
            frame[col.name] = numbers.where(~bad).astype("Int64").array.take(codes)  # code -1: the blank entry

    frame = pd.DataFrame({name: values.astype("datetime64[s]") if getattr(values, "dtype", None) == "datetime64[D]"
                          else values for name, values in frame.items()}, index=raw.cells.index)
    frame.attrs["invalid"] = _Shared(invalid)
    key = frame[kind.key]
    duplicated = key.notna() & key.duplicated(keep=False)
    if duplicated.any():
        first_row = {}
        for index in np.flatnonzero(duplicated.to_numpy()):
            first_row.setdefault(key.iloc[index], int(raw.row_numbers.iloc[index]))
        out.mark(duplicated.to_numpy(), kind.key, Reason.DUPLICATE,
                 lambda i: f"{kind.key} {_case_id(key.iloc[i])} appears more than once in the file "
                           f"(first at row {first_row[key.iloc[i]]})")
    if kind.name == "reviews":
        _fill_ncy_academic_year(frame, as_of)
    for check in CROSS_CHECKS.get(kind.name, []):
        check(frame, out)
    del frame.attrs["invalid"]  # arrays in attrs would follow the frame into every later operation
    _check_exceptions(kind, frame, book, as_of, out)
    return Validated(frame.reset_index(drop=True), out.problems, out.bad)


_ACADEMIC_YEAR = re.compile(r"(\d{4})\s*[/-]\s*(\d{2}|\d{4})")


def _academic_year_text(text: str) -> str:
    """"2025/26" or "2025-2026" (the academic year starting in 2025) as "2025"; anything else as given
    (so "2025/27" is then reported as not a whole number)."""
    match = _ACADEMIC_YEAR.fullmatch(text)
    if not match:
        return text
    first, second = int(match[1]), int(match[2])
    follows = second == first + 1 if len(match[2]) == 4 else second == (first + 1) % 100
    return match[1] if follows else text


def _fill_ncy_academic_year(frame: pd.DataFrame, as_of: dt.date) -> None:
    """``ncy`` is the year group today: where the file does not say which academic year it is for,
    it is the one containing the import's as-of date, and the stored row keeps it (design.md s6)."""
    fill = frame["ncy"].notna().to_numpy() & frame["ncy_academic_year"].isna().to_numpy()
    if fill.any():
        year = as_of.year if as_of.month >= 9 else as_of.year - 1
        values = pd.array(frame["ncy_academic_year"], dtype="Int64")
        values[fill] = year
        frame["ncy_academic_year"] = values


def _check_control(values: pd.Series, column: str, out: _Collector) -> None:
    """Refuse control characters (a vertical tab breaks every XLSX export; ESC drives a terminal)."""
    codes, text = _distinct_strings(values)
    bad = text.str.contains(CONTROL)
    if bad.any():
        out.mark(np.asarray(bad)[codes], column, Reason.CONTROL, lambda i, t=text, c=codes: _control_problem(t.iloc[c[i]]))


def book_floor(book: RuleBook, kind: Kind) -> dt.date:
    """The first day the rule book judges a case of this kind: its earliest rule version."""
    starts = [v.start_from for c in book.clocks_for(kind.case) for v in c.versions]
    return min(starts) if starts else dt.date(2014, 9, 1)


def _check_dates(col, values: pd.Series, floor: dt.date, as_of: dt.date, out: _Collector):
    """Typed days of one date column, every bad cell marked; and the cells that held something
    unusable (so a bad date is not also "blank" to the cross-checks).

    The date order is decided for the column, not the cell: one cell that can only be month-first
    (03/25/2024) makes every ambiguous cell (05/03/2024) of the column suspect, and they are
    rejected too rather than stored with day and month swapped."""
    days, unreadable, impossible = parse_dates(values)
    orders = date_orders(values)
    month_first = orders == 2
    hide = col.personal  # a personal value (a date of birth) is never echoed back
    out.mark(unreadable, col.name, Reason.BAD_DATE,
             lambda i: "not a date" + ("" if hide else f": {shown(values.iloc[i], col)}")
             + " (expected YYYY-MM-DD or DD/MM/YYYY)")
    ambiguous = np.zeros(len(values), dtype=bool)
    if month_first.any():
        ambiguous = (orders == 1) & ~np.isnat(days)
        written = int((~np.isnat(days) | impossible).sum())
        header = out.header(col.name)
        out.note(Reason.MONTH_FIRST,
                 f"column {f'{shown_header(header)} ({col.name})' if header else col.name} looks month-first (US): {int(month_first.sum())} of "
                 f"{written} dates are impossible day-first, so its {int(ambiguous.sum())} ambiguous dates "
                 "(day and month both 12 or less) are rejected too, never guessed; export dates as "
                 "YYYY-MM-DD or DD/MM/YYYY")
        out.mark(month_first, col.name, Reason.IMPOSSIBLE_DATE,
                 "no such day read day-first (DD/MM/YYYY): it reads only month-first (US)")
        out.mark(ambiguous, col.name, Reason.MONTH_FIRST,
                 "ambiguous in a month-first column: day and month could be either way round")
    out.mark(impossible & ~month_first, col.name, Reason.IMPOSSIBLE_DATE,
             "no such day in the calendar (dates are read day-first: DD/MM/YYYY)")
    if col.required:
        out.mark(np.isnat(days) & ~unreadable & ~impossible, col.name, Reason.REQUIRED, "required but blank")
    day = np.datetime64(as_of, "D")
    future = days > day
    if col.planned:  # a planned date (a post-16 move) is expected to lie ahead, but not decades ahead
        future = days > day + np.timedelta64(round(365.25 * PLANNED_YEARS_AHEAD), "D")
        out.mark(future, col.name, Reason.UNJUDGEABLE,
                 f"more than {PLANNED_YEARS_AHEAD} years after the as-of date {as_of.isoformat()}: a typo?")
    else:
        out.mark(future, col.name, Reason.FUTURE_DATE, f"date is after the as-of date {as_of.isoformat()}")
    if hide:
        lowest = np.datetime64(dt.date(as_of.year - OLDEST_BIRTH_YEARS, 1, 1), "D")
        too_old = days < lowest
        out.mark(too_old, col.name, Reason.UNJUDGEABLE,
                 f"more than {OLDEST_BIRTH_YEARS} years before the as-of date: not a child or young person with a plan")
    else:
        too_old = days < np.datetime64(floor, "D")
        out.mark(too_old, col.name, Reason.UNJUDGEABLE,
                 lambda i: f"{str(days[i])} is before {floor.day} {floor:%B %Y}, the first day the rule book judges "
                           "(SEND Regulations 2014 reg 1): no clock could be worked out; a typo for a later year?")
    dropped = ambiguous | month_first | future | too_old
    days[dropped] = np.datetime64("NaT")
    return days, unreadable | impossible | dropped


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
        why = (": the review clocks have no exemptions in law (CFA 2014 s44, SEND Regulations 2014 regs 18, "
               "20-22), only the 2020 coronavirus relaxation (reg 18A)") if (kind.case, name) == ("review", "exception_reason") else ""
        out.mark(wrong, name, Reason.EXCEPTION,
                 lambda i: f"exception {recorded.iloc[i]!r} cannot apply to the {', '.join(clocks_here) or 'clocks of this column'} "
                           f"clock (allowed here: {', '.join(sorted(codes))}){why}")
        _check_exception_limits(kind, frame, book, name, recorded, present, out)
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


def _check_exception_limits(kind: Kind, frame: pd.DataFrame, book: RuleBook, name: str, recorded: pd.Series,
                            present: np.ndarray, out: _Collector) -> None:
    """A clock's ``exception_limits``: on the rows they describe only their allowed codes may stand
    (a refusal to assess takes no exemption but the 2020 coronavirus one, reg 4(1) and 4(3))."""
    for clock in book.clocks_for(kind.case):
        if clock.exception_field != name:
            continue
        for limit in clock.exception_limits:
            matching = np.logical_and.reduce([frame[field].isin(list(values)).to_numpy()
                                              for field, values in limit.when.items()])
            barred = present & matching & ~recorded.isin(list(limit.allowed)).to_numpy()
            when = "; ".join(f"{field} is {' or '.join(values)}" for field, values in limit.when.items())
            out.mark(barred, name, Reason.EXCEPTION,
                     lambda i: f"exception {recorded.iloc[i]!r} cannot apply to the {clock.id} clock when {when} "
                               f"(allowed then: {', '.join(limit.allowed) or 'none'}): {limit.reference}")


def _before(frame, later: str, earlier: str) -> np.ndarray:
    a, b = frame[later].to_numpy(dtype="datetime64[D]"), frame[earlier].to_numpy(dtype="datetime64[D]")
    return ~np.isnat(a) & ~np.isnat(b) & (a < b)


def _blank(frame, name) -> np.ndarray:
    """Cells with nothing in them. A cell that held something unreadable (already reported) is not
    blank: "outcome recorded but its date blank" would be a second, false, problem."""
    values = frame[name]
    if values.dtype.kind == "M":
        blank = np.isnat(values.to_numpy(dtype="datetime64[D]"))
    else:
        blank = values.isna().to_numpy()
    invalid = frame.attrs.get("invalid", {}).get(name)
    return blank if invalid is None else blank & ~invalid


# The circumstance behind an exemption may have begun before the request or run past the case's
# closure: its dates are evidence, not stages of the case, so the stage-order checks leave them out.
EVIDENCE_DATES = ("exception_from", "exception_to")


def _check_assessment_order(frame: pd.DataFrame, out: _Collector) -> None:
    for col in ASSESSMENTS.date_columns:
        if col != "request_received" and col not in EVIDENCE_DATES:
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
    for stage in [c for c in ASSESSMENTS.date_columns if c not in ("request_received", "closed_date", *EVIDENCE_DATES)]:
        out.mark(_before(frame, "closed_date", stage), stage, Reason.ORDER, f"{stage} is after the case closed (closed_date)")


def _check_assessment_outcomes(frame: pd.DataFrame, out: _Collector) -> None:
    request_outcome, outcome = frame["request_outcome"], frame["assessment_outcome"]
    pairs = [("request_outcome", "request_outcome_date"), ("assessment_outcome", "assessment_outcome_date")]
    for choice, date in pairs:
        out.mark(~_blank(frame, choice) & _blank(frame, date), date, Reason.INCONSISTENT,
                 f"{choice} is recorded but {date} is blank")
        out.mark(_blank(frame, choice) & ~_blank(frame, date), choice, Reason.INCONSISTENT,
                 f"{date} is recorded but {choice} is blank")
    order = frame["tribunal_order"]
    # a tribunal's order to assess (reg 44(2)(b)) follows a refusal; to make a plan (reg 44(2)(c)) a
    # decision not to issue one: the stages after the order are then expected on the same row
    not_assessed = request_outcome.isin(["not_assess", "withdrawn"]).to_numpy() & (order != "assess").to_numpy()
    out.mark(~_blank(frame, "assessment_outcome") & not_assessed, "assessment_outcome", Reason.INCONSISTENT,
             "an assessment outcome is recorded but the request was not assessed (request_outcome)")
    for stage in ("draft_plan_issued", "final_plan_issued"):
        out.mark(~_blank(frame, stage) & (outcome == "not_issue").to_numpy() & (order != "make_plan").to_numpy(),
                 stage, Reason.INCONSISTENT, f"{stage} is recorded but assessment_outcome is not_issue")
        out.mark(~_blank(frame, stage) & not_assessed, stage, Reason.INCONSISTENT,
                 f"{stage} is recorded but the request was not assessed (request_outcome)")


REVIEW_STAGES = ("review_meeting", "decision_notified", "amendment_notice_sent", "amended_plan_issued", "ceased_date")


def _check_review_order(frame: pd.DataFrame, out: _Collector) -> None:
    """Stage dates of one review cycle in their legal order (statutory-rules.md sections 1.5-1.7)."""
    out.mark(_blank(frame, "plan_issued") & _blank(frame, "last_review"), "plan_issued", Reason.REQUIRED,
             "give plan_issued or last_review: the review is due within 12 months of the later of them")
    out.mark(_before(frame, "last_review", "plan_issued"), "last_review", Reason.ORDER,
             "last_review is before plan_issued (a plan is reviewed after it is made)")
    out.mark(_before(frame, "transferred_in", "plan_issued"), "transferred_in", Reason.ORDER,
             "transferred_in is before plan_issued (a plan is transferred after it is made, reg 15(2))")
    out.mark(_before(frame, "review_report_sent", "review_meeting"), "review_report_sent", Reason.ORDER,
             "review_report_sent is before review_meeting: the report follows the meeting (reg 21(7))")
    for stage in REVIEW_STAGES:
        for anchor in ("plan_issued", "last_review"):
            out.mark(_before(frame, stage, anchor), stage, Reason.ORDER,
                     f"{stage} is before {anchor}: it belongs to an earlier review cycle")
    pairs = [("decision_notified", "review_meeting", "the decision is notified after the review meeting"),
             ("amendment_notice_sent", "review_meeting", "amendments are proposed after the review meeting"),
             ("amended_plan_issued", "amendment_notice_sent",
              "the final amended plan follows the amendment notice (reg 22(2)-(3))"),
             ("ceased_date", "decision_notified", "a plan ceases after the decision to cease is notified")]
    for later, earlier, why in pairs:
        out.mark(_before(frame, later, earlier), later, Reason.ORDER, f"{later} is before {earlier}: {why}")


def _check_review_decisions(frame: pd.DataFrame, out: _Collector) -> None:
    decision = frame["decision"]
    decided = ~_blank(frame, "decision")
    notified = ~_blank(frame, "decision_notified")
    out.mark((decided | notified) & _blank(frame, "review_meeting"), "review_meeting", Reason.INCONSISTENT,
             "a review decision is recorded but review_meeting is blank")
    out.mark(decided & ~notified, "decision_notified", Reason.INCONSISTENT,
             "decision is recorded but decision_notified is blank")
    out.mark(~decided & notified, "decision", Reason.INCONSISTENT,
             "decision_notified is recorded but decision (maintain, amend or cease) is blank")
    amend = (decision == "amend").to_numpy()
    for stage in ("amendment_notice_sent", "amended_plan_issued"):
        out.mark(~_blank(frame, stage) & ~amend, stage, Reason.INCONSISTENT,
                 f"{stage} is recorded but decision is not amend")
    out.mark(~_blank(frame, "amended_plan_issued") & _blank(frame, "amendment_notice_sent") & amend,
             "amendment_notice_sent", Reason.INCONSISTENT,
             "amended_plan_issued is recorded but amendment_notice_sent is blank (reg 22(2)(a) notice)")
    out.mark(~_blank(frame, "ceased_date") & (decision != "cease").to_numpy(), "ceased_date", Reason.INCONSISTENT,
             "ceased_date is recorded but decision is not cease")
    move = (frame["phase_transfer"] == "post16_move").to_numpy()
    out.mark(~_blank(frame, "transfer_date") & ~move, "transfer_date", Reason.INCONSISTENT,
             "transfer_date is recorded but phase_transfer is not post16_move (only a post-16 move has one)")
    out.mark(_blank(frame, "transfer_date") & move, "transfer_date", Reason.REQUIRED,
             "phase_transfer is post16_move but transfer_date is blank (reg 18(2): 5 months before the transfer)")


def _check_exemption_evidence(frame: pd.DataFrame, out: _Collector) -> None:
    """What an exemption needs on the row (clocks/exemptions.py): a closure exemption needs the request
    for advice from the school or provider (reg 10(4)(a)/(b)); the circumstance's dates in order and
    only beside an exemption they can evidence (reg 8(2), reg 10(4)(c)-(d))."""
    no_request = _blank(frame, "education_advice_requested")
    evidenced = np.zeros(len(frame), dtype=bool)
    for name in ASSESSMENTS.exception_columns:
        recorded = frame[name]
        closure = recorded.isin(list(CLOSURE_CODES)).to_numpy()
        out.mark(closure & no_request, name, Reason.EXCEPTION,
                 lambda i, r=recorded: f"the {r.iloc[i]} exemption needs advice requested from the head teacher, "
                 "principal or early-years provider during the closure window (SEND Regulations 2014 reg 10(4)(a)/(b)), "
                 "but education_advice_requested is blank")
        evidenced |= recorded.isin(list(EVIDENCE_CODES)).to_numpy()
    out.mark(_before(frame, "exception_to", "exception_from"), "exception_to", Reason.ORDER,
             "exception_to is before exception_from")
    out.mark(~_blank(frame, "exception_to") & _blank(frame, "exception_from"), "exception_from", Reason.INCONSISTENT,
             "exception_to is recorded but exception_from is blank")
    for name in EVIDENCE_DATES:
        out.mark(~_blank(frame, name) & ~evidenced, name, Reason.INCONSISTENT,
                 f"{name} is recorded but no exemption it could evidence is (personal_circumstances, "
                 "absence_from_area, missed_appointment)")


def _check_tribunal_order(frame: pd.DataFrame, out: _Collector) -> None:
    """A tribunal order (reg 44(2)(b)-(c)) answers an appeal: against a refusal to assess (s51(2)(a))
    or a decision not to issue a plan (s51(2)(b)), and is made after that decision."""
    order = frame["tribunal_order"]
    out.mark(~_blank(frame, "tribunal_order") & _blank(frame, "tribunal_order_date"), "tribunal_order_date",
             Reason.INCONSISTENT, "tribunal_order is recorded but tribunal_order_date is blank")
    out.mark(_blank(frame, "tribunal_order") & ~_blank(frame, "tribunal_order_date"), "tribunal_order",
             Reason.INCONSISTENT, "tribunal_order_date is recorded but tribunal_order (assess, make_plan, reconsider) is blank")
    out.mark((order == "assess").to_numpy() & (frame["request_outcome"] != "not_assess").to_numpy(), "tribunal_order",
             Reason.INCONSISTENT, "an order to assess answers a refusal, but request_outcome is not not_assess")
    about_plan = order.isin(["make_plan", "reconsider"]).to_numpy()  # reg 43(2)(c)-(d): after a decision not to issue
    out.mark(about_plan & (frame["assessment_outcome"] != "not_issue").to_numpy(), "tribunal_order", Reason.INCONSISTENT,
             lambda i: f"an order to {'make a plan' if order.iloc[i] == 'make_plan' else 'reconsider'} answers a "
                       "decision not to issue one, but assessment_outcome is not not_issue")
    out.mark(_before(frame, "tribunal_order_date", "request_outcome_date"), "tribunal_order_date", Reason.ORDER,
             "tribunal_order_date is before request_outcome_date: the order follows the decision appealed")
    out.mark(about_plan & _before(frame, "tribunal_order_date", "assessment_outcome_date"),
             "tribunal_order_date", Reason.ORDER,
             "tribunal_order_date is before assessment_outcome_date: the order follows the decision appealed")
    _check_tribunal_route(frame, out)
    out.mark(~_blank(frame, "tribunal_notice_sent") & (order != "assess").to_numpy(), "tribunal_notice_sent",
             Reason.INCONSISTENT, "tribunal_notice_sent is recorded but tribunal_order is not assess (the notice "
             "that the LA will assess, reg 44(2)(b) / reg 45(3))")
    out.mark(_before(frame, "tribunal_notice_sent", "tribunal_order_date"), "tribunal_notice_sent", Reason.ORDER,
             "tribunal_notice_sent is before tribunal_order_date: the notice follows the order (or the concession)")


def _check_tribunal_route(frame: pd.DataFrame, out: _Collector) -> None:
    """tribunal_route and tribunal_exception qualify a recorded order or concession (regs 44-45)."""
    for name in ("tribunal_route", "tribunal_exception"):
        out.mark(~_blank(frame, name) & _blank(frame, "tribunal_order"), name, Reason.INCONSISTENT,
                 f"{name} is recorded but tribunal_order is blank")
    out.mark((frame["tribunal_route"] == "unopposed").to_numpy() & frame["tribunal_order"].isin(
        ["reconsider", "continue"]).to_numpy(), "tribunal_route", Reason.INCONSISTENT,
        lambda i: f"tribunal_order {frame['tribunal_order'].iloc[i]} is an order the tribunal makes, not something "
                  "the LA concedes (reg 45: unopposed)")


def _check_review_tribunal_order(frame: pd.DataFrame, out: _Collector) -> None:
    """A tribunal order to amend a plan (reg 44(2)(e)-(f)) answers an appeal against the plan as the
    review left it (CFA 2014 s51(2)), so it is dated after the review's decision, and the amended plan
    it requires is issued after the order."""
    out.mark(~_blank(frame, "tribunal_order") & _blank(frame, "tribunal_order_date"), "tribunal_order_date",
             Reason.INCONSISTENT, "tribunal_order is recorded but tribunal_order_date is blank")
    out.mark(_blank(frame, "tribunal_order") & ~_blank(frame, "tribunal_order_date"), "tribunal_order",
             Reason.INCONSISTENT,
             "tribunal_order_date is recorded but tribunal_order (amend, amend_placement, continue, continue_amend) is blank")
    _check_tribunal_route(frame, out)
    out.mark(_before(frame, "transfer_notice_sent", "transferred_in"), "transfer_notice_sent", Reason.ORDER,
             "transfer_notice_sent is before transferred_in: the new council's notice follows the transfer (reg 15(4))")
    out.mark(~_blank(frame, "transfer_notice_sent") & _blank(frame, "transferred_in"), "transfer_notice_sent",
             Reason.INCONSISTENT, "transfer_notice_sent is recorded but transferred_in is blank")
    out.mark(~_blank(frame, "tribunal_amended_plan_issued") & _blank(frame, "tribunal_order_date"),
             "tribunal_amended_plan_issued", Reason.INCONSISTENT,
             "tribunal_amended_plan_issued is recorded but no tribunal order (tribunal_order_date) is")
    out.mark(_before(frame, "tribunal_order_date", "decision_notified"), "tribunal_order_date", Reason.ORDER,
             "tribunal_order_date is before decision_notified: the order follows the review decision appealed")
    out.mark(_before(frame, "tribunal_amended_plan_issued", "tribunal_order_date"), "tribunal_amended_plan_issued",
             Reason.ORDER, "tribunal_amended_plan_issued is before tribunal_order_date: the order comes first")


CROSS_CHECKS = {"assessments": [_check_assessment_order, _check_assessment_outcomes, _check_exemption_evidence,
                                _check_tribunal_order],
                "reviews": [_check_review_order, _check_review_decisions, _check_review_tribunal_order]}
