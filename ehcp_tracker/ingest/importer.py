"""The nightly import: validate an extract, then apply it in one transaction with a full audit trail.

Guarantees (design.md section 3): all or nothing per file unless ``skip_bad_rows``; re-importing the
same file changes nothing; a case missing from tonight's extract is kept and marked, never deleted;
every changed field is logged with its old and new value and the import run.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..clocks.engine import evaluate
from ..clocks.rules import RuleBook
from ..errors import EhcpError, ImportRejected, Problem
from ..files import atomic_open
from ..output import counted, neutralise
from ..schema import KINDS, Kind
from ..store import db
from ..store.bulk import COPY_BATCH_ROWS, indexed_after, insert_columns
from .extract import Profile, RawExtract, read_extract
from .refresh import persons_of, refresh_cases
from .stored import StoredCases
from .guards import DEFAULT_MAX_MISSING, absent_columns, check_shrink, keep_stored, mass_changes
from . import row_digest
from .keys import member
from .row_digest import DIGEST_PERSON  # noqa: F401 - the digests' version, named where they are made
from .new_queries import count_by_code, new_queries
from .validate import validate

# progress(stage, done, total): the CLI draws a bar from it; the library never prints.
Progress = Callable[[str, int, int], None]

NEW_CASE = "(new case)"
PRESENCE = "(in extract)"


@dataclass
class ImportSummary:
    run_id: int | None
    file: str
    kind: str
    rows_read: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    missing: int = 0
    rejected: int = 0
    fields_changed: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # information (the profile used, absent columns kept)
    mass_changes: list[str] = field(default_factory=list)  # said even under --quiet
    deadline_changes: list[dict] = field(default_factory=list)  # clocks whose due date moved
    status_changes: list[dict] = field(default_factory=list)  # clocks whose due stayed but status changed
    new_queries: int = 0  # queries present after the import that were not before (by code and case)
    new_queries_by_code: dict[str, int] = field(default_factory=dict)
    rejects_file: str | None = None
    skipped_rows: dict = field(default_factory=dict)  # {"title": [rows], "footer": [rows]}: not cases, left out
    status: str = "imported"
    batch: str | None = None

    def describe(self) -> str:
        text = (f"{self.file}: {self.kind}, {counted(self.rows_read, 'row')}: {self.new} new, {self.changed} changed, "
                f"{self.unchanged} unchanged, {self.missing} missing from the extract (kept)")
        if self.rejected:
            text += f", {counted(self.rejected, 'row')} rejected"
            if self.rejects_file:
                text += f" (see {self.rejects_file})"
        if self.skipped_rows:
            text += f", {counted(len(self.skipped_rows['title']) + len(self.skipped_rows['footer']), 'row')} " \
                    "skipped (title lines, totals: not cases)"
        if self.deadline_changes:
            text += f"; {counted(len(self.deadline_changes), 'deadline')} moved"
        if self.status_changes:
            text += f"; {counted(len(self.status_changes), 'clock')} changed status"
        return text + (f" [import run {self.run_id}]" if self.run_id else "")

    def as_dict(self) -> dict:
        lists = ("problems", "warnings", "notes", "mass_changes", "deadline_changes", "status_changes")
        return {k: v for k, v in self.__dict__.items() if k not in lists} | {
            "problems": [p.__dict__ for p in self.problems], "warnings": self.warnings, "notes": self.notes,
            "mass_changes": self.mass_changes, "deadlines_moved": self.deadline_changes,
            "statuses_changed": self.status_changes}


def comparable(frame: pd.DataFrame, kind: Kind) -> pd.DataFrame:
    """Every canonical column as text ('' for blank): the form stored values and the change log compare in.

    Dates, flags and numbers are turned into text once per distinct value (a few thousand in a
    million rows), then spread back to the rows."""
    out = {}
    for col in kind.columns:
        values = frame[col.name]
        if col.type == "date":
            out[col.name] = _per_value(values.to_numpy(dtype="datetime64[D]").view(np.int64), _iso_or_blank)
        elif col.type == "flag":
            out[col.name] = _per_value(values.to_numpy(dtype=object), lambda v: {True: "yes", False: "no"}.get(v, ""))
        elif col.type == "int":
            out[col.name] = _per_value(pd.array(values, dtype="Int64").to_numpy(dtype=object, na_value=None),
                                       lambda v: "" if pd.isna(v) else str(int(v)))
        else:
            out[col.name] = values.fillna("").to_numpy(dtype=object)
    return pd.DataFrame({name: pd.Series(v, index=frame.index, dtype=object) for name, v in out.items()},
                        index=frame.index)


_NAT = np.datetime64("NaT", "D").view(np.int64)


def row_digests(text: pd.DataFrame, kind: Kind) -> np.ndarray:
    """A stable digest of each canonical row (``row_digest.py``: blake2b of each distinct cell with
    its column's name, summed per row), from the rows as :func:`comparable` writes them."""
    return row_digest.digests_of_text(text, kind)


def _iso_or_blank(day: int) -> str:
    return "" if day == _NAT else str(np.datetime64(int(day), "D"))


def _per_value(values: np.ndarray, convert) -> np.ndarray:
    """``convert`` applied once per distinct value, as an object array over every row."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    converted = np.empty(len(uniques), dtype=object)
    converted[:] = [convert(u) for u in uniques]
    return converted[codes]


def _db_rows(frame: pd.DataFrame, kind: Kind) -> list[dict]:
    """Typed rows for the database (Python dates, bools, ints, None for blank)."""
    columns = {}
    for col in kind.columns:
        values = frame[col.name]
        if col.type == "date":
            days = values.to_numpy(dtype="datetime64[D]")
            columns[col.name] = [None if np.isnat(d) else d.item() for d in days]
        elif col.type == "int":
            columns[col.name] = [None if pd.isna(v) else int(v) for v in values]
        else:
            columns[col.name] = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in values]
    names = list(columns)
    return [dict(zip(names, row)) for row in zip(*columns.values())]


def db_columns(frame: pd.DataFrame, kind: Kind) -> dict[str, np.ndarray]:
    """The columns of ``_db_rows`` as object arrays, built once per distinct value: dates as ISO
    text (what SQLite stores for a date, and what PostgreSQL's COPY reads), None for blank."""
    columns = {}
    for col in kind.columns:
        values = frame[col.name]
        if col.type == "date":
            columns[col.name] = _per_value(values.to_numpy(dtype="datetime64[D]").view(np.int64),
                                           lambda d: None if d == _NAT else str(np.datetime64(int(d), "D")))
        elif col.type == "int":
            columns[col.name] = _per_value(pd.array(values, dtype="Int64").to_numpy(dtype=object, na_value=None),
                                           lambda v: None if pd.isna(v) else int(v))
        else:
            array = values.to_numpy(dtype=object, copy=True)
            array[pd.isna(array)] = None
            columns[col.name] = array
    return columns


class ChangeLog:
    """Change-log rows gathered column by column (a million new cases are a million rows)."""

    def __init__(self, run_id: int, kind: str):
        self.run_id, self.kind = run_id, kind
        self.parts: list[tuple] = []

    def add(self, case_ids: np.ndarray, field, old, new) -> None:
        if len(case_ids):
            self.parts.append((case_ids, field, old, new))

    def __len__(self) -> int:
        return sum(len(p[0]) for p in self.parts)

    def columns(self) -> dict[str, np.ndarray]:
        def spread(i):
            return np.concatenate([np.asarray(p[i], dtype=object) if np.ndim(p[i])
                                   else np.full(len(p[0]), p[i], dtype=object) for p in self.parts])
        n = len(self)
        return {"run_id": np.full(n, self.run_id, dtype=object), "kind": np.full(n, self.kind, dtype=object),
                "case_id": spread(0), "field": spread(1), "old_value": spread(2), "new_value": spread(3)}


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _test_only_pause(conn: sa.Connection) -> None:
    """A hook for the crash-safety test only: never set these variables in production.

    With ``EHCP_TEST_ONLY_PAUSE_FILE`` set, the import writes that file and sleeps
    ``EHCP_TEST_ONLY_PAUSE_SECONDS`` (default 60) with everything applied but not committed, so the
    test can kill the process at exactly that point and check the database is as it was before.
    """
    marker = os.environ.get("EHCP_TEST_ONLY_PAUSE_FILE")
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
        time.sleep(float(os.environ.get("EHCP_TEST_ONLY_PAUSE_SECONDS", "60")))


def write_rejects(path: Path, raw_cells: pd.DataFrame, row_numbers: pd.Series, problems: list[Problem]) -> None:
    """Every bad row with its row number, column and reason, then the row's own cells."""
    by_row: dict[int, list[Problem]] = {}
    for p in problems:
        if p.row is not None:
            by_row.setdefault(p.row, []).append(p)
    position = {int(n): i for i, n in enumerate(row_numbers)}
    # the rejects file holds the rows' own cells (personal data): a new file readable by its owner
    # only, even when one exists already (atomic_open: temporary file, rename, never via a symlink)
    with atomic_open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "column", "reason", "message", *raw_cells.columns])
        for row, row_problems in sorted(by_row.items()):
            cells = [neutralise(str(v)) for v in raw_cells.iloc[position[row]].tolist()]
            for p in row_problems:
                writer.writerow([row, p.column or "", p.code, p.message, *cells])


