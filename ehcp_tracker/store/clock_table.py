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

import contextlib
import datetime as dt
import functools
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..schema import FLAGS, KINDS, Kind
from . import db

# A stored row as the refresh hands it over and ``read`` gives it back (``ingest.refresh.worked_out``),
# in this order; and which of them are dates. In the table the dates are day numbers and the rule's
# shared columns are one ``clock_rule`` row (``RULE_COLUMNS``; see db.clock_result).
COLUMNS = ["kind", "case_id", "clock", "started", "due", "stop_event", "closure", "overtaken", "exception",
           "statutory", "rule_version", "reference", "transfer_type", "warning_days", "settled_from", "stable_from"]
DATE_COLUMNS = ["started", "due", "stop_event", "closure", "overtaken", "settled_from", "stable_from"]
RULE_COLUMNS = ["kind", "clock", "statutory", "rule_version", "reference", "warning_days"]
ROW_COLUMNS = ["exception", "transfer_type"]
STATE_ID = 1
# ``statutory`` is a flag in today's rule files (a text, yes / guidance / no, in the design's section
# 6): stored as text either way, and a flag read back as a flag.
_STATUTORY_TEXT = {True: "true", False: "false"}
_STATUTORY_VALUE = {"true": True, "false": False}
_PACKAGE = Path(__file__).resolve().parents[1]
_NAT = np.iinfo(np.int64).min  # numpy's NaT as an int64 day number


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


def set_state(conn: sa.Connection, fingerprint_text: str, *, clocks: int, settled_through: int | None) -> None:
    """Record that every stored row is now the work of ``fingerprint_text``: ``clocks`` rows, none
    settled later than the day number ``settled_through``."""
    values = {"fingerprint": fingerprint_text, "evaluated_at": db.now(), "clocks": int(clocks),
              "settled_through": None if settled_through is None else int(settled_through)}
    if conn.execute(db.clock_state.update().where(db.clock_state.c.id == STATE_ID).values(**values)).rowcount == 0:
        conn.execute(db.clock_state.insert().values(id=STATE_ID, **values))


def state(conn: sa.Connection) -> tuple[int, int | None]:
    """(how many rows are stored, the day number none of them is settled after), as last recorded."""
    found = conn.execute(sa.select(db.clock_state.c.clocks, db.clock_state.c.settled_through)
                         .where(db.clock_state.c.id == STATE_ID)).first()
    return (0, None) if found is None else (int(found[0]), found[1])


def latest_settled(conn: sa.Connection) -> dt.date | None:
    """The last day on which some stored row may not yet be settled (kept in ``clock_state`` by the
    writers: never earlier than the true latest, so never too trusting). Judged on this day or later,
    every stored row equals a fresh evaluation."""
    _, day = state(conn)
    return None if day is None else dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def later(*days: int | None) -> int | None:
    """The latest of some day numbers (None for none)."""
    known = [int(d) for d in days if d is not None]
    return max(known) if known else None


