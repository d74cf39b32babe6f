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

from ..schema import BY_CASE, FLAGS, NOT_HELD
from .dates import NAT, Counting, add_months, period_ends, to_day_array
from .exemptions import unsupported
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
# With evaluate(stops=True): what stopped the clock, or would have, each NaT if nothing yet: its
# stop event, the case's closure (judged: late if after the due date), a later stage overtaking it
# (closed_by: unjudged).
STOP_COLUMNS = ["stop_event", "closure", "overtaken"]
# With evaluate(stops=True) too: each row's warning window (its variant's), so a stored row can be
# judged on any day without the rule book's variants (store.clock_table).
WARNING_COLUMN = "warning_days"
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


def _numbers(values: np.ndarray) -> np.ndarray:
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _year_day(years: np.ndarray, month: int) -> np.ndarray:
    """1 ``month`` of each calendar year (NaT where the year is NaN)."""
    out = np.full(len(years), NAT)
    known = ~np.isnan(years)
    first = (years[known].astype(np.int64) - 1970).astype("datetime64[Y]").astype("datetime64[M]")
    out[known] = (first + np.timedelta64(month - 1, "M")).astype("datetime64[D]")
    return out


def reception_years(ncy: np.ndarray, ncy_year: np.ndarray, date_of_birth: np.ndarray,
                    period_end: np.ndarray) -> np.ndarray:
    """The academic year (float, NaN if unknown) in which each child is in Reception (year 0).

    ``ncy`` is the year group in the academic year ``ncy_academic_year`` (the one containing the
    import's as-of date); for a row stored without it, the academic year containing the review's due
    date (how ``ncy`` was read before December 2026). Otherwise from the date of birth: children born
    1 September (Y-5) to 31 August (Y-4) are in Reception in the academic year starting September Y.
    A given ``ncy`` wins over the date of birth.
    """
    given, stated = _numbers(ncy), _numbers(ncy_year)
    fallback = np.full(len(given), np.nan)
    dated = ~np.isnat(period_end)
    fallback[dated] = _academic_years(period_end[dated])
    from_ncy = np.where(np.isnan(stated), fallback, stated) - given
    born = ~np.isnat(date_of_birth)
    from_birth = np.full(len(given), np.nan)
    from_birth[born] = _academic_years(date_of_birth[born]) + 5
    return np.where(np.isnan(given), from_birth, from_ncy)