def rejects_path_for(extract: Path, given: Path | None, several: bool) -> Path:
    """Where a file's rejected rows go: FILE.rejects.csv beside it, or ``--rejects``; with several
    files and one ``--rejects`` path, each file gets its own (PATH-stem.FILE-stem.csv), so the second
    file's rejects never overwrite the first's."""
    extract = Path(extract)
    if given is None:
        return extract.with_name(extract.stem + ".rejects.csv")
    given = Path(given)
    return given.with_name(f"{given.stem}.{extract.stem}{given.suffix or '.csv'}") if several else given


REASON_GROUPS = 12  # a refusal reason names this many groups of problems, then counts the rest


def refusal_reason(problems: list[Problem]) -> str:
    """Why a file was refused, as ``import_run`` keeps it for the Imports page: how many problems
    in how many rows, then each column and kind of problem with its count, in the order their
    first rows come. Only column names, problem codes and counts: never a cell's value nor a
    message (which may quote an ID), so the stored reason holds no personal data."""
    rows = len({p.row for p in problems if p.row is not None})
    head = f"{counted(len(problems), 'problem')}" + (f" in {counted(rows, 'row')}" if rows else "")
    groups: dict[tuple, list[Problem]] = {}
    for problem in problems:
        groups.setdefault((problem.column, problem.code), []).append(problem)
    parts = []
    for (column, code), members in sorted(groups.items(), key=lambda g: min((p.row or 0) for p in g[1])):
        what = code.replace("_", " ")
        where = f"column {column}, {what}" if column else what
        with_rows = len({p.row for p in members if p.row is not None})
        parts.append(f"{where}: {counted(with_rows, 'row')}" if with_rows else where)
    if len(parts) > REASON_GROUPS:
        parts = parts[:REASON_GROUPS] + [f"and {counted(len(parts) - REASON_GROUPS, 'more group')}"]
    return f"{head}; nothing was imported from this file: " + "; ".join(parts)


