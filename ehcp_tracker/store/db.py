"""The database: one wide table per kind of case, import runs and the change log.

A case's stage dates are columns of its row rather than rows of their own: the engine reads whole
caseloads at a time, and one row per case is what makes a million cases load in seconds.
Deadlines are derived by the engine; since migration 0007 its results are kept in ``clock_result``,
refreshed in the same transaction as the cases they come from (``ingest.refresh``).
"""

from __future__ import annotations

import contextlib
import functools
import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from ..errors import DatabaseLocked, EhcpError, NotADatabase, driver_message, environment_fault
from ..schema import ASSESSMENTS, REVIEWS, Kind

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
        sa.Column("row_digest", sa.String(32), nullable=True,
                  doc="digest of the canonical row as last imported (ingest/row_digest.py); migration 0005"),
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
    sa.Column("deadlines_moved", sa.Integer, doc="deadlines the import moved (see deadline_change); migration 0002"),
    sa.Column("batch", sa.String(32), doc="shared by every file of one import command; migration 0003_import_batch"),
    sa.Column("refusal_reason", sa.Text, doc="why a refused file was refused: counts by column and problem, "
                                             "never a value (ingest.importer.refusal_reason); migration 0016"),
    sa.Column("new_queries", sa.Integer, doc="queries the run brought (ingest.new_queries); migration 0016"),
    sa.Index("ix_import_run_batch", "batch"),
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

deadline_change = sa.Table(
    "deadline_change", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("import_run.id"), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("case_id", sa.String(64), nullable=False),
    sa.Column("clock", sa.String(64), nullable=False),
    sa.Column("old_due", sa.Date),
    sa.Column("new_due", sa.Date),
    sa.Column("old_status", sa.String(20)),
    sa.Column("new_status", sa.String(20)),
    sa.Column("why", sa.String(1000), doc="the changed stage dates behind the move"),
    sa.Index("ix_deadline_change_run", "run_id"),
    sa.Index("ix_deadline_change_case", "kind", "case_id"),
)

alert_run = sa.Table(
    "alert_run", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("delivery", sa.String(20), nullable=False),  # smtp | outbox
    sa.Column("status", sa.String(20), nullable=False),  # running | sent | partial | failed | refused | abandoned
    sa.Column("messages_sent", sa.Integer, default=0),
    sa.Column("messages_failed", sa.Integer, default=0),
    sa.Column("alerts_sent", sa.Integer, default=0),
    sa.Column("last_import_run_id", sa.Integer,
              doc="the newest import run when the alerts were worked out: moves after it are the next run's news"),
    # the lease (migration 0012): who runs it, and when it last said it was alive (alerts.ledger)
    sa.Column("host", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("heartbeat_at", sa.DateTime),
)

# Each digest, recorded before it is handed over (migration 0012): ``sending`` until the server
# accepts it, then ``sent``. Its exact bytes are kept so a run that takes over after a crash resends
# the very message (same Message-ID) rather than a new one.
alert_message = sa.Table(
    "alert_message", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("alert_run.id"), nullable=False),
    sa.Column("recipient", sa.String(200), nullable=False),
    sa.Column("message_id", sa.String(255), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),  # sending | sent
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("message_id", name="uq_alert_message_id"),
    sa.Index("ix_alert_message_state", "state"),
)

alert_ledger = sa.Table(
    "alert_ledger", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("alert_run.id"), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("case_id", sa.String(64), nullable=False),
    sa.Column("clock", sa.String(64), nullable=False),
    sa.Column("event", sa.String(20), nullable=False),  # overdue | due_soon | stopped_late | moved | escalated
    sa.Column("due", sa.Date, nullable=False),
    sa.Column("recipient", sa.String(200), nullable=False, doc="the people file id, lower case"),
    sa.Column("sent_at", sa.DateTime, nullable=False),
    sa.Column("message_id", sa.String(255), doc="the alert_message carrying it (migration 0012)"),
    sa.UniqueConstraint("kind", "case_id", "clock", "event", "due", "recipient", name="uq_alert_ledger_once"),
    sa.Index("ix_alert_ledger_run", "run_id"),
)