def curriculum_years(ncy: np.ndarray, date_of_birth: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The national curriculum year (float, NaN if unknown) in the academic year containing ``reference``:
    ``ncy`` when given, else from the date of birth (year groups go by age on 31 August)."""
    given = _numbers(ncy)
    known = ~np.isnat(date_of_birth) & ~np.isnat(reference)
    from_birth = np.full(len(given), np.nan)
    from_birth[known] = (_academic_years(reference[known]) - _academic_years(date_of_birth[known]) - 5)
    return np.where(np.isnan(given), from_birth, given)


def review_fields(columns: dict[str, np.ndarray], transfers: dict[int, str]) -> dict[str, np.ndarray]:
    """The derived review fields of rules.DERIVED_FIELDS, over the whole caseload."""
    plan, last = columns["plan_issued"], columns["last_review"]
    anchor = np.where(np.isnat(last), plan, np.where(np.isnat(plan) | (last > plan), last, plan))
    period_end = period_ends(anchor, 12, Counting())
    amend = columns["decision"] == "amend"
    completed = np.where(amend, columns["amended_plan_issued"], columns["decision_notified"])
    notified, notice = columns["decision_notified"], columns["amendment_notice_sent"]
    both = ~np.isnat(notified) & ~np.isnat(notice)
    with_amendments = np.where(amend, np.where(both, np.maximum(notified, notice), NAT), notified)
    reception = reception_years(columns["ncy"], columns["ncy_academic_year"], columns["date_of_birth"], period_end)
    fields = {"review_anchor": anchor, "review_completed": completed, "decision_with_amendments": with_amendments,
              "review_period_end": period_end, "reception_year": reception}
    fields.update(phase_transfers(columns, fields, transfers))
    return fields


def recorded_transfer_years(meeting: np.ndarray, period_end: np.ndarray, ncy: np.ndarray,
                            ncy_year: np.ndarray) -> np.ndarray:
    """The calendar year of the 1 September transfer a row's recorded ``phase_transfer`` is about.

    Reg 18(1) ties the duty to the child's transfer, not to the review cycle, so a record names the
    transfer of the child's year group: with a meeting, the first 1 September after it (the meeting
    is held for that transfer); without one, the 1 September that ends the academic year of the
    row's stated year group (``ncy`` in ``ncy_academic_year``; a row stored without it, the academic
    year of its due date, as ``reception_years`` reads it). A cycle that starts after 1 September
    then still carries the transfer it covers (a year 11 recorded ``none``, last review 20 November
    2025: the September 2026 transfer, not September 2027). Only a row with neither a meeting nor a
    year group falls back on the first 1 September on or after its due date.
    """
    due = period_end - np.timedelta64(1, "D")  # the day before the period's end: 31 August counts as before
    on_or_after_due = np.full(len(meeting), np.nan)
    dated = ~np.isnat(due)
    on_or_after_due[dated] = _academic_years(due[dated]) + 1
    given, stated = _numbers(ncy), _numbers(ncy_year)
    fallback = np.full(len(meeting), np.nan)
    fallback[~np.isnat(period_end)] = _academic_years(period_end[~np.isnat(period_end)])
    year_of_group = np.where(np.isnan(stated), fallback, stated) + 1
    after_meeting = np.full(len(meeting), np.nan)
    met = ~np.isnat(meeting)
    after_meeting[met] = _academic_years(meeting[met]) + 1
    return np.where(met, after_meeting, np.where(np.isnan(given), on_or_after_due, year_of_group))


def phase_transfers(columns: dict[str, np.ndarray], fields: dict[str, np.ndarray],
                    transfers: dict[int, str]) -> dict[str, np.ndarray]:
    """Each child's phase transfers (reg 18), each placed on the one review row that carries it.

    A transfer belongs to the child, not to a review cycle: the child in year T (a transfer year of
    ``transfers``) in academic year A moves on 1 September A+1. The candidate transfers of a child
    are those derived from its year group whose deadline year starts after its earliest review
    anchor and whose 12-month window opens within 12 months of its latest review period's end,
    plus what its rows record: ``post16_move`` with its ``transfer_date``; ``school``/``post16`` for
    the first 1 September after the row's meeting (else on or after its due date), overriding the
    derived type; ``none`` removing the derived transfer of that year (CFA 2014 s83(2): staying on in a
    school sixth form is no transfer). A transfer is met only by a review whose meeting falls within
    the 12 months before it (reg 18(1)); it is listed under that row (the one concluded first), else
    under the child's latest row. Two transfers on one row: a recorded one before a derived one, then
    the later.
    """
    n = len(fields["review_anchor"])
    out = {"transfer_type": np.full(n, None, dtype=object), "transfer_year_start": np.full(n, NAT),
           "transfer_move_date": np.full(n, NAT), "transfer_review_completed": np.full(n, NAT),
           "transfer_date_derived": np.full(n, NAT), "transfer_covered": np.zeros(n, dtype=bool)}
    anchor = fields["review_anchor"]
    rows = np.flatnonzero(~np.isnat(anchor))
    if not len(rows):
        return out
    meeting = columns["review_meeting"]
    ref_year = recorded_transfer_years(meeting, fields["review_period_end"], columns["ncy"],
                                       columns["ncy_academic_year"])
    frame = pd.DataFrame({
        "row": rows, "person": pd.Series(columns["person_id"][rows], dtype=object).fillna("").astype(str).to_numpy(),
        "review_id": pd.Series(columns["review_id"][rows], dtype=object).astype(str).to_numpy(),
        "anchor": anchor[rows], "end": fields["review_period_end"][rows], "reception": fields["reception_year"][rows],
        "meeting": meeting[rows], "completed": fields["review_completed"][rows],
        "recorded": columns["phase_transfer"][rows], "move": columns["transfer_date"][rows],
        "ref_year": ref_year[rows]})
    frame = frame.sort_values(["person", "anchor", "review_id"], kind="stable")
    latest = frame.groupby("person", sort=False).tail(1).set_index("person")
    child = pd.DataFrame({"earliest": frame.groupby("person", sort=False)["anchor"].min(),
                          "latest_end": frame.groupby("person", sort=False)["end"].max(),
                          "latest_row": latest["row"]})
    known = frame.dropna(subset=["reception"]).groupby("person", sort=False).tail(1).set_index("person")
    child["reception"] = known["reception"].reindex(child.index)
    horizon = add_months(child["latest_end"].to_numpy(dtype="datetime64[D]"), 12)
    parts = []
    for year, kind in sorted(transfers.items()):
        moves = child["reception"].to_numpy(dtype=float) + year + 1
        date = _year_day(moves, 9)
        window_opens = add_months(date, -12)
        start = _year_day(moves, 1)
        keep = (~np.isnat(date) & (child["earliest"].to_numpy(dtype="datetime64[D]") < start)
                & (window_opens <= horizon))
        parts.append(pd.DataFrame({"person": child.index[keep], "date": date[keep], "type": kind,
                                   "priority": 0, "order_anchor": NAT, "order_id": ""}))
    derived = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["person", "date", "type", "priority", "order_anchor", "order_id"])
    recorded = frame[frame["recorded"].isin(["school", "post16", "post16_move", "none"])]
    dated = recorded["recorded"] != "post16_move"
    rec_date = np.where(dated, _year_day(recorded["ref_year"].to_numpy(dtype=float), 9),
                        recorded["move"].to_numpy(dtype="datetime64[D]"))
    stated = pd.DataFrame({"person": recorded["person"].to_numpy(), "date": rec_date,
                           "type": recorded["recorded"].to_numpy(), "priority": 1,
                           "order_anchor": recorded["anchor"].to_numpy(), "order_id": recorded["review_id"].to_numpy()})
    stated = stated[~pd.isna(stated["date"])]
    candidates = pd.concat([derived, stated], ignore_index=True)
    if not len(candidates):
        return out
    # per child and transfer date: what a row records wins over the default (the latest row's record first)
    candidates["date"] = candidates["date"].astype("datetime64[s]")
    candidates["order_anchor"] = candidates["order_anchor"].astype("datetime64[s]")
    candidates = candidates.sort_values(["person", "date", "priority", "order_anchor", "order_id"], kind="stable",
                                        na_position="first")
    chosen = candidates.groupby(["person", "date"], sort=False).tail(1)
    chosen = chosen[chosen["type"] != "none"].reset_index(drop=True)
    if not len(chosen):
        return out
    date = chosen["date"].to_numpy(dtype="datetime64[D]")
    chosen["opens"] = add_months(date, -12)
    pairs = chosen.reset_index().merge(frame[["person", "row", "review_id", "meeting", "completed"]], on="person")
    meet = pairs["meeting"].to_numpy(dtype="datetime64[D]")
    inside = (~np.isnat(meet) & (meet >= pairs["opens"].to_numpy(dtype="datetime64[D]"))
              & (meet < pairs["date"].to_numpy(dtype="datetime64[D]")))
    covering = pairs[inside].copy()
    done = covering["completed"].to_numpy(dtype="datetime64[D]")
    covering["done"] = np.where(np.isnat(done), np.datetime64("9999-12-31", "D"), done)
    covering = covering.sort_values(["index", "done", "meeting", "review_id"], kind="stable").groupby("index").head(1)
    chosen["row"] = child["latest_row"].reindex(chosen["person"]).to_numpy()
    chosen["completed"] = pd.Series(NAT, index=chosen.index).astype("datetime64[s]")
    chosen["covered"] = False
    chosen.loc[covering["index"].to_numpy(), "row"] = covering["row"].to_numpy()
    chosen.loc[covering["index"].to_numpy(), "completed"] = covering["completed"].to_numpy()
    chosen.loc[covering["index"].to_numpy(), "covered"] = True
    chosen = chosen.sort_values(["row", "priority", "date"], kind="stable").groupby("row").tail(1)
    at = chosen["row"].to_numpy(dtype=np.int64)
    date = chosen["date"].to_numpy(dtype="datetime64[D]")
    kind = chosen["type"].to_numpy(dtype=object)
    out["transfer_type"][at] = kind
    out["transfer_date_derived"][at] = date
    year_start = date.astype("datetime64[Y]").astype("datetime64[D]")
    out["transfer_year_start"][at] = np.where(kind != "post16_move", year_start, NAT)
    out["transfer_move_date"][at] = np.where(kind == "post16_move", date, NAT)
    out["transfer_review_completed"][at] = chosen["completed"].to_numpy(dtype="datetime64[D]")
    out["transfer_covered"][at] = chosen["covered"].to_numpy(dtype=bool)
    return out


def condition_mask(conditions: dict[str, tuple[str, ...]], columns: dict[str, np.ndarray], n: int,
                   *, any_of: bool) -> np.ndarray:
    """Rows meeting all (``any_of=False``) or any (``any_of=True``) of ``field in values``."""
    if not conditions:
        return np.full(n, not any_of)
    masks = [_one_of(columns[name], values) for name, values in conditions.items()]
    return np.logical_or.reduce(masks) if any_of else np.logical_and.reduce(masks)


def _one_of(values: np.ndarray, choices: tuple[str, ...]) -> np.ndarray:
    """``values in choices``: a few elementwise comparisons (np.isin sorts an object array: slower)."""
    if not choices or len(choices) > 4:
        return np.isin(values, list(choices))
    out = values == choices[0]
    for choice in choices[1:]:
        out |= values == choice
    return np.asarray(out, dtype=bool)


def evaluate(cases: pd.DataFrame, book: RuleBook, as_of: dt.date, *, case: str = "assessment",
             clocks: list[str] | None = None, stops: bool = False) -> pd.DataFrame:
    """Every clock of every case in ``cases`` (canonical columns), judged on ``as_of``.

    ``stops=True`` adds ``STOP_COLUMNS``: the stop event's, the closure's and the overtaking stage's
    dates (each may be NaT), from which ``history.as_at`` judges the clock on any earlier day without a second pass.
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
                "stop_reason", "rule_version", "reference", *(STOP_COLUMNS if stops else ()),
                *((WARNING_COLUMN,) if stops else ())):
        out[key] = np.concatenate([p[key] for p in parts])
    for flag in FLAGS:
        out[flag] = columns[flag][rows]
    for name in OUTCOME_COLUMNS:
        out[name] = columns[name][rows] if name in columns else _repeat(None, len(rows))
    if "transfer_type" in columns:
        # a phase transfer belongs to the child and is carried by one row: only its own clock names it
        # (on another clock the carrying row could change from day to day as the child's rows arrive)
        variant_clocks = [c.id for c in book.clocks_for(case) if c.variant_field == "transfer_type"]
        out["transfer_type"] = np.where(np.isin(out["clock"], variant_clocks), out["transfer_type"], None)
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
    if not live.any():  # a clock nobody has started (no tribunal order in the caseload): nothing to judge
        return None
    for name in clock.needs:
        live &= ~np.isnat(columns[name])
    if clock.not_before is not None:
        earliest = columns[clock.not_before]
        live &= ~np.isnat(earliest) & (start >= earliest)
    lacking = not_held(clock, columns)
    if lacking is not None:
        live &= ~lacking
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
    rule_version = np.array([f"{clock.ruleset}:{clock.qualified_id} {v.label}" for v in clock.versions],
                            dtype=object)[version]
    reference = np.array([v.reference for v in clock.versions], dtype=object)[version]
    if clock.later_of is not None:
        # reg 15(5): the later of the usual due date and the limit from a second event in this cycle
        other = columns[clock.later_of.start][rows]
        counted = ~np.isnat(other) & (other >= start)
        alternative = np.full(len(rows), NAT)
        alternative[counted] = clock.later_of.policy.due_dates(other[counted], clock.counting)
        later = counted & (alternative > due)
        due = np.where(later, alternative, due)
        reference[later] = reference[later] + f"; later of: {clock.later_of.reference}"

    event = columns[clock.stop][rows].copy()
    if clock.stop_when:
        event[~condition_mask(clock.stop_when, columns, n, any_of=False)[rows]] = NAT
    closure = closure_dates(clock, columns, rows)
    overtaken = overtaken_dates(clock, columns, rows)
    stopped, status, days_overdue, stop_reason = judge(due, event, closure, today, clock.warning_days, overtaken)

    exception = _repeat(None, len(rows))
    if clock.exception_field:
        recorded = columns[clock.exception_field][rows]
        limited = [(limit, condition_mask(limit.when, columns, n, any_of=False)[rows])
                   for limit in clock.exception_limits] if clock.exception_limits else []
        for reason in book.exceptions_for(clock):
            hit = recorded == reason.code
            for limit, matching in limited:  # a refusal to assess: only the coronavirus limb (reg 4)
                if reason.code not in limit.allowed:
                    hit &= ~matching
            if clock.case == "assessment" and hit.any():  # what the row shows must support the claim (exemptions.py)
                claimed = np.flatnonzero(hit)
                bad, _ = unsupported(reason.code, start[claimed], due[claimed], columns, rows[claimed],
                                     book.term_dates, clock.exception_scope)
                hit[claimed[bad]] = False
            if reason.due_from is not None:
                hit &= window_mask(due, reason)
                rule_version[hit] = f"{reason.ruleset}:{reason.code} {reason.due_from}..{reason.due_until}"
                reference[hit] = reason.reference
            exception[hit] = reason.code
    return {
        "rows": rows, "clock": _repeat(clock.id, len(rows)), "started": start, "due": due,
        "stopped": stopped, "status": status, "days_overdue": days_overdue,
        "exception": exception, "statutory": _repeat(clock.statutory, len(rows)),
        "stop_reason": stop_reason, "rule_version": rule_version, "reference": reference,
        "stop_event": event, "closure": closure, "overtaken": overtaken,
        WARNING_COLUMN: np.full(len(rows), clock.warning_days, dtype=np.int64),
    }


