"""Fast writes (issue 27): COPY as CSV on PostgreSQL, several rows per INSERT on SQLite, the
case tables' indexes built after a first import's rows. The stored rows must be exactly those of
the plain row-by-row path, on both databases: awkward values one by one, then whole imports
(first, unchanged, changed) compared table by table."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ehcp_tracker.clocks.rules import load_rule_book
from ehcp_tracker.demo.synthetic import write_extracts
from ehcp_tracker.ingest import importer
from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.store import bulk, db

from .conftest import ROOT, v2_digest

AS_OF = dt.date(2026, 10, 30)
AWKWARD = ["plain", "", None, 'a "quoted", comma', "two\nlines", "cr\r\nlf", "back\\slash", "\\.", "\\N",
           "NULL", "  spaced  ", "é ü ß 中文 🙂", "=1+1", "tab\there", ",", '"', "'"]


def _twin_tables(name: str) -> tuple[sa.MetaData, sa.Table, sa.Table]:
    meta = sa.MetaData()
    columns = lambda: [sa.Column("id", sa.Integer, primary_key=True), sa.Column("text", sa.String(200)),  # noqa: E731
                       sa.Column("number", sa.BigInteger), sa.Column("flag", sa.Boolean), sa.Column("day", sa.Date),
                       sa.Column("none", sa.String(20))]
    return meta, sa.Table(f"{name}_fast", meta, *columns()), sa.Table(f"{name}_slow", meta, *columns())


def _values(n: int) -> dict:
    rng = np.random.default_rng(27)
    texts = np.array([AWKWARD[i % len(AWKWARD)] for i in range(n)], dtype=object)
    numbers = np.array([None if i % 7 == 0 else int(v) for i, v in enumerate(rng.integers(-2**40, 2**40, n))],
                       dtype=object)
    flags = np.array([None if i % 5 == 0 else bool(i % 2) for i in range(n)], dtype=object)
    days = np.array([None if i % 4 == 0 else (dt.date(2020, 1, 1) + dt.timedelta(days=i)).isoformat()
                     for i in range(n)], dtype=object)
    return {"id": np.arange(1, n + 1), "text": texts, "number": numbers, "flag": flags, "day": days, "none": None}


def _read(conn, table: sa.Table) -> list[tuple]:
    return [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c.id))]


@pytest.mark.parametrize("n", [1, 7, 199, 200, 201, 1003])
def test_bulk_insert_stores_what_a_plain_insert_stores(engine, monkeypatch, n):
    """Every awkward text (quotes, line breaks, backslashes, ``\\.``, '' against NULL), ints beyond
    32 bits, flags, ISO dates and an all-NULL column: the fast path and SQLAlchemy's row-by-row
    insert store the same values; batch edges (COPY batches of 250, 200 rows per SQLite
    statement) included."""
    monkeypatch.setattr(bulk, "COPY_BATCH_ROWS", 250)
    meta, fast, slow = _twin_tables(f"bulk_{n}")
    meta.create_all(engine)
    columns = _values(n)
    with engine.begin() as conn:
        bulk.insert_columns(conn, fast, columns)
        rows = [{"id": int(i), "text": t, "number": v, "flag": f,
                 "day": None if d is None else dt.date.fromisoformat(d), "none": None}
                for i, t, v, f, d in zip(columns["id"], columns["text"], columns["number"], columns["flag"],
                                         columns["day"])]
        conn.execute(slow.insert(), rows)
    with engine.connect() as conn:
        assert _read(conn, fast) == _read(conn, slow)
        assert len(_read(conn, fast)) == n


def test_csv_batch_refuses_what_it_cannot_write_faithfully():
    """A float, a date object or mixed types: no CSV (the rows then go one by one, as before)."""
    assert bulk.csv_batch(["a"], [np.array([1.5, None], dtype=object)]) is None
    assert bulk.csv_batch(["a"], [np.array(["x", 1], dtype=object)]) is None
    assert bulk.csv_batch(["a"], [np.array([dt.date(2020, 1, 1)], dtype=object)]) is None
    assert bulk.csv_batch(["a", "b"], [np.array(["", None], dtype=object), np.array([1, None], dtype=object)]) \
        == b'"","1"\n,\n'


def test_a_batch_pyarrow_cannot_write_goes_row_by_row(engine, monkeypatch):
    monkeypatch.setattr(bulk, "csv_batch", lambda names, arrays: None)
    meta, fast, slow = _twin_tables("rowwise")
    meta.create_all(engine)
    columns = _values(50)
    with engine.begin() as conn:
        bulk.insert_columns(conn, fast, columns)
    with engine.connect() as conn:
        assert [r[1] for r in _read(conn, fast)] == list(columns["text"])


def test_sqlite_rows_per_statement():
    import sqlite3

    raw = sqlite3.connect(":memory:")
    assert bulk.rows_per_statement(raw, 12) == 200
    assert bulk.rows_per_statement(raw, 40) == 1


# --------------------------------------------------------------------------- whole imports


def _slow_writes(monkeypatch) -> None:
    """The writes as they were before issue 27: one row per statement, COPY row by row, indexes kept."""
    monkeypatch.setattr(bulk, "csv_batch", lambda names, arrays: None)
    monkeypatch.setattr(bulk, "rows_per_statement", lambda raw, width: 1)
    monkeypatch.setattr(importer, "INDEX_AFTER_ROWS", float("inf"))


_VOLATILE = {"started_at", "finished_at", "evaluated_at", "batch"}


def _dump(url: str) -> dict[str, list[tuple]]:
    """Every table's rows, sorted, without the clock times of the runs."""
    engine = db.connect(url)
    out = {}
    with engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            kept = [c for c in table.c if c.name not in _VOLATILE]
            rows = conn.execute(sa.select(*kept)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
        indexes = {t: sorted(i["name"] for i in sa.inspect(conn).get_indexes(t))
                   for t in ("assessment", "review", "clock_result", "change_log")}
    engine.dispose()
    return out | {"(indexes)": indexes}


def _imports(url: str, folder, book) -> list[str]:
    engine = db.connect(url)
    db.init_db(engine)
    described = []
    for sub in ("first", "first", "changed"):
        for name in ("assessments", "reviews"):
            summary = import_extract(engine, folder / sub / f"{name}.csv", book, AS_OF)
            described.append(summary.describe())
    engine.dispose()
    return described


@pytest.fixture(scope="module")
def extracts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bulk-extracts")
    write_extracts(folder / "first", 400, 280, 27, AS_OF)
    (folder / "changed").mkdir()
    for name in ("assessments", "reviews"):
        frame = pd.read_csv(folder / "first" / f"{name}.csv", dtype=str, keep_default_na=False)
        frame.loc[frame.index % 10 == 0, "caseworker"] = "CW-MOVED"
        frame.iloc[5:].to_csv(folder / "changed" / f"{name}.csv", index=False)  # 5 cases missing
    return folder


def test_fast_writes_store_the_same_import(db_url, tmp_path, monkeypatch, extracts):
    """A first import, the same file again, then 10 % moved and 5 cases gone: every table (cases,
    change log, stored clocks, clock rules, runs, deadline changes) and the indexes are the same
    with the fast writes as with the plain ones."""
    book = load_rule_book(ROOT / "rules")
    with monkeypatch.context() as patched:
        patched.setattr(importer, "INDEX_AFTER_ROWS", 1)  # the first import's indexes built after its rows
        patched.setattr(bulk, "COPY_BATCH_ROWS", 1000)  # several COPY batches
        fast = _imports(db_url, extracts, book)
    fast_rows = _dump(db_url)
    engine = db.connect(db_url)
    db.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    with monkeypatch.context() as patched:
        _slow_writes(patched)
        slow = _imports(db_url, extracts, book)
    slow_rows = _dump(db_url)
    assert [s.split(" [import run")[0] for s in fast] == [s.split(" [import run")[0] for s in slow]
    assert fast_rows.keys() == slow_rows.keys()
    for name in fast_rows:
        assert fast_rows[name] == slow_rows[name], name
    assert len(fast_rows["assessment"]) == 400 and len(fast_rows["clock_result"]) > 1000


def test_row_digest_of_awkward_text_is_its_definition():
    """The vectorised digest (each distinct cell hashed once, the rows summed by numpy) is, cell
    for cell, the documented definition worked out by hand, whatever the text holds."""
    from ehcp_tracker.schema import ASSESSMENTS

    names = [c.name for c in ASSESSMENTS.columns]
    cells = [[AWKWARD[(i + j) % len(AWKWARD)] or "" for j in range(len(names))] for i in range(60)]
    text = pd.DataFrame(cells, columns=names, dtype=object)
    expected = [v2_digest({n: c for n, c in zip(names, row) if n != ASSESSMENTS.key}) for row in cells]
    assert list(importer.row_digests(text, ASSESSMENTS)) == expected
    assert list(importer.row_digests(text.iloc[:0], ASSESSMENTS)) == []


def test_postgresql_rows_go_as_csv(engine, monkeypatch):
    """On PostgreSQL (a UTF-8 connection) the batches are CSV, not row by row."""
    if engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    made = []
    real = bulk.csv_batch
    monkeypatch.setattr(bulk, "csv_batch", lambda names, arrays: made.append(len(arrays[0])) or real(names, arrays))
    monkeypatch.setattr(bulk, "COPY_BATCH_ROWS", 40)
    meta, fast, _ = _twin_tables("as_csv")
    meta.create_all(engine)
    with engine.begin() as conn:
        bulk.insert_columns(conn, fast, _values(100))
    assert made == [40, 40, 20]
