"""The ledger: each alert sent, per recipient (``alert_ledger``), each digest (``alert_message``) and
each run (``alert_run``, with its lease).

A digest is recorded *before* it is handed over (``intend``: its Message-ID, its bytes, its alerts,
state ``sending``), and marked ``sent`` the moment the server accepts it or its file is written
(``delivered``); a refusal forgets it (``not_delivered``), so the next run sends those alerts again.
A run killed between the server's acceptance and ``delivered`` leaves a ``sending`` digest: the run
that takes it over resends it byte for byte (same Message-ID), or finds its outbox file already
written. So every alert is delivered **at least once**; a repeat can only follow a crash in that
window, and it is the same message, recognisable by its Message-ID (``docs/alerts.md``).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from dataclasses import dataclass

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


# The lease. A run renews its heartbeat every HEARTBEAT while it works (a thread: the plan of a big
# caseload takes minutes); a "running" run whose heartbeat is older than LEASE, or whose process is
# gone from this host, died (killed, power cut), and the next run takes it over. Runs from before the
# lease (migration 0012) have no heartbeat: they are judged by their start, as before.
HEARTBEAT = dt.timedelta(seconds=20)
LEASE = dt.timedelta(minutes=2)
STALE_AFTER = dt.timedelta(hours=6)


@dataclass(frozen=True)
class Claim:
    """This run's id, and the runs it took over (id, host, pid, why)."""

    run_id: int
    taken_over: list[tuple[int, str | None, int | None, str]]


def this_host() -> str:
    return socket.gethostname()[:255] or "localhost"


def process_alive(pid: int | None) -> bool:
    """Whether ``pid`` is a process on this host (signal 0 tests without touching it)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except OSError:
        return False
    return True


def why_dead(run, now: dt.datetime, host: str) -> str | None:
    """Why a run marked "running" is known to have died, or None while it may still be sending."""
    if run.heartbeat_at is None:  # a run from before the lease
        return "started more than 6 hours ago" if run.started_at <= now - STALE_AFTER else None
    if run.heartbeat_at <= now - LEASE:
        return f"no heartbeat for {int((now - run.heartbeat_at).total_seconds())} s"
    if run.host == host and not process_alive(run.pid):
        return f"its process {run.pid} is gone"
    return None


def start_run(engine: Engine, as_of: dt.date, delivery: str, *, force_takeover: bool = False) -> Claim:
    """Claim tonight's run, taking over a dead one, or refuse while another is sending.

    Each run first writes its own "running" row (with its lease), then looks at the older ones
    still running: one still alive means this run is refused (of two started together exactly one,
    the older, goes on); a dead one (or any, with ``force_takeover``) is marked "abandoned" and its
    undelivered digests become this run's to deliver (``run.resume``). The run works out what to
    send only after the claim, so a run that starts just after another finished sees its ledger.
    """
    from ..errors import EhcpError

    runs = db.alert_run
    host, pid = this_host(), os.getpid()
    with engine.begin() as conn:
        started = db.now()
        run_id = conn.execute(runs.insert().values(
            started_at=started, as_of=as_of, delivery=delivery, status="running", messages_sent=0,
            messages_failed=0, alerts_sent=0, host=host, pid=pid, heartbeat_at=started)).inserted_primary_key[0]
    with engine.connect() as conn:
        older = conn.execute(sa.select(runs.c.id, runs.c.started_at, runs.c.heartbeat_at, runs.c.host, runs.c.pid)
                             .where(runs.c.status == "running", runs.c.id < run_id).order_by(runs.c.id)).fetchall()
    now = db.now()
    taken = []
    for rival in older:
        dead = "taken over by --force-takeover" if force_takeover else why_dead(rival, now, host)
        if dead is None:
            with engine.begin() as conn:
                conn.execute(runs.update().where(runs.c.id == run_id).values(finished_at=db.now(), status="refused"))
            raise EhcpError(f"another `ehcp alerts` (alert run {rival.id}, started {rival.started_at:%Y-%m-%d %H:%M} "
                            f"UTC on {rival.host or 'an unknown host'}, process {rival.pid}) is still sending; nothing "
                            f"was sent. A run that died is taken over once its process is gone or it has been silent "
                            f"for {int(LEASE.total_seconds())} s; --force-takeover if you know it is dead")
        taken.append((rival.id, rival.host, rival.pid, dead))
    if taken:
        with engine.begin() as conn:
            conn.execute(runs.update().where(runs.c.id.in_([t[0] for t in taken]), runs.c.status == "running")
                         .values(finished_at=db.now(), status="abandoned"))
    return Claim(run_id, taken)


class Heartbeat:
    """Renews a run's lease every ``HEARTBEAT`` from a thread of its own until stopped."""

    def __init__(self, engine: Engine, run_id: int, every: dt.timedelta = HEARTBEAT):
        self.engine, self.run_id, self.every = engine, run_id, every.total_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"alert-run-{run_id}-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with self.engine.begin() as conn:
                    conn.execute(db.alert_run.update().where(db.alert_run.c.id == self.run_id)
                                 .values(heartbeat_at=db.now()))
            except Exception:  # noqa: BLE001 - a missed beat only shortens the lease; the run goes on
                continue


def _insert(conn: sa.Connection):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def intend(engine: Engine, run_id: int, person, message_id: str, content: bytes, alerts: list[Alert]) -> None:
    """Record a digest before it is handed over: its Message-ID, its bytes, and its alerts (an alert
    already recorded, by a run alongside this one, is left as it is). The message row names the
    person by their id as the people file spells it (an outbox file is named after it)."""
    now = db.now()
    rows = [dict(zip(("kind", "case_id", "clock", "event", "due", "recipient"), a.key(person.key), strict=True))
            | {"run_id": run_id, "sent_at": now, "message_id": message_id} for a in alerts]
    with engine.begin() as conn:
        conn.execute(db.alert_message.insert().values(run_id=run_id, recipient=person.id, message_id=message_id,
                                                      state="sending", created_at=now, content=content))
        if rows:
            conn.execute(_insert(conn)(db.alert_ledger).on_conflict_do_nothing(), rows)


def delivered(engine: Engine, message_id: str) -> None:
    """The server accepted it (or its file is written): one small update, so the time in which a
    crash leaves the message in doubt is as short as it can be."""
    with engine.begin() as conn:
        conn.execute(db.alert_message.update().where(db.alert_message.c.message_id == message_id)
                     .values(state="sent", sent_at=db.now()))


def not_delivered(engine: Engine, message_id: str) -> None:
    """The server refused it (or could not be reached): forget the intent, so the next run sends
    these alerts again."""
    with engine.begin() as conn:
        conn.execute(db.alert_ledger.delete().where(db.alert_ledger.c.message_id == message_id))
        conn.execute(db.alert_message.delete().where(db.alert_message.c.message_id == message_id))


def in_doubt(engine: Engine, run_id: int) -> list:
    """Digests a run that died recorded but never saw accepted (not this run's own)."""
    m = db.alert_message
    with engine.connect() as conn:
        return conn.execute(sa.select(m.c.run_id, m.c.recipient, m.c.message_id, m.c.content)
                            .where(m.c.state == "sending", m.c.run_id != run_id).order_by(m.c.id)).fetchall()


def alerts_of(engine: Engine, message_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.alert_ledger)
                            .where(db.alert_ledger.c.message_id == message_id)).scalar()


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
