"""Working out the stored clocks (``db.clock_result``): once per database state, not once per command.

The engine judges a clock from its start, due date and stop dates (``engine.judge``); only the
verdict depends on the day it is judged on. So the clocks are evaluated with nothing cut
(:data:`HORIZON`: no stage date is after it) and stored with their stop dates, and a listing judges
the stored rows on its own as-of date.

What does depend on the day, found by reading the engine, and how it is handled:

- ``prepare`` treats every stage date after the as-of date as not yet happened. Judged on a day
  after all of a case's stage dates this is no cut at all, so each row carries ``settled_from``: the
  latest stage date of its case (of every review row of the child, for a review: a phase transfer
  belongs to the child, and which row carries it follows from all of them). A command whose as-of
  date is before the latest ``settled_from`` evaluates in memory instead (a past ``--as-of``).
  ``stable_from`` (``history.stable_from``) is kept beside it for the clocks ``history.as_at`` can cut.
- ``judge`` compares the due date with the day: done at read time, never stored.
- Nothing else does: ``ncy`` is read with its stored ``ncy_academic_year`` (filled at import), the
  transfer years come from the rule book, planned dates (``transfer_date``) are never cut.

An import refreshes the rows of the cases it changed, in its own transaction (nothing half-written);
a rule book (or engine) whose fingerprint differs from the stored one refreshes every row.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..clocks.engine import WARNING_COLUMN, evaluate
from ..clocks.history import cuttable, stable_from
from ..clocks.rules import RuleBook
from ..schema import BY_CASE, KINDS, Kind
from ..store import clock_table, db
from ..store.caseload import slices  # how many cases at a time: store.caseload.SLICE_CASES

# The as-of date of the stored evaluation: the last date the tool accepts, so no stage date is cut.
HORIZON = dt.date(2199, 12, 31)
# Above this many cases (or this share of a kind), an import re-evaluates the whole kind: one read of
# the table is cheaper than thousands of lookups by key.
WHOLE_KIND_CASES = 50_000
WHOLE_KIND_SHARE = 0.2
_CHUNK = 500


def latest_events(cases: pd.DataFrame, kind: Kind) -> np.ndarray:
    """Each case's latest stage date that is an event (planned dates excluded), ``datetime64[D]``;
    for a review, the latest over every row of the same child."""
    names = [c.name for c in kind.columns if c.type == "date" and not c.planned and c.name in cases]
    if not names or not len(cases):
        return np.full(len(cases), np.datetime64("NaT"), dtype="datetime64[D]")
    stacked = np.vstack([cases[n].to_numpy(dtype="datetime64[D]") for n in names])
    filled = np.where(np.isnat(stacked), np.datetime64("1900-01-01", "D"), stacked)
    latest = filled.max(axis=0)
    if kind.case == "review" and "person_id" in cases:
        person = pd.Series(cases["person_id"].to_numpy(dtype=object))
        child = person.where(person.notna(), "\x00row" + pd.Series(np.arange(len(cases)).astype(str)))
        latest = pd.Series(latest).groupby(child.to_numpy()).transform("max").to_numpy(dtype="datetime64[D]")
    return np.where(latest == np.datetime64("1900-01-01", "D"), np.datetime64("NaT"), latest)


def worked_out(cases: pd.DataFrame, book: RuleBook, case: str) -> pd.DataFrame:
    """The stored rows (``clock_table.COLUMNS``) of every clock of ``cases`` (as ``db.load_cases`` reads them)."""
    kind = BY_CASE[case]
    results = evaluate(cases, book, HORIZON, case=case, stops=True)
    ids = cases[kind.key].to_numpy(dtype=object)
    settled = pd.Series(latest_events(cases, kind), index=ids)
    stable = pd.Series(stable_from(cases, case, HORIZON), index=ids)
    case_ids = results["case_id"].to_numpy(dtype=object)
    cut = results["clock"].isin(sorted(cuttable(book, case))).to_numpy()
    out = pd.DataFrame({
        "kind": case, "case_id": case_ids, "clock": results["clock"].to_numpy(dtype=object),
        "started": results["started"].to_numpy(), "due": results["due"].to_numpy(),
        "stop_event": results["stop_event"].to_numpy(), "closure": results["closure"].to_numpy(),
        "overtaken": results["overtaken"].to_numpy(), "exception": results["exception"].to_numpy(dtype=object),
        "statutory": results["statutory"].to_numpy(dtype=object),
        "rule_version": results["rule_version"].to_numpy(dtype=object),
        "reference": results["reference"].to_numpy(dtype=object),
        "transfer_type": results["transfer_type"].to_numpy(dtype=object),
        WARNING_COLUMN: results[WARNING_COLUMN].to_numpy(dtype=np.int64),
        "settled_from": settled.reindex(case_ids).to_numpy(dtype="datetime64[D]"),
        "stable_from": np.where(cut, stable.reindex(case_ids).to_numpy(dtype="datetime64[D]"), np.datetime64("NaT")),
    })
    return out[clock_table.COLUMNS]


def stored_rows(cases: pd.DataFrame, book: RuleBook, case: str) -> pd.DataFrame:
    """:func:`worked_out` for cases as ``db.load_cases`` reads them, missing ones included.

    A review row missing from the latest extract is not one of the child's rows for the rows still
    present (as the listings have always judged them: a phase transfer is placed among the present
    rows); its own clocks are worked out with every row of the child, as ``--include-missing``
    lists them. Assessments do not depend on one another: one pass."""
    if case != "review" or "missing_since_run_id" not in cases:
        return worked_out(cases, book, case)
    missing = cases["missing_since_run_id"].notna().to_numpy()
    if not missing.any():
        return worked_out(cases, book, case)
    present = worked_out(cases[~missing].reset_index(drop=True), book, case)
    every = worked_out(cases, book, case)
    gone = every["case_id"].isin(cases.loc[missing, BY_CASE[case].key].to_numpy())
    return pd.concat([present, every[gone.to_numpy()]], ignore_index=True)


def refresh_all(conn: sa.Connection, book: RuleBook) -> int:
    """Every stored clock worked out again (a new rule book, or ``ehcp evaluate``); the count."""
    clock_table.delete_all(conn)
    total, settled = 0, None
    with clock_table.indexed_after(conn):
        for kind in KINDS.values():
            count, latest = _write_kind(conn, book, kind)
            total, settled = total + count, clock_table.later(settled, latest)
    db.analyze(conn, db.clock_result)
    clock_table.set_state(conn, clock_table.fingerprint(book.content_digest), clocks=total, settled_through=settled)
    return total


def _write_kind(conn: sa.Connection, book: RuleBook, kind: Kind) -> tuple[int, int | None]:
    """Every clock of one kind worked out and written (its old rows already gone), a slice of the
    caseload at a time (:func:`slices`), so a million cases never sit in memory with their seven
    million clocks at once: (rows, latest settled)."""
    count, settled = 0, None
    for where in slices(conn, kind):
        cases = db.load_cases(conn, kind, where)
        if len(cases):
            rows = stored_rows(cases, book, kind.case)
            count, settled = count + len(rows), clock_table.later(settled, clock_table.write(conn, rows))
    return count, settled


def persons_of(conn: sa.Connection, kind: Kind, case_ids) -> set:
    """The stored children (``person_id``) of these review rows: read before an import rewrites
    them, since a row moved to another child leaves its old child's phase transfer to redo."""
    if kind.case != "review":
        return set()
    table, ids, found = db.CASE_TABLES[kind.name], list(case_ids), set()
    for start in range(0, len(ids), _CHUNK):
        found |= set(conn.execute(sa.select(table.c.person_id).where(
            table.c[kind.key].in_(ids[start:start + _CHUNK]))).scalars())
    return found - {None}