def new_batch() -> str:
    """An id shared by every file of one import command (``ehcp changes`` reports them together)."""
    import uuid

    return uuid.uuid4().hex[:16]


def import_file(engine: Engine, path: Path | str, book: RuleBook, as_of: dt.date, *, kind: str | None = None,
                profile: Profile | None = None, la: str | None = None, **options) -> list[ImportSummary]:
    """One file: an extract holds one kind; an SEN2 return (.xml, sen2/) holds requests and plans,
    which are both validated before either is written (a return refused is refused whole). ``la``:
    the LA code a pre-submission workbook (which has no header) is keyed with."""
    from ..sen2.importing import KINDS_IN_A_RETURN, is_return, mapped_return, raw_extract  # the SEN2 hook

    path = Path(path)
    if not is_return(path):
        return [import_extract(engine, path, book, as_of, kind=kind, profile=profile, **options)]
    if profile is not None:
        raise EhcpError(f"{path.name}: an SEN2 return needs no --profile (its items are DfE's)")
    from ..sen2.keys import SECRET_NAME

    file, mapped = mapped_return(path, lambda: db.secret(engine, SECRET_NAME), la=la)
    raws = [raw_extract(file, mapped, k) for k in ([kind] if kind else KINDS_IN_A_RETURN)]
    raws = [raw for raw in raws if len(raw.cells)]
    if not raws:
        raise EhcpError(f"{file}: the return holds no request in the period and no active plan; nothing to import")
    problems = [p for raw in raws for p in validate(raw, book, as_of).problems]
    if problems:  # a return is stored whole or not at all: --skip-bad-rows does not split it
        raise ImportRejected(file, problems)
    return [import_extract(engine, path, book, as_of, kind=raw.kind, raw=raw, **options) for raw in raws]


