"""Start-up stays cheap: the command line imports click and the shared vocabulary, nothing heavy.

Every command used to pay 1.4-2.2 s before doing anything because pandas and SQLAlchemy were imported
for ``ehcp --version`` too (issue 17). Time is measured in ``benchmarks/``; this test checks the
cause, which modules a bare start loads, so it cannot pass by luck on a fast machine.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pandas", "numpy", "sqlalchemy", "alembic", "pyarrow", "holidays", "pendulum", "openpyxl", "rich")


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_importing_the_cli_loads_nothing_heavy():
    assert _loaded_after("import ehcp_tracker.cli") & set(HEAVY) == set()


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["rules", "--help"], ["due", "--help"]])
def test_version_and_help_load_nothing_heavy(args):
    code = ("from ehcp_tracker.cli import cli\n"
            f"try:\n    cli({args!r}, prog_name='ehcp')\nexcept SystemExit as exit:\n    assert exit.code == 0, exit.code")
    assert _loaded_after(code) & set(HEAVY) == set()


def test_a_command_still_gets_what_it_needs(run):
    """The lazy imports are real imports: a command that needs the rule book and pandas still runs."""
    result = run("rules", "list", "--format", "csv")
    assert result.exit_code == 0 and "final_plan" in result.output


def test_the_migration_head_read_from_the_files_is_alembics():
    from ehcp_tracker.store import db

    assert db.head_from_files() == db.head_revision()


def test_an_up_to_date_database_is_checked_without_alembic(tmp_path):
    from ehcp_tracker.store import db

    url = f"sqlite:///{tmp_path / 'x.db'}"
    db.init_db(db.connect(url))
    code = f"from ehcp_tracker.store import db\ndb.require_schema(db.connect({url!r}))"
    assert "alembic" not in _loaded_after(code)
