"""What happened since the last successful alerts run, worked out from the clock results.

An alert is one (case, clock, event, due date). The events, for every clock, statutory, guidance
and local alike, that no exemption applies to:

- ``overdue``: the clock is running past its due date;
- ``due_soon`` ("Due this week"): the clock is running, not overdue, and due this week (Monday to
  Sunday), exactly the rows ``ehcp due`` lists after the overdue ones (``listings.due_parts``);
- ``stopped_late``: the clock stopped after its due date, and either its stop date is after the last
  run's as-of date, or the stop arrived since the last run (the case's stop date, closure or the
  case itself came in an import since then), or the clock was reported overdue before. The stop
  date matters because some stops (an annual review's ``review_completed``) are derived from other
  columns and never appear in the change log;
- ``moved``: an import since the last run moved the due date of a clock still running (the reason
  is the change log's);
- ``escalated``: still overdue ``escalate_after`` days after the due date: for the team leads.

"Since the last run" for the running clocks is the ledger's doing: each (case, clock, event, due
date, recipient) goes once, so a clock that is overdue tonight and was overdue last night is not
news, and a due date that moves makes a new event. The first run sends every clock overdue (and
every one due soon) as of its as-of date; stops and moves need a previous run to be "since".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import pandas as pd

from ..listings import days_text, due_parts, reference_for_caseworkers, week_window
from .people import People, Person

EVENTS = ("overdue", "escalated", "due_soon", "stopped_late", "moved")
# Fields whose change in an import can be a clock stopping (besides the clock's own stop field).
CLOSING_FIELDS = ("closed_date", "request_outcome", "request_outcome_date", "(new case)")
CASE_KINDS = {"assessments": "assessment", "reviews": "review"}  # the store's kind names -> the engine's


@dataclass(frozen=True)
class Alert:
    """One thing to tell one person about one clock of one case: IDs and dates, nothing else."""

    kind: str  # assessment | review
    case_id: str
    clock: str
    title: str
    event: str
    due: dt.date
    days: str  # "3 overdue", "2 left", "5 late"
    days_overdue: int
    reference: str
    caseworker: str | None
    team: str | None
    stopped: dt.date | None = None
    old_due: dt.date | None = None
    why: str | None = None
    note: str | None = None  # why this person gets it when it is not their own case

    def key(self, recipient: str) -> tuple:
        """The ledger's key: the same alert to the same person is sent once."""
        return (self.kind, self.case_id, self.clock, self.event, self.due, recipient)


@dataclass(frozen=True)
class Since:
    """The last successful alerts run: what it had already seen."""

    as_of: dt.date
    last_import_run_id: int | None


def detect(results: pd.DataFrame, titles: dict[str, str], stop_fields: dict[str, str], as_of: dt.date, *,
           since: Since | None, changed: dict[tuple[str, str], set[str]], alerted_overdue: set[tuple],
           moves: pd.DataFrame, escalate_after: int) -> list[Alert]:
    """Every alert the clock ``results`` (``listings.clock_results``) hold.

    ``changed`` maps (kind, case_id) to the fields the change log recorded for it since the last
    run, ``moves`` holds the ``deadline_change`` rows since then, ``alerted_overdue`` the (kind,
    case, clock, due) already reported overdue; ``stop_fields`` maps each clock to its stop field.
    """
    unexempt = results[results["exception"].isna()]
    status = unexempt["status"]
    late = _late_news(unexempt[status == "late"], since, changed, alerted_overdue)
    alerts: list[Alert] = []
    # overdue, and due this week: the rows `ehcp due` lists (listings.due_parts), so the digest's
    # "Due this week" is the caseworker's list, not the rules' wider warning windows
    overdue, this_week = due_parts(unexempt, *week_window(as_of))
    for row in pd.concat([unexempt[overdue], unexempt[this_week], late]).itertuples(index=False):
        due = row.due.date()
        base = dict(kind=row.kind, case_id=row.case_id, clock=row.clock, title=titles.get(row.clock, row.clock),
                    due=due, days=days_text(row.status, int(row.days_overdue), due, as_of),
                    days_overdue=int(row.days_overdue), reference=reference_for_caseworkers(row.reference),
                    caseworker=_text(row.caseworker), team=_text(row.team))
        if row.status == "overdue":
            alerts.append(Alert(event="overdue", **base))
            if row.days_overdue >= escalate_after:
                alerts.append(Alert(event="escalated", **base))
        elif row.status in ("due_soon", "open"):  # due this week (the event keeps its ledger name)
            alerts.append(Alert(event="due_soon", **base))
        else:
            fields = changed.get((row.kind, row.case_id), set()) if since is not None else set()
            told = (row.kind, row.case_id, row.clock, due) in alerted_overdue
            stopped_since = since is not None and row.stopped.date() > since.as_of
            if told or stopped_since or fields & {stop_fields.get(row.clock), *CLOSING_FIELDS}:
                alerts.append(Alert(event="stopped_late", stopped=row.stopped.date(), **base))
    alerts += _moved(unexempt, moves, titles, as_of) if since is not None else []
    return alerts