def import_extract(engine: Engine, path: Path | str, book: RuleBook, as_of: dt.date, *, kind: str | None = None,
                   profile: Profile | None = None, skip_bad_rows: bool = False,
                   rejects_path: Path | None = None, progress: Progress | None = None,
                   max_missing: float = DEFAULT_MAX_MISSING, keep_absent=(), batch: str | None = None,
                   wait: float | None = None, on_wait: Callable[[float], None] | None = None,
                   raw: RawExtract | None = None) -> ImportSummary:
    """Import one extract. The guards (``guards.py``) run before anything is written: a stored column
    absent from the file (unless in ``keep_absent``) or more than ``max_missing`` % of the present
    cases missing refuses the file. A rejected row (``skip_bad_rows``) is not a missing case: it keeps
    its stored values and its presence. ``wait``/``on_wait``: see ``db.write_transaction``. ``raw``:
    the file already read (an SEN2 return's rows of one kind, ``import_file``)."""
    path = Path(path)
    step = progress or (lambda stage, done, total: None)
    step("reading", 0, 1)
    raw = raw if raw is not None else read_extract(path, kind, profile)
    profile = raw.profile or profile
    kind_def = KINDS[raw.kind]
    step("validating", 0, len(raw.cells))
    checked = validate(raw, book, as_of)
    summary = ImportSummary(None, raw.file, raw.kind, rows_read=len(raw.cells), warnings=list(raw.warnings),
                            notes=list(raw.notes), problems=checked.problems, rejected=int(checked.bad_rows.sum()),
                            batch=batch, skipped_rows=raw.skipped.as_dict() if raw.skipped else {})
    digest = file_digest(path)
    run_values = dict(kind=raw.kind, file_name=raw.file, file_sha256=digest, as_of=as_of,
                      profile=profile.name if profile else None, rule_book=book.fingerprint,
                      rows_read=summary.rows_read, rows_rejected=summary.rejected, batch=batch)
    if checked.problems and not skip_bad_rows:
        with db.write_transaction(engine, wait, on_wait) as conn:
            conn.execute(db.import_run.insert().values(started_at=db.now(), finished_at=db.now(),
                                                       status="rejected", refusal_reason=refusal_reason(checked.problems),
                                                       **run_values))
        raise ImportRejected(raw.file, checked.problems)
    incoming = checked.good
    # every case the file holds, rejected rows included: a rejected row is not a missing case
    in_file = checked.frame[kind_def.key].dropna().to_numpy()
    table = db.table_for(raw.kind)
    # Outside the write lock: read what is stored, run the guards, compare, and work out the
    # deadlines that move (the engine over every changed case: the slow part of a large change), so
    # an import behind this one waits only for the writing. The latest import run witnesses what was
    # read; if another import committed since, the plan is made again under the lock. The lock comes
    # before the run id, so run ids follow the order imports are applied in and each import
    # compares against everything committed before it.
    step("comparing", 0, len(incoming))

    def plan(conn: sa.Connection) -> Plan:
        stored = StoredCases(conn, kind_def)  # every key; whole rows only of the cases compared (stored.py)
        kept = absent_columns(raw, kind_def, stored.held, keep_absent)  # refuses the file: nothing written yet
        check_shrink(raw.file, stored.presence(), in_file, kind_def.key, max_missing)
        cases = keep_stored(incoming, stored.everything(), kind_def.key, kept) if kept else incoming
        # unchanged rows are settled by their digest: neither compared field by field nor rewritten
        cases, compared, text, digests, settled = _by_digest(kind_def, cases, stored, in_file)
        found = differences(kind_def, text.set_index(kind_def.key, drop=False), compared, in_file,
                            keys=cases[kind_def.key])
        touched = np.concatenate([found.keys[found.is_new].to_numpy(dtype=object),
                                  found.case_ids[found.changed_mask]])
        return Plan(kept, cases, digests, stored.digests, settled, found,
                    deadline_changes(kind_def, book, as_of, compared, cases, found.notes),
                    new_queries(kind_def, book, as_of, _children_rows(stored, compared, cases, touched), cases,
                                touched, in_file))

    with engine.connect() as conn:  # the witness first: a commit between the reads only makes it stale
        read_at = _latest_run(conn)
        planned = plan(conn)
    with db.write_transaction(engine, wait, on_wait) as conn:
        if _latest_run(conn) != read_at:
            planned = plan(conn)
        if planned.kept:
            summary.notes.append(f"{raw.file}: not in the file, stored values kept (--keep-absent): "
                                 f"{', '.join(planned.kept)}")
        if checked.problems:
            rejects_path = rejects_path or rejects_path_for(path, None, False)
            write_rejects(rejects_path, raw.cells, raw.row_numbers, checked.problems)
            summary.rejects_file = str(rejects_path)
            summary.status = "partial"
        run_id = conn.execute(db.import_run.insert().values(
            started_at=db.now(), status="importing", **run_values)).inserted_primary_key[0]
        summary.run_id = run_id
        found = planned.found
        rewritten = [*found.keys[found.is_new], *found.case_ids[found.changed_mask]]
        if kind_def.case == "review":  # a review leaving the extract leaves its child's other rows to redo
            rewritten += list(found.newly_missing)
        children = persons_of(conn, kind_def, rewritten)  # the children before the rows are rewritten
        _apply(conn, table, kind_def, planned.cases, planned.found, run_id, summary, step,
               digests=planned.digests, stored_digest=planned.stored_digest)
        # tonight's rows, their text and the stored rows compared go before the clocks are worked out
        # (a slice of the caseload at a time): only the keys written and the plan's findings are kept
        found = planned.found = planned.cases = planned.digests = planned.stored_digest = None
        raw = checked = incoming = None
        if len(rewritten) > ANALYZE_AFTER:
            db.analyze(conn, table)
        # the stored clocks of the cases just written, in the same transaction: never half-written
        step("clocks", 0, 1)
        refresh_cases(conn, book, kind_def, rewritten, children)
        summary.unchanged += planned.settled
        changes = planned.changes
        summary.deadline_changes = [c for c in changes if c["old_due"] != c["new_due"]]
        summary.status_changes = [c for c in changes if c["old_due"] == c["new_due"]]
        summary.new_queries = len(planned.queries)
        summary.new_queries_by_code = count_by_code(planned.queries)
        if changes:
            conn.execute(db.deadline_change.insert(), [
                {"run_id": run_id, "kind": kind_def.name} | change for change in changes])
        _test_only_pause(conn)
        conn.execute(db.import_run.update().where(db.import_run.c.id == run_id).values(
            finished_at=db.now(), status=summary.status, cases_new=summary.new, cases_changed=summary.changed,
            cases_unchanged=summary.unchanged, cases_missing=summary.missing,
            deadlines_moved=len(summary.deadline_changes), new_queries=summary.new_queries))
    step("done", 1, 1)
    return summary


