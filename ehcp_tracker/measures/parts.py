"""The caseload read from the database a slice at a time, for the KPIs and the board pack (issue 27).

Read whole, a million assessments are about 775 MB of object columns before a clock is judged,
and the KPIs, the pack and their month-end snapshots sat on top of that: 4 to 6 GB at national
scale. Every figure they give is a sum over cases (a count, a case per caseworker, a running clock,
a query), so the caseload can be read, judged and counted one slice at a time and let go: the
memory is the slice's. A slice is one kind of case, cut by ``store.caseload.slices`` (which keeps
every review row of a child together, as the engine's phase transfers need), with the same filters
and the same ``missing_since`` as :func:`measures.kpi.load_caseload`, so each part is what
``clocks.slices.case_slices`` would have cut from the whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import EhcpError
from ..listings import Filters, filter_condition, resolve_filters
from ..schema import COHORTS, KINDS
from ..store import db
from ..store.caseload import slices


def check_cohort(filters: Filters) -> None:
    if filters.cohort and filters.cohort not in COHORTS:
        raise EhcpError(f"--cohort: {filters.cohort!r} is not one of {', '.join(COHORTS)}")


def with_missing_since(cases: pd.DataFrame, left: dict, include_missing: bool) -> pd.DataFrame:
    """``cases`` with ``missing_since``: the as-of date of the import that first missed each case
    (``left``: import run id -> as-of date); blank for every case when they count as present."""
    since = cases["missing_since_run_id"] if not include_missing else pd.Series(dtype=object)
    cases["missing_since"] = pd.to_datetime(since.map(left), errors="coerce") if len(since) else pd.NaT
    return cases


def caseload_parts(engine: Engine, filters: Filters = Filters(), size: int | None = None
                   ) -> Iterator[dict[str, pd.DataFrame]]:
    """The cases matching ``filters``, one slice of one kind at a time (``{case: cases}``, about
    ``size`` cases, default ``store.caseload.SLICE_CASES``), missing ones included with their
    ``missing_since`` as :func:`measures.kpi.load_caseload` reads them; empty slices are skipped.
    One connection for the whole read: every slice is of the same database state."""
    check_cohort(filters)
    with engine.connect() as conn:
        filters = resolve_filters(conn, filters)
        left = dict(conn.execute(sa.select(db.import_run.c.id, db.import_run.c.as_of)).all())
        for name in [filters.kind] if filters.kind else list(KINDS):
            kind = KINDS[name]
            chosen = filter_condition(db.table_for(name), replace(filters, include_missing=True))
            for where in slices(conn, kind, size):
                condition = sa.and_(*(c for c in (where, chosen) if c is not None)) \
                    if where is not None or chosen is not None else None
                cases = db.load_cases(conn, kind, condition, include_missing=True)
                if not len(cases):
                    continue
                yield {kind.case: with_missing_since(cases, left, filters.include_missing)}
