"""Writing many rows fast: column arrays straight to the driver, inside the caller's transaction.

SQLite: one prepared statement re-run over the rows, several rows to a statement for narrow tables
(the clock rows, the change log: fewer statement steps, measured about a third quicker) and one row
to a statement for wide ones (the case tables, where SQLite's own binding of 40 values a row is the
cost and many-row statements measured slower). PostgreSQL: ``COPY ... FROM STDIN``, the rows turned
into CSV by pyarrow a batch at a time (no Python call per row), or, for a batch pyarrow cannot
write faithfully, psycopg's ``write_row``. Either way the stored rows are the same values.
"""

from __future__ import annotations

import contextlib
import io
import itertools

import numpy as np
import sqlalchemy as sa

# Rows sent at a time: per COPY statement on PostgreSQL (bounds the CSV text held at once), per
# batch of INSERTs on SQLite (bounds the Python values held at once).
COPY_BATCH_ROWS = 100_000
# SQLite: tables this narrow get several rows per INSERT; up to this many rows per statement.
SQLITE_MULTI_ROW_MAX_COLUMNS = 16
SQLITE_ROWS_PER_STATEMENT = 200


def insert_columns(conn: sa.Connection, table: sa.Table, columns: dict) -> None:
    """Insert rows given column by column (arrays, or one value for every row), in big batches.

    Values must already be what the database stores (text, ints, bools, ISO dates as text, None
    for NULL): no SQLAlchemy type processing is applied.
    """
    n = max(len(v) for v in columns.values() if np.ndim(v))
    names = list(columns)
    arrays = [v if np.ndim(v) else np.full(n, v, dtype=object) for v in columns.values()]
    raw = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":  # a batch at a time: the Python values of one batch are held, not the table's
        # a page cache that holds the indexes: a million random person IDs otherwise thrash the default 2 MB
        if n > 50_000:
            raw.execute(f"PRAGMA cache_size = -{min(256, n // 4000) * 1024}")
        for start in range(0, n, COPY_BATCH_ROWS):
            _sqlite_insert(raw, table.name, names, [a[start:start + COPY_BATCH_ROWS] for a in arrays],
                           min(COPY_BATCH_ROWS, n - start))
    elif conn.dialect.name == "postgresql" and hasattr(raw, "cursor") and hasattr(raw.cursor(), "copy"):
        for start in range(0, n, COPY_BATCH_ROWS):
            _copy(raw, table.name, names, [a[start:start + COPY_BATCH_ROWS] for a in arrays])
    else:  # pragma: no cover - databases other than SQLite and PostgreSQL
        conn.execute(table.insert(), [dict(zip(names, row)) for row in _rows(arrays)])


def _rows(arrays) -> zip:
    """The rows as tuples of Python values (numpy scalars become ints, bools, str)."""
    return zip(*(a.tolist() if isinstance(a, np.ndarray) else a for a in arrays))


def _sqlite_insert(raw, table: str, names: list[str], arrays, n: int) -> None:
    one = "(" + ", ".join("?" * len(names)) + ")"
    head = f"INSERT INTO {table} ({', '.join(names)}) VALUES "
    rows = _rows(arrays)
    per = rows_per_statement(raw, len(names))
    full = n // per if per > 1 else 0
    if full:
        statement = head + ", ".join([one] * per)
        raw.executemany(statement, (list(itertools.chain.from_iterable(itertools.islice(rows, per)))
                                    for _ in range(full)))
    raw.executemany(head + one, rows)  # the rest (every row of a wide table)


def rows_per_statement(raw, width: int) -> int:
    """How many rows one SQLite INSERT carries: several for a narrow table, within the
    connection's limit on bound values; one for a wide table."""
    if width > SQLITE_MULTI_ROW_MAX_COLUMNS:
        return 1
    try:
        import sqlite3

        limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except (AttributeError, ImportError):  # pragma: no cover - Python before 3.11
        limit = 999  # SQLite's smallest default
    return max(1, min(SQLITE_ROWS_PER_STATEMENT, limit // width))


# pyarrow types whose CSV text PostgreSQL reads back as the very value write_row would send
_FAITHFUL = None


def _faithful_types():
    import pyarrow as pa

    global _FAITHFUL
    if _FAITHFUL is None:
        _FAITHFUL = (pa.string(), pa.large_string(), pa.int64(), pa.int32(), pa.int16(), pa.int8(), pa.bool_(),
                     pa.null())
    return _FAITHFUL


def csv_batch(names: list[str], arrays) -> bytes | None:
    """One batch of rows as CSV for ``COPY ... (FORMAT csv)``: every value quoted, NULL as an
    unquoted empty field (so '' and NULL stay apart). None when a column holds anything but text,
    integers, flags and NULLs (a float, a date object, mixed types): the caller then sends the rows
    one by one, so nothing is ever stored in another spelling."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    faithful = _faithful_types()
    try:
        columns = [pa.array(a, from_pandas=False) for a in arrays]
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return None
    if any(c.type not in faithful for c in columns):
        return None
    out = io.BytesIO()
    pacsv.write_csv(pa.table(columns, names=names), out,
                    pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
    return out.getvalue()


def _copy(raw, table: str, names: list[str], arrays) -> None:
    """One batch through COPY: as CSV when :func:`csv_batch` can write it, else row by row."""
    listed = ", ".join(names)
    # pyarrow writes UTF-8: a connection in another client encoding gets its rows through psycopg
    utf8 = str(getattr(getattr(raw, "info", None), "encoding", "")).lower().replace("_", "-") in ("utf-8", "utf8")
    text = csv_batch(names, arrays) if utf8 else None
    with raw.cursor() as cursor:
        if text is not None:
            with cursor.copy(f"COPY {table} ({listed}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(text)
        else:
            with cursor.copy(f"COPY {table} ({listed}) FROM STDIN") as copy:
                for row in _rows(arrays):
                    copy.write_row(row)


@contextlib.contextmanager
def indexed_after(conn: sa.Connection, table: sa.Table):
    """Write the rows first, then build the table's indexes once (sorting the keys beats keeping
    b-trees in order row by row: measured about a third of the case insert on SQLite); in the
    caller's transaction, so no reader ever sees the table without them. Only the indexes the
    database holds under the schema's names are dropped and made again, exactly as declared."""
    held = {found["name"] for found in sa.inspect(conn).get_indexes(table.name)}
    indexes = [index for index in table.indexes if index.name in held]
    for index in indexes:
        index.drop(conn)
    yield
    for index in indexes:
        index.create(conn)
