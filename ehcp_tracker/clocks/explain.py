"""The working for one case: each clock step by step, from the same rule definitions as the engine.

This is written as plain scalar code on purpose (pendulum dates, one ``if`` at a time) so that it
reads like the reasoning a caseworker would give, and so that it is an independent check on the
vectorised engine: the two are compared on random caseloads in the tests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pendulum

from ..schema import BY_CASE, FLAGS
from .dates import as_date
from .rules import DEFAULT_TRANSFERS, Clock, RuleBook


@dataclass
class ClockWorking:
    clock: Clock
    started: dt.date | None = None
    due: dt.date | None = None
    stopped: dt.date | None = None
    status: str | None = None
    days_overdue: int = 0
    exception: str | None = None
    stop_reason: str = ""
    rule_version: str = ""
    reference: str = ""
    steps: list[str] = field(default_factory=list)

    @property
    def applies(self) -> bool:
        return self.status is not None


@dataclass
class CaseWorking:
    case_id: str
    case: str
    record: dict
    as_of: dt.date
    clocks: list[ClockWorking]
    flags: dict[str, bool]
    notes: list[str] = field(default_factory=list)


def record_as_of(record: dict, case: str, as_of: dt.date,
                 transfers: dict[int, str] | None = None) -> tuple[dict, list[str]]:
    """The record with every date after ``as_of`` blanked (it has not happened yet on that day),
    planned dates excepted, plus the derived fields (rules.DERIVED_FIELDS)."""
    kind = BY_CASE[case]
    out = dict(record)
    ignored = []
    for name in kind.date_columns:
        day = as_date(out.get(name))
        if day is not None and day > as_of and not kind.column(name).planned:
            ignored.append(name)
            day = None
        out[name] = day
    for name in kind.names:
        value = out.get(name)
        if name not in kind.date_columns and _blank(value):
            out[name] = None
    if case == "assessment":
        closure = out.get("closed_date")
        if closure is None and out.get("request_outcome") == "withdrawn":
            closure = out.get("request_outcome_date")
        out["closure_date"] = closure
    if case == "review":
        out.update(review_fields(out, DEFAULT_TRANSFERS if transfers is None else transfers))
    return out, ignored


def _blank(value) -> bool:
    try:
        return value is None or value != value or value == ""
    except (TypeError, ValueError):  # pandas.NA refuses to be a bool
        return True


def academic_year(day: dt.date) -> int:
    """The calendar year in which the academic year (September to August) containing ``day`` began."""
    return day.year if day.month >= 9 else day.year - 1


def review_fields(record: dict, transfers: dict[int, str]) -> dict:
    """The derived fields of one review, worked as a caseworker would (cf. engine.review_fields)."""
    plan, last = record.get("plan_issued"), record.get("last_review")
    anchor = max((d for d in (plan, last) if d is not None), default=None)
    period_end = None
    if anchor is not None:
        # the last day of the 12 months starting with the anchor: the NCY's academic year is the one it falls in
        day_before = pendulum.date(anchor.year, anchor.month, anchor.day).subtract(days=1)
        ends = day_before.add(years=1)
        period_end = dt.date(ends.year, ends.month, ends.day)
    ncy, source = record.get("ncy"), "ncy"
    if ncy is not None:
        ncy = int(ncy)
    elif record.get("date_of_birth") is not None and period_end is not None:
        ncy, source = academic_year(period_end) - academic_year(record["date_of_birth"]) - 5, "date_of_birth"
    transfer_type = record.get("phase_transfer")
    how = "phase_transfer as recorded"
    if transfer_type is None and ncy is not None:
        transfer_type = transfers.get(ncy, "none")
        how = f"national curriculum year {ncy} (from {source})"
    transfer_year_start = None
    if transfer_type in ("school", "post16") and period_end is not None:
        transfer_year_start = dt.date(academic_year(period_end) + 1, 1, 1)
    completed = record.get("amended_plan_issued") if record.get("decision") == "amend" else record.get("decision_notified")
    return {"review_anchor": anchor, "transfer_type": transfer_type, "transfer_year_start": transfer_year_start,
            "review_completed": completed, "curriculum_year": ncy,
            "_transfer_how": how if transfer_type is not None else "no phase_transfer, ncy or date_of_birth"}


def _matches(conditions: dict, record: dict) -> list[str]:
    return [f"{name} is {record.get(name)}" for name, values in conditions.items() if record.get(name) in values]


def explain_clock(clock: Clock, book: RuleBook, record: dict, as_of: dt.date) -> ClockWorking:
    work = ClockWorking(clock)
    say = work.steps.append
    kind_word = "statutory" if clock.statutory else "local target (not statutory)"
    say(f"{clock.title} [{clock.id}, {kind_word}]")
    start = record.get(clock.start)
    if start is None:
        say(f"not started: {clock.start} is blank")
        return work
    missing = [f"{name} is {record.get(name) or 'blank'}" for name, values in clock.applies_when.items()
               if record.get(name) not in values]
    if missing:
        say("does not apply: " + "; ".join(missing))
        return work
    excluded = _matches(clock.applies_unless, record)
    if excluded:
        say("does not apply: " + "; ".join(excluded))
        return work
    version = clock.version_for(start)
    if version is None:
        say(f"no version of this rule was in force on {start:%d %B %Y}")
        return work
    work.started = start
    work.due = version.policy.due_date(start, clock.counting)
    work.rule_version = f"{clock.ruleset}:{clock.qualified_id} {version.label}"
    work.reference = version.reference
    say(f"started {start:%a %d %b %Y} ({clock.start})")
    say(f"limit: {version.policy.describe(clock.counting)}; rule version {version.label}; {version.reference}")
    say(f"due {work.due:%a %d %b %Y}")

    if clock.exception_field and record.get(clock.exception_field):
        code = record[clock.exception_field]
        reason = next((r for r in book.exceptions_for(clock) if r.code == code), None)
        if reason is None:
            say(f"exception {code!r} recorded but it cannot apply to this clock: ignored")
        elif reason.due_from is not None and not (reason.due_from <= work.due <= reason.due_until):
            say(f"exception {code!r} recorded but the due date is outside {reason.due_from}..{reason.due_until}: ignored")
        else:
            work.exception = code
            if reason.due_from is not None:
                work.rule_version = f"{reason.ruleset}:{reason.code} {reason.due_from}..{reason.due_until}"
                work.reference = reason.reference
            say(f"exception applies: {code} ({reason.reference}); the due date does not move, "
                "and the case is left out of KPIs 'excluding exceptions'")

    event = record.get(clock.stop)
    if event is not None and clock.stop_when and len(_matches(clock.stop_when, record)) < len(clock.stop_when):
        say(f"{clock.stop} {event:%d %b %Y} does not stop this clock ("
            + ", ".join(f"{k} is {record.get(k) or 'blank'}" for k in clock.stop_when) + ")")
        event = None
    closers = [(record.get(name), name) for name in ("closure_date", *clock.closed_by) if record.get(name)]
    closure, closer = min(closers) if closers else (None, None)
    if event is not None:
        work.stopped, work.stop_reason = event, "event"
        lateness = (event - work.due).days
        work.status = "met" if lateness <= 0 else "late"
        work.days_overdue = max(lateness, 0)
        said = "on time" if lateness <= 0 else f"{lateness} days late"
        say(f"stopped {event:%a %d %b %Y} ({clock.stop}): {said} -> {work.status}")
    elif closure is not None:
        work.stopped, work.stop_reason, work.status = closure, "closed", "met"
        why = "case closed" if closer == "closure_date" else f"{closer} recorded"
        say(f"{why} {closure:%d %b %Y} before {clock.stop}: clock stopped without a breach")
    else:
        to_go = (work.due - as_of).days
        if to_go < 0:
            work.status, work.days_overdue = "overdue", -to_go
            say(f"open on {as_of:%d %b %Y}: {-to_go} days overdue -> overdue")
        elif to_go <= clock.warning_days:
            work.status = "due_soon"
            say(f"open on {as_of:%d %b %Y}: due in {to_go} days (warning window {clock.warning_days}) -> due_soon")
        else:
            work.status = "open"
            say(f"open on {as_of:%d %b %Y}: due in {to_go} days -> open")
    return work


def explain_case(record: dict, case: str, book: RuleBook, as_of: dt.date) -> CaseWorking:
    kind = BY_CASE[case]
    prepared, ignored = record_as_of(record, case, as_of, book.transfers)
    working, shown = [], set()
    for clock in book.clocks_for(case):
        if clock.variant is not None and prepared.get(clock.variant_field) != clock.variant:
            continue  # of a clock's variants (phase_transfer: school, post16, post16_move) show the case's own
        working.append(explain_clock(clock, book, prepared, as_of))
        shown.add(clock.id)
    for clock in book.clocks_for(case):
        if clock.id not in shown:
            shown.add(clock.id)
            work = ClockWorking(clock)
            value = prepared.get(clock.variant_field)
            kind_word = "statutory" if clock.statutory else "local target (not statutory)"
            work.steps += [f"{clock.family_title or clock.title} [{clock.id}, {kind_word}]",
                           f"does not apply: {clock.variant_field} is {value or 'blank'} (variants: "
                           + ", ".join(c.variant for c in book.variants(clock.id)) + ")"]
            working.append(work)
    notes = _review_notes(prepared, book) if case == "review" else []
    flags = {f: bool(prepared.get(f)) for f in FLAGS}
    if ignored:
        notes.append("dates after the as-of date are treated as not yet happened: " + ", ".join(ignored))
    return CaseWorking(str(record[kind.key]), case, prepared, as_of, working, flags, notes)


def _review_notes(record: dict, book: RuleBook) -> list[str]:
    notes = []
    if record.get("review_anchor") is not None:
        which = "last_review" if record["review_anchor"] == record.get("last_review") else "plan_issued"
        notes.append(f"review period starts {record['review_anchor']:%d %b %Y} ({which}, the later of "
                     "plan_issued and last_review)")
    notes.append(f"transfer type {record.get('transfer_type') or 'unknown'}: {record['_transfer_how']}; "
                 "transfer years: " + ", ".join(f"year {y} -> {t}" for y, t in sorted(book.transfers.items())))
    return notes
