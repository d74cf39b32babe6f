"""``ehcp export``: the analysts' views (``store.analyst_views``) written to Parquet or CSV.

For Power BI and Excel Power Query, which read a Parquet file with its column types (dates as
dates, counts as whole numbers), or a CSV. The rows are the views' rows: every stored clock (or
case), cases missing from the latest extract included (``in_latest_extract`` says so). The views
judge on the database's today; the export judges on the command's as-of date (``--as-of``, default
today in London) with ``clocks.engine.judge``, as every listing does, so ``status`` here equals
``ehcp clocks --as-of``. The stored clocks must be current (``listings.stored_ok``): a stale or
never-stored set is refused, naming the command that refreshes it, rather than exported.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..clocks.engine import judge
from ..clocks.rules import RuleBook
from ..errors import EhcpError
from ..files import atomic_open
from ..listings import stored_ok
from ..output import to_csv
from ..store import analyst_views as views

WHAT = {"clocks": views.CLOCKS_VIEW, "cases": views.CASES_VIEW}
FORMATS = ("parquet", "csv")
PARQUET_EXTRA = "pip install 'ehcp-tracker[parquet]'"
_COLUMNS = {"clocks": views.CLOCK_COLUMNS, "cases": views.CASE_COLUMNS}
_ORDER = {"clocks": ["kind", "case_id", "clock"], "cases": ["kind", "case_id"]}


CHUNK_ROWS = 100_000  # rows read, judged and written at a time: memory stays flat at national scale
# what the cases' counts on another day are worked out from (not every column of every clock)
_JUDGED = ["kind", "case_id", "due", "stop_event", "case_closed", "overtaken", "warning_days"]


def _typed(rows: list[tuple], columns) -> pd.DataFrame:
    """Rows of a view as a frame: dates as ``datetime64[s]``, counts as integers, the rest text."""
    frame = pd.DataFrame(rows, columns=[c.name for c in columns])
    for column in columns:
        if column.type == "date":  # a date (PostgreSQL) or ISO text (SQLite): ISO text either way, parsed once
            text = frame[column.name].astype(object).where(frame[column.name].notna(), None).astype("string")
            frame[column.name] = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").astype("datetime64[s]")
        elif column.type == "whole number":
            frame[column.name] = pd.to_numeric(frame[column.name]).astype("Int64")
        else:
            frame[column.name] = frame[column.name].astype(object).where(frame[column.name].notna(), None)
    return frame


def view_chunks(engine: Engine, what: str, names: list[str] | None = None, chunk: int | None = None):
    """One view's rows in order (kind, case, clock), ``chunk`` rows at a time, typed (:func:`_typed`);
    ``names``: only these columns. Always at least one frame (empty when the view is)."""
    chunk = chunk or CHUNK_ROWS
    columns = [c for c in _COLUMNS[what] if names is None or c.name in names]
    query = (f"SELECT {', '.join(c.name for c in columns)} FROM {WHAT[what]} "
             f"ORDER BY {', '.join(_ORDER[what])}")
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(sa.text(query))
        empty = True
        while rows := result.fetchmany(chunk):
            empty = False
            yield _typed([tuple(r) for r in rows], columns)
        if empty:
            yield _typed([], columns)


def read_view(engine: Engine, what: str, names: list[str] | None = None) -> pd.DataFrame:
    """Every row of one view (``names``: only these columns), typed."""
    return pd.concat(list(view_chunks(engine, what, names)), ignore_index=True)


def _days(frame: pd.DataFrame, name: str) -> np.ndarray:
    return frame[name].to_numpy(dtype="datetime64[D]")


def judged_on(clocks: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The clocks view's rows with ``status``, ``days_overdue`` and ``status_on`` for ``as_of``
    (``engine.judge``, the listings' own verdict, from the view's due and stop dates)."""
    out = clocks.copy()
    if not len(out):
        return out
    today = np.datetime64(as_of, "D")
    warning = out["warning_days"].to_numpy(dtype=np.int64)
    status = np.empty(len(out), dtype=object)
    overdue = np.zeros(len(out), dtype=np.int64)
    for days in np.unique(warning):
        at = warning == days
        _, status[at], overdue[at], _ = judge(_days(out, "due")[at], _days(out, "stop_event")[at],
                                              _days(out, "case_closed")[at], today, int(days),
                                              _days(out, "overtaken")[at])
    out["status"], out["days_overdue"] = status, pd.array(overdue, dtype="Int64")
    out["status_on"] = pd.Timestamp(as_of).as_unit("s")
    return out


