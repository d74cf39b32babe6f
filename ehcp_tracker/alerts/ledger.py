"""The ledger: each alert a server accepted, per recipient (``alert_ledger``), and each run (``alert_run``).

A row is written only once the message carrying the alert has been accepted (by the SMTP server, or
written to the outbox), in its own transaction per recipient: a run that fails half-way keeps what
was delivered, and the next run delivers the rest and nothing twice.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..store import db
from .events import Alert, Since


def last_success(conn: sa.Connection) -> Since | None:
    """The newest run that delivered every message it had (None before the first)."""
    runs = db.alert_run
    row = conn.execute(sa.select(runs.c.as_of, runs.c.last_import_run_id).where(runs.c.status == "sent")
                       .order_by(runs.c.id.desc()).limit(1)).first()
    return None if row is None else Since(row.as_of, row.last_import_run_id)


def latest_import_run(conn: sa.Connection) -> int | None:
    return conn.execute(sa.select(sa.func.max(db.import_run.c.id))).scalar()


def sent_keys(conn: sa.Connection) -> set[tuple]:
    """(kind, case_id, clock, event, due, recipient) of everything ever sent."""
    ledger = db.alert_ledger
    rows = conn.execute(sa.select(ledger.c.kind, ledger.c.case_id, ledger.c.clock, ledger.c.event, ledger.c.due,
                                  ledger.c.recipient))
    return {tuple(r) for r in rows}


def alerted_overdue(keys: set[tuple]) -> set[tuple]:
    """(kind, case_id, clock, due) of the clocks someone was told were overdue."""
    return {(kind, case, clock, due) for kind, case, clock, event, due, _ in keys if event == "overdue"}


def changed_since(conn: sa.Connection, since: Since | None) -> dict[tuple[str, str], set[str]]:
    """The fields the change log recorded, case by case, in the imports after the last run."""
    if since is None:
        return {}
    from .events import CASE_KINDS

    log = db.change_log
    query = sa.select(log.c.kind, log.c.case_id, log.c.field)
    if since.last_import_run_id is not None:
        query = query.where(log.c.run_id > since.last_import_run_id)
    out: dict[tuple[str, str], set[str]] = {}
    for kind, case_id, field in conn.execute(query):
        out.setdefault((CASE_KINDS.get(kind, kind), case_id), set()).add(field)
    return out


def moves_since(conn: sa.Connection, since: Since | None) -> pd.DataFrame:
    """The ``deadline_change`` rows of the imports after the last run."""
    dc = db.deadline_change
    columns = ["run_id", "kind", "case_id", "clock", "old_due", "new_due", "why"]
    if since is None:
        return pd.DataFrame({c: [] for c in columns})
    query = sa.select(*(dc.c[c] for c in columns))
    if since.last_import_run_id is not None:
        query = query.where(dc.c.run_id > since.last_import_run_id)
    frame = pd.DataFrame(conn.execute(query).fetchall(), columns=columns)
    for name in ("old_due", "new_due"):
        frame[name] = pd.to_datetime(frame[name]).astype("datetime64[s]")
    return frame


# A run still marked "running" after this long died without finishing (killed, power cut): ignored.
STALE_AFTER = dt.timedelta(hours=6)


def start_run(engine: Engine, as_of: dt.date, delivery: str) -> int:
    """Claim tonight's run, or refuse while another is sending: two runs at once would both send.

    Each run first writes its own "running" row, then looks for an older one still running; of two
    runs started together exactly one (the older) goes on. The run works out what to send only
    after the claim, so a run that starts just after another finished sees that one's ledger.
    """
    from ..errors import EhcpError

    runs = db.alert_run
    with engine.begin() as conn:
        run_id = conn.execute(runs.insert().values(
            started_at=db.now(), as_of=as_of, delivery=delivery, status="running", messages_sent=0,
            messages_failed=0, alerts_sent=0)).inserted_primary_key[0]
    with engine.connect() as conn:
        rival = conn.execute(sa.select(runs.c.id, runs.c.started_at).where(
            runs.c.status == "running", runs.c.id < run_id, runs.c.started_at > db.now() - STALE_AFTER)
            .order_by(runs.c.id).limit(1)).first()
    if rival is not None:
        with engine.begin() as conn:
            conn.execute(runs.update().where(runs.c.id == run_id).values(finished_at=db.now(), status="refused"))
        raise EhcpError(f"another `ehcp alerts` (alert run {rival.id}, started {rival.started_at:%Y-%m-%d %H:%M} UTC) "
                        "is still sending; nothing was sent. A run that died is ignored after "
                        f"{STALE_AFTER.seconds // 3600} hours")
    return run_id


def record(engine: Engine, run_id: int, recipient: str, alerts: list[Alert]) -> None:
    """What one recipient was sent, once their message was accepted (an alert already recorded, by a
    run alongside this one, is left as it is)."""
    rows = [dict(zip(("kind", "case_id", "clock", "event", "due", "recipient"), a.key(recipient), strict=True))
            | {"run_id": run_id, "sent_at": db.now()} for a in alerts]
    if not rows:
        return
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        conn.execute(insert(db.alert_ledger).on_conflict_do_nothing(), rows)


def finish_run(engine: Engine, run_id: int, *, sent: int, failed: int, alerts: int, last_import_run_id: int | None,
               completed: bool = True) -> str:
    """Close the run: ``sent`` (every message delivered: the next run's "since"), ``partial``,
    ``failed``, or ``failed`` too when it stopped before the end (``completed`` false)."""
    status = "sent" if failed == 0 and completed else "partial" if sent else "failed"
    with engine.begin() as conn:
        conn.execute(db.alert_run.update().where(db.alert_run.c.id == run_id).values(
            finished_at=db.now(), status=status, messages_sent=sent, messages_failed=failed, alerts_sent=alerts,
            last_import_run_id=last_import_run_id))
    return status
