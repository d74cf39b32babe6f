"""The database: one wide table per kind of case, import runs and the change log.

A case's stage dates are columns of its row rather than rows of their own: the engine reads whole
caseloads at a time, and one row per case is what makes a million cases load in seconds.
Deadlines are never stored (they are derived by the engine at every run).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from .errors import EhcpError
from .schema import ASSESSMENTS, REVIEWS, Kind

DEFAULT_URL = "sqlite:///ehcp.db"

metadata = sa.MetaData()

_TYPES = {"id": lambda: sa.String(64), "text": lambda: sa.String(200), "choice": lambda: sa.String(40),
          "date": sa.Date, "flag": sa.Boolean, "int": sa.Integer}


def _case_table(kind: Kind, table_name: str) -> sa.Table:
    columns = []
    for col in kind.columns:
        columns.append(sa.Column(col.name, _TYPES[col.type](), primary_key=col.name == kind.key,
                                 nullable=col.name != kind.key))
    return sa.Table(
        table_name, metadata, *columns,
        sa.Column("first_run_id", sa.Integer, nullable=False, doc="import run that first brought the case"),
        sa.Column("last_run_id", sa.Integer, nullable=False, doc="import run that last changed the case"),
        sa.Column("missing_since_run_id", sa.Integer, nullable=True,
                  doc="set while the case is absent from the latest extract: kept, never deleted"),
        sa.Index(f"ix_{table_name}_caseworker", "caseworker"),
        sa.Index(f"ix_{table_name}_team", "team"),
        sa.Index(f"ix_{table_name}_person", "person_id"),
    )


assessment_table = _case_table(ASSESSMENTS, "assessment")
review_table = _case_table(REVIEWS, "review")
CASE_TABLES = {"assessments": assessment_table, "reviews": review_table}

import_run = sa.Table(
    "import_run", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("kind", sa.String(20)),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("file_sha256", sa.String(64)),
    sa.Column("profile", sa.String(100)),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # imported | partial | rejected
    sa.Column("rows_read", sa.Integer, default=0),
    sa.Column("cases_new", sa.Integer, default=0),
    sa.Column("cases_changed", sa.Integer, default=0),
    sa.Column("cases_unchanged", sa.Integer, default=0),
    sa.Column("cases_missing", sa.Integer, default=0),
    sa.Column("rows_rejected", sa.Integer, default=0),
    sa.Column("rule_book", sa.String(20)),
)

change_log = sa.Table(
    "change_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("import_run.id"), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("case_id", sa.String(64), nullable=False),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("old_value", sa.String(200)),
    sa.Column("new_value", sa.String(200)),
    sa.Index("ix_change_log_case", "kind", "case_id"),
    sa.Index("ix_change_log_run", "run_id"),
)


def resolve_url(url: str | None) -> str:
    return url or os.environ.get("EHCP_DB") or DEFAULT_URL


def connect(url: str | None = None) -> Engine:
    """An engine for ``url``; a new SQLite file is created readable by its owner only."""
    url = resolve_url(url)
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise EhcpError(f"--db: not a database URL: {url!r} (e.g. sqlite:///ehcp.db or postgresql+psycopg://...)") from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database)
            if not path.parent.exists():
                raise EhcpError(f"--db: folder {path.parent} does not exist")
            if not path.exists():
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise EhcpError(f"--db: no driver for {parsed.drivername} ({exc}); for PostgreSQL "
                        "install the extra: pip install 'ehcp-tracker[postgres]'") from exc


def init_db(engine: Engine) -> None:
    """Create the schema if it is missing (idempotent)."""
    try:
        metadata.create_all(engine)
    except sa.exc.OperationalError as exc:
        raise EhcpError(f"cannot open the database: {exc.orig}") from exc


def require_schema(engine: Engine) -> None:
    try:
        present = set(sa.inspect(engine).get_table_names())
    except sa.exc.OperationalError as exc:
        raise EhcpError(f"cannot open the database: {exc.orig}") from exc
    if not {t.name for t in metadata.sorted_tables} <= present:
        raise EhcpError("the database has no ehcp-tracker schema yet: run `ehcp init` first")


def load_cases(conn: sa.Connection, kind: Kind, where=None, include_missing: bool = True) -> pd.DataFrame:
    """Cases of one kind as a DataFrame of canonical columns (dates as ``datetime64``).

    Dates travel as ISO text and are parsed once per distinct value; the whole result travels as
    one packed string (``caseload.read_cases``), which is many times faster than a Python object per
    cell and works the same on SQLite and PostgreSQL.
    """
    from .caseload import read_cases

    table = CASE_TABLES[kind.name]
    conditions = [] if where is None else [where]
    if not include_missing:
        conditions.append(table.c.missing_since_run_id.is_(None))
    return read_cases(conn, table, kind, conditions)


def table_for(kind_name: str) -> sa.Table:
    return CASE_TABLES[kind_name]


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)

