"""What an import reads of the stored cases: every key, and whole rows only where they are compared.

A re-import of a million cases used to read every stored case whole (the caseload, 38 columns, a
gigabyte at national scale) to compare it with tonight's rows, although the row digests settle
nearly all of them unread. Here the import reads one narrow packed column set for every stored
case (key, digest, presence, child) and the whole rows of just the cases it must compare field by
field, work out deadlines for, or judge queries on: memory follows the change, not the caseload.

The guards answer from the same narrow read (the shrink check needs the keys and presence) or from
the database itself (a stored column's count of values, for the absent-column check).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..schema import Kind
from ..store import db
from .keys import member
from .refresh import _CHUNK, _whole_kind  # the refresh's own rule for reading rows by key or whole



class StoredCases:
    """The stored cases of one kind, as one import sees them (one connection, one snapshot)."""

    def __init__(self, conn: sa.Connection, kind: Kind):
        self.conn, self.kind = conn, kind
        self.table = db.CASE_TABLES[kind.name]
        stored = db.stored_digests(conn, kind)  # one narrow packed read of every stored case
        self.keys = pd.Index(stored["key"].to_numpy(dtype=object), dtype=object)
        self.digests = pd.Series(stored["row_digest"].to_numpy(dtype=object), index=self.keys, dtype=object)
        self.missing = pd.Series(stored["missing_since_run_id"].to_numpy(dtype=object), index=self.keys, dtype=object)
        self.persons = pd.Series(stored["person_id"].to_numpy(dtype=object), index=self.keys, dtype=object)

    def __len__(self) -> int:
        return len(self.keys)

    def presence(self) -> pd.DataFrame:
        """Key and ``missing_since_run_id`` of every stored case (what the shrink check reads)."""
        return pd.DataFrame({self.kind.key: self.keys.to_numpy(), "missing_since_run_id": self.missing.to_numpy()})

    def held(self, column: str) -> int:
        """How many stored cases hold a value in ``column``."""
        return int(self.conn.execute(sa.select(sa.func.count(self.table.c[column]))).scalar_one())

    def everything(self) -> pd.DataFrame:
        return db.load_cases(self.conn, self.kind)

    def rows(self, keys) -> pd.DataFrame:
        """The stored rows of ``keys`` (as ``db.load_cases`` reads them, in stored order)."""
        keys = [k for k in pd.unique(np.asarray(keys, dtype=object)) if k is not None]
        if not keys:  # none to compare (an unchanged re-import): no stored row is read
            return db.load_cases(self.conn, self.kind, sa.false())
        if _whole_kind(len(keys), len(self)):  # one read of the table beats thousands of lookups by key
            every = db.load_cases(self.conn, self.kind)
            return every[member(every[self.kind.key], keys)].reset_index(drop=True)
        column = self.table.c[self.kind.key]
        parts = [db.load_cases(self.conn, self.kind, column.in_(keys[start:start + _CHUNK]))
                 for start in range(0, len(keys), _CHUNK)]
        found = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        # in the order a whole read gives (the table's), as the import has always compared them
        order = np.argsort(self.keys.get_indexer(found[self.kind.key].to_numpy(dtype=object)), kind="stable")
        return found.iloc[order].reset_index(drop=True)

    def keys_of_children(self, persons) -> np.ndarray:
        """The stored keys of every row of these children (``person_id``)."""
        return self.keys[member(self.persons, persons)].to_numpy()