# The clocks as the engine last worked them out (migration 0007_clock_results, compacted by
# 0010_compact_clocks): one row per (case, clock) with what does not depend on the day it is judged
# (start, due, the stop dates, exception), so a listing judges indexed rows instead of running the
# engine over the caseload. Seven rows a case, so every byte counts: dates are day numbers (days
# since 1970-01-01, what numpy's ``datetime64[D]`` holds), the kind is a code (``KIND_CODES``), and
# what every row of the same rule shares (clock, basis, rule version, reference, warning days) is one
# row of ``clock_rule``. ``clock_state`` holds the fingerprint of the rule book (and engine) they were
# worked out under. Written only by ``ingest.refresh`` (through ``store.clock_table``, which also reads them).
KIND_CODES = {"assessment": 1, "review": 2}

clock_rule = sa.Table(
    "clock_rule", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(20), nullable=False, doc="assessment | review"),
    sa.Column("clock", sa.String(64), nullable=False),
    sa.Column("statutory", sa.String(20)),
    sa.Column("rule_version", sa.Text),
    sa.Column("reference", sa.Text),
    sa.Column("warning_days", sa.Integer, nullable=False),
)

clock_result = sa.Table(
    "clock_result", metadata,
    sa.Column("kind", sa.SmallInteger, nullable=False, doc="KIND_CODES: 1 assessment, 2 review"),
    sa.Column("case_id", sa.String(64), nullable=False),
    sa.Column("rule", sa.Integer, nullable=False, doc="clock_rule.id: the clock and what its rule says"),
    sa.Column("started", sa.Integer, doc="day number (days since 1970-01-01)"),
    sa.Column("due", sa.Integer),
    sa.Column("stop_event", sa.Integer, doc="the stop event's day (NULL while none)"),
    sa.Column("closure", sa.Integer, doc="the case's closure or withdrawal (judged: late if after due)"),
    sa.Column("overtaken", sa.Integer, doc="a later stage that ends the clock unjudged (closed_by)"),
    sa.Column("exception", sa.String(40)),
    sa.Column("transfer_type", sa.String(40)),
    sa.Column("settled_from", sa.Integer, doc="from this day on, judging the row equals a fresh evaluation"),
    sa.Column("stable_from", sa.Integer, doc="history.stable_from of the case (cuttable clocks only)"),
    sa.Index("ix_clock_result_case", "kind", "case_id"),
    # the team page's counts (web.team_figures, migration 0016): the running clocks of each case (a
    # fifth of the rows; covering: the stop columns too, NULL in it, or SQLite reads the rows to
    # check them), and every clock by its due day, with its stop days (breaches this month: the late ones are
    # picked out in the index)
    sa.Index("ix_clock_result_running", "kind", "case_id", "rule", "due", "exception", "stop_event", "closure",
             "overtaken",
             sqlite_where=sa.text("stop_event IS NULL AND closure IS NULL AND overtaken IS NULL"),
             postgresql_where=sa.text("stop_event IS NULL AND closure IS NULL AND overtaken IS NULL")),
    sa.Index("ix_clock_result_due", "kind", "due", "stop_event", "closure", "overtaken", "case_id"),
)

clock_state = sa.Table(
    "clock_state", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("fingerprint", sa.String(100), nullable=False, doc="store.clock_table.fingerprint of the book"),
    sa.Column("evaluated_at", sa.DateTime, nullable=False),
    sa.Column("clocks", sa.Integer, nullable=False),
    sa.Column("settled_through", sa.Integer,
              doc="no stored row's settled_from is later (a day number; may be later than the true latest, never earlier)"),
)

# Secrets of this database, made on first use and never printed: ``sen2-person-key`` keys the hash
# that stands for a child with neither UPN nor ULN in an SEN2 return (sen2.keys), so the hash cannot
# be recomputed from a name and birth date without the database (migration 0014_sen2).
local_secret = sa.Table(
    "local_secret", metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(128), nullable=False),
)


