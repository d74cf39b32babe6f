"""What an import changed: the deadlines it moved, as stored by the importer (``deadline_change``)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import EhcpError
from . import db

COLUMNS = ["run_id", "kind", "case_id", "clock", "old_due", "new_due", "old_status", "new_status", "why"]


def deadline_changes(engine: Engine, run_id: int | None = None, all_runs: bool = False) -> tuple[pd.DataFrame, list[int]]:
    """Deadline moves of one import run (default: the latest), or of every run; and the runs listed."""
    dc, runs = db.deadline_change, db.import_run
    with engine.connect() as conn:
        if all_runs:
            chosen = None
        elif run_id is None:
            chosen = conn.execute(sa.select(sa.func.max(runs.c.id)).where(
                runs.c.status.in_(("imported", "partial")))).scalar()
            if chosen is None:
                return pd.DataFrame({c: [] for c in COLUMNS}), []
        else:
            status = conn.execute(sa.select(runs.c.status).where(runs.c.id == run_id)).scalar()
            if status is None:
                raise EhcpError(f"--run: there is no import run {run_id}")
            chosen = run_id
        query = sa.select(*(dc.c[c] for c in COLUMNS)).order_by(dc.c.run_id, dc.c.kind, dc.c.case_id, dc.c.clock)
        if chosen is not None:
            query = query.where(dc.c.run_id == chosen)
        result = conn.execute(query)
        frame = pd.DataFrame(result.fetchall(), columns=COLUMNS)
        listed = [chosen] if chosen is not None else conn.execute(
            sa.select(runs.c.id).where(runs.c.status.in_(("imported", "partial"))).order_by(runs.c.id)).scalars().all()
    for name in ("old_due", "new_due"):
        frame[name] = pd.to_datetime(frame[name]).astype("datetime64[s]")
    return frame, list(listed)
