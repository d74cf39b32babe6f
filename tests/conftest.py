"""Shared fixtures: the rule book, a fresh database, and a CLI runner.

Every test that touches a database takes ``db_url`` (or ``engine``), so the same test runs on every
database the suite is configured for.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from ehcp_tracker import db
from ehcp_tracker.cli import cli
from ehcp_tracker.rules import load_rule_book

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def book():
    return load_rule_book(ROOT / "rules")


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'test.db'}"


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
