"""One alerts run: claim the lease, finish what a dead run left, detect, route, drop what was
already sent, render, record the intent, deliver, confirm.

``send_alerts`` is the library behind ``ehcp alerts``; it returns what happened rather than printing,
so the command line only renders it and tests can call it directly.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from dataclasses import dataclass, field
from email.headerregistry import Address

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
    taken_over: list[tuple[int, str | None, int | None, str]] = field(default_factory=list)
    resumed: list[tuple[str, str]] = field(default_factory=list)  # (recipient, how): digests a dead run left
    resume_failed: list[tuple[str, str]] = field(default_factory=list)  # (recipient, reason): still in doubt


def plan(engine: Engine, book: RuleBook, as_of: dt.date, people: People, *,
         escalate_after: int = DEFAULT_ESCALATE_AFTER, base_url: str | None = None) -> tuple[AlertsOutcome, int | None]:
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
    found = without_example_clocks(found, book)
    routing = events.route(found, people)
    digests = []
    for key, (person, alerts) in sorted(routing.by_recipient.items()):
        fresh = [a for a in alerts if a.key(key) not in sent]
        if fresh:
            digests.append(Digest(person, fresh, as_of, base_url))
    outcome = AlertsOutcome(digests, unknown_caseworker_cases=len(routing.unknown_caseworker_cases),
                            nobody=routing.nobody, first_run=since is None)
    return outcome, last_import


def without_example_clocks(found: list[events.Alert], book: RuleBook) -> list[events.Alert]:
    """The alerts of the council's own clocks only. The shipped example council's local targets
    ("(example council service standard)") are in the book until the council runs `ehcp setup`, and
    must never reach a real caseworker as if they were their council's standards (issue 23)."""
    return [a for a in found if a.clock not in book.example_clocks] if book.example_clocks else found


def _news(engine: Engine, book: RuleBook, as_of: dt.date, **seen) -> pd.DataFrame:
    """Every case's clocks on ``as_of`` that could make an alert (``events.news``), as
    ``clock_results`` orders them, worked out a slice of the caseload at a time
    (``store.caseload.slices``: read, evaluated, narrowed and let go)."""
    from ..store.caseload import slices
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


def send_alerts(engine: Engine, book: RuleBook, as_of: dt.date, people: People, delivery, *, sender: str | Address,
                dry_run: bool = False, escalate_after: int = DEFAULT_ESCALATE_AFTER,
                force_takeover: bool = False, base_url: str | None = None) -> AlertsOutcome:
    """Send tonight's digests through ``delivery``: each recorded before it is handed over and
    confirmed the moment it is accepted (``ledger``), under a lease that a later run takes over if
    this process dies.

    A recipient whose message is refused (or whose server cannot be reached) has the record
    forgotten, so the next run sends them everything again; those delivered stay recorded. A
    digest a dead run left in doubt is resent unchanged first. ``dry_run`` renders the digests and
    records nothing, not even the run.
    """
    if dry_run:
        return plan(engine, book, as_of, people, escalate_after=escalate_after, base_url=base_url)[0]
    template = read_template()
    claim = ledger.start_run(engine, as_of, delivery.name, force_takeover=force_takeover)
    run_id = claim.run_id
    outcome, last_import, completed, resumed_alerts = AlertsOutcome([]), None, False, 0
    try:
        with ledger.Heartbeat(engine, run_id):
            resumed, resume_failed, resumed_alerts = _resume(engine, delivery, run_id)
            outcome, last_import = plan(engine, book, as_of, people, escalate_after=escalate_after,
                                        base_url=base_url)
            outcome.run_id, outcome.taken_over = run_id, claim.taken_over
            outcome.resumed, outcome.resume_failed = resumed, resume_failed
            for digest in outcome.digests:
                message = digest.message(sender, template)
                message_id = message["Message-ID"]
                ledger.intend(engine, run_id, digest.recipient, message_id, message.as_bytes(), digest.alerts)
                try:
                    delivery.send(message, digest.recipient.id)
                except DeliveryFailed as exc:
                    ledger.not_delivered(engine, message_id)
                    outcome.failed.append((digest.recipient, str(exc)))
                    continue
                ledger.delivered(engine, message_id)
                outcome.delivered.append(digest)
            completed = True
    finally:
        delivery.close()
        failed = len(outcome.failed) + len(outcome.resume_failed)
        outcome.status = ledger.finish_run(
            engine, run_id, sent=len(outcome.delivered) + len(outcome.resumed), failed=failed,
            alerts=sum(len(d.alerts) for d in outcome.delivered) + resumed_alerts,
            last_import_run_id=last_import, completed=completed)
    return outcome


def _resume(engine: Engine, delivery, run_id: int) -> tuple[list, list, int]:
    """Deliver the digests a dead run recorded but never saw accepted: found already in the
    outbox, or resent byte for byte (the same Message-ID, so a repeat is recognisable)."""
    resumed, failed, alerts = [], [], 0
    for row in ledger.in_doubt(engine, run_id):
        message = email.message_from_bytes(row.content, policy=email.policy.default)
        if delivery.holds(row.message_id, row.recipient):
            how = "found already delivered"
        else:
            try:
                delivery.send(message, row.recipient)
            except DeliveryFailed as exc:
                failed.append((row.recipient, str(exc)))
                continue
            how = "sent again with its original Message-ID"
        ledger.delivered(engine, row.message_id)
        alerts += ledger.alerts_of(engine, row.message_id)
        resumed.append((row.recipient, how))
    return resumed, failed, alerts
