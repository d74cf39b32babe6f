"""Symbolic links at the SQLite path and at the outbox (issue 28 point 6): refused, dangling or not,
with one line naming the link and its target, and nothing created; a command other than ``ehcp init``
against a missing database creates no file. (SQLite only: PostgreSQL has no path; the outbox half
runs on both databases.)"""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from ehcp_tracker.cli import cli

from .test_alerts import AS_OF, night  # noqa: F401 - fixture


def ehcp(*args):
    return CliRunner().invoke(cli, [*map(str, args)], catch_exceptions=False)


@pytest.mark.parametrize("command", [["init"], ["due"], ["--as-of", "2024-05-01", "import", "x.csv"]])
@pytest.mark.parametrize("target", ["real", "dangling"])
def test_a_link_at_the_database_path_is_refused_and_nothing_created(tmp_path, command, target):
    real = tmp_path / "real.db"
    if target == "real":
        assert ehcp("--db", f"sqlite:///{real}", "init").exit_code == 0
    before = real.read_bytes() if real.exists() else None
    link = tmp_path / "ehcp.db"
    link.symlink_to(real if target == "real" else tmp_path / "elsewhere" / "nothing.db")
    (tmp_path / "x.csv").write_text("request_id,person_id,request_received\nR1,P1,2024-03-01\n")
    result = ehcp("--db", f"sqlite:///{link}", *[str(tmp_path / c) if c.endswith(".csv") else c for c in command])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"--db: {link} is a symbolic link (to " in result.output and "nothing was created" in result.output
    assert not (tmp_path / "elsewhere").exists()
    assert (real.read_bytes() if real.exists() else None) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ehcp.db", "x.csv"] + (["real.db"] if before else []))


def test_a_link_at_a_companion_file_is_refused(tmp_path):
    db = tmp_path / "ehcp.db"
    assert ehcp("--db", f"sqlite:///{db}", "init").exit_code == 0
    (tmp_path / "ehcp.db-wal").unlink(missing_ok=True)
    (tmp_path / "ehcp.db-wal").symlink_to(tmp_path / "planted")
    result = ehcp("--db", f"sqlite:///{db}", "due")
    assert result.exit_code == 1 and "ehcp.db-wal is a symbolic link" in result.output
    assert not (tmp_path / "planted").exists()


def test_a_command_against_a_missing_database_creates_nothing(tmp_path):
    (tmp_path / "a.csv").write_text("request_id,person_id,request_received\nR1,P1,2024-03-01\n")
    (tmp_path / "people.csv").write_text("id,name,email,team,role\nCW1,A,a@example.org,North,caseworker\n")
    for args in (["--as-of", "2024-05-01", "import", tmp_path / "a.csv"], ["due"], ["alerts", "--people",
                 tmp_path / "people.csv", "--outbox", tmp_path / "out"]):
        result = ehcp("--db", f"sqlite:///{tmp_path / 'missing.db'}", *args)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "does not exist: run `ehcp init` to create it (nothing was created)" in result.output
        assert not (tmp_path / "missing.db").exists() and not (tmp_path / "out").exists()
    assert ehcp("--db", f"sqlite:///{tmp_path / 'missing.db'}", "init").exit_code == 0
    assert oct((tmp_path / "missing.db").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("target", ["real", "dangling"])
def test_a_linked_outbox_is_refused_and_nothing_written(night, tmp_path, target):
    real = tmp_path / "real-outbox"
    if target == "real":
        real.mkdir()
    link = tmp_path / "outbox"
    link.symlink_to(real)
    result = night("--as-of", AS_OF, "alerts", "--people", night.people, "--outbox", link)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"--outbox: {link} is a symbolic link (to {real})" in result.output
    assert not real.exists() or not any(real.iterdir())
    assert os.path.islink(link)
