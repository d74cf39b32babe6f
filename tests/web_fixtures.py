"""Shared set-up of the work tray tests: the sample caseload with stored clocks and one account of
each role, on SQLite and on PostgreSQL, made once per module."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.ingest.refresh import refresh_everything
from ehcp_tracker.store import db
from ehcp_tracker.web import accounts

from .conftest import ROOT

AS_OF = dt.date(2026, 11, 2)
PASSWORD = "tray-test-password-42"
USERS = {  # name: (role, caseworker, team)
    "cw1": ("caseworker", "CW001", None),
    "cw4": ("caseworker", "CW004", None),
    "lead.north": ("team_lead", None, "North"),
    "lead.west": ("team_lead", None, "West"),
    "admin": ("admin", None, None),
}


def make_database(request, tmp_path_factory, name: str) -> str:
    """A fresh database URL for a module: a SQLite file, or a new PostgreSQL schema (dropped after)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp(name) / 'web.db'}"
    admin = request.getfixturevalue("postgres_admin")
    schema = f"ehcp_web_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop():
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))

    request.addfinalizer(drop)
    return admin.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def sample_tray(url: str, book) -> sa.Engine:
    engine = db.connect(url)
    db.init_db(engine)
    for name in ("assessments.csv", "reviews.csv"):
        import_extract(engine, ROOT / "sample_data" / name, book, AS_OF)
    refresh_everything(engine, book)
    for name, (role, caseworker, team) in USERS.items():
        accounts.add(engine, name, role, caseworker=caseworker, team=team, password=PASSWORD)
    return engine


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tray(request, tmp_path_factory, book):
    """(url, engine) of the sample caseload with stored clocks and the USERS accounts."""
    url = make_database(request, tmp_path_factory, "tray")
    engine = sample_tray(url, book)
    yield url, engine
    engine.dispose()
