"""A failing machine: every environment fault is one line and exit 1, and no file is clobbered.

Issue 12, points 2, 5 and 6: every file the tool writes is a new 0600 file renamed into place
(never written through a symlink, never left half-written); disk full, read-only, locked, server
gone, unwritable paths, a --db that is no database and impossible option dates are each one line;
paths are checked before the database is touched; the summary JSON never turns a committed import
into a failure; on SQLite an import waits its turn (``--wait`` to give up).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from ehcp_tracker import errors, files
from ehcp_tracker.cli import cli
from ehcp_tracker.store import db

from .conftest import ASSESSMENT_HEADER, assessment_rows, snapshot, write_csv

AS_OF = "2024-05-01"


def _one_line(result, code: int = 1) -> str:
    """The single error line of a failed command (and no traceback)."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.exit_code == code, result.output
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def _extract(tmp_path, n: int = 5, name: str = "a.csv", received: str = "2024-03-01"):
    return write_csv(tmp_path / name, ASSESSMENT_HEADER, assessment_rows(n, received))


def _ehcp(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


# --- every file through atomic_open -----------------------------------------------------------------

def test_an_output_symlink_is_replaced_never_followed(run, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("system file\n")
    link = tmp_path / "out.csv"
    link.symlink_to(victim)
    run("--as-of", AS_OF, "import", _extract(tmp_path))
    assert run("--as-of", AS_OF, "clocks", "--format", "csv", "-o", link).exit_code == 0
    assert victim.read_text() == "system file\n"
    assert not link.is_symlink() and link.read_text().startswith("case_id,")
    assert oct(link.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("option", ["--rejects", "--summary-json"])
def test_import_outputs_are_replaced_never_followed_and_owner_only(run, tmp_path, option):
    victim = tmp_path / "victim.txt"
    victim.write_text("system file\n")
    rows = assessment_rows(3)
    rows[1][2] = "31/02/2024"
    extract = write_csv(tmp_path / "a.csv", ASSESSMENT_HEADER, rows)
    target = tmp_path / "target"
    target.symlink_to(victim)
    other = tmp_path / "other"
    other.write_text("old")
    os.chmod(other, 0o644)  # an existing rejects file kept 0644 while holding dates of birth
    paths = {"--rejects": target, "--summary-json": other}
    if option == "--summary-json":
        paths = {"--rejects": other, "--summary-json": target}
    result = run("--as-of", AS_OF, "import", extract, "--skip-bad-rows", "--rejects", paths["--rejects"],
                 "--summary-json", paths["--summary-json"])
    assert result.exit_code == 3
    assert victim.read_text() == "system file\n"
    for path in (target, other):
        assert not path.is_symlink() and oct(path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("writer", ["csv", "xlsx", "html-pack", "xlsx-pack", "demo"])
def test_every_written_file_is_owner_only_and_whole(run, tmp_path, writer):
    run("--as-of", AS_OF, "import", _extract(tmp_path))
    target = {"csv": "out.csv", "xlsx": "out.xlsx", "html-pack": "pack.html", "xlsx-pack": "pack.xlsx",
              "demo": "extracts"}[writer]
    path = tmp_path / target
    args = {"csv": ["clocks", "--format", "csv", "-o", path], "xlsx": ["clocks", "--format", "xlsx", "-o", path],
            "html-pack": ["report", "--month", "2024-04", "-o", path],
            "xlsx-pack": ["report", "--month", "2024-04", "-o", path],
            "demo": ["demo", "generate", "--requests", "20", "--reviews", "10", "-o", path]}[writer]
    assert run("--as-of", AS_OF, *args).exit_code == 0
    written = sorted(path.iterdir()) if path.is_dir() else [path]
    assert written
    for each in written:
        assert oct(each.stat().st_mode & 0o777) == "0o600", each
    assert not [p for p in tmp_path.rglob(".*.tmp")]  # no temporary file left behind


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "kept.csv"
    path.write_text("yesterday's export\n")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(errors.DiskFull, match="kept.csv: no space left on the disk"):
        files.atomic_write(path, "half of today's")
    assert path.read_text() == "yesterday's export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.csv"]


def test_disk_full_during_an_export_is_one_line(run, tmp_path, monkeypatch):
    run("--as-of", AS_OF, "import", _extract(tmp_path))
    monkeypatch.setattr(files.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    line = _one_line(run("--as-of", AS_OF, "clocks", "--format", "xlsx", "-o", tmp_path / "c.xlsx"))
    assert "no space left on the disk" in line


@pytest.mark.parametrize("args, expected", [
    (["clocks", "-o", "{tmp}"], "is a folder"),
    (["clocks", "-o", "{tmp}/missing/out.csv"], "does not exist"),
    (["report", "--month", "2024-04", "-o", "{tmp}/missing/pack.html"], "does not exist"),
    (["import", "{tmp}/a.csv", "--rejects", "{tmp}"], "is a folder"),
    (["import", "{tmp}/a.csv", "--summary-json", "{tmp}/missing/s.json"], "does not exist"),
    (["demo", "generate", "--requests", "1", "--reviews", "1", "-o", "{tmp}/a.csv"], "is a file, not a folder"),
])
def test_unwritable_paths_are_refused_before_the_database_is_touched(tmp_path, args, expected):
    _extract(tmp_path)
    database = tmp_path / "never.db"
    result = _ehcp("--db", f"sqlite:///{database}", "--as-of", AS_OF,
                   *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert expected in _one_line(result)
    assert not database.exists()


def test_the_summary_never_reports_failure_for_a_committed_import(run, db_url, tmp_path, monkeypatch):
    from ehcp_tracker import cli as cli_module

    def broken(path, content):
        raise errors.DiskFull(f"{path}: no space left on the disk")

    monkeypatch.setattr(cli_module, "atomic_write", broken)
    result = run("--as-of", AS_OF, "import", _extract(tmp_path), "--summary-json", tmp_path / "s.json")
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert "the summary could not be written" in result.stderr and "the imports above stand" in result.stderr
    assert len(snapshot(db_url, reflect=False)["assessment"]) == 5


# --- database faults ------------------------------------------------------------------------------

def test_a_file_that_is_not_a_database(tmp_path):
    bogus = tmp_path / "notes.db"
    bogus.write_bytes(b"this is not an SQLite file at all" * 100)
    for args in (["init"], ["clocks"], ["import", _extract(tmp_path)]):
        assert "does not name an SQLite database" in _one_line(_ehcp("--db", f"sqlite:///{bogus}", *args))
    assert "is a folder, not a database" in _one_line(_ehcp("--db", f"sqlite:///{tmp_path}", "init"))


def test_a_read_only_database(tmp_path):
    database = tmp_path / "ro.db"
    assert _ehcp("--db", f"sqlite:///{database}", "init").exit_code == 0
    url = f"sqlite:///file:{database}?mode=ro&uri=true"
    assert "read-only" in _one_line(_ehcp("--db", url, "--as-of", AS_OF, "import", _extract(tmp_path)))


def test_disk_full_during_an_import_is_one_line_without_personal_data(tmp_path, monkeypatch):
    """SQLite's max_page_count makes the disk 'full' part-way through the insert."""
    database = tmp_path / "full.db"
    url = f"sqlite:///{database}"
    assert _ehcp("--db", url, "init").exit_code == 0
    real_connect = db.connect

    def small_disk(url=None, **options):
        engine = real_connect(url, **options)

        @sa.event.listens_for(engine, "connect")
        def _limit(dbapi_connection, _record):
            pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 2}")

        return engine

    monkeypatch.setattr(db, "connect", small_disk)
    before = snapshot(url, reflect=False)
    result = _ehcp("--db", url, "--as-of", AS_OF, "import", _extract(tmp_path, 3000))
    line = _one_line(result)
    assert "disk holding the database is full" in line
    assert "P0001" not in result.output and "2024-03-01" not in result.output
    monkeypatch.setattr(db, "connect", real_connect)
    assert snapshot(url, reflect=False) == before


def test_postgresql_gone_mid_import(db_url, tmp_path, monkeypatch):
    """The server ends the import's session part-way: one line, exit 1, nothing stored."""
    if not db_url.startswith("postgresql"):
        pytest.skip("a server that can go away is PostgreSQL's")
    from ehcp_tracker.ingest import importer

    assert _ehcp("--db", db_url, "init").exit_code == 0
    before = snapshot(db_url, reflect=False)
    admin = sa.create_engine(db_url, poolclass=sa.pool.NullPool)

    def server_restart(conn):
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        with admin.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    monkeypatch.setattr(importer, "_test_only_pause", server_restart)
    line = _one_line(_ehcp("--db", db_url, "--as-of", AS_OF, "import", _extract(tmp_path)))
    admin.dispose()
    assert "database server" in line
    assert snapshot(db_url, reflect=False) == before


def test_no_server_at_all(tmp_path):
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:9/none"
    line = _one_line(_ehcp("--db", url, "clocks"))
    assert "cannot reach the database server" in line and "secret" not in line


@pytest.mark.parametrize("args", [["--as-of", "9999-12-31", "clocks"], ["--as-of", "1066-10-14", "due"],
                                  ["demo", "generate", "--end", "9999-12-31", "-o", "x"]])
def test_dates_the_tool_cannot_count_with_are_one_line(run, tmp_path, args):
    assert "give a date from 1990-01-01 to 2199-12-31" in _one_line(run(*args))


@pytest.mark.parametrize("make", [
    lambda: sa.exc.OperationalError("INSERT ...", {"person_id": "PX93817"}, sqlite3.OperationalError("database or disk is full")),
    lambda: sa.exc.OperationalError("UPDATE ...", {"dob": "2012-03-10"}, sqlite3.OperationalError("attempt to write a readonly database")),
    lambda: sa.exc.OperationalError("BEGIN", None, sqlite3.OperationalError("database is locked")),
    lambda: sqlite3.DatabaseError("file is not a database"),
    lambda: OSError(errno.EROFS, "Read-only file system", "/srv/out.csv"),
    lambda: PermissionError(errno.EACCES, "Permission denied", "/srv/out.csv"),
])
def test_one_place_names_each_fault_without_its_parameters(make):
    error = errors.environment_fault(make())
    assert isinstance(error, errors.EnvironmentFault)
    assert "PX93817" not in str(error) and "2012-03-10" not in str(error) and "\n" not in str(error)


def test_a_bug_is_not_mistaken_for_a_fault():
    assert errors.environment_fault(KeyError("x")) is None
    assert errors.environment_fault(sqlite3.OperationalError("no such column: x")) is None


def test_postgresql_faults_are_named_by_their_sqlstate():
    psycopg = pytest.importorskip("psycopg")
    for state, cls in (("53100", errors.DiskFull), ("25006", errors.ReadOnly), ("57P01", errors.ServerGone),
                       ("55P03", errors.DatabaseLocked)):
        exc = psycopg.errors.lookup(state)("COPY assessment, line 3: \"PX93817\"")
        error = errors.environment_fault(sa.exc.OperationalError("COPY", None, exc))
        assert isinstance(error, cls) and "PX93817" not in str(error)


# --- imports wait their turn ---------------------------------------------------------------------

@contextlib.contextmanager
def another_import_holding_the_lock(db_url, seconds: float, monkeypatch):
    """A second process's write transaction, held ``seconds`` while the test body runs its import."""
    monkeypatch.setattr(db, "BUSY_SLICE_SECONDS", 0.2)
    ready = threading.Event()

    def hold():
        engine = db.connect(db_url)
        try:
            with db.write_transaction(engine) as conn:
                conn.execute(sa.select(1))
                ready.set()
                time.sleep(seconds)
        finally:
            engine.dispose()

    holder = threading.Thread(target=hold)
    holder.start()
    ready.wait(10)
    try:
        yield
    finally:
        holder.join()


def test_an_import_waits_for_the_one_before_it(run, db_url, tmp_path, monkeypatch):
    """The lock is held for several waiting slices (60 s once, when SQLite gave up): the import waits."""
    with another_import_holding_the_lock(db_url, 1.5, monkeypatch):
        result = run("--as-of", AS_OF, "import", _extract(tmp_path))
    assert result.exit_code == 0, result.output
    if db_url.startswith("sqlite"):
        assert "a.csv: waiting for another import to finish" in result.stderr


def test_wait_gives_up_with_one_line(run, db_url, tmp_path, monkeypatch):
    before = snapshot(db_url, reflect=False)
    with another_import_holding_the_lock(db_url, 3, monkeypatch):
        result = run("--as-of", AS_OF, "import", _extract(tmp_path), "--wait", "0.5", "--summary-json",
                     tmp_path / "s.json")
    line = _one_line(result)
    assert "gave up waiting (--wait 0.5)" in line or "locked by another process" in line
    assert json.loads((tmp_path / "s.json").read_text())[0]["status"] == "failed"
    assert snapshot(db_url, reflect=False) == before



def _watched_lock(locked: list):
    """db.write_transaction that records, in ``locked``, while the write lock is held."""
    real_transaction = db.write_transaction

    @contextlib.contextmanager
    def watched(*args, **kwargs):
        with real_transaction(*args, **kwargs) as conn:
            locked.append(True)
            try:
                yield conn
            finally:
                locked.pop()

    return watched


def test_the_deadline_moves_are_worked_out_outside_the_write_lock(engine, db_url, book, tmp_path, monkeypatch):
    """The engine's evaluation of the changed cases runs before the lock is taken; when another
    import commits in between, the plan is made again under the lock, against its data."""
    import datetime as dt

    from ehcp_tracker.ingest import importer

    as_of = dt.date(2024, 5, 1)
    importer.import_extract(engine, _extract(tmp_path, 1, "base.csv", "2024-03-01"), book, as_of)
    locked, evaluated, interloping = [], [], []
    watched, real_changes = _watched_lock(locked), importer.deadline_changes

    def deadline_changes(*args, **kwargs):
        if interloping:  # the other import's own evaluation
            return real_changes(*args, **kwargs)
        evaluated.append(bool(locked))
        if len(evaluated) == 1:  # another import commits between our read and our lock
            interloping.append(True)
            other = db.connect(db_url)
            try:
                importer.import_extract(other, _extract(tmp_path, 1, "other.csv", "2024-03-02"), book, as_of)
            finally:
                other.dispose()
                interloping.clear()
        return real_changes(*args, **kwargs)

    monkeypatch.setattr(db, "write_transaction", watched)
    monkeypatch.setattr(importer, "deadline_changes", deadline_changes)
    summary = importer.import_extract(engine, _extract(tmp_path, 1, "ours.csv", "2024-03-04"), book, as_of)
    assert evaluated == [False, True]  # first outside the lock; again inside, after the other commit
    moved = {c["clock"]: c for c in summary.deadline_changes}
    assert "request_received changed 2024-03-02 -> 2024-03-04" in moved["final_plan"]["why"]
    assert summary.changed == 1


def test_without_a_competing_import_the_lock_holds_only_the_writing(engine, book, tmp_path, monkeypatch):
    import datetime as dt

    from ehcp_tracker.ingest import importer

    as_of = dt.date(2024, 5, 1)
    importer.import_extract(engine, _extract(tmp_path, 3, "base.csv", "2024-03-01"), book, as_of)
    locked, evaluated = [], []
    watched, real_changes = _watched_lock(locked), importer.deadline_changes

    monkeypatch.setattr(db, "write_transaction", watched)
    monkeypatch.setattr(importer, "deadline_changes", lambda *a, **k: evaluated.append(bool(locked)) or real_changes(*a, **k))
    summary = importer.import_extract(engine, _extract(tmp_path, 3, "ours.csv", "2024-03-04"), book, as_of)
    assert evaluated == [False] and summary.changed == 3 and len(summary.deadline_changes) >= 3