def news(results: pd.DataFrame, *, since: Since | None, changed: dict[tuple[str, str], set[str]],
         alerted_overdue: set[tuple]) -> pd.DataFrame:
    """The rows of ``results`` :func:`detect` can make an alert of (the same arguments), in their
    order: unexempt clocks still running, and the late ones that are news. A run narrows each slice
    of the caseload's results to these as it goes (``run.plan``), so the million clocks met or late
    long ago never sit in memory together; :func:`detect` over the rows kept gives what it gives
    over them all."""
    unexempt = results[results["exception"].isna()]
    status = unexempt["status"]
    late = _late_news(unexempt[status == "late"], since, changed, alerted_overdue)
    return unexempt[status.isin(["open", "due_soon", "overdue"]).to_numpy()
                    | unexempt.index.isin(late.index)]


def _late_news(late: pd.DataFrame, since: Since | None, changed: dict[tuple[str, str], set[str]],
               alerted_overdue: set[tuple]) -> pd.DataFrame:
    """The late clocks that may be news, narrowed in bulk (most late clocks are history): their
    case changed since the last run, they were reported overdue, or they stopped since then."""
    if not len(late):
        return late
    cases = pd.Series(list(zip(late["kind"], late["case_id"])), index=late.index, dtype=object)
    clocks = pd.Series(list(zip(late["kind"], late["case_id"], late["clock"], late["due"].dt.date)),
                       index=late.index, dtype=object)
    # a stop after the last run's as-of date is news whether or not the change log saw it: an
    # annual review's stop (review_completed) is derived from other columns, never logged
    stopped_since = late["stopped"].dt.date > since.as_of if since is not None else False
    return late[cases.isin(set(changed) if since is not None else set()) | clocks.isin(alerted_overdue)
                | stopped_since]


def _moved(results: pd.DataFrame, moves: pd.DataFrame, titles: dict[str, str], as_of: dt.date) -> list[Alert]:
    """Clocks still running whose due date an import since the last run moved to where it is now."""
    if not len(moves):
        return []
    running = results[results["status"].isin(["open", "due_soon", "overdue"])]
    # the change table also holds clocks whose status changed with the due date where it was
    moved = moves[moves["old_due"].notna() & moves["new_due"].notna() & (moves["old_due"] != moves["new_due"])]
    latest = moved.sort_values("run_id").drop_duplicates(["kind", "case_id", "clock"], keep="last").copy()
    latest["kind"] = latest["kind"].map(CASE_KINDS).fillna(latest["kind"])
    both = running.merge(latest, on=["kind", "case_id", "clock"], how="inner")
    both = both[both["due"] == both["new_due"]]
    out = []
    for row in both.itertuples(index=False):
        due = row.due.date()
        out.append(Alert(kind=row.kind, case_id=row.case_id, clock=row.clock, title=titles.get(row.clock, row.clock),
                         event="moved", due=due, days=days_text(row.status, int(row.days_overdue), due, as_of),
                         days_overdue=int(row.days_overdue), reference=reference_for_caseworkers(row.reference),
                         caseworker=_text(row.caseworker), team=_text(row.team), old_due=row.old_due.date(),
                         why=row.why))
    return out


@dataclass
class Routing:
    """Who gets which alerts; and what could not be routed, for the run's warnings."""

    by_recipient: dict[str, tuple[Person, list[Alert]]]
    unknown_caseworker_cases: set[tuple[str, str]]  # (kind, case_id) whose caseworker is not in the file
    nobody: list[Alert]  # alerts for a team with no team lead in the file


def route(alerts: list[Alert], people: People) -> Routing:
    """Each alert to the case's caseworker; escalations, and cases whose caseworker is not in the
    people file, to the team leads of the case's team."""
    routing = Routing({}, set(), [])

    def give(person: Person, alert: Alert) -> None:
        routing.by_recipient.setdefault(person.key, (person, []))[1].append(alert)

    for alert in alerts:
        if alert.event != "escalated":
            person = people.named(alert.caseworker)
            if person is not None:
                give(person, alert)
                continue
            routing.unknown_caseworker_cases.add((alert.kind, alert.case_id))
            row = people.skipped.get(alert.caseworker.strip().casefold()) if isinstance(alert.caseworker, str) else None
            alert = replace(alert, note=f"caseworker {alert.caseworker} is on row {row} of the people file, which was "
                                        "skipped (see the run's output)" if row else
                            f"caseworker {alert.caseworker or '(none recorded)'} is not in the people file")
        else:
            alert = replace(alert, note=f"escalated: still overdue after {alert.days_overdue} day{'' if alert.days_overdue == 1 else 's'}; "
                                        f"caseworker {alert.caseworker or '(none recorded)'}")
        leads = people.team_leads(alert.team)
        if not leads:
            routing.nobody.append(alert)
        for lead in leads:
            give(lead, alert)
    return routing


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None
