"""The working for one case: each clock step by step, from the same rule definitions as the engine.

This is written as plain scalar code on purpose (pendulum dates, one ``if`` at a time) so that it
reads like the reasoning a caseworker would give, and so that it is an independent check on the
vectorised engine: the two are compared on random caseloads in the tests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pendulum

from ..schema import BY_CASE, FLAGS, NOT_HELD, SOURCE_TITLES
from .dates import Counting, as_date, period_end as period_end_of
from .engine import lacking_source
from .exemptions import why_unsupported
from .queries import assessment_record_queries, record_queries
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
                 transfers: dict[int, str] | None = None, siblings: list[dict] | None = None) -> tuple[dict, list[str]]:
    """The record with every date after ``as_of`` blanked (it has not happened yet on that day),
    planned dates excepted, plus the derived fields (rules.DERIVED_FIELDS).

    ``siblings`` are the other review rows of the same child: a phase transfer belongs to the child,
    so which row carries it depends on them all."""
    out, ignored = _blank_after(record, case, as_of)
    if case == "assessment":
        closure = out.get("closed_date")
        if closure is None and out.get("request_outcome") == "withdrawn":
            closure = out.get("request_outcome_date")
        out["closure_date"] = closure
    if case == "review":
        transfers = DEFAULT_TRANSFERS if transfers is None else transfers
        out.update(review_fields(out))
        others = []
        for sibling in siblings or []:
            if str(sibling.get("review_id")) != str(out.get("review_id")):
                prepared, _ = _blank_after(sibling, case, as_of)
                prepared.update(review_fields(prepared))
                others.append(prepared)
        out.update(child_transfer(out, others, transfers))
    return out, ignored


def _blank_after(record: dict, case: str, as_of: dt.date) -> tuple[dict, list[str]]:
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
    return out, ignored


def _blank(value) -> bool:
    try:
        return value is None or value != value or value == ""
    except (TypeError, ValueError):  # pandas.NA refuses to be a bool
        return True


def academic_year(day: dt.date) -> int:
    """The calendar year in which the academic year (September to August) containing ``day`` began."""
    return day.year if day.month >= 9 else day.year - 1


def _shift_months(day: dt.date, months: int) -> dt.date:
    """The corresponding day ``months`` later (earlier when negative), or the last day of a shorter month."""
    moved = pendulum.date(day.year, day.month, day.day).add(months=months)
    return dt.date(moved.year, moved.month, moved.day)


def review_fields(record: dict) -> dict:
    """The derived fields of one review row, worked as a caseworker would (cf. engine.review_fields)."""
    plan, last = record.get("plan_issued"), record.get("last_review")
    anchor = max((d for d in (plan, last) if d is not None), default=None)
    period_end = period_end_of(anchor, 12, Counting()) if anchor is not None else None
    decision = record.get("decision")
    completed = record.get("amended_plan_issued") if decision == "amend" else record.get("decision_notified")
    if decision == "amend":
        notified, notice = record.get("decision_notified"), record.get("amendment_notice_sent")
        with_amendments = max(notified, notice) if notified is not None and notice is not None else None
    else:
        with_amendments = record.get("decision_notified")
    reception, how = None, "no ncy or date_of_birth"
    if record.get("ncy") is not None:
        ncy = int(record["ncy"])
        if record.get("ncy_academic_year") is not None:
            year, said = int(record["ncy_academic_year"]), "ncy, for the academic year ncy_academic_year"
        elif period_end is not None:
            year, said = academic_year(period_end), "ncy, stored without ncy_academic_year: the academic year of the review's due date"
        else:
            year = None
        if year is not None:
            reception = year - ncy
            how = f"year {ncy} in {year}/{(year + 1) % 100:02d} ({said})"
    elif record.get("date_of_birth") is not None:
        reception, how = academic_year(record["date_of_birth"]) + 5, "from date_of_birth"
    return {"review_anchor": anchor, "review_period_end": period_end, "review_completed": completed,
            "decision_with_amendments": with_amendments, "reception_year": reception, "_year_how": how,
            "transfer_type": None, "transfer_year_start": None, "transfer_move_date": None,
            "transfer_review_completed": None, "transfer_date_derived": None, "transfer_covered": False}


def _rank(row: dict) -> tuple:
    return (row["review_anchor"], str(row.get("review_id")))


def child_transfer(record: dict, others: list[dict], transfers: dict[int, str]) -> dict:
    """The phase transfer this review row carries for its child, if any (cf. engine.phase_transfers).

    Worked one transfer at a time: list the child's transfers (derived from its year group, then what
    its rows record), find for each the review whose meeting falls in the 12 months before it, and
    keep the one this row carries.
    """
    if record["review_anchor"] is None:
        return {}
    rows = [record] + [o for o in others if o["review_anchor"] is not None
                       and str(o.get("person_id")) == str(record.get("person_id"))]
    latest = max(rows, key=_rank)
    earliest = min(r["review_anchor"] for r in rows)
    horizon = _shift_months(max(r["review_period_end"] for r in rows), 12)
    with_year = [r for r in rows if r["reception_year"] is not None]
    reception = max(with_year, key=_rank)["reception_year"] if with_year else None
    found: dict[dt.date, tuple[str, str, int]] = {}  # transfer date -> (type, how it was found, recorded?)
    if reception is not None:
        for year, kind in sorted(transfers.items()):
            moves = reception + year + 1
            date = dt.date(moves, 9, 1)
            if earliest < dt.date(moves, 1, 1) and _shift_months(date, -12) <= horizon:
                found[date] = (kind, f"from the year group: {max(with_year, key=_rank)['_year_how']}", 0)
    recorded: dict[dt.date, tuple[tuple, str, str]] = {}
    for r in rows:
        kind = r.get("phase_transfer")
        if kind not in ("school", "post16", "post16_move", "none"):
            continue
        if kind == "post16_move":
            date = r.get("transfer_date")
        else:
            date = _recorded_transfer_date(r)
        if date is None:
            continue
        if date not in recorded or _rank(r) >= recorded[date][0]:
            recorded[date] = (_rank(r), kind, f"phase_transfer {kind} recorded on {r.get('review_id')}")
    for date, (_, kind, how) in recorded.items():
        if kind == "none":
            found.pop(date, None)
        else:
            found[date] = (kind, how, 1)
    mine = None
    for date, (kind, how, recorded_here) in sorted(found.items()):
        opens = _shift_months(date, -12)
        covering = [r for r in rows if r.get("review_meeting") is not None and opens <= r["review_meeting"] < date]
        if covering:
            best = min(covering, key=lambda r: (r["review_completed"] or dt.date.max, r["review_meeting"],
                                                 str(r.get("review_id"))))
            carrier, completed, covered = best, best["review_completed"], True
        else:
            carrier, completed, covered = latest, None, False
        if carrier is record and (mine is None or recorded_here >= mine[-1]):
            # two transfers on one row: a recorded one before a derived one, then the later
            mine = (date, kind, how, completed, covered, recorded_here)
    if mine is None:
        return {"_transfer_how": "no phase transfer carried by this review row"}
    date, kind, how, completed, covered, _ = mine
    return {"transfer_type": kind, "transfer_date_derived": date,
            "transfer_year_start": dt.date(date.year, 1, 1) if kind != "post16_move" else None,
            "transfer_move_date": date if kind == "post16_move" else None,
            "transfer_review_completed": completed, "transfer_covered": covered,
            "_transfer_how": f"{kind} transfer on {date:%d %b %Y} ({how}); "
                             + ("its review meeting falls in the 12 months before the transfer"
                                if covered else "no review meeting in the 12 months before the transfer: "
                                                "listed under the child's latest review")}


def _recorded_transfer_date(row: dict) -> dt.date:
    """The 1 September transfer a recorded school / post16 / none is about (cf.
    engine.recorded_transfer_years): the first after the row's meeting; without a meeting, the one
    ending the academic year of the row's year group (reg 18(1): the child's transfer, whatever the
    cycle's dates); with neither, the first on or after the review's due date."""
    if row.get("review_meeting") is not None:
        return dt.date(academic_year(row["review_meeting"]) + 1, 9, 1)
    end = row["review_period_end"]
    if row.get("ncy") is not None:
        year = row.get("ncy_academic_year")
        year = int(year) if year is not None else academic_year(end)
        return dt.date(year + 1, 9, 1)
    due = end - dt.timedelta(days=1)
    return dt.date(academic_year(due) + 1, 9, 1)


def _matches(conditions: dict, record: dict) -> list[str]:
    return [f"{name} is {record.get(name)}" for name, values in conditions.items() if record.get(name) in values]


def explain_clock(clock: Clock, book: RuleBook, record: dict, as_of: dt.date) -> ClockWorking:
    work = ClockWorking(clock)
    say = work.steps.append
    say(f"{clock.title} [{clock.id}, {clock.basis_words}]")
    source = lacking_source(clock, record.get("source"))
    if source:  # the same test as the engine's: no row, never a breach
        held = sorted({clock.start, clock.stop, *clock.needs} & set(NOT_HELD[source][clock.case]))
        say(f"not judged: {SOURCE_TITLES[source]} does not hold this date ({', '.join(held)})")
        return work
    start = record.get(clock.start)
    if start is None:
        say(f"not started: {clock.start} is blank")
        return work
    missing = [f"{name} is {record.get(name) or 'blank'}" for name, values in clock.applies_when.items()
               if record.get(name) not in values]
    missing += [f"{name} is blank (this clock is judged only where the extract holds it)"
                for name in clock.needs if record.get(name) is None]
    if clock.not_before is not None and (record.get(clock.not_before) is None or start < record[clock.not_before]):
        missing.append(f"{clock.start} {start:%d %b %Y} is before this review period began ({clock.not_before} "
                       f"{record.get(clock.not_before) or 'blank'}): an earlier cycle's event")
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
    if clock.later_of is not None:
        other = record.get(clock.later_of.start)
        if other is not None and other >= start:
            alternative = clock.later_of.policy.due_date(other, clock.counting)
            if alternative > work.due:
                say(f"{clock.later_of.start} {other:%d %b %Y}: the later of {work.due:%d %b %Y} and "
                    f"{clock.later_of.policy.describe(clock.counting)} from it ({alternative:%d %b %Y}) applies: "
                    f"{clock.later_of.reference}")
                work.due = alternative
                work.reference = f"{work.reference}; later of: {clock.later_of.reference}"
            else:
                say(f"{clock.later_of.start} {other:%d %b %Y}: {alternative:%d %b %Y} from it is not later, "
                    f"so the usual due date applies ({clock.later_of.reference})")
        elif other is not None:
            say(f"{clock.later_of.start} {other:%d %b %Y} is before this period began: the usual due date applies")
    say(f"due {work.due:%a %d %b %Y}")

    if clock.exception_field and record.get(clock.exception_field):
        code = record[clock.exception_field]
        reason = next((r for r in book.exceptions_for(clock) if r.code == code), None)
        barred = next((limit for limit in clock.exception_limits if code not in limit.allowed
                       and len(_matches(limit.when, record)) == len(limit.when)), None)
        if reason is None:
            say(f"exception {code!r} recorded but it cannot apply to this clock: ignored")
        elif barred is not None:
            say(f"exception {code!r} recorded but not applied ("
                + "; ".join(_matches(barred.when, record)) + f"): {barred.reference}")
        elif clock.case == "assessment" and (why := why_unsupported(code, work.started, work.due, record,
                                                                      book.term_dates, clock.exception_scope)) is not None:
            say(f"exception {code!r} recorded but not supported, so not applied: {why}")
        elif reason.due_from is not None and not (reason.due_from <= work.due <= reason.due_until):
            say(f"exception {code!r} recorded but the due date is outside {reason.due_from}..{reason.due_until}: ignored")
        else:
            work.exception = code
            if reason.due_from is not None:
                work.rule_version = f"{reason.ruleset}:{reason.code} {reason.due_from}..{reason.due_until}"
                work.reference = reason.reference
            fallback = reason.fallback_for(clock.id)
            say(f"exception applies: {code} ({reason.reference}); the due date does not move, "
                "and the case is left out of KPIs 'excluding exceptions'"
                + (f"; the time limit gives way to: {fallback}" if fallback else ""))

    event = record.get(clock.stop)
    if event is not None and clock.stop_when and len(_matches(clock.stop_when, record)) < len(clock.stop_when):
        say(f"{clock.stop} {event:%d %b %Y} does not stop this clock ("
            + ", ".join(f"{k} is {record.get(k) or 'blank'}" for k in clock.stop_when) + ")")
        event = None
    if (event is None and clock.stop == "decision_with_amendments" and record.get("decision") == "amend"
            and record.get("decision_notified") is not None):
        say(f"decision to amend dated {record['decision_notified']:%d %b %Y}, but no notice of the proposed "
            "amendments (amendment_notice_sent): the decision is not notified until the notice goes with it "
            "(Devon [2022] EWHC 493 (Admin); reg 22(2)(a)), so the clock is still running")
    closers = [(record.get(name), name) for name in ("closure_date", *clock.closed_by) if record.get(name)]
    closure, closer = min(closers) if closers else (None, None)
    if event is not None:
        work.stopped, work.stop_reason = event, "event"
        lateness = (event - work.due).days
        work.status = "met" if lateness <= 0 else "late"
        work.days_overdue = max(lateness, 0)
        said = "on time" if lateness <= 0 else f"{_days(lateness)} late"
        say(f"stopped {event:%a %d %b %Y} ({clock.stop}): {said} -> {work.status}")
    elif closure is not None:
        work.stopped, work.stop_reason = closure, "closed"
        lateness = (closure - work.due).days
        if closer == "closure_date" and lateness > 0:
            work.status, work.days_overdue = "late", lateness
            say(f"case closed {closure:%d %b %Y} before {clock.stop}, {_days(lateness)} after the due date: "
                "still running past its due date, so a breach -> late")
        else:
            work.status = "met"
            why = "case closed" if closer == "closure_date" else f"{closer} recorded"
            say(f"{why} {closure:%d %b %Y} before {clock.stop}: clock stopped without a breach")
    else:
        to_go = (work.due - as_of).days
        if to_go < 0:
            work.status, work.days_overdue = "overdue", -to_go
            say(f"open on {as_of:%d %b %Y}: {_days(-to_go)} overdue -> overdue")
        elif to_go <= clock.warning_days:
            work.status = "due_soon"
            say(f"open on {as_of:%d %b %Y}: due in {_days(to_go)} (warning window {clock.warning_days}) -> due_soon")
        else:
            work.status = "open"
            say(f"open on {as_of:%d %b %Y}: due in {_days(to_go)} -> open")
    return work


def explain_case(record: dict, case: str, book: RuleBook, as_of: dt.date,
                 siblings: list[dict] | None = None) -> CaseWorking:
    """The working for one case; for a review, ``siblings`` are the child's other review rows."""
    kind = BY_CASE[case]
    prepared, ignored = record_as_of(record, case, as_of, book.transfers, siblings)
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
            work.steps += [f"{clock.family_title or clock.title} [{clock.id}, {clock.basis_words}]",
                           f"does not apply: {clock.variant_field} is {value or 'blank'} (variants: "
                           + ", ".join(c.variant for c in book.variants(clock.id)) + ")"]
            working.append(work)
    if case == "review":
        notes = _review_notes(prepared, book)
    else:
        periods = {w.clock.id: (w.started, w.due) for w in working if w.applies}
        notes = assessment_record_queries(prepared, book, periods)
    notes += _untimed_orders(prepared)
    flags = {f: bool(prepared.get(f)) for f in FLAGS}
    if ignored:
        notes.append("dates after the as-of date are treated as not yet happened: " + ", ".join(ignored))
    return CaseWorking(str(record[kind.key]), case, prepared, as_of, working, flags, notes)