# A first import of at least this many cases writes them before it builds the case table's indexes.
INDEX_AFTER_ROWS = 10_000
# After writing this many cases, the planner's statistics are refreshed before the clocks are read back.
ANALYZE_AFTER = 10_000


def _latest_run(conn: sa.Connection) -> int | None:
    return conn.execute(sa.select(sa.func.max(db.import_run.c.id))).scalar()


@dataclass
class Plan:
    """What an import will write, worked out from the stored cases it read."""

    kept: list[str]  # stored columns absent from the file, kept (--keep-absent)
    cases: pd.DataFrame  # tonight's rows left to compare (the rest settled by digest)
    digests: np.ndarray
    stored_digest: pd.Series
    settled: int  # rows settled by digest: unchanged
    found: Differences
    changes: list[dict]  # deadline and status changes
    queries: pd.DataFrame  # the queries the import adds (new_queries.py)


def deadline_changes(kind: Kind, book: RuleBook, as_of: dt.date, existing: pd.DataFrame, incoming: pd.DataFrame,
                     changed: dict[str, list[str]]) -> list[dict]:
    """The deadlines the changed cases' new stage dates move, and the clocks whose status they change
    (met -> overdue when a stop date is cleared): each clock's due date and status before and after.

    Both sides are judged by the engine as of the import's as-of date, so the difference is the
    data's doing alone. ``changed`` maps each changed case to its "field old -> new" notes; a move
    is explained by the notes for the clock's own fields when there are any, else by all of them.
    """
    if not changed:
        return []
    key = kind.key
    ids = list(changed)
    before_cases = existing[member(existing[key], ids)].reset_index(drop=True)
    after_cases = incoming[member(incoming[key], ids)].reset_index(drop=True)
    columns = ["case_id", "clock", "due", "status"]
    before = evaluate(before_cases, book, as_of, case=kind.case)[columns] if len(before_cases) else None
    after = evaluate(after_cases, book, as_of, case=kind.case)[columns]
    if before is None:
        return []
    both = before.merge(after, on=["case_id", "clock"], how="outer", suffixes=("_old", "_new"))
    old_due, new_due = both["due_old"], both["due_new"]
    same_due = (old_due == new_due) | (old_due.isna() & new_due.isna())
    same_status = (both["status_old"] == both["status_new"]) | (both["status_old"].isna() & both["status_new"].isna())
    moved = both[~(same_due & same_status)]
    clocks = {c.id: c for c in book.clocks}
    out = []
    for row in moved.sort_values(["case_id", "clock"]).itertuples(index=False):
        notes = changed[row.case_id]
        clock = clocks.get(row.clock)
        own = set()
        if clock is not None:
            own = {clock.start, clock.stop, *clock.applies_when, *clock.applies_unless, *clock.stop_when,
                   *clock.closed_by, *([clock.exception_field] if clock.exception_field else [])}
        relevant = [text for name, text in notes if name in own] or [text for _, text in notes]
        out.append({"case_id": row.case_id, "clock": row.clock,
                    "old_due": None if pd.isna(row.due_old) else row.due_old.date(),
                    "new_due": None if pd.isna(row.due_new) else row.due_new.date(),
                    "old_status": None if pd.isna(row.status_old) else row.status_old,
                    "new_status": None if pd.isna(row.status_new) else row.status_new,
                    "why": "; ".join(relevant)[:1000]})
    return out


