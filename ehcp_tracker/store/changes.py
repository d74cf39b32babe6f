"""What an import changed: the deadlines it moved and the statuses it changed (``deadline_change``),
and the fields it changed (``change_log``), for one import command (a batch of files), one run, or all.

The default is the latest import *command*: a night's ``ehcp import assessments.csv reviews.xlsx``
is one batch, so neither file hides the other.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import EhcpError
from ..schema import KINDS
from . import db

COLUMNS = ["run_id", "kind", "case_id", "clock", "old_due", "new_due", "old_status", "new_status", "why", "change"]
FIELD_COLUMNS = ["run_id", "kind", "case_id", "field", "old_value", "new_value"]
APPLIED = ("imported", "partial")
# values never shown, even to the listing's reader: personal data (a date of birth) is named only
PERSONAL = {(kind.name, c.name) for kind in KINDS.values() for c in kind.columns if c.personal}


def chosen_runs(conn: sa.Connection, run_id: int | None = None, all_runs: bool = False) -> list[int]:
    """The runs to report: every applied run; one run; or (default) every run of the latest batch."""
    runs = db.import_run
    if all_runs:
        return list(conn.execute(sa.select(runs.c.id).where(runs.c.status.in_(APPLIED)).order_by(runs.c.id)).scalars())
    if run_id is not None:
        found = conn.execute(sa.select(runs.c.status, runs.c.file_name).where(runs.c.id == run_id)).first()
        if found is None:
            raise EhcpError(f"--run: there is no import run {run_id}")
        if found.status not in APPLIED:  # a refused file stored nothing: "0 deadlines moved" would hide that
            raise EhcpError(f"--run: import run {run_id} ({found.file_name}) {found.status.replace('_', ' ')}: "
                            "the file was refused and nothing from it was stored, so it changed nothing")
        return [run_id]
    latest = conn.execute(sa.select(runs.c.id, runs.c.batch).where(runs.c.status.in_(APPLIED))
                          .order_by(runs.c.id.desc()).limit(1)).first()
    if latest is None:
        return []
    if latest.batch is None:  # imported before batches existed (migration 0003)
        return [latest.id]
    return list(conn.execute(sa.select(runs.c.id).where(runs.c.batch == latest.batch, runs.c.status.in_(APPLIED))
                             .order_by(runs.c.id)).scalars())


def deadline_changes(engine: Engine, run_id: int | None = None, all_runs: bool = False) -> tuple[pd.DataFrame, list[int]]:
    """Deadline moves and status changes of the chosen runs (``change``: ``moved`` or ``status``)."""
    dc = db.deadline_change
    with engine.connect() as conn:
        listed = chosen_runs(conn, run_id, all_runs)
        query = (sa.select(*(dc.c[c] for c in COLUMNS if c != "change")).where(dc.c.run_id.in_(listed))
                 .order_by(dc.c.run_id, dc.c.kind, dc.c.case_id, dc.c.clock))
        rows = conn.execute(query).fetchall() if listed else []
    frame = pd.DataFrame(rows, columns=COLUMNS[:-1])
    for name in ("old_due", "new_due"):
        frame[name] = pd.to_datetime(frame[name]).astype("datetime64[s]")
    same = (frame["old_due"] == frame["new_due"]) | (frame["old_due"].isna() & frame["new_due"].isna())
    frame["change"] = pd.Series(["status" if s else "moved" for s in same], index=frame.index, dtype=object)
    return frame, listed


def field_changes(engine: Engine, run_id: int | None = None, all_runs: bool = False) -> tuple[pd.DataFrame, list[int]]:
    """Every field the chosen runs changed: case, field, old value, new value (personal values masked)."""
    log = db.change_log
    with engine.connect() as conn:
        listed = chosen_runs(conn, run_id, all_runs)
        query = (sa.select(*(log.c[c] for c in FIELD_COLUMNS)).where(log.c.run_id.in_(listed))
                 .order_by(log.c.run_id, log.c.kind, log.c.case_id, log.c.id))
        rows = conn.execute(query).fetchall() if listed else []
    frame = pd.DataFrame(rows, columns=FIELD_COLUMNS)
    if len(frame):
        personal = [(k, f) in PERSONAL for k, f in zip(frame["kind"], frame["field"])]
        frame.loc[personal, ["old_value", "new_value"]] = "(not shown: personal)"
    return frame, listed
