"""The access log (UK GDPR Article 5(2), accountability): who viewed which case, who downloaded
which list, who signed in or failed to, and when.

Rows are written by one background thread from a queue, not by the request: on SQLite a nightly
import holds the write lock for its whole transaction, and a caseworker's page must not wait for
it. The thread retries until the row is stored; ``flush`` waits for the queue to drain (tests, and
the server's shutdown)."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..store import db
from ..store.accounts import access_log

log = logging.getLogger("ehcp_tracker.web")
COLUMNS = ["at", "user", "event", "case_id", "detail", "address"]


class AccessLog:
    def __init__(self, engine: Engine, retry_seconds: float = 1.0):
        self._engine = engine
        self._queue: queue.Queue = queue.Queue()
        self._retry = retry_seconds
        self._thread = threading.Thread(target=self._run, name="ehcp-access-log", daemon=True)
        self._thread.start()

    def record(self, *, at: dt.datetime, user: str | None, event: str, case_id: str | None = None,
               detail: str | None = None, address: str | None = None) -> None:
        self._queue.put({"at": at, "user_id": user, "event": event, "case_id": case_id,
                         "detail": (detail or None) and detail[:500], "address": (address or None) and address[:64]})

    def _run(self) -> None:
        while True:
            rows = [self._queue.get()]
            while True:
                try:
                    rows.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            while True:
                try:
                    with db.write_transaction(self._engine) as conn:
                        conn.execute(access_log.insert(), rows)
                    break
                except Exception:  # noqa: BLE001 - the database is busy or gone: keep the rows, try again
                    log.warning("access log: %d rows waiting for the database", len(rows))
                    time.sleep(self._retry)
            for _ in rows:
                self._queue.task_done()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every recorded row is stored (False if ``timeout`` passed first)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


def entries(engine: Engine, *, user: str | None = None, case_id: str | None = None,
            since: dt.date | None = None):
    """The access log, oldest first, narrowed to one user, one case, or from a day (``ehcp access-log``)."""
    import pandas as pd

    query = sa.select(access_log).order_by(access_log.c.at, access_log.c.id)
    if user:
        query = query.where(access_log.c.user_id == " ".join(user.split()).casefold())
    if case_id:
        query = query.where(access_log.c.case_id == case_id.strip())
    if since:
        query = query.where(access_log.c.at >= dt.datetime.combine(since, dt.time()))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return pd.DataFrame([{"at": r.at.replace(microsecond=0).isoformat(sep=" "), "user": r.user_id, "event": r.event,
                          "case_id": r.case_id, "detail": r.detail, "address": r.address} for r in rows],
                        columns=COLUMNS)
