"""Shared fixtures: the rule book, a fresh database, and a CLI runner.

Every test that touches a database takes ``db_url`` (or ``engine``), so the same test runs on every
database: SQLite, and a real PostgreSQL server named by ``EHCP_TEST_POSTGRES_URL`` (a role that may
create schemas). Each PostgreSQL test gets a schema of its own, dropped afterwards. Outside CI the
PostgreSQL half is skipped when no server is configured; in CI (``CI=true``) it fails instead.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import pytest
import pandas as pd
import sqlalchemy as sa
from click.testing import CliRunner

from ehcp_tracker.store import db
from ehcp_tracker.cli import cli
from ehcp_tracker.clocks.rules import load_rule_book

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def book():
    return load_rule_book(ROOT / "rules")


def examples(n: int) -> int:
    """``n`` Hypothesis examples, times ``EHCP_HYPOTHESIS_SCALE`` (default 1): the heavy property
    tests (a whole engine run or more per example) keep a count CI can afford, and a deeper run is
    one variable away (e.g. EHCP_HYPOTHESIS_SCALE=4 pytest tests/test_history.py)."""
    return max(1, round(n * float(os.environ.get("EHCP_HYPOTHESIS_SCALE", "1"))))


DATABASES = ["sqlite", "postgresql"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


@pytest.fixture(scope="session")
def postgres_admin():
    """An engine on the test server, or a skip (a failure in CI) saying why there is none."""
    url = os.environ.get("EHCP_TEST_POSTGRES_URL")
    if not url:
        reason = ("PostgreSQL tests need EHCP_TEST_POSTGRES_URL (e.g. postgresql+psycopg://user:pass@localhost/db); "
                  "skipped outside CI, required when CI=true (.ci/run sets it up)")
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        reason = f"PostgreSQL at EHCP_TEST_POSTGRES_URL is not reachable: {exc.orig}"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    yield engine
    engine.dispose()


@pytest.fixture(params=DATABASES)
def db_url(request, tmp_path):
    """A fresh, empty database URL: a SQLite file, or a new schema on the PostgreSQL test server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    admin = request.getfixturevalue("postgres_admin")
    schema = f"ehcp_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def engine(db_url):
    engine = db.connect(db_url)
    db.init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def run(db_url):
    """Run the CLI against the test database: run("--as-of", "2020-01-01", "due")."""
    runner = CliRunner()

    def invoke(*args, input=None):
        result = runner.invoke(cli, ["--db", db_url, *map(str, args)], input=input, catch_exceptions=False)
        return result

    invoke("init")
    return invoke


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


D = dt.date.fromisoformat


ASSESSMENT_HEADER = ["request_id", "person_id", "request_received", "caseworker", "team",
                     "request_outcome", "request_outcome_date"]


def assessment_rows(n: int, received: str = "2024-03-01", start: int = 1) -> list[list]:
    """``n`` valid, synthetic assessment rows (ids R0001..., persons P0001...)."""
    return [[f"R{i:04d}", f"P{i:04d}", received, f"CW{i % 3}", "North", "", ""] for i in range(start, start + n)]


def v2_digest(cells: dict[str, str]) -> str:
    """A row digest worked out by hand from its documented definition (``ingest/row_digest.py``):
    each canonical cell but the key's hashed with its column's name (blake2b, 16 bytes, personalised
    ``ehcp-row-v2``), the two 64-bit big-endian halves summed modulo 2**64, as 32 hex characters."""
    import hashlib

    high = low = 0
    for name, text in cells.items():
        digest = hashlib.blake2b(name.encode() + b"\x1f" + text.encode(), digest_size=16, person=b"ehcp-row-v2").digest()
        high = (high + int.from_bytes(digest[:8], "big")) % 2**64
        low = (low + int.from_bytes(digest[8:], "big")) % 2**64
    return f"{high:016x}{low:016x}"


def snapshot(url: str | sa.Engine, reflect: bool = True) -> dict[str, list[tuple]]:
    """Every row of every ehcp-tracker table, sorted: 'the database is exactly as before' is equality.

    ``url`` may be an engine the test already holds (left open): a test taking hundreds of
    snapshots (the fuzzer) then neither connects nor compiles its selects afresh each time, which was
    most of its run on PostgreSQL. The rows read are the same: committed ones, on a pooled connection."""
    given = isinstance(url, sa.Engine)
    engine = url if given else db.connect(url)
    try:
        with engine.connect() as conn:
            present = set(sa.inspect(conn).get_table_names())
            out = {}
            for table in db.metadata.sorted_tables:
                if table.name in present:  # as it is in the database, whatever its revision
                    reflected = sa.Table(table.name, sa.MetaData(), autoload_with=conn) if reflect else table
                    rows = conn.execute(sa.select(reflected)).fetchall()
                    out[table.name] = sorted((tuple(map(str, r)) for r in rows))
            return out
    finally:
        if not given:
            engine.dispose()


def case_row(kind, **fields) -> dict:
    """One extract row of ``kind`` as a dict: every canonical column, blank unless given; ISO text
    in a date column becomes a date (as the store reads it back)."""
    row = {name: None for name in kind.names}
    row.update({k: D(v) if k in kind.date_columns and isinstance(v, str) else v for k, v in fields.items()})
    return row


def day_of(value):
    """A result frame's timestamp as a date (None for NaT): how tests compare with explain's dates."""
    return None if pd.isna(value) else value.date()


def caseload_frame(rows, kind) -> pd.DataFrame:
    """Rows (dicts) typed as the store reads them back: dates as datetimes, year groups as Int64."""
    frame = pd.DataFrame(list(rows))
    for name in kind.date_columns:
        frame[name] = pd.to_datetime(frame[name])
    for name in ("ncy", "ncy_academic_year"):
        if name in frame:
            frame[name] = frame[name].astype("Int64")
    return frame