def _case_counts(cases: pd.DataFrame, clocks: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The cases view's counts that depend on the day, worked out again from the clocks judged on
    ``as_of`` (the view's counts are for the database's today)."""
    judged = judged_on(clocks, as_of)
    grouped = judged.assign(overdue=judged["status"].eq("overdue"), late=judged["status"].eq("late")).groupby(
        ["kind", "case_id"], sort=False).agg(clocks_overdue=("overdue", "sum"), clocks_late=("late", "sum"),
                                             most_days_overdue=("days_overdue", "max"))
    out = cases.drop(columns=["clocks_overdue", "clocks_late", "most_days_overdue"]).merge(
        grouped, left_on=["kind", "case_id"], right_index=True, how="left")
    for name in ("clocks_overdue", "clocks_late", "most_days_overdue"):
        out[name] = out[name].fillna(0).astype("Int64")
    out["status_on"] = out["status_on"].where(out["clocks"].eq(0), pd.Timestamp(as_of).as_unit("s"))
    return out[cases.columns]


def export_chunks(engine: Engine, book: RuleBook, as_of: dt.date, what: str):
    """One view's rows judged on ``as_of``, a chunk at a time; refused (before anything is read)
    when the stored clocks are not current."""
    if what not in WHAT:
        raise EhcpError(f"--what: {what!r} is not one of {', '.join(WHAT)}")
    with engine.connect() as conn:
        why = stored_ok(conn, book, as_of)
    if why is not None:
        raise EhcpError(f"cannot export the stored {what}: {why}; nothing was written")
    if what == "clocks":
        return (judged_on(part, as_of) for part in view_chunks(engine, "clocks"))
    with engine.connect() as conn:
        today = views.database_today(conn)
    if today == as_of:  # the view's counts are for this very day
        return view_chunks(engine, "cases")
    # another day: the counts again from the clocks judged on it (a case's clocks are few columns)
    return iter([_case_counts(read_view(engine, "cases"), read_view(engine, "clocks", _JUDGED), as_of)])


def export_frame(engine: Engine, book: RuleBook, as_of: dt.date, what: str) -> pd.DataFrame:
    """One view's rows judged on ``as_of``, whole (for tests and small caseloads)."""
    return pd.concat(list(export_chunks(engine, book, as_of, what)), ignore_index=True)


def _require_pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise EhcpError(f"--format parquet needs pyarrow, which is not installed: {PARQUET_EXTRA} "
                        "(or use --format csv)") from None
    return pa, pq


def _arrow_schema(pa, what: str):
    """The Parquet columns from the dictionary: dates as ``date32``, counts as ``int64``, text as strings."""
    types = {"date": pa.date32(), "whole number": pa.int64(), "text": pa.string()}
    return pa.schema([pa.field(c.name, types[c.type]) for c in _COLUMNS[what]])


def write_parquet(chunks, path: Path, what: str) -> int:
    """A Parquet file, one row group per chunk; how many rows."""
    pa, pq = _require_pyarrow()
    schema, rows = _arrow_schema(pa, what), 0
    with atomic_open(path, "wb", encoding=None) as handle, pq.ParquetWriter(handle, schema) as writer:
        for frame in chunks:
            arrays = []
            for field in schema:
                column = frame[field.name]
                values = column.dt.date if column.dtype.kind == "M" else column
                arrays.append(pa.array(values.astype(object).where(column.notna(), None), type=field.type))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            rows += len(frame)
    return rows


def write_csv(chunks, path: Path) -> int:
    """A CSV with ISO dates, every text cell made formula-safe (``output.to_csv``); how many rows."""
    rows, first = 0, True
    with atomic_open(path, "w", newline="") as handle:
        for frame in chunks:
            out = frame.copy()
            for name in out.columns:
                if str(out[name].dtype) == "Int64":  # whole numbers stay whole ("12", never "12.0")
                    out[name] = out[name].astype(object).where(out[name].notna(), None)
            text = to_csv(out)
            handle.write(text if first else text.split("\n", 1)[1])  # the header once
            rows, first = rows + len(frame), False
    return rows


def export(engine: Engine, book: RuleBook, as_of: dt.date, what: str, fmt: str, path: Path) -> int:
    """Write one view to ``path`` in ``fmt`` (replaced whole, or not at all); how many rows. pyarrow
    is checked before anything is read."""
    if fmt not in FORMATS:
        raise EhcpError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        _require_pyarrow()
    chunks = export_chunks(engine, book, as_of, what)
    return write_parquet(chunks, path, what) if fmt == "parquet" else write_csv(chunks, path)
