"""One alerts run: detect, route, drop what was already sent, render, deliver, record.

``send_alerts`` is the library behind ``ehcp alerts``; it returns what happened rather than printing,
so the command line only renders it and tests can call it directly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..clocks.rules import RuleBook
from ..listings import Filters, clock_results, clock_titles
from . import events, ledger
from .delivery import DeliveryFailed
from .digest import Digest, read_template
from .people import People, Person

DEFAULT_ESCALATE_AFTER = 14  # days past the due date; a local practice choice, not a statutory period


@dataclass
class AlertsOutcome:
    digests: list[Digest]
    delivered: list[Digest] = field(default_factory=list)
    failed: list[tuple[Person, str]] = field(default_factory=list)
    unknown_caseworker_cases: int = 0
    nobody: list[events.Alert] = field(default_factory=list)
    run_id: int | None = None
    status: str = "dry-run"
    first_run: bool = False


def plan(engine: Engine, book: RuleBook, as_of: dt.date, people: People, *,
         escalate_after: int = DEFAULT_ESCALATE_AFTER) -> tuple[AlertsOutcome, int | None]:
    """The digests this run would send (nothing already in the ledger), and the newest import run."""
    with engine.connect() as conn:
        since = ledger.last_success(conn)
        sent = ledger.sent_keys(conn)
        changed = ledger.changed_since(conn, since)
        moves = ledger.moves_since(conn, since)
        last_import = ledger.latest_import_run(conn)
    results = _news(engine, book, as_of, since=since, changed=changed, alerted_overdue=ledger.alerted_overdue(sent))
    stop_fields = {c.id: c.stop for c in book.clocks}
    found = events.detect(results, clock_titles(book), stop_fields, as_of, since=since, changed=changed,
                          alerted_overdue=ledger.alerted_overdue(sent), moves=moves, escalate_after=escalate_after)
    routing = events.route(found, people)
    digests = []
    for key, (person, alerts) in sorted(routing.by_recipient.items()):
        fresh = [a for a in alerts if a.key(key) not in sent]
        if fresh:
            digests.append(Digest(person, fresh, as_of))
    outcome = AlertsOutcome(digests, unknown_caseworker_cases=len(routing.unknown_caseworker_cases),
                            nobody=routing.nobody, first_run=since is None)
    return outcome, last_import


def _news(engine: Engine, book: RuleBook, as_of: dt.date, **seen) -> pd.DataFrame:
    """Every case's clocks on ``as_of`` that could make an alert (``events.news``), as
    ``clock_results`` orders them, worked out a slice of the caseload at a time
    (``ingest.refresh.slices``: read, evaluated, narrowed and let go)."""
    from ..ingest.refresh import slices
    from ..schema import KINDS
    from ..store import db

    frames = []
    with engine.connect() as conn:
        parts = [(kind, where) for kind in KINDS.values() for where in slices(conn, kind)]
        for kind, where in parts:
            caseload = {other.case: db.load_cases(conn, other, where if other is kind else sa.false())
                        for other in KINDS.values()}
            frames.append(events.news(clock_results(engine, book, as_of, Filters(), caseload=caseload), **seen))
    kept = [f for f in frames if len(f)] or frames[:1]
    results = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
    return results.sort_values(["due", "case_id", "clock"], kind="stable").reset_index(drop=True)


def send_alerts(engine: Engine, book: RuleBook, as_of: dt.date, people: People, delivery, *, sender: str,
                dry_run: bool = False, escalate_after: int = DEFAULT_ESCALATE_AFTER) -> AlertsOutcome:
    """Send tonight's digests through ``delivery`` and record each accepted one in the ledger.

    A recipient whose message is refused (or whose server cannot be reached) gets nothing recorded,
    so the next run sends them everything again; those delivered stay recorded. ``dry_run`` renders
    the digests and records nothing, not even the run.
    """
    if dry_run:
        return plan(engine, book, as_of, people, escalate_after=escalate_after)[0]
    template = read_template()
    run_id = ledger.start_run(engine, as_of, delivery.name)
    outcome, last_import, completed = AlertsOutcome([]), None, False
    try:
        outcome, last_import = plan(engine, book, as_of, people, escalate_after=escalate_after)
        outcome.run_id = run_id
        for digest in outcome.digests:
            try:
                delivery.send(digest.message(sender, template), digest.recipient.id)
            except DeliveryFailed as exc:
                outcome.failed.append((digest.recipient, str(exc)))
                continue
            ledger.record(engine, run_id, digest.recipient.key, digest.alerts)
            outcome.delivered.append(digest)
        completed = True
    finally:
        delivery.close()
        outcome.status = ledger.finish_run(engine, run_id, sent=len(outcome.delivered), failed=len(outcome.failed),
                                           alerts=sum(len(d.alerts) for d in outcome.delivered),
                                           last_import_run_id=last_import, completed=completed)
    return outcome
