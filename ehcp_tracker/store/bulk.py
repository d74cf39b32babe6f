"""Writing many rows fast: column arrays straight to the driver (executemany on SQLite, COPY on PostgreSQL)."""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa


def insert_columns(conn: sa.Connection, table: sa.Table, columns: dict) -> None:
    """Insert rows given column by column (arrays, or one value for every row), in big batches.

    SQLite: the driver's own ``executemany`` (no per-row dict or type processing: values are
    already what SQLite stores). PostgreSQL: ``COPY ... FROM STDIN``. Anything else: SQLAlchemy.
    """
    n = max(len(v) for v in columns.values() if np.ndim(v))
    names = list(columns)
    arrays = [v if np.ndim(v) else np.full(n, v, dtype=object) for v in columns.values()]
    rows = zip(*(a.tolist() if isinstance(a, np.ndarray) else a for a in arrays))
    raw = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        # a page cache that holds the indexes: a million random person IDs otherwise thrash the default 2 MB
        if n > 50_000:
            raw.execute(f"PRAGMA cache_size = -{min(256, n // 4000) * 1024}")
        statement = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        raw.executemany(statement, rows)
    elif conn.dialect.name == "postgresql" and hasattr(raw, "cursor") and hasattr(raw.cursor(), "copy"):
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:  # pragma: no cover - databases other than SQLite and PostgreSQL
        conn.execute(table.insert(), [dict(zip(names, row)) for row in rows])