def secret(engine: Engine, name: str) -> bytes:
    """The database's secret ``name`` (64 random hex digits), made in its own transaction the first
    time it is asked for. Two processes making it at once: the second's insert fails and it reads
    the first's."""
    import secrets

    query = sa.select(local_secret.c.value).where(local_secret.c.name == name)
    with engine.connect() as conn:
        found = conn.execute(query).scalar()
    if found is None:
        try:
            with engine.begin() as conn:
                conn.execute(local_secret.insert().values(name=name, value=secrets.token_hex(32)))
        except sa.exc.IntegrityError:
            pass
        with engine.connect() as conn:
            found = conn.execute(query).scalar()
    return bytes.fromhex(found)


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
FIRST_REVISION = "0001"
# The tables of the first schema: a database holding exactly these but no alembic_version table was
# made by ``metadata.create_all`` before migrations existed, and is stamped FIRST_REVISION.
FIRST_TABLES = {"assessment", "review", "import_run", "change_log"}
# Any advisory lock key will do as long as every ehcp-tracker process uses the same one.
ADVISORY_LOCK_KEY = 7251001


SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")  # the files SQLite keeps beside a database


def refuse_links(path: Path) -> None:
    """Refuse a symbolic link at an SQLite database's path or at one of its companion files."""
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)):
        if candidate.is_symlink():
            raise EhcpError(f"--db: {candidate} is a symbolic link (to {os.readlink(candidate)}): refused, and nothing "
                            "was created; give the database's real path (links at the database are never followed)")


def resolve_url(url: str | None) -> str:
    return url or os.environ.get("EHCP_DB") or DEFAULT_URL


def connect(url: str | None = None, *, create: bool = True) -> Engine:
    """An engine for ``url``; a new SQLite file is created readable by its owner only.

    ``create`` false (every command but ``ehcp init``): a missing SQLite file is an error and no
    file is left behind. A symbolic link at the SQLite path (or at its -wal, -shm or -journal file)
    is refused, dangling or not, and nothing is created: the database holds children's records, and
    a link planted where cron points would send them elsewhere. Give the real path instead.
    """
    url = resolve_url(url)
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise EhcpError(f"--db: not a database URL: {url!r} (e.g. sqlite:///ehcp.db or postgresql+psycopg://...)") from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database)
            refuse_links(path)
            if not path.parent.exists():
                raise EhcpError(f"--db: folder {path.parent} does not exist")
            if path.is_dir():
                raise NotADatabase(f"--db: {path} is a folder, not a database file")
            if not path.exists():
                if not create:
                    raise EhcpError(f"--db: {path} does not exist: run `ehcp init` to create it (nothing was created)")
                try:  # O_EXCL: a link put there since the check above is not followed, and fails
                    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o600)
                except FileExistsError:
                    refuse_links(path)
                else:
                    os.close(fd)
        # hide_parameters: an error's text never carries the statement's values (person IDs, dates
        # of birth), on every engine
        engine = sa.create_engine(url, connect_args={"timeout": 60}, hide_parameters=True)

        # SQLAlchemy's documented pysqlite recipe: the driver's own transaction handling is switched
        # off and we emit BEGIN ourselves, so a writer can take the write lock first (BEGIN
        # IMMEDIATE) instead of discovering a competing writer half-way through (SQLITE_BUSY).
        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            if mode != "IMMEDIATE":
                conn.exec_driver_sql(f"BEGIN {mode}")
                return
            # a writer waits one slice per attempt (write_transaction tries again until its deadline)
            conn.exec_driver_sql(f"PRAGMA busy_timeout={int(BUSY_SLICE_SECONDS * 1000)}")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.exec_driver_sql("PRAGMA busy_timeout=60000")

        return engine
    try:
        return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise EhcpError(f"--db: no driver for {parsed.drivername} ({exc}); for PostgreSQL "
                        "install the extra: pip install 'ehcp-tracker[postgres]'") from exc