def _by_digest(kind: Kind, incoming: pd.DataFrame, stored: StoredCases, in_file: np.ndarray):
    """Set aside tonight's rows whose digest equals the stored one (unchanged, and present last
    time): they are neither compared field by field nor rewritten. Returns the rest of ``incoming``,
    the stored rows to compare them with (those cases, and the stored cases nowhere in the file),
    the canonical text of the rest that have a stored row, the rest's digests, and how many were
    set aside. Only the compared cases are read whole (``stored.rows``)."""
    key = kind.key
    digests = digests_of(incoming, kind)
    keys = incoming[key].to_numpy(dtype=object)
    known = stored.digests.reindex(keys).to_numpy(dtype=object)
    settled = (known == digests) & stored.missing.reindex(keys).isna().to_numpy()
    if settled.any():
        keep = ~settled
        incoming, digests = incoming[keep].reset_index(drop=True), digests[keep]
    # compared: the rest's stored rows, and the cases nowhere in the file (kept, marked missing)
    wanted = member(stored.keys, incoming[key]) | ~member(stored.keys, in_file)
    existing = stored.rows(stored.keys[wanted])
    with_stored = member(incoming[key], existing[key])
    text = comparable(incoming[with_stored] if not with_stored.all() else incoming, kind)
    return incoming, existing, text.reset_index(drop=True), digests, int(settled.sum())


# Rows digested at a time (bounds the working arrays of the digest).
DIGEST_BATCH_ROWS = 1_000_000


def digests_of(frame: pd.DataFrame, kind: Kind, batch: int | None = None) -> np.ndarray:
    """:func:`row_digests` of every row of ``frame``, from its typed columns (no canonical text is
    written), a batch of rows at a time."""
    batch = batch or DIGEST_BATCH_ROWS
    if len(frame) <= batch:
        return row_digest.digests_of(frame, kind)
    return np.concatenate([row_digest.digests_of(frame.iloc[start:start + batch], kind)
                           for start in range(0, len(frame), batch)])


