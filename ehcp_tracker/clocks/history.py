"""Clocks as they stood on an earlier day, from one evaluation: interval tests, not re-runs.

A month-end snapshot ("open assessments at the end of March") used to run the whole engine again as
of each month end, twelve passes for a year. It need not: the engine judges a clock from its start,
its due date, its stop event and its closure (``engine.judge``), and on an earlier day the caseload
differs only in that events dated after it had not happened yet. So a clock evaluated on the as-of
date, with its stop dates kept (``evaluate(stops=True)``), is judged on any earlier day by cutting:
it existed if it had started by then, it was stopped by its event or its closure if that was dated
by then, and ``judge`` does the rest.

Two things make the cut inexact, and both are detected rather than assumed away (the second mostly
answered by a second evaluation, not by a re-run a day: see ``History._before_the_latest_anchor``):

- a clock whose start, stop or closure is not an event date of the case (a phase transfer starts on
  1 January of the transfer year, or on a planned transfer date, which exist before they happen):
  such clocks are evaluated again on each day, as before;
- a case whose derived fields change with the day: a review whose anchor is its later of
  ``plan_issued`` and ``last_review`` (before the last review, the plan date anchored it), a
  national curriculum year from a date of birth, a withdrawal dated before the case's closure
  (the closure date falls back to it). Each case gets the day from which the cut is exact
  (:func:`stable_from`); before it, just those cases are evaluated again.

``tests/test_history.py`` checks the result equals a fresh evaluation on every day, on random
caseloads.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..schema import BY_CASE
from .dates import NAT, to_day_array
from .engine import STOP_COLUMNS, evaluate, judge
from .rules import RuleBook

# Derived fields that are NaT until the event dates they come from have happened (rules.DERIVED_FIELDS);
# transfer_year_start is not one: 1 January of a transfer year is known long before it comes.
# decision_with_amendments (Devon) is the later of two event dates, so NaT until both have happened.
_FROM_EVENTS = {"closure_date", "review_anchor", "review_completed", "decision_with_amendments"}


def _event_fields(case: str) -> set[str]:
    kind = BY_CASE[case]
    return {c.name for c in kind.columns if c.type == "date" and not c.planned} | _FROM_EVENTS


def cuttable(book: RuleBook, case: str) -> set[str]:
    """The clocks of ``case`` that :func:`as_at` can judge on an earlier day: every variant starts,
    stops and is closed by event dates, and the variants share one warning window."""
    events = _event_fields(case)
    by_id: dict[str, list] = {}
    for clock in book.clocks_for(case):
        by_id.setdefault(clock.id, []).append(clock)
    # a clock that applies only where a date is recorded (needs) does not exist before that date
    return {clock_id for clock_id, variants in by_id.items()
            if all({v.start, v.stop, *v.closed_by} <= events and not v.needs for v in variants)
            and len({v.warning_days for v in variants}) == 1}


def stable_from(cases: pd.DataFrame, case: str, as_of: dt.date) -> np.ndarray:
    """For each case, the first day from which its clocks on the as-of date, cut at that day, are
    what the engine gives on that day (``datetime64[D]``; NaT: any day)."""
    limit = np.datetime64(as_of, "D")

    def dates(name: str) -> np.ndarray:
        days = to_day_array(cases[name]) if name in cases else np.full(len(cases), NAT)
        days[days > limit] = NAT  # not yet happened on the as-of date either
        return days

    out = np.full(len(cases), NAT)
    if case == "assessment":
        # engine.derived_fields: a withdrawal's date closes the case only while closed_date is blank
        closed, withdrawn_on = dates("closed_date"), dates("request_outcome_date")
        withdrawn = cases["request_outcome"].to_numpy(dtype=object) == "withdrawn"
        moves = withdrawn & ~np.isnat(closed) & ~np.isnat(withdrawn_on) & (withdrawn_on < closed)
        out[moves] = closed[moves]
        # exemptions.py: whether a recorded exemption is supported depends on the request for advice
        # from the school and the circumstance's dates; before each has happened the engine judges the
        # claim without it, so such a case is settled only from the latest of them
        claimed = np.zeros(len(cases), dtype=bool)
        for name in BY_CASE["assessment"].exception_columns:
            if name in cases:
                claimed |= cases[name].notna().to_numpy()
        for name in ("education_advice_requested", "exception_from", "exception_to"):
            day = dates(name)
            hit = claimed & ~np.isnat(day)
            out[hit] = np.where(np.isnat(out[hit]), day[hit], np.maximum(out[hit], day[hit]))
    elif case == "review":
        # engine.review_fields: the anchor is the later of the two; before it, the earlier one
        plan, last = dates("plan_issued"), dates("last_review")
        both = ~np.isnat(plan) & ~np.isnat(last) & (plan != last)
        out[both] = np.maximum(plan[both], last[both])
        # reg 15(5): a transfer in during the cycle may move the review's due date from that day on
        moved_in = dates("transferred_in")
        later = ~np.isnat(moved_in)
        out[later] = np.where(np.isnat(out[later]), moved_in[later], np.maximum(out[later], moved_in[later]))
        # a year group from the date of birth is unknown before the birth
        ncy = cases["ncy"] if "ncy" in cases else pd.Series([None] * len(cases))
        born = dates("date_of_birth")
        from_birth = pd.isna(pd.to_numeric(ncy, errors="coerce")).to_numpy() & ~np.isnat(born)
        out[from_birth] = np.where(np.isnat(out[from_birth]), born[from_birth],
                                   np.maximum(out[from_birth], born[from_birth]))
    return out


def as_at(results: pd.DataFrame, book: RuleBook, case: str, day: dt.date) -> pd.DataFrame:
    """``results`` of cuttable clocks (``evaluate(stops=True)`` on a later day) judged on ``day``."""
    today = np.datetime64(day, "D")
    started = results["started"].to_numpy().astype("datetime64[D]")
    alive = ~np.isnat(started) & (started <= today)
    frame = results[alive]
    warning = {c.id: c.warning_days for c in book.clocks_for(case)}
    clocks = frame["clock"].to_numpy(dtype=object)
    event, closure, overtaken = (frame[name].to_numpy().astype("datetime64[D]") for name in STOP_COLUMNS)
    event = np.where(event <= today, event, NAT)
    closure = np.where(closure <= today, closure, NAT)
    overtaken = np.where(overtaken <= today, overtaken, NAT)
    due = frame["due"].to_numpy().astype("datetime64[D]")
    stopped = np.full(len(frame), NAT)
    status = np.empty(len(frame), dtype=object)
    days_overdue = np.zeros(len(frame), dtype=np.int64)
    stop_reason = np.empty(len(frame), dtype=object)
    for clock_id in np.unique(clocks) if len(clocks) else ():
        rows = clocks == clock_id
        stopped[rows], status[rows], days_overdue[rows], stop_reason[rows] = judge(
            due[rows], event[rows], closure[rows], today, warning[clock_id], overtaken[rows])
    changed = {"stopped": stopped.astype("datetime64[s]"), "status": status, "days_overdue": days_overdue,
               "stop_reason": stop_reason, "stop_event": event.astype("datetime64[s]"),
               "closure": closure.astype("datetime64[s]"), "overtaken": overtaken.astype("datetime64[s]")}
    return frame.assign(**{name: pd.Series(values, index=frame.index, dtype=values.dtype)
                           for name, values in changed.items()})


class History:
    """One evaluation of a caseload on ``as_of``, answering for any earlier day (:meth:`on`)."""

    # what as_at and the re-evaluation need, whatever else the caller keeps
    _WORKING = ("case_id", "kind", "clock", "started", "due", *STOP_COLUMNS)

    def __init__(self, caseload: dict[str, pd.DataFrame], results: pd.DataFrame, book: RuleBook,
                 as_of: dt.date, clocks: list[str], columns: list[str] | None = None):
        """``caseload``: cases by kind of case (``"assessment"``, ``"review"``); ``results``: their
        clocks from ``evaluate(..., as_of, stops=True)`` (at least ``clocks``); ``columns``: only
        these result columns are wanted from :meth:`on` (default: all; fewer is much less memory)."""
        self.caseload, self.book, self.as_of, self.clocks = caseload, book, as_of, list(clocks)
        keep = None if columns is None else list(dict.fromkeys([*columns, *self._WORKING]))
        self.columns = keep
        chosen = results[results["clock"].isin(self.clocks)]
        self.cut = {case: cuttable(book, case) & set(self.clocks) for case in caseload}
        self.stable = {case: stable_from(cases, case, as_of) for case, cases in caseload.items()}
        self.mine = {}  # per kind of case, its cuttable clocks' results, selected once
        for case in caseload:
            part = chosen[(chosen["kind"] == case) & chosen["clock"].isin(sorted(self.cut[case]))]
            self.mine[case] = (part if keep is None else part[keep]).reset_index(drop=True)
        self.results = chosen.iloc[:0] if keep is None else chosen.iloc[:0][keep]
        self._earlier: dict = {}  # per kind, made on the first day that needs it (most runs ask for none)

    def earlier(self, case: str):
        """:meth:`_before_the_latest_anchor` for ``case``, worked out once."""
        if case not in self._earlier:
            cases = self.caseload[case]
            wanted = case == "review" and self.cut[case] and len(cases)
            self._earlier[case] = self._before_the_latest_anchor(cases, case) if wanted else None
        return self._earlier[case]

    def _before_the_latest_anchor(self, cases: pd.DataFrame, case: str):
        """A second evaluation for the review rows that hold both ``plan_issued`` and ``last_review``:
        on a day before the later of the two the engine has not seen it, so the row is the same row
        with that date blank, and that row (evaluated once, on the as-of date) is cut like any other
        from its own ``stable_from`` on. Without it every such row (most reviews: a review a year)
        was evaluated again at every month end before its last review.

        Returns (positions in ``cases``, the later date, the blanked rows' ``stable_from``, their
        clocks) or None."""
        limit = np.datetime64(self.as_of, "D")
        plan, last = (to_day_array(cases[name]) for name in ("plan_issued", "last_review"))
        plan[plan > limit], last[last > limit] = NAT, NAT
        both = ~np.isnat(plan) & ~np.isnat(last) & (plan != last)
        if not both.any():
            return None
        at = np.flatnonzero(both)
        earlier = cases.iloc[at].copy()
        last_is_later = last[at] > plan[at]
        for name, blank in (("last_review", last_is_later), ("plan_issued", ~last_is_later)):
            earlier[name] = earlier[name].mask(pd.Series(blank, index=earlier.index))
        clocks = self._evaluate(earlier, self.as_of, case, sorted(self.cut[case]))
        return at, np.maximum(plan[at], last[at]), stable_from(earlier, case, self.as_of), clocks

    def _evaluate(self, cases, day, case, clocks) -> pd.DataFrame:
        frame = evaluate(cases, self.book, day, case=case, clocks=clocks, stops=True)
        return frame if self.columns is None else frame[self.columns]

    def on(self, day: dt.date) -> pd.DataFrame:
        """The results of ``clocks`` judged on ``day`` (no later than ``as_of``), as the engine would
        give them evaluated on that day (columns as ``evaluate(stops=True)``; row order may differ)."""
        if day > self.as_of:
            raise ValueError(f"{day} is after the evaluation's as-of date {self.as_of}")
        parts = []
        for case, cases in self.caseload.items():
            wanted = [c.id for c in self.book.clocks_for(case) if c.id in self.clocks]
            cut = sorted(self.cut[case])
            redo = sorted(set(wanted) - self.cut[case])
            key = BY_CASE[case].key
            stable = self.stable[case]
            unsettled = ~np.isnat(stable) & (stable > np.datetime64(day, "D"))
            if cut:
                mine = self.mine[case]
                if unsettled.any():
                    mine = mine[~mine["case_id"].isin(cases[key].to_numpy()[unsettled])]
                    redo_rows = unsettled.copy()
                    if self.earlier(case) is not None:
                        at, later, settled, clocks = self.earlier(case)
                        today = np.datetime64(day, "D")
                        usable = unsettled[at] & (today < later) & (np.isnat(settled) | (settled <= today))
                        redo_rows[at[usable]] = False
                        ids = cases[key].to_numpy()[at[usable]]
                        parts.append(as_at(clocks[clocks["case_id"].isin(ids)], self.book, case, day))
                    if redo_rows.any():
                        parts.append(self._evaluate(cases[redo_rows], day, case, cut))
                parts.append(as_at(mine, self.book, case, day))
            if redo and len(cases):
                parts.append(self._evaluate(cases, day, case, redo))
        parts = [p for p in parts if len(p)]
        if not parts:
            return self.results
        return pd.concat(parts, ignore_index=True)