# Orders recorded with no clock, and why (rules/england/send-regs-2014.toml, tribunal section).
UNTIMED_ORDERS = {
    "reconsider": ("the tribunal referred the case back to the LA to reconsider (SEND Regulations 2014 reg 43(2)(d)): "
                   "the time limit reg 44 sets for a remitted case is unverified (not found in the stored text), "
                   "so no clock is kept; check the order's own directions"),
    "continue": ("the tribunal ordered the LA to continue to maintain the plan: with immediate effect (HMCTS SEND18; "
                 "reg 44 text unverified), so there is no period to count; the plan must not cease"),
}


def _untimed_orders(record: dict) -> list[str]:
    said = UNTIMED_ORDERS.get(record.get("tribunal_order"))
    return [f"tribunal order {record['tribunal_order']}: {said}"] if said else []


def _review_notes(record: dict, book: RuleBook) -> list[str]:
    notes = []
    if record.get("review_anchor") is not None:
        which = "last_review" if record["review_anchor"] == record.get("last_review") else "plan_issued"
        notes.append(f"review period starts {record['review_anchor']:%d %b %Y} ({which}, the later of "
                     "plan_issued and last_review)")
    notes.append(f"year group: {record.get('_year_how', 'unknown')}")
    notes.append(f"phase transfer: {record.get('_transfer_how', 'none')}; transfer years: "
                 + ", ".join(f"year {y} -> {t}" for y, t in sorted(book.transfers.items())))
    notes += record_queries(record)
    return notes


def _days(n: int) -> str:
    """"1 day", "3 days": explain is read by people."""
    return f"{n} day" if n == 1 else f"{n} days"