def _children_rows(stored: StoredCases, compared: pd.DataFrame, incoming: pd.DataFrame,
                   touched: np.ndarray) -> pd.DataFrame:
    """The stored rows ``new_queries`` judges with tonight's: every row of the children whose rows
    are new or changed (a finding may depend on all of a child's rows), read only for them."""
    if not len(stored) or not len(touched):
        return compared.iloc[0:0]
    key = stored.kind.key
    persons = set(incoming.loc[member(incoming[key], touched), "person_id"].to_numpy(dtype=object))
    persons |= set(stored.persons.reindex(touched).dropna().to_numpy(dtype=object))
    wanted = stored.keys_of_children(persons)
    if member(wanted, compared[key]).all():
        return compared[member(compared[key], wanted)].reset_index(drop=True)
    return stored.rows(wanted)


@dataclass
class Differences:
    """Tonight's rows against the stored ones, before anything is written: who is new, changed,
    missing, which fields differ, and each changed case's notes, (field, "field old -> new").

    A stored case is missing only when its key is nowhere in the file: ``in_file`` holds the keys
    of the rejected rows too, whose cases keep their stored values and presence."""

    new_text: pd.DataFrame
    old_text: pd.DataFrame
    is_new: np.ndarray
    common: pd.Index
    gone: pd.Index
    newly_missing: pd.Index
    before: np.ndarray
    after: np.ndarray
    differs: np.ndarray
    back: np.ndarray
    changed_mask: np.ndarray
    names: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    case_ids: np.ndarray
    notes: dict[str, list[tuple[str, str]]]
    keys: pd.Index  # every key of tonight's rows still to apply, in their order (``is_new`` is per key)

    def parts(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self))


def differences(kind: Kind, new_text: pd.DataFrame, existing: pd.DataFrame, in_file: np.ndarray,
                keys=None) -> Differences:
    """``new_text``: ``comparable(incoming)`` indexed by key, at least for every row with a stored
    one (a new case's text is never compared); ``existing``: the stored rows to compare; ``keys``:
    every incoming key, in order (default: ``new_text``'s)."""
    key = kind.key
    old_text = comparable(existing, kind).set_index(key, drop=False)
    was_missing = pd.Series(existing["missing_since_run_id"].notna().to_numpy(), index=old_text.index)

    keys = new_text.index if keys is None else pd.Index(np.asarray(keys, dtype=object), dtype=object)
    is_new = ~member(keys, old_text.index)
    common = keys[~is_new]
    gone = old_text.index[~member(old_text.index, in_file)]
    newly_missing = gone[~was_missing.loc[gone].to_numpy()]

    # fields that differ, case by case (vectorised over each column)
    before, after = old_text.loc[common].to_numpy(), new_text.loc[common].to_numpy()
    differs = before != after
    back = was_missing.loc[common].to_numpy()
    changed_mask = differs.any(axis=1) | back
    names = np.array(new_text.columns, dtype=object)
    rows, cols = np.nonzero(differs)
    case_ids = common.to_numpy()
    notes: dict[str, list[tuple[str, str]]] = {}
    for r, c in zip(rows, cols):  # only the cells that changed
        old, new = before[r, c], after[r, c]
        # personal values (a date of birth) are named, never shown
        shown = "changed" if kind.column(names[c]).personal else f"changed {old or '(blank)'} -> {new or '(blank)'}"
        notes.setdefault(case_ids[r], []).append((names[c], f"{names[c]} {shown}"))
    for case_id in case_ids[back]:
        notes.setdefault(case_id, []).append((PRESENCE, "back in the extract"))
    return Differences(new_text, old_text, is_new, common, gone, newly_missing, before, after, differs, back,
                       changed_mask, names, rows, cols, case_ids, notes, keys)


