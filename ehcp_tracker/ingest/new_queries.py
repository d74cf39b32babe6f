"""The queries an import brings: those present after it that were not before, by code and case.

The import already reads every stored case and knows which of tonight's rows are new or changed
(``importer.differences``); only the children those rows belong to can gain or lose a finding, so
only their rows are judged, before and after, by the same entry point every listing uses
(``clocks.queries.caseload_queries``). A child's rows go together because a finding may depend on
them all (a phase transfer belongs to the child, reg 18). An unchanged re-import judges nothing.
Both sides are judged on the import's as-of date, so the difference is the data's doing alone.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..clocks.queries import QUERY_COLUMNS, caseload_queries
from ..clocks.rules import RuleBook
from ..clocks.slices import case_slices
from ..schema import KINDS, Kind
from .keys import member


def empty_cases(kind: Kind) -> pd.DataFrame:
    """No cases of ``kind``, in its canonical columns (dates as dates)."""
    return pd.DataFrame({c.name: pd.Series(dtype="datetime64[s]" if c.name in kind.date_columns else object)
                         for c in kind.columns})


def _queries(kind: Kind, cases: pd.DataFrame, book: RuleBook, as_of: dt.date) -> pd.DataFrame:
    """The queries of ``cases``, judged a slice at a time (``clocks.slices``: a child's rows are
    never split, and a query is about one child's rows), so a first import of a million cases
    never holds the working columns of all of them at once; in ``caseload_queries``' order."""
    found = []
    for part in case_slices({kind.case: cases}):
        rows = part.get(kind.case, cases.iloc[0:0])
        by_kind = {name: (rows if other is kind else empty_cases(other)) for name, other in KINDS.items()}
        found.append(caseload_queries(by_kind["assessments"], by_kind["reviews"], book, as_of))
    if len(found) == 1:
        return found[0]
    found = [f for f in found if len(f)]
    if not found:
        return pd.DataFrame(columns=QUERY_COLUMNS)
    return pd.concat(found, ignore_index=True).sort_values(["code", "case_id"], kind="stable").reset_index(drop=True)


def new_queries(kind: Kind, book: RuleBook, as_of: dt.date, existing: pd.DataFrame, incoming: pd.DataFrame,
                touched: np.ndarray, in_file: np.ndarray) -> pd.DataFrame:
    """The queries (``QUERY_COLUMNS``) the import adds.

    ``existing``: every stored case of ``kind`` (missing ones included, as the import reads them);
    ``incoming``: tonight's rows still to apply; ``touched``: the keys of the new and changed cases
    among them; ``in_file``: every key the file holds (a stored case not in it is missing after)."""
    if not len(touched):
        return pd.DataFrame(columns=QUERY_COLUMNS)
    key = kind.key
    arriving = member(incoming[key], touched)
    tonight = incoming[arriving]
    before = kept = existing.iloc[0:0]
    if len(existing):  # a first import has no children's other rows to judge with tonight's
        was_touched = member(existing[key], touched)
        persons = set(existing.loc[was_touched, "person_id"].to_numpy(dtype=object)) | set(
            tonight["person_id"].to_numpy(dtype=object))
        theirs = member(existing["person_id"], persons)
        present = existing["missing_since_run_id"].isna().to_numpy() if "missing_since_run_id" in existing \
            else np.ones(len(existing), dtype=bool)
        before = existing[theirs & present]
        kept = existing[theirs & ~was_touched & member(existing[key], in_file)]
    columns = [c.name for c in kind.columns]
    after = pd.concat([kept[columns], tonight[columns]], ignore_index=True) if len(kept) else tonight
    found_after = _queries(kind, after.reset_index(drop=True), book, as_of)
    if not len(found_after):
        return found_after
    found_before = _queries(kind, before.reset_index(drop=True), book, as_of) if len(before) else None
    if found_before is None or not len(found_before):
        return found_after
    seen = pd.MultiIndex.from_frame(found_before[["code", "case_id"]])
    fresh = ~pd.MultiIndex.from_frame(found_after[["code", "case_id"]]).isin(seen)
    return found_after[fresh].reset_index(drop=True)


def count_by_code(found: pd.DataFrame) -> dict[str, int]:
    """How many of ``found`` each code has, by code."""
    return {str(code): int(n) for code, n in found["code"].value_counts().sort_index().items()}
