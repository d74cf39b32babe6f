"""The nightly import as operations rely on it: serialised, crash-safe, quiet, and saying what changed."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time

import sqlalchemy as sa

from ehcp_tracker.store import db
from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.listings import clock_results

from .conftest import ASSESSMENT_HEADER, ROOT, assessment_rows, snapshot, write_csv

AS_OF = dt.date(2024, 5, 1)


def _cases(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        t = db.assessment_table
        rows = conn.execute(sa.select(t.c.request_id, t.c.request_received, t.c.missing_since_run_id)).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_two_imports_at_once_are_serialised(engine, db_url, book, tmp_path, monkeypatch):
    """Both start together and both pause inside their transaction: they must still apply one after
    the other, each against what the other committed, with nothing lost."""
    first = write_csv(tmp_path / "first.csv", ASSESSMENT_HEADER, assessment_rows(200, "2024-03-01"))
    second = write_csv(tmp_path / "second.csv", ASSESSMENT_HEADER, assessment_rows(300, "2024-03-04"))
    monkeypatch.setenv("EHCP_TEST_ONLY_PAUSE_FILE", str(tmp_path / "paused"))
    monkeypatch.setenv("EHCP_TEST_ONLY_PAUSE_SECONDS", "0.5")
    barrier = threading.Barrier(2)
    results, errors = {}, []

    def run(path):
        engine = db.connect(db_url)
        try:
            barrier.wait()
            # either order is allowed: 200 after 300 leaves 100 missing, past the shrink guard on purpose
            results[path.name] = import_extract(engine, path, book, AS_OF, max_missing=100)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run, args=(p,)) for p in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    a, b = results["first.csv"], results["second.csv"]
    assert {a.run_id, b.run_id} == {1, 2}
    cases = _cases(engine)
    assert len(cases) == 300
    with engine.connect() as conn:
        log = conn.execute(sa.select(db.change_log.c.run_id, db.change_log.c.field)).fetchall()
    if a.run_id < b.run_id:  # first, then second: 200 dates moved, 100 new
        assert (a.new, b.new, b.changed) == (200, 100, 200)
        assert all(received == dt.date(2024, 3, 4) and missing is None for received, missing in cases.values())
        assert sum(1 for run, f in log if run == b.run_id and f == "request_received") == 200
    else:  # second, then first: 200 dates moved back, 100 kept and marked missing
        assert (b.new, a.changed, a.missing) == (300, 200, 100)
        assert sum(1 for received, missing in cases.values() if missing == a.run_id) == 100
    assert len(b.deadline_changes if a.run_id < b.run_id else a.deadline_changes) > 0


def test_readers_never_see_a_half_imported_file(engine, db_url, book, tmp_path, monkeypatch):
    import_extract(engine, write_csv(tmp_path / "a.csv", ASSESSMENT_HEADER, assessment_rows(50)), book, AS_OF)
    before = clock_results(engine, book, AS_OF)
    marker = tmp_path / "paused"
    monkeypatch.setenv("EHCP_TEST_ONLY_PAUSE_FILE", str(marker))
    monkeypatch.setenv("EHCP_TEST_ONLY_PAUSE_SECONDS", "1.5")
    path = write_csv(tmp_path / "b.csv", ASSESSMENT_HEADER, assessment_rows(80, "2024-03-04"))
    writer = db.connect(db_url)
    thread = threading.Thread(target=import_extract, args=(writer, path, book, AS_OF))
    thread.start()
    for _ in range(200):
        if marker.exists():
            break
        time.sleep(0.02)
    assert marker.exists()
    during = clock_results(engine, book, AS_OF)  # the import has written everything, not committed
    thread.join()
    writer.dispose()
    after = clock_results(engine, book, AS_OF)
    assert during.equals(before)
    assert after["case_id"].nunique() == 80


def _ehcp(db_url, *args, env=None):
    return [sys.executable, "-m", "ehcp_tracker", "--db", db_url, "--as-of", AS_OF.isoformat(), *args]


def _env(**extra):
    return os.environ | {"PYTHONPATH": str(ROOT)} | extra


def test_an_import_killed_mid_way_leaves_the_database_as_before(engine, db_url, book, tmp_path):
    import_extract(engine, write_csv(tmp_path / "a.csv", ASSESSMENT_HEADER, assessment_rows(100)), book, AS_OF)
    engine.dispose()
    before = snapshot(db_url)
    marker = tmp_path / "paused"
    path = write_csv(tmp_path / "b.csv", ASSESSMENT_HEADER, assessment_rows(500, "2024-03-04"))
    log = tmp_path / "stderr.txt"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(_ehcp(db_url, "import", str(path)), cwd=tmp_path,
                                   env=_env(EHCP_TEST_ONLY_PAUSE_FILE=str(marker)),
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        for _ in range(1500):
            if marker.exists() or process.poll() is not None:
                break
            time.sleep(0.02)
        assert marker.exists(), log.read_text()
        os.kill(process.pid, signal.SIGKILL)  # everything written, nothing committed
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert snapshot(db_url) == before
    # the lock died with the process: the next night's import runs normally
    done = subprocess.run(_ehcp(db_url, "import", str(path)), cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "100 changed" in done.stderr and "400 new" in done.stderr


def test_changes_lists_the_deadlines_an_import_moved(run, tmp_path):
    header = ASSESSMENT_HEADER
    run("--as-of", "2024-05-01", "import", write_csv(tmp_path / "a.csv", header, assessment_rows(3)))
    rows = assessment_rows(3)
    rows[0][2] = "2024-03-04"  # R0001 received three days later
    rows[1][3] = "CW9"  # R0002 reallocated: no deadline moves
    summary_path = tmp_path / "summary.json"
    result = run("--as-of", "2024-05-01", "import", write_csv(tmp_path / "b.csv", header, rows),
                 "--summary-json", summary_path)
    assert result.exit_code == 0
    assert "0 new, 2 changed, 1 unchanged, 0 missing" in result.output
    assert ("moved: R0001 final_plan 2024-07-19 -> 2024-07-22 (request_received changed 2024-03-01 -> 2024-03-04)"
            in result.output)
    summary = json.loads(summary_path.read_text())[0]
    assert (summary["new"], summary["changed"], summary["unchanged"], summary["missing"], summary["rejected"]) == (
        0, 2, 1, 0, 0)
    moved = {(m["case_id"], m["clock"]): (m["old_due"], m["new_due"]) for m in summary["deadlines_moved"]}
    assert moved[("R0001", "final_plan")] == ("2024-07-19", "2024-07-22")
    assert {case for case, _ in moved} == {"R0001"}
    listed = run("changes", "--format", "json")
    assert json.loads(listed.stdout) == json.loads(run("changes", "--run", "2", "--format", "json").stdout)
    records = json.loads(listed.stdout)
    assert {(r["case_id"], r["clock"], r["old_due"], r["new_due"]) for r in records} >= {
        ("R0001", "final_plan", "2024-07-19", "2024-07-22")}
    assert all(r["why"] == "request_received changed 2024-03-01 -> 2024-03-04" for r in records)
    assert json.loads(run("changes", "--run", "1", "--format", "json").stdout) == []
    assert len(json.loads(run("changes", "--all", "--format", "json").stdout)) == len(records)
    missing = run("changes", "--run", "99")
    assert missing.exit_code == 1 and "no import run 99" in missing.output


def test_rejected_rows_exit_3_and_quiet_keeps_only_errors(run, tmp_path):
    rows = assessment_rows(3)
    rows[1][2] = "31/02/2024"
    path = write_csv(tmp_path / "a.csv", ASSESSMENT_HEADER + ["unknown column"], [r + ["x"] for r in rows])
    result = run("--as-of", "2024-05-01", "--quiet", "import", path, "--skip-bad-rows")
    assert result.exit_code == 3  # imported, with the bad row rejected
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("rejected: a.csv, row 3, column request_received: no such day in the calendar")
    result = run("--as-of", "2024-05-01", "import", path)
    assert result.exit_code == 1
    assert "nothing was imported" in result.output and "Traceback" not in result.output
    result = run("--as-of", "2024-05-01", "-q", "import", write_csv(tmp_path / "ok.csv", ASSESSMENT_HEADER,
                                                                    assessment_rows(3)))
    assert (result.exit_code, result.output) == (0, "")


def test_logs_never_contain_a_date_of_birth(run, tmp_path):
    header = ["review_id", "person_id", "plan_issued", "date_of_birth"]
    secret = "1O/O3/2O12"  # letter O for zero: unreadable, and unmistakable in the output
    rows = [["AR1", "P1", "2023-05-01", secret], ["AR2", "P2", "2023-05-01", "2012-03-10"]]
    path = write_csv(tmp_path / "reviews.csv", header, rows)
    summary = tmp_path / "summary.json"
    for args in ([], ["--skip-bad-rows"]):
        result = run("--as-of", "2024-05-01", "import", path, "--summary-json", summary, *args)
        assert result.exit_code == (3 if args else 1)
        assert "row 2, column date_of_birth: not a date" in result.output
        for text in (result.output, summary.read_text()):
            assert secret not in text and "1O/O3" not in text
    rejects = tmp_path / "reviews.rejects.csv"
    assert oct(rejects.stat().st_mode & 0o777) == "0o600"  # the rejects file does hold the row: owner only
    # a changed date of birth is named in the summary, never shown
    rows[1][3] = "2012-03-11"
    result = run("--as-of", "2024-05-01", "import", write_csv(tmp_path / "r2.csv", header, rows[1:]))
    assert "2012-03-1" not in result.output


def test_progress_bar_only_for_a_person_watching(tmp_path):
    from ehcp_tracker.progress import LARGE_FILE, import_progress

    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * LARGE_FILE)

    class Tty:
        def __init__(self, tty):
            self.tty, self.text = tty, []

        def isatty(self):
            return self.tty

        def write(self, text):
            self.text.append(text)

        def flush(self):
            pass

    with import_progress(big, quiet=False, stream=Tty(False)) as progress:
        assert progress is None
    with import_progress(big, quiet=True, stream=Tty(True)) as progress:
        assert progress is None
    with import_progress(tmp_path, quiet=False, stream=Tty(True)) as progress:
        assert progress is None
    stream = Tty(True)
    with import_progress(big, quiet=False, stream=stream) as progress:
        progress("writing", 5, 10)
    assert callable(progress)
