"""The clock engine: every (case, clock) of a caseload in one vectorised pass.

Deadlines are derived, never stored: a changed stage date, a new rule version or a new bank holiday
changes every affected deadline the next time this runs. ``explain.py`` walks the same rule
definitions one case at a time to show its working; ``tests/test_engine_vs_explain.py`` checks the
two agree on random caseloads.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..schema import BY_CASE, FLAGS
from .dates import NAT, add_months, to_day_array
from .rules import DEFAULT_TRANSFERS, Clock, ExceptionReason, RuleBook

# The listing contract (design.md section 4): these columns, in this order; more may follow.
CLOCK_COLUMNS = ["case_id", "kind", "person_id", "caseworker", "team", "clock", "started", "due",
                 "stopped", "status", "days_overdue", "exception"]
# Outcome fields of the case, carried beside each clock so measures such as "requests agreed" (KPIs)
# need no second read of the caseload; blank where the kind of case has no such field. A review's
# ``decision`` (maintain / amend / cease) and derived ``transfer_type`` feed the review-outcome and
# per-type phase-transfer KPIs.
OUTCOME_COLUMNS = ["request_outcome", "assessment_outcome", "decision", "transfer_type"]
EXTRA_COLUMNS = ["statutory", "stop_reason", "rule_version", "reference", *FLAGS, *OUTCOME_COLUMNS]
# With evaluate(stops=True): what stopped the clock, or would have, each NaT if nothing yet.
STOP_COLUMNS = ["stop_event", "closure"]
STATUSES = ("open", "due_soon", "overdue", "met", "late")
OPEN_STATUSES = ("open", "due_soon", "overdue")


def prepare(cases: pd.DataFrame, case: str, as_of: dt.date,
            transfers: dict[int, str] | None = None) -> dict[str, np.ndarray]:
    """The caseload as of ``as_of``: anything dated after it has not happened yet.

    This is what makes ``--as-of`` a real "today": a KPI for last March, or "what was due that week",
    sees the caseload as it stood then. Planned dates (a post-16 move's ``transfer_date``) are kept.
    """
    kind = BY_CASE[case]
    limit = np.datetime64(as_of, "D")
    planned = {c.name for c in kind.columns if c.planned}
    columns: dict[str, np.ndarray] = {}
    for name in kind.names:
        values = cases[name] if name in cases else pd.Series([None] * len(cases))
        if name in kind.date_columns:
            days = to_day_array(values)
            if name not in planned:
                days[days > limit] = NAT
            columns[name] = days
        else:
            columns[name] = values.to_numpy(dtype=object, na_value=None)
    columns.update(derived_fields(columns, case, transfers))
    return columns


def derived_fields(columns: dict[str, np.ndarray], case: str,
                   transfers: dict[int, str] | None = None) -> dict[str, np.ndarray]:
    """Fields the rules may refer to that no extract holds directly (rules.DERIVED_FIELDS)."""
    if case == "assessment":
        withdrawn = columns["request_outcome"] == "withdrawn"
        closure = columns["closed_date"].copy()
        use_outcome = np.isnat(closure) & withdrawn
        closure[use_outcome] = columns["request_outcome_date"][use_outcome]
        return {"closure_date": closure}
    if case == "review":
        return review_fields(columns, DEFAULT_TRANSFERS if transfers is None else transfers)
    return {}


def _years(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[Y]").astype(np.int64) + 1970


def _academic_years(days: np.ndarray) -> np.ndarray:
    """The calendar year in which the academic year (1 September to 31 August) containing each day began."""
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return _years(days) - (months < 9)


def curriculum_years(ncy: np.ndarray, date_of_birth: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The national curriculum year (float, NaN if unknown) in the academic year containing ``reference``.

    ``ncy`` when given; otherwise from the date of birth: children born 1 September (Y-5) to 31 August
    (Y-4) are in Reception (year 0) in the academic year starting September Y: year groups go by
    age on 31 August.
    """
    given = pd.to_numeric(pd.Series(ncy, dtype=object), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnat(date_of_birth) & ~np.isnat(reference)
    from_birth = np.full(len(given), np.nan)
    from_birth[known] = (_academic_years(reference[known]) - _academic_years(date_of_birth[known]) - 5)
    return np.where(np.isnan(given), from_birth, given)


def review_fields(columns: dict[str, np.ndarray], transfers: dict[int, str]) -> dict[str, np.ndarray]:
    """review_anchor, transfer_type, transfer_year_start and review_completed (rules.DERIVED_FIELDS).

    The national curriculum year a review row gives (or its date of birth implies) is the one in the
    academic year containing the last day of the review period (the anchor's anniversary minus a
    day, whatever the counting parameters say): the year in which the review falls due. A school or
    post-16 transfer then happens in the September after that academic year.
    """
    plan, last = columns["plan_issued"], columns["last_review"]
    anchor = np.where(np.isnat(last), plan, np.where(np.isnat(plan) | (last > plan), last, plan))
    period_end = add_months(anchor - np.timedelta64(1, "D"), 12)
    ncy = curriculum_years(columns["ncy"], columns["date_of_birth"], period_end)
    derived = np.full(len(anchor), None, dtype=object)
    derived[~np.isnan(ncy)] = "none"
    for year, transfer in transfers.items():
        derived[ncy == year] = transfer
    recorded = columns["phase_transfer"]
    transfer_type = np.where(pd.isna(recorded), derived, recorded).astype(object)
    calendar_year = np.where(np.isnat(period_end), 0, _academic_years(period_end) + 1)
    year_start = (calendar_year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    dated = np.isin(transfer_type, ["school", "post16"]) & ~np.isnat(period_end)
    transfer_year_start = np.where(dated, year_start, NAT)
    amend = columns["decision"] == "amend"
    completed = np.where(amend, columns["amended_plan_issued"], columns["decision_notified"])
    return {"review_anchor": anchor, "transfer_type": transfer_type, "transfer_year_start": transfer_year_start,
            "review_completed": completed, "curriculum_year": ncy}


def condition_mask(conditions: dict[str, tuple[str, ...]], columns: dict[str, np.ndarray], n: int,
                   *, any_of: bool) -> np.ndarray:
    """Rows meeting all (``any_of=False``) or any (``any_of=True``) of ``field in values``."""
    if not conditions:
        return np.full(n, not any_of)
    masks = [np.isin(columns[name], list(values)) for name, values in conditions.items()]
    return np.logical_or.reduce(masks) if any_of else np.logical_and.reduce(masks)


def evaluate(cases: pd.DataFrame, book: RuleBook, as_of: dt.date, *, case: str = "assessment",
             clocks: list[str] | None = None, stops: bool = False) -> pd.DataFrame:
    """Every clock of every case in ``cases`` (canonical columns), judged on ``as_of``.

    ``stops=True`` adds ``STOP_COLUMNS``: the stop event's date and the closure's date (either may
    be NaT), from which ``history.as_at`` judges the clock on any earlier day without a second pass.
    """
    kind = BY_CASE[case]
    n = len(cases)
    columns = prepare(cases, case, as_of, book.transfers)
    today = np.datetime64(as_of, "D")
    parts = []
    for clock in book.clocks_for(case):
        if clocks and clock.id not in clocks:
            continue
        part = _evaluate_clock(clock, book, columns, n, today)
        if part is not None:
            parts.append(part)
    if not parts:
        return empty_result(stops)
    rows = np.concatenate([p["rows"] for p in parts])
    out = {
        "case_id": columns[kind.key][rows],
        "kind": _repeat(case, len(rows)),
        "person_id": columns["person_id"][rows],
        "caseworker": columns["caseworker"][rows],
        "team": columns["team"][rows],
    }
    for key in ("clock", "started", "due", "stopped", "status", "days_overdue", "exception", "statutory",
                "stop_reason", "rule_version", "reference", *(STOP_COLUMNS if stops else ())):
        out[key] = np.concatenate([p[key] for p in parts])
    for flag in FLAGS:
        out[flag] = columns[flag][rows]
    for name in OUTCOME_COLUMNS:
        out[name] = columns[name][rows] if name in columns else _repeat(None, len(rows))
    for key in ("started", "due", "stopped", *(STOP_COLUMNS if stops else ())):
        out[key] = out[key].astype("datetime64[s]")
    # object columns stay object: letting pandas infer its string dtype copies every cell (seconds at 1M cases)
    return pd.DataFrame({key: pd.Series(values, dtype=values.dtype, copy=False) for key, values in out.items()},
                        copy=False)


def _repeat(value, n: int) -> np.ndarray:
    """``value`` n times, as an object array of one shared object (np.full(..., dtype=object) is slower)."""
    return np.repeat(np.array([value], dtype=object), n)


def _named(codes: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Object array of ``names[code]``: the same few string objects shared, not one string per row."""
    return np.array(names, dtype=object)[codes]


def _evaluate_clock(clock: Clock, book: RuleBook, columns, n: int, today) -> dict | None:
    start = columns[clock.start]
    live = ~np.isnat(start)
    live &= condition_mask(clock.applies_when, columns, n, any_of=False)
    if clock.applies_unless:
        live &= ~condition_mask(clock.applies_unless, columns, n, any_of=True)
    due = np.full(n, NAT)
    version = np.full(n, -1, dtype=np.int16)
    for index, v in enumerate(clock.versions):
        selected = live & (start >= np.datetime64(v.start_from, "D"))
        if v.until is not None:
            selected &= start <= np.datetime64(v.until, "D")
        due[selected] = v.policy.due_dates(start[selected], clock.counting)
        version[selected] = index
    rows = np.flatnonzero(version >= 0)
    if len(rows) == 0:
        return None
    start, due, version = start[rows], due[rows], version[rows]

    event = columns[clock.stop][rows].copy()
    if clock.stop_when:
        event[~condition_mask(clock.stop_when, columns, n, any_of=False)[rows]] = NAT
    closure = closure_dates(clock, columns, rows)
    stopped, status, days_overdue, stop_reason = judge(due, event, closure, today, clock.warning_days)

    exception = _repeat(None, len(rows))
    rule_version = np.array([f"{clock.ruleset}:{clock.qualified_id} {v.label}" for v in clock.versions],
                            dtype=object)[version]
    reference = np.array([v.reference for v in clock.versions], dtype=object)[version]
    if clock.exception_field:
        recorded = columns[clock.exception_field][rows]
        for reason in book.exceptions_for(clock):
            hit = recorded == reason.code
            if reason.due_from is not None:
                hit &= window_mask(due, reason)
                rule_version[hit] = f"{reason.ruleset}:{reason.code} {reason.due_from}..{reason.due_until}"
                reference[hit] = reason.reference
            exception[hit] = reason.code
    return {
        "rows": rows, "clock": _repeat(clock.id, len(rows)), "started": start, "due": due,
        "stopped": stopped, "status": status, "days_overdue": days_overdue,
        "exception": exception, "statutory": np.full(len(rows), clock.statutory),
        "stop_reason": stop_reason, "rule_version": rule_version, "reference": reference,
        "stop_event": event, "closure": closure,
    }


def judge(due: np.ndarray, event: np.ndarray, closure: np.ndarray, today, warning_days: int):
    """A clock's verdict on ``today`` from its due date, its stop event and its closure (each NaT if
    none by then): (stopped, status, days_overdue, stop_reason).

    Nothing else about the case matters once these three dates are known, which is why a clock's
    status on any earlier day follows from one evaluation (``history.as_at``): cut the two stop
    dates at that day and judge again.
    """
    has_event = ~np.isnat(event)
    closed = ~has_event & ~np.isnat(closure)
    stopped = np.where(has_event, event, np.where(closed, closure, NAT))
    late_by = (event - due).astype("timedelta64[D]").astype(np.int64)
    overdue_by = (today - due).astype("timedelta64[D]").astype(np.int64)
    status = _named(np.select(
        [has_event & (late_by <= 0), has_event, closed, overdue_by > 0, -overdue_by <= warning_days],
        [0, 1, 0, 2, 3], default=4), ("met", "late", "overdue", "due_soon", "open"))
    days_overdue = np.select([has_event, closed, overdue_by > 0], [np.maximum(late_by, 0), 0, overdue_by], 0)
    stop_reason = _named(np.where(has_event, 0, np.where(closed, 1, 2)), ("event", "closed", ""))
    return stopped, status, days_overdue.astype(np.int64), stop_reason


def closure_dates(clock: Clock, columns, rows: np.ndarray) -> np.ndarray:
    """The earliest date that ends the clock without judging it: the case closing, or a later stage
    the rule names in ``closed_by`` (a final plan ends the local "draft by week 14" target)."""
    candidates = [columns[name][rows] for name in ("closure_date", *clock.closed_by) if name in columns]
    if not candidates:
        return np.full(len(rows), NAT)
    stacked = np.vstack(candidates)
    filled = np.where(np.isnat(stacked), np.datetime64("9999-12-31", "D"), stacked)
    earliest = filled.min(axis=0)
    return np.where(earliest == np.datetime64("9999-12-31", "D"), NAT, earliest)


def window_mask(due: np.ndarray, reason: ExceptionReason) -> np.ndarray:
    """Due dates inside a dated exception's window (the 2020 coronavirus relaxation)."""
    return (due >= np.datetime64(reason.due_from, "D")) & (due <= np.datetime64(reason.due_until, "D"))


def empty_result(stops: bool = False) -> pd.DataFrame:
    names = CLOCK_COLUMNS + EXTRA_COLUMNS + (STOP_COLUMNS if stops else [])
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in names})
    for key in ("started", "due", "stopped", *(STOP_COLUMNS if stops else ())):
        frame[key] = frame[key].astype("datetime64[s]")
    frame["days_overdue"] = frame["days_overdue"].astype(np.int64)
    return frame