def _apply(conn, table: sa.Table, kind: Kind, incoming: pd.DataFrame, found: Differences, run_id: int,
           summary: ImportSummary, step: Progress, *,
           digests: np.ndarray | None = None, stored_digest: pd.Series | None = None) -> dict[str, list[tuple[str, str]]]:
    """Write the differences ``found``; return each changed case's notes, (field, "field old -> new").

    ``digests``: each incoming row's digest (stored with new and changed rows, and refreshed on
    unchanged rows whose stored digest, ``stored_digest`` by key, differs or is missing)."""
    key = kind.key
    (new_text, old_text, is_new, common, gone, newly_missing, before, after, differs, back, changed_mask, names,
     rows, cols, case_ids, notes, keys) = found.parts()
    log = ChangeLog(run_id, kind.name)
    log.add(case_ids[rows], names[cols], before[rows, cols], after[rows, cols])
    log.add(case_ids[back], PRESENCE, "no", "yes")
    log.add(keys[is_new].to_numpy(), NEW_CASE, "", "created")
    log.add(newly_missing.to_numpy(), PRESENCE, "yes", "no")

    new_cases = incoming[is_new] if not is_new.all() else incoming  # the extract's order
    digest_of = pd.Series(digests if digests is not None else None, index=keys, dtype=object)
    new_digests = digest_of.to_numpy()[is_new] if digests is not None else None
    changed_ids = case_ids[changed_mask]
    updates = _db_rows(incoming[member(incoming[key], changed_ids)].set_index(key, drop=False).loc[changed_ids], kind)
    for row in updates:
        row["b_key"] = row[key]
        row.update(last_run_id=run_id, missing_since_run_id=None, row_digest=digest_of[row[key]])
    refresh = []
    if digests is not None:
        same = case_ids[~changed_mask]
        before_digest = (stored_digest.reindex(same) if stored_digest is not None
                         else pd.Series(None, index=same, dtype=object)).to_numpy(dtype=object)
        now_digest = digest_of.loc[same].to_numpy(dtype=object)
        refresh = [{"b_key": k, "row_digest": d} for k, d, b in zip(same, now_digest, before_digest) if d != b]

    total = int(is_new.sum()) + len(updates) + len(newly_missing) + len(log)
    step("writing", 0, total)
    if is_new.any():
        first = stored_digest is not None and len(stored_digest) == 0  # nothing stored yet: a first import
        with indexed_after(conn, table) if first and is_new.sum() >= INDEX_AFTER_ROWS else contextlib.nullcontext():
            for start in range(0, len(new_cases), COPY_BATCH_ROWS):  # a batch's database values at a time
                inserts = db_columns(new_cases.iloc[start:start + COPY_BATCH_ROWS], kind)
                inserts.update(first_run_id=run_id, last_run_id=run_id, missing_since_run_id=None)
                if new_digests is not None:
                    inserts["row_digest"] = new_digests[start:start + COPY_BATCH_ROWS]
                insert_columns(conn, table, inserts)
    if updates:
        statement = table.update().where(table.c[key] == sa.bindparam("b_key")).values(
            {c.name: sa.bindparam(c.name) for c in kind.columns if c.name != key}
            | {"last_run_id": sa.bindparam("last_run_id"), "missing_since_run_id": sa.bindparam("missing_since_run_id"),
               "row_digest": sa.bindparam("row_digest")})
        conn.execute(statement, updates)
    if refresh:  # unchanged, but stored before digests (or under another canonical form): no change logged
        statement = table.update().where(table.c[key] == sa.bindparam("b_key")).values(
            row_digest=sa.bindparam("row_digest"))
        conn.execute(statement, refresh)
    if len(newly_missing):
        statement = table.update().where(table.c[key] == sa.bindparam("b_key")).values(missing_since_run_id=run_id)
        conn.execute(statement, [{"b_key": k} for k in newly_missing])
    if len(log):
        insert_columns(conn, db.change_log, log.columns())
    step("writing", total, total)

    summary.new = int(is_new.sum())
    summary.changed = int(changed_mask.sum())
    summary.unchanged = int(len(common) - changed_mask.sum())
    summary.missing = int(len(gone))
    summary.fields_changed = int(differs.sum())
    # the share is of every stored case, not of those the digests left to compare
    stored_total = len(old_text) if stored_digest is None else len(stored_digest)
    summary.mass_changes = mass_changes(summary.file, names, differs, after, stored_total)
    return notes