# SQLite's busy handler waits this long per attempt; write_transaction tries again until its own
# deadline (none by default: an import waits its turn however long the one before it takes).
BUSY_SLICE_SECONDS = 2.0


@contextlib.contextmanager
def write_transaction(engine: Engine, wait: float | None = None,
                      on_wait: Callable[[float], None] | None = None) -> Iterator[sa.Connection]:
    """One transaction that holds the database's write lock from its first statement.

    Imports (and migrations) run inside it, so two at once are serialised: on PostgreSQL by a
    transaction-level advisory lock, on SQLite by ``BEGIN IMMEDIATE``. A second writer waits its
    turn: for ever by default, or ``wait`` seconds, then ``DatabaseLocked``; ``on_wait(seconds)`` is
    called every slice while it waits (a progress line on a terminal). Readers are never blocked
    and see the data as of the last commit.
    """
    if engine.dialect.name == "sqlite":
        with contextlib.ExitStack() as stack:
            conn = _sqlite_write_lock(engine, stack, wait, on_wait)
            yield conn
    else:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                if wait is not None:  # lock_timeout: SQLSTATE 55P03, which errors.environment_fault names
                    conn.execute(sa.text(f"SET LOCAL lock_timeout = {max(int(wait * 1000), 1)}"))
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
                if wait is not None:
                    conn.execute(sa.text("SET LOCAL lock_timeout = 0"))
            yield conn


def _sqlite_write_lock(engine: Engine, stack: contextlib.ExitStack, wait: float | None,
                       on_wait: Callable[[float], None] | None) -> sa.Connection:
    started = time.monotonic()
    while True:
        try:
            return stack.enter_context(engine.execution_options(sqlite_begin="IMMEDIATE").begin())
        except sa.exc.OperationalError as exc:
            if "locked" not in str(exc.orig) and "busy" not in str(exc.orig):
                raise
            waited = time.monotonic() - started
            if wait is not None and waited >= wait:
                raise DatabaseLocked(f"another import (or ehcp init) has held the database for {waited:.0f} s; "
                                     f"gave up waiting (--wait {wait:g})") from None
            if on_wait:
                on_wait(waited)


def _cannot_open(exc: sa.exc.OperationalError) -> EhcpError:
    """The fault by name (errors.environment_fault), else the driver's first line, values left out."""
    return environment_fault(exc) or EhcpError(f"cannot open the database: {driver_message(exc.orig)}")