def refresh_cases(conn: sa.Connection, book: RuleBook, kind: Kind, case_ids, persons=()) -> str:
    """After an import wrote ``case_ids`` (new and changed cases): their stored clocks worked out
    again, and for reviews every row of their children (``persons``: the children before and after).
    The whole book when the stored rows were made under another fingerprint. Returns what was done."""
    wanted = clock_table.fingerprint(book.content_digest)
    if clock_table.stored_fingerprint(conn) != wanted:
        count = refresh_all(conn, book)
        return f"every clock worked out under this rule book ({count:,} clocks)"
    ids = list(dict.fromkeys(case_ids))
    if not ids:
        return "no clock to work out again"
    table = db.CASE_TABLES[kind.name]
    stored = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    if _whole_kind(len(ids), stored):  # a first import: the children only add to it (and their lookup,
        return _refresh_whole_kind(conn, book, kind, wanted)  # by thousands of IN lists, is the slow part)
    if kind.case == "review":
        children = set(persons) | persons_of(conn, kind, ids)
        children = sorted(children)
        for start in range(0, len(children), _CHUNK):
            ids += conn.execute(sa.select(table.c[kind.key]).where(
                table.c.person_id.in_(children[start:start + _CHUNK]))).scalars().all()
        ids = list(dict.fromkeys(ids))
    if _whole_kind(len(ids), stored):
        return _refresh_whole_kind(conn, book, kind, wanted)
    before, settled = clock_table.state(conn)
    gone = clock_table.delete_cases(conn, kind.case, ids)
    parts = [db.load_cases(conn, kind, table.c[kind.key].in_(ids[start:start + _CHUNK]))
             for start in range(0, len(ids), _CHUNK)]
    cases = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
    rows = stored_rows(cases, book, kind.case) if cases is not None else pd.DataFrame(columns=clock_table.COLUMNS)
    count, latest = len(rows), clock_table.write(conn, rows)
    # the latest settled day only grows here (a deleted row's day may stay: cautious, never too trusting)
    clock_table.set_state(conn, wanted, clocks=before - gone + count, settled_through=clock_table.later(settled, latest))
    return f"{count:,} clocks of {len(ids):,} {kind.name} worked out again"


def _whole_kind(cases: int, stored: int) -> bool:
    return cases > WHOLE_KIND_CASES or cases > WHOLE_KIND_SHARE * stored


def _refresh_whole_kind(conn: sa.Connection, book: RuleBook, kind: Kind, wanted: str) -> str:
    before, settled = clock_table.state(conn)
    gone = clock_table.delete_kind(conn, kind.case)
    count, latest = _write_kind(conn, book, kind)
    db.analyze(conn, db.clock_result)
    clock_table.set_state(conn, wanted, clocks=before - gone + count, settled_through=clock_table.later(settled, latest))
    return f"{count:,} clocks of every one of the {kind.name} worked out again"


def refresh_everything(engine, book: RuleBook, *, wait: float | None = None, on_wait=None) -> int:
    """``ehcp evaluate``: every clock worked out again and stored, in one write transaction."""
    with db.write_transaction(engine, wait, on_wait) as conn:
        return refresh_all(conn, book)


def refresh_if_stale(engine, book: RuleBook) -> str | None:
    """``ehcp init``: store the clocks when they are missing or were made under another fingerprint."""
    wanted = clock_table.fingerprint(book.content_digest)
    with engine.connect() as conn:
        if clock_table.stored_fingerprint(conn) == wanted:
            return None
    with db.write_transaction(engine) as conn:
        if clock_table.stored_fingerprint(conn) == wanted:
            return None
        return f"{refresh_all(conn, book):,} clocks worked out under this rule book"