def lacking_source(clock: Clock, source) -> str | None:
    """The source (``schema.NOT_HELD``) of a row whose dates cannot judge ``clock``, or None.

    Why: an SEN2 return holds no advice or review-procedure dates; a clock that starts or stops on
    one is "not judged: the SEN2 does not hold this date" on such rows, never a breach."""
    lacking = NOT_HELD.get(source or "", {}).get(clock.case, ())
    fields = {clock.start, clock.stop, *clock.needs}
    return source if fields.intersection(lacking) else None


def not_held(clock: Clock, columns) -> np.ndarray | None:
    """Rows whose source lacks a date the clock needs (see ``lacking_source``); None when none can."""
    source = columns.get("source")
    if source is None:
        return None
    masks = [source == name for name in NOT_HELD if lacking_source(clock, name)]
    return np.logical_or.reduce([np.asarray(m, dtype=bool) for m in masks]) if masks else None


def judge(due: np.ndarray, event: np.ndarray, closure: np.ndarray, today, warning_days: int,
          overtaken: np.ndarray | None = None):
    """A clock's verdict on ``today`` from its due date, its stop event, the case's closure and a
    later stage that overtakes it (each NaT if none by then): (stopped, status, days_overdue,
    stop_reason).

    A case closed (or withdrawn) with the clock still running is a breach when that is after the due
    date (``late``, days_overdue = closure - due), and no breach on or before it; a later stage the
    rule names in ``closed_by`` (a final plan overtaking the local draft target) ends it unjudged.
    Nothing else about the case matters once these dates are known, which is why a clock's status
    on any earlier day follows from one evaluation (``history.as_at``): cut the stop dates at that
    day and judge again.
    """
    if overtaken is None:
        overtaken = np.full(len(due), NAT)
    has_event = ~np.isnat(event)
    ended = _earliest([closure, overtaken])
    closed = ~has_event & ~np.isnat(ended)
    stopped = np.where(has_event, event, np.where(closed, ended, NAT))
    late_by = (event - due).astype("timedelta64[D]").astype(np.int64)
    closed_late_by = (closure - due).astype("timedelta64[D]").astype(np.int64)
    closed_late = closed & ~np.isnat(closure) & (closure == ended) & (closed_late_by > 0)
    overdue_by = (today - due).astype("timedelta64[D]").astype(np.int64)
    status = _named(np.select(
        [has_event & (late_by <= 0), has_event, closed_late, closed, overdue_by > 0, -overdue_by <= warning_days],
        [0, 1, 1, 0, 2, 3], default=4), ("met", "late", "overdue", "due_soon", "open"))
    days_overdue = np.select([has_event, closed_late, closed, overdue_by > 0],
                             [np.maximum(late_by, 0), closed_late_by, 0, overdue_by], 0)
    stop_reason = _named(np.where(has_event, 0, np.where(closed, 1, 2)), ("event", "closed", ""))
    return stopped, status, days_overdue.astype(np.int64), stop_reason


