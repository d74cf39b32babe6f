"""Every caseload section of the board pack from one read of the caseload, a slice at a time (issue 27).

The pack used to read the whole caseload once and share it across its sections: at a million
assessments that is 775 MB of cases held under every section's own results, 5.9 GB at the peak.
Every section is a sum over cases (KPIs are counts, running clocks and queries are rows), so each
slice (``measures.parts.caseload_parts``) is handed to every section in turn and let go: the KPI
trends and the tracker count it (``measures.kpi.KpiRun``), the running clocks and the queries keep
their few rows of it. The caseload is still read once, so the pack is no slower for it; the memory
is a slice's. What comes out is what the sections gave over the whole caseload, byte for byte
(``tests/test_pack_slices.py``).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy.engine import Engine

from ..clocks.engine import OPEN_STATUSES
from ..clocks.rules import RuleBook
from ..listings import Filters, clock_results, queries
from ..schema import KINDS


@dataclass
class Sections:
    """What one pass gives: the KPI frame of the trend months, the tracker's KPIs, the Python
    warnings each KPI run raised (in the order first raised), the running clocks (None: not read
    in the pass, see :func:`one_pass`) and the queries."""
    trend: pd.DataFrame
    tracker_kpis: pd.DataFrame
    trend_warnings: list = field(default_factory=list)
    tracker_warnings: list = field(default_factory=list)
    running: pd.DataFrame | None = None
    found: pd.DataFrame | None = None


def one_pass(engine: Engine, book: RuleBook, as_of: dt.date, filters: Filters, trend_run, tracker_run, parts
             ) -> Sections:
    """Hand each part of the caseload (``parts``: dicts of one kind of case, as
    ``caseload_parts`` yields them) to the two KPI runs, the running clocks and the queries."""
    # a kind absent from a part is handed over as no cases (the canonical columns, no rows), never read
    empty = {kind.case: pd.DataFrame(columns=[*(c.name for c in kind.columns), "missing_since_run_id"])
             for kind in KINDS.values()}
    # a team's (caseworker's, cohort's) listing reads its stored clocks by index, whatever cases it is
    # handed (listings.clock_results): read once after the pass, not once a part
    narrow = bool(filters.caseworker or filters.team or filters.cohort)
    caught_trend, caught_tracker, running, found = [], [], [], []
    for part in parts:
        for run, caught in ((trend_run, caught_trend), (tracker_run, caught_tracker)):
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                run.add(part)
            caught += seen
        whole = {case: part.get(case, cases) for case, cases in empty.items()}
        if not narrow:
            results = clock_results(engine, book, as_of, filters, caseload=whole)
            running.append(results[results["status"].isin(OPEN_STATUSES)])
            del results
        found.append(queries(engine, book, as_of, filters, caseload=whole))
    return Sections(trend_run.table(), tracker_run.table(), caught_trend, caught_tracker,
                    _running(running) if running else None, _found(found) if found else None)


def _running(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The running clocks of every part in ``clock_results``' order (``report.data.running_clocks``)."""
    kept = [f for f in frames if len(f)] or frames[:1]  # an empty part's columns may be typed otherwise
    results = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
    return results.sort_values(["due", "case_id", "clock"], kind="stable").reset_index(drop=True)


def _found(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The queries of every part, by code and case as ``caseload_queries`` orders them."""
    kept = [f for f in frames if len(f)] or frames[:1]
    found = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
    return found.sort_values(["code", "case_id"], kind="stable").reset_index(drop=True)
