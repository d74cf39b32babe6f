"""The stored clock results (``db.clock_result``): written, replaced and read back, as tables.

Evaluate once per database state, answer many: an import works out the clocks of the cases it
changed and stores them in its own transaction (``ingest.refresh``), and ``due``, ``breaches``,
``clocks``, ``backlog`` and ``alerts`` read these rows instead of running the engine over the
caseload. What a row holds is what the engine decides whatever the day (start, due, the stop dates,
exception, rule version); the status on a day is then an interval test (``engine.judge``).

The rows are only as good as the rule book and the code that made them, so ``clock_state`` keeps a
fingerprint of both (:func:`fingerprint`): the rule files' canonical content, the source of the
engine, the schema and the bank-holiday data. A command whose fingerprint differs does not trust
the rows. This module knows tables, not rules: the engine is run by ``ingest.refresh``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..schema import FLAGS, KINDS, Kind
from . import db

# Columns of a stored row, in table order (db.clock_result), and which of them are dates.
COLUMNS = [c.name for c in db.clock_result.columns]
DATE_COLUMNS = ["started", "due", "stop_event", "closure", "overtaken", "settled_from", "stable_from"]
STATE_ID = 1
# ``statutory`` is a flag in today's rule files (a text, yes / guidance / no, in the design's section
# 6): stored as text either way, and a flag read back as a flag.
_STATUTORY_TEXT = {True: "true", False: "false"}
_STATUTORY_VALUE = {"true": True, "false": False}
_PACKAGE = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=8)
def fingerprint(rule_digest: str) -> str:
    """What the stored rows depend on, as one stable digest (blake2b, never Python's ``hash``):
    the rule book's canonical content (``RuleBook.content_digest``), the engine's own source
    (``clocks/*.py``, ``schema.py`` and the code that stores the rows: a fix to the engine changes
    deadlines as surely as a rule does) and the version of the bank-holiday data working-day limits count with."""
    from importlib import metadata

    code = hashlib.blake2b(digest_size=16, person=b"ehcp-engine-v1")
    sources = [*(_PACKAGE / "clocks").glob("*.py"), _PACKAGE / "schema.py", Path(__file__),
               _PACKAGE / "ingest" / "refresh.py"]  # and how the rows are made and stored
    for path in sorted(sources):
        code.update(path.name.encode() + b"\x1f" + path.read_bytes() + b"\x1e")
    try:
        holidays = metadata.version("holidays")
    except metadata.PackageNotFoundError:  # pragma: no cover - a dependency of the package
        holidays = "none"
    return f"rules {rule_digest[:16]} engine {code.hexdigest()[:16]} holidays {holidays}"


def stored_fingerprint(conn: sa.Connection) -> str | None:
    """The fingerprint the stored rows were worked out under; None if they never were."""
    return conn.execute(sa.select(db.clock_state.c.fingerprint).where(db.clock_state.c.id == STATE_ID)).scalar()


def set_state(conn: sa.Connection, fingerprint_text: str) -> None:
    """Record that every stored row is now the work of ``fingerprint_text``."""
    count = conn.execute(sa.select(sa.func.count()).select_from(db.clock_result)).scalar_one()
    values = {"fingerprint": fingerprint_text, "evaluated_at": db.now(), "clocks": count}
    if conn.execute(db.clock_state.update().where(db.clock_state.c.id == STATE_ID).values(**values)).rowcount == 0:
        conn.execute(db.clock_state.insert().values(id=STATE_ID, **values))


def latest_settled(conn: sa.Connection) -> dt.date | None:
    """The last day on which some stored row is not yet settled (indexed: one step of a b-tree).
    Judged on this day or later, every stored row equals a fresh evaluation."""
    value = conn.execute(sa.select(sa.func.max(db.clock_result.c.settled_from))).scalar()
    return _as_date(value)


def _as_date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


def delete_kind(conn: sa.Connection, case: str) -> None:
    conn.execute(db.clock_result.delete().where(db.clock_result.c.kind == case))


def delete_cases(conn: sa.Connection, case: str, case_ids, chunk: int = 500) -> None:
    """Remove the stored rows of these cases (before their new rows are written)."""
    ids = list(dict.fromkeys(case_ids))
    for start in range(0, len(ids), chunk):
        conn.execute(db.clock_result.delete().where(db.clock_result.c.kind == case,
                                                    db.clock_result.c.case_id.in_(ids[start:start + chunk])))


def _text_dates(days: np.ndarray) -> np.ndarray:
    """``datetime64`` as ISO text (what SQLite stores and PostgreSQL's COPY reads), None for NaT;
    converted once per distinct day."""
    days = np.asarray(days).astype("datetime64[D]")
    codes, uniques = pd.factorize(days.view(np.int64))
    text = np.array([None if u == np.iinfo(np.int64).min else str(np.datetime64(int(u), "D")) for u in uniques],
                    dtype=object)
    return text[codes] if len(codes) else np.empty(0, dtype=object)


def write(conn: sa.Connection, frame: pd.DataFrame) -> None:
    """Insert the rows of ``frame`` (``COLUMNS``; dates as ``datetime64``), in big batches."""
    if not len(frame):
        return
    from .bulk import insert_columns

    columns = {}
    for name in COLUMNS:
        values = frame[name].to_numpy()
        if name in DATE_COLUMNS:
            columns[name] = _text_dates(values)
        elif name == "warning_days":
            columns[name] = values.astype(np.int64).astype(object)
        elif name == "statutory":
            columns[name] = np.array([_STATUTORY_TEXT.get(v, v) if isinstance(v, bool) else v for v in values],
                                     dtype=object)
        else:
            array = np.asarray(values, dtype=object).copy()
            array[pd.isna(array)] = None
            columns[name] = array
    insert_columns(conn, db.clock_result, columns)


def read(conn: sa.Connection, kind: Kind, where=None, *, include_missing: bool = False,
         clocks: list[str] | None = None, running_due_by: dt.date | None = None) -> pd.DataFrame:
    """The stored rows of one kind of case joined to their cases (``person_id``, ``caseworker``,
    ``team``, the cohort flags, the outcome fields and ``missing_since_run_id``), dates as
    ``datetime64[s]``. ``where``: a condition on the case table (the listing filters, indexed);
    ``clocks``: only these; ``running_due_by``: only clocks with no stop date at all that are due by
    that day (what ``due`` needs: the database picks them out, not pandas)."""
    table = db.CASE_TABLES[kind.name]
    results = db.clock_result
    outcome = [c for c in ("request_outcome", "assessment_outcome", "decision") if c in table.c]
    case_columns = ["person_id", "caseworker", "team", *FLAGS, *outcome, "missing_since_run_id"]
    conditions = [results.c.kind == kind.case]
    if clocks is not None:
        conditions.append(results.c.clock.in_(clocks))
    if running_due_by is not None:
        conditions += [results.c.stop_event.is_(None), results.c.closure.is_(None), results.c.overtaken.is_(None),
                       results.c.due <= running_due_by]
    case_conditions = [] if where is None else [where]
    if not include_missing:
        case_conditions.append(table.c.missing_since_run_id.is_(None))
    if where is not None:
        frame = _read_for_cases(conn, table, kind, case_columns, case_conditions, conditions)
    else:
        selected = [*(results.c[n] for n in COLUMNS), *(table.c[n] for n in case_columns)]
        query = (sa.select(*selected).select_from(results.join(table, table.c[kind.key] == results.c.case_id))
                 .where(*conditions, *case_conditions))
        result = conn.execute(query)
        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for name in DATE_COLUMNS:
        frame[name] = _dates(frame[name])
    frame["statutory"] = frame["statutory"].map(lambda v: _STATUTORY_VALUE.get(v, v)).astype(object)
    for name in ("request_outcome", "assessment_outcome", "decision"):
        if name not in frame:
            frame[name] = pd.Series([None] * len(frame), dtype=object)
    return frame


def _read_for_cases(conn: sa.Connection, table: sa.Table, kind: Kind, case_columns: list[str], case_conditions: list,
                    conditions: list, chunk: int = 500) -> pd.DataFrame:
    """A filtered read in two indexed steps: the matching cases by the case table's own indexes
    (caseworker, team), then their stored clocks by ``(kind, case_id)``. One joined query lets a
    planner without statistics (SQLite before ANALYZE) walk every stored clock of the kind instead."""
    result = conn.execute(sa.select(table.c[kind.key].label("case_id"), *(table.c[n] for n in case_columns))
                          .where(*case_conditions))
    cases = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    ids = cases["case_id"].tolist()
    parts = []
    for start in range(0, len(ids), chunk):
        found = conn.execute(sa.select(*(db.clock_result.c[n] for n in COLUMNS))
                             .where(*conditions, db.clock_result.c.case_id.in_(ids[start:start + chunk])))
        parts.append(pd.DataFrame(found.fetchall(), columns=list(found.keys())))
    clocks = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    return clocks.merge(cases, on="case_id", how="inner", sort=False)


def _dates(values: pd.Series) -> pd.Series:
    """Stored dates (``date`` objects, or ISO text from SQLite) as ``datetime64[s]``, once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    days = np.array([np.datetime64(_as_date(u), "D") for u in uniques], dtype="datetime64[D]")
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[D]")
    known = codes >= 0
    out[known] = days[codes[known]]
    return pd.Series(out.astype("datetime64[s]"), index=values.index)


def kinds() -> list[Kind]:
    return list(KINDS.values())
