"""A caseload cut into parts that the engine can judge one at a time, with the same clocks.

A million cases evaluated at once are seven million clock results, and a year of month-end
snapshots of them twenty million more: gigabytes. Counted a part at a time (``measures.kpi``), the
memory is the part's. A part must be whole for the engine: an assessment stands alone, so the
assessments are cut anywhere; a review's phase transfer belongs to its child (``engine.phase_transfers``
groups the rows by ``person_id``, the rows with none as one child), so every row of a child is in
one part. The stored clocks are worked out in slices of the same kind (``store.caseload.slices``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

# cases in a part: about 700,000 clock results, a few hundred MB with their month-end snapshots
SLICE_CASES = 100_000


def case_slices(caseload: dict[str, pd.DataFrame], size: int | None = None) -> Iterator[dict[str, pd.DataFrame]]:
    """The parts of ``caseload`` (cases by kind of case), each a caseload of one kind of about
    ``size`` cases (default ``SLICE_CASES``; a child's rows are never split); the caseload itself,
    unchanged, when no kind holds more than ``size`` cases."""
    size = SLICE_CASES if size is None else size
    if size < 1:
        raise ValueError(f"a slice holds at least one case, not {size}")
    if all(len(cases) <= size for cases in caseload.values()):
        yield caseload
        return
    for case, cases in caseload.items():
        if not len(cases):
            continue
        for rows in _parts(cases, case, size):
            yield {case: cases.iloc[rows]}


def _parts(cases: pd.DataFrame, case: str, size: int) -> list[np.ndarray]:
    """Row positions of each part, in the caseload's own order within a part."""
    if len(cases) <= size:
        return [np.arange(len(cases))]
    if case != "review":
        return [np.arange(start, min(start + size, len(cases))) for start in range(0, len(cases), size)]
    # as engine.phase_transfers names a child: a blank person_id is the child ""
    person = pd.Series(cases["person_id"].to_numpy(dtype=object), dtype=object).fillna("").astype(str)
    child, _ = pd.factorize(person, sort=False)
    rows_of_child = np.bincount(child)
    first_row = np.concatenate(([0], np.cumsum(rows_of_child)[:-1]))  # in the order children first appear
    part_of_row = (first_row // size)[child]
    order = np.argsort(part_of_row, kind="stable")
    bounds = np.cumsum(np.bincount(part_of_row))[:-1]
    return [rows for rows in np.split(order, bounds) if len(rows)]