def _earliest(candidates: list[np.ndarray]) -> np.ndarray:
    stacked = np.vstack(candidates)
    filled = np.where(np.isnat(stacked), np.datetime64("9999-12-31", "D"), stacked)
    earliest = filled.min(axis=0)
    return np.where(earliest == np.datetime64("9999-12-31", "D"), NAT, earliest)


def closure_dates(clock: Clock, columns, rows: np.ndarray) -> np.ndarray:
    """The date the case closed (or was withdrawn), NaT if it has not."""
    if "closure_date" not in columns:
        return np.full(len(rows), NAT)
    return columns["closure_date"][rows]


def overtaken_dates(clock: Clock, columns, rows: np.ndarray) -> np.ndarray:
    """The earliest later stage the rule names in ``closed_by`` (a final plan ends the local "draft by
    week 14" target), NaT if none: it ends the clock unjudged."""
    candidates = [columns[name][rows] for name in clock.closed_by if name in columns]
    if not candidates:
        return np.full(len(rows), NAT)
    return _earliest(candidates)


def window_mask(due: np.ndarray, reason: ExceptionReason) -> np.ndarray:
    """Due dates inside a dated exception's window (the 2020 coronavirus relaxation)."""
    return (due >= np.datetime64(reason.due_from, "D")) & (due <= np.datetime64(reason.due_until, "D"))


def empty_result(stops: bool = False) -> pd.DataFrame:
    names = CLOCK_COLUMNS + EXTRA_COLUMNS + (STOP_COLUMNS if stops else [])
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in names})
    for key in ("started", "due", "stopped", *(STOP_COLUMNS if stops else ())):
        frame[key] = frame[key].astype("datetime64[s]")
    frame["days_overdue"] = frame["days_overdue"].astype(np.int64)
    if stops:
        frame[WARNING_COLUMN] = pd.Series([], dtype=np.int64)
    return frame