def _alembic_config(conn: sa.Connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    return config


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    config = _alembic_config(None)
    return ScriptDirectory.from_config(config).get_current_head()


def _schema_state(conn: sa.Connection) -> tuple[set[str], str | None]:
    from alembic.runtime.migration import MigrationContext

    tables = set(sa.inspect(conn).get_table_names())
    revision = MigrationContext.configure(conn).get_current_revision() if "alembic_version" in tables else None
    return tables, revision


def init_db(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Create or upgrade the schema to ``revision`` (default the newest); returns (before, after).

    A database made before migrations existed (tables, no ``alembic_version``) is stamped with the
    first revision, then upgraded. Safe to run at any time and by two processes at once.
    """
    from alembic import command

    try:
        with write_transaction(engine) as conn:
            tables, before = _schema_state(conn)
            config = _alembic_config(conn)
            if before is None and tables & FIRST_TABLES:
                missing = FIRST_TABLES - tables
                if missing:
                    raise EhcpError(f"the database has some ehcp-tracker tables but not {', '.join(sorted(missing))}; "
                                    "it is not a database this tool made: use a new one")
                command.stamp(config, FIRST_REVISION)
                before = "pre-migrations"
            moving = before != (head_revision() if revision == "head" else revision)
            if moving:  # a migration may rebuild a table the views read (SQLite's batch mode refuses then)
                _analyst_views.drop(conn)
            command.upgrade(config, revision)
            _, after = _schema_state(conn)
            if moving and _analyst_views.MIGRATION in _ancestry(after):
                _analyst_views.drop(conn)
                _analyst_views.create(conn)
    except sa.exc.OperationalError as exc:
        raise _cannot_open(exc) from None
    return before, after


def _ancestry(revision: str | None) -> set[str]:
    """``revision`` and every revision before it."""
    if revision is None:
        return set()
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(None))
    return {s.revision for s in script.iterate_revisions(revision, "base")}


@functools.lru_cache(maxsize=1)
def head_from_files() -> str | None:
    """The newest revision, read from the migration files' ``revision``/``down_revision`` lines
    without importing Alembic (a third of a second that every command would pay at start-up);
    None unless there is exactly one head. ``tests/test_startup.py`` keeps it equal to Alembic's."""
    import re

    revisions, parents = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found = re.search(r'^revision\s*=\s*["\']([^"\']+)["\']', text, re.M)
        parent = re.search(r'^down_revision\s*=\s*["\']([^"\']+)["\']', text, re.M)
        if found:
            revisions.add(found.group(1))
        if parent:
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored_revision(conn: sa.Connection) -> tuple[set[str], str | None]:
    """The tables and the recorded schema revision, by plain SQL (no Alembic import)."""
    tables = set(sa.inspect(conn).get_table_names())
    if "alembic_version" not in tables:
        return tables, None
    return tables, conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def require_schema(engine: Engine) -> None:
    """Refuse a database without our schema, or one whose schema is behind (or ahead of) this version."""
    try:
        with engine.connect() as conn:
            tables, revision = _stored_revision(conn)
    except sa.exc.OperationalError as exc:
        raise _cannot_open(exc) from None
    if revision is not None and revision == head_from_files():
        return  # the every-day case, answered without Alembic
    head = head_revision()
    if revision == head:
        return
    if revision is None and not tables & FIRST_TABLES:
        raise EhcpError("the database has no ehcp-tracker schema yet: run `ehcp init` first")
    if revision is None:
        raise EhcpError("the database schema was made by an older ehcp-tracker and is behind: "
                        "run `ehcp init` to upgrade it")
    from alembic.script import ScriptDirectory

    known = {s.revision for s in ScriptDirectory.from_config(_alembic_config(None)).walk_revisions()}
    if revision not in known:
        raise EhcpError(f"the database schema (revision {revision}) is newer than this ehcp-tracker "
                        f"(head {head}): upgrade ehcp-tracker")
    raise EhcpError(f"the database schema is behind (revision {revision}, this version needs {head}): "
                    "run `ehcp init` to upgrade it")


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


def stored_digests(conn: sa.Connection, kind: Kind) -> pd.DataFrame:
    """Every stored case's key, row digest (None before migration 0005's first import),
    ``missing_since_run_id`` and ``person_id``: all a re-import needs to know which of tonight's
    rows are unchanged, and whose other rows to read (``ingest.stored``)."""
    from .caseload import read_text_columns

    table = CASE_TABLES[kind.name]
    names = [kind.key, "row_digest", "missing_since_run_id", "person_id"]
    columns = ["key", *names[1:]]
    packed = read_text_columns(conn, table, names)  # a million rows in one string, not a million tuples
    if packed is not None:
        return pd.DataFrame({column: packed[name] for column, name in zip(columns, names)})
    result = conn.execute(sa.select(*(table.c[n] for n in names)))
    return pd.DataFrame(result.fetchall(), columns=columns)


def table_for(kind_name: str) -> sa.Table:
    return CASE_TABLES[kind_name]


def analyze(conn: sa.Connection, table: sa.Table) -> None:
    """Fresh planner statistics for ``table`` after a bulk write, inside the write's transaction
    (PostgreSQL only). Without them the planner still takes a table filled a moment ago in the same
    transaction for empty and answers each ``IN`` list of keys by reading all of it: a first import
    of 70,000 reviews spent 99 of its 104 s so. SQLite plans by its indexes without statistics."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"ANALYZE {table.name}"))


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)



from . import accounts as _accounts  # noqa: E402,F401 - the web tables join ``metadata`` (migration 0013)
from . import analyst_views as _analyst_views  # noqa: E402,F401 - drop_all drops the analysts' views first (migration 0015)
