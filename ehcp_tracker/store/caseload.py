"""Reading a caseload out of the database fast: a million cases in seconds, not minutes.

Fetching a million rows of thirty-odd columns through a DB-API cursor builds a Python object for
every cell, and that (not the database) is what takes the time. So the database packs the whole
result into one string (``group_concat`` on SQLite, ``string_agg`` on PostgreSQL, every cell
separated by U+001F), pyarrow splits it in C++, and each column is then converted once per
distinct value (a million cases hold a few thousand distinct dates and a handful of codes).

The result is the frame :func:`db.load_cases` has always returned, dtype for dtype. Anything the
packing cannot carry faithfully (a separator inside a value, another database, no pyarrow) takes
the plain path, which is the original row-by-row read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..schema import Kind
from . import db

FIELD = "\x1f"  # the unit separator: a value holding one is caught by the cell count


def read_cases(conn: sa.Connection, table: sa.Table, kind: Kind, conditions: list) -> pd.DataFrame:
    """Cases of one kind as a DataFrame of canonical columns plus ``missing_since_run_id``."""
    if conn.dialect.name in ("sqlite", "postgresql"):
        frame = _read_packed(conn, table, kind, conditions)
        if frame is not None:
            return frame
    return read_plain(conn, table, kind, conditions)


def read_plain(conn: sa.Connection, table: sa.Table, kind: Kind, conditions: list) -> pd.DataFrame:
    """Row by row through SQLAlchemy: any database, any value (the reference for the packed path)."""
    columns = []
    for col in kind.columns:
        c = table.c[col.name]
        columns.append(sa.cast(c, sa.String).label(col.name) if col.type == "date" else c)
    columns.append(table.c.missing_since_run_id)
    result = conn.execute(sa.select(*columns).where(*conditions))
    frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for name in kind.date_columns:
        frame[name] = pd.to_datetime(frame[name], format="%Y-%m-%d", errors="coerce")
    for col in kind.columns:
        if col.type not in ("date", "flag", "int"):
            frame[col.name] = frame[col.name].astype(object).where(frame[col.name].notna(), None)
    return frame


def _read_packed(conn: sa.Connection, table: sa.Table, kind: Kind, conditions: list) -> pd.DataFrame | None:
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is installed with pandas' recommended extras
        return None
    types = {c.name: c.type for c in kind.columns} | {"missing_since_run_id": "int"}
    postgres = conn.dialect.name == "postgresql"
    fields = []
    for name, kind_type in types.items():
        c = table.c[name]
        if kind_type == "date":
            fields.append(sa.func.to_char(c, "YYYY-MM-DD") if postgres else c)
        elif kind_type == "flag":
            fields.append(sa.cast(c, sa.Integer))
        else:
            fields.append(c)
    if postgres:
        separated = [part for f in fields for part in (sa.func.chr(31), f)][1:]
        packed = sa.func.string_agg(sa.func.concat(*separated), sa.func.chr(31))
    else:
        packed = sa.func.group_concat(sa.func.printf(FIELD.join(["%s"] * len(fields)), *fields), FIELD)
    count, text = conn.execute(sa.select(sa.func.count(), packed).select_from(table).where(*conditions)).one()
    if not count or text is None:
        return None
    flat = pc.split_pattern(pa.array([text], type=pa.large_string()), FIELD).flatten()
    del text
    if len(flat) != count * len(types):
        return None  # a value holding the separator: every one adds a cell
    out = {}
    for j, (name, kind_type) in enumerate(types.items()):
        column = flat.take(pa.array(np.arange(j, count * len(types), len(types), dtype=np.int64)))
        encoded = column.dictionary_encode()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        distinct = np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
        converted = _convert(distinct, kind_type)
        if converted is None:
            return None
        out[name] = converted[codes] if isinstance(converted, np.ndarray) else converted(codes)
    return pd.DataFrame({name: pd.Series(values, dtype=values.dtype, copy=False) for name, values in out.items()},
                        copy=False)


def _convert(distinct: np.ndarray, kind_type: str):
    """Each distinct text as the value ``read_plain`` gives: None for blank; dates as datetime64[us];
    flags bool (object with None when any is blank); whole numbers int64 (float64 with NaN when any
    is blank, object when all are). Returns an array to index by code, a function of the codes, or
    None when a value cannot be read back the way the plain path would."""
    blank = distinct == ""
    if kind_type == "date":
        try:
            days = np.array(distinct.tolist(), dtype="datetime64[D]")  # "" -> NaT
        except ValueError:
            return None
        if (days[~blank].astype("datetime64[D]").astype(str) != distinct[~blank]).any():
            return None  # not ISO YYYY-MM-DD (the plain path would coerce it): let it decide
        return days.astype("datetime64[us]")
    if kind_type == "flag":
        known = {"1": True, "0": False, "": None}
        if not set(distinct.tolist()) <= set(known):
            return None
        values = np.array([known[v] for v in distinct], dtype=object)

        def flags(codes):
            chosen = values[codes]
            has_blank = blank[codes].any() if len(codes) else False
            return chosen if has_blank else chosen.astype(bool)
        return flags
    if kind_type == "int":
        try:
            numbers = np.array([0 if v == "" else int(v) for v in distinct], dtype=np.int64)
        except ValueError:
            return None

        def ints(codes):
            missing = blank[codes]
            if len(codes) and missing.all():
                return np.full(len(codes), None, dtype=object)
            if missing.any():
                out = numbers[codes].astype(np.float64)
                out[missing] = np.nan
                return out
            return numbers[codes]
        return ints
    return np.where(blank, None, distinct).astype(object)


def read_text_columns(conn: sa.Connection, table: sa.Table, names: list[str]) -> dict[str, np.ndarray] | None:
    """Text columns of every row, packed into one string by the database as :func:`read_cases`
    does (object arrays, None for NULL; a NULL and an empty text both read as None); None when the
    packing cannot be used (another database, no pyarrow, a value holding the separator)."""
    if conn.dialect.name not in ("sqlite", "postgresql"):
        return None
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is installed with pandas' recommended extras
        return None
    fields = [sa.func.coalesce(sa.cast(table.c[name], sa.String), "") for name in names]
    if conn.dialect.name == "postgresql":
        separated = [part for f in fields for part in (sa.func.chr(31), f)][1:]
        packed = sa.func.string_agg(sa.func.concat(*separated), sa.func.chr(31))
    else:
        packed = sa.func.group_concat(sa.func.printf(FIELD.join(["%s"] * len(fields)), *fields), FIELD)
    count, text = conn.execute(sa.select(sa.func.count(), packed).select_from(table)).one()
    if not count:
        return {name: np.empty(0, dtype=object) for name in names}
    flat = pc.split_pattern(pa.array([text], type=pa.large_string()), FIELD).flatten()
    del text
    if len(flat) != count * len(names):
        return None
    values = np.asarray(flat.to_numpy(zero_copy_only=False), dtype=object)
    out = {}
    for j, name in enumerate(names):
        column = values[j::len(names)]
        column[column == ""] = None
        out[name] = column
    return out


# How many cases the engine works on at once when every clock of a kind is worked out, by a whole-kind
# refresh and by the alerts (memory, not speed; clocks.slices.SLICE_CASES cuts a caseload in memory).
SLICE_CASES = 100_000


def slices(conn: sa.Connection, kind: Kind, size: int | None = None) -> list:
    """Conditions that cut one kind's cases into slices of about ``size`` (``SLICE_CASES``), each
    whole for the engine: an assessment stands alone, so by its key; a review's phase transfer is
    its child's, so by ``person_id``, every row of a child in one slice (rows with none, in one of
    their own). Ranges in the database's own order, so its comparison and its sort agree."""
    size = size or SLICE_CASES
    table = db.CASE_TABLES[kind.name]
    column = table.c[kind.key] if kind.case == "assessment" else table.c.person_id
    if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() <= size:
        return [None]
    groups = conn.execute(sa.select(column, sa.func.count()).where(column.is_not(None))
                          .group_by(column).order_by(column)).all()
    out, first, filled = [], None, 0
    for at, (value, rows) in enumerate(groups):
        first = value if first is None else first
        filled += rows
        if filled >= size or at == len(groups) - 1:
            out.append(sa.and_(column >= first, column <= value))
            first, filled = None, 0
    return [*out, column.is_(None)]