def delete_all(conn: sa.Connection) -> None:
    """Every stored row gone, before every clock is worked out again: SQLite's DELETE without a
    WHERE (its truncate path) and PostgreSQL's TRUNCATE (instant; readers wait for the commit)
    instead of millions of row deletions and index updates."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("TRUNCATE clock_result"))
    else:
        conn.execute(db.clock_result.delete())


@contextlib.contextmanager
def indexed_after(conn: sa.Connection):
    """Write every row first, then build the index once (sorting 7 million keys is quicker than
    keeping a b-tree in order through 7 million inserts); in the same transaction, so a reader
    never sees the table without it."""
    for index in db.clock_result.indexes:
        index.drop(conn)
    yield
    for index in db.clock_result.indexes:
        index.create(conn)


def delete_kind(conn: sa.Connection, case: str) -> int:
    return conn.execute(db.clock_result.delete().where(db.clock_result.c.kind == db.KIND_CODES[case])).rowcount


def delete_cases(conn: sa.Connection, case: str, case_ids, chunk: int = 500) -> int:
    """Remove the stored rows of these cases (before their new rows are written); how many went."""
    ids, gone = list(dict.fromkeys(case_ids)), 0
    for start in range(0, len(ids), chunk):
        gone += conn.execute(db.clock_result.delete().where(
            db.clock_result.c.kind == db.KIND_CODES[case],
            db.clock_result.c.case_id.in_(ids[start:start + chunk]))).rowcount
    return gone


def _day_numbers(values) -> np.ndarray:
    """``datetime64`` as day numbers for the driver: Python ints, None for NaT."""
    days = np.asarray(values).astype("datetime64[D]").view(np.int64)
    out = days.astype(object)
    out[days == _NAT] = None
    return out


def _rule_key(name: str, value):
    if value is None or value is pd.NA or isinstance(value, float) and np.isnan(value):
        return None
    if name == "warning_days":
        return int(value)
    if name == "statutory" and isinstance(value, (bool, np.bool_)):
        return _STATUTORY_TEXT[bool(value)]
    return str(value)


def _rule_ids(conn: sa.Connection, frame: pd.DataFrame) -> np.ndarray:
    """Each row's ``clock_rule`` id: the rows of the same clock, basis, rule version, reference and
    warning days share one (a few dozen in all); a combination not yet stored is added."""
    codes = np.zeros(len(frame), dtype=np.int64)
    for name in RULE_COLUMNS:
        found, uniques = pd.factorize(frame[name].to_numpy(dtype=object), use_na_sentinel=False)
        codes = codes * (len(uniques) + 1) + found
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    table = db.clock_rule
    known = {tuple(row[1:]): row[0] for row in conn.execute(sa.select(table.c.id, *(table.c[n] for n in RULE_COLUMNS)))}
    next_id = max(known.values(), default=0) + 1
    ids = np.empty(len(first), dtype=np.int64)
    for at, row in enumerate(first):
        key = tuple(_rule_key(n, frame[n].iat[row]) for n in RULE_COLUMNS)
        if key not in known:
            conn.execute(table.insert().values(id=next_id, **dict(zip(RULE_COLUMNS, key))))
            known[key], next_id = next_id, next_id + 1
        ids[at] = known[key]
    return ids[inverse.ravel()]


def write(conn: sa.Connection, frame: pd.DataFrame) -> int | None:
    """Insert the rows of ``frame`` (``COLUMNS``; dates as ``datetime64``), in big batches; returns
    the latest ``settled_from`` written (a day number, None if none)."""
    if not len(frame):
        return None
    from .bulk import insert_columns

    case = frame["kind"].iat[0]
    columns = {"kind": db.KIND_CODES[case], "case_id": frame["case_id"].to_numpy(dtype=object),
               "rule": _rule_ids(conn, frame).astype(object)}
    for name in DATE_COLUMNS:
        columns[name] = _day_numbers(frame[name].to_numpy())
    for name in ROW_COLUMNS:
        array = np.asarray(frame[name].to_numpy(), dtype=object).copy()
        array[pd.isna(array)] = None
        columns[name] = array
    insert_columns(conn, db.clock_result, {n: columns[n] for n in (c.name for c in db.clock_result.columns)})
    settled = frame["settled_from"].to_numpy().astype("datetime64[D]")
    settled = settled[~np.isnat(settled)]
    return int(settled.max().astype(np.int64)) if len(settled) else None


def _rules(conn: sa.Connection, case: str) -> pd.DataFrame:
    """The ``clock_rule`` rows of one kind, indexed by id."""
    table = db.clock_rule
    found = _tuples(conn.execute(sa.select(table.c.id, *(table.c[n] for n in RULE_COLUMNS)).where(table.c.kind == case)))
    ids = pd.Index([row[0] for row in found], dtype=np.int64, name="id")
    return pd.DataFrame([row[1:] for row in found], columns=RULE_COLUMNS, index=ids, dtype=object)


def read(conn: sa.Connection, kind: Kind, where=None, *, include_missing: bool = False,
         clocks: list[str] | None = None, running_due_by: dt.date | None = None) -> pd.DataFrame:
    """The stored rows of one kind of case (``COLUMNS``) joined to their cases (``person_id``,
    ``caseworker``, ``team``, the cohort flags, the outcome fields and ``missing_since_run_id``),
    dates as ``datetime64[s]``. ``where``: a condition on the case table (the listing filters,
    indexed); ``clocks``: only these; ``running_due_by``: only clocks with no stop date at all that
    are due by that day (what ``due`` needs: the database picks them out, not pandas)."""
    table = db.CASE_TABLES[kind.name]
    results = db.clock_result
    rules = _rules(conn, kind.case)
    outcome = [c for c in ("request_outcome", "assessment_outcome", "decision") if c in table.c]
    case_columns = ["person_id", "caseworker", "team", *FLAGS, *outcome, "missing_since_run_id"]
    stored = ["case_id", "rule", *DATE_COLUMNS, *ROW_COLUMNS]
    conditions = [results.c.kind == db.KIND_CODES[kind.case]]
    if clocks is not None:
        conditions.append(results.c.rule.in_([int(i) for i in rules.index[rules["clock"].isin(clocks)]]))
    if running_due_by is not None:
        due_by = (running_due_by - dt.date(1970, 1, 1)).days
        conditions += [results.c.stop_event.is_(None), results.c.closure.is_(None), results.c.overtaken.is_(None),
                       results.c.due <= due_by]
    case_conditions = [] if where is None else [where]
    if not include_missing:
        case_conditions.append(table.c.missing_since_run_id.is_(None))
    if where is not None:
        frame = _read_for_cases(conn, table, kind, stored, case_columns, case_conditions, conditions)
    else:
        selected = [*(results.c[n] for n in stored), *(table.c[n] for n in case_columns)]
        query = (sa.select(*selected).select_from(results.join(table, table.c[kind.key] == results.c.case_id))
                 .where(*conditions, *case_conditions))
        result = conn.execute(query)
        frame = pd.DataFrame(_tuples(result), columns=list(result.keys()), dtype=object)
    # assembled as one frame of object columns (a column set into a frame one by one is inferred as
    # pandas' string type, and converted back again by ``listings.judged``)
    columns = {name: frame[name] for name in frame.columns}
    for name in DATE_COLUMNS:
        columns[name] = _dates(frame[name])
    shared = rules.reindex(pd.to_numeric(frame["rule"]).to_numpy())
    for name in RULE_COLUMNS:
        columns[name] = _objects(shared[name].to_numpy(dtype=object) if len(frame) else [], frame.index)
    columns["kind"] = _objects([kind.case] * len(frame), frame.index)
    columns["warning_days"] = columns["warning_days"].astype(np.int64)
    columns["statutory"] = columns["statutory"].map(lambda v: _STATUTORY_VALUE.get(v, v)).astype(object)
    for name in ("request_outcome", "assessment_outcome", "decision"):
        if name not in columns:
            columns[name] = _objects([None] * len(frame), frame.index)
    order = [*COLUMNS, *(c for c in columns if c not in COLUMNS and c != "rule")]
    return pd.DataFrame({name: columns[name] for name in order}, index=frame.index)


def _objects(values, index) -> pd.Series:
    return pd.Series(values, index=index, dtype=object)


def _read_for_cases(conn: sa.Connection, table: sa.Table, kind: Kind, stored: list[str], case_columns: list[str],
                    case_conditions: list, conditions: list, chunk: int = 500) -> pd.DataFrame:
    """A filtered read in two indexed steps: the matching cases by the case table's own indexes
    (caseworker, team), then their stored clocks by ``(kind, case_id)``. One joined query lets a
    planner without statistics (SQLite before ANALYZE) walk every stored clock of the kind instead."""
    result = conn.execute(sa.select(table.c[kind.key].label("case_id"), *(table.c[n] for n in case_columns))
                          .where(*case_conditions))
    cases = pd.DataFrame(_tuples(result), columns=list(result.keys()), dtype=object)
    ids = cases["case_id"].tolist()
    parts = []
    for start in range(0, len(ids), chunk):
        found = conn.execute(sa.select(*(db.clock_result.c[n] for n in stored))
                             .where(*conditions, db.clock_result.c.case_id.in_(ids[start:start + chunk])))
        parts.append(pd.DataFrame(_tuples(found), columns=list(found.keys()), dtype=object))
    clocks = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=stored, dtype=object)
    return clocks.merge(cases, on="case_id", how="inner", sort=False)


def _tuples(result) -> list[tuple]:
    """A result's rows as plain tuples: pandas probes each SQLAlchemy ``Row`` for attributes when it
    builds a frame from them (a failed key lookup per probe), which took 4 of the 7.5 s of a team
    of 25,000 cases' stored clocks; from tuples it is a fraction of that. The frames are made as
    object columns (``dtype=object``): inferring pandas' string type for every text column, then
    converting it back (``listings.judged`` gives the engine's object columns), was most of a short
    list's set-up."""
    return [tuple(row) for row in result.fetchall()]


def _dates(values: pd.Series) -> pd.Series:
    """Stored day numbers (None for none) as ``datetime64[s]``."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    days = np.full(len(numbers), _NAT, dtype=np.int64)
    known = ~np.isnan(numbers)
    days[known] = numbers[known].astype(np.int64)
    return pd.Series(days.view("datetime64[D]").astype("datetime64[s]"), index=values.index)


def kinds() -> list[Kind]:
    return list(KINDS.values())
