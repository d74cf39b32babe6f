"""Schema migrations: ``ehcp init`` creates, stamps and upgrades; behind schemas are refused."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ehcp_tracker.store import db
from ehcp_tracker.errors import EhcpError
from ehcp_tracker.ingest.importer import import_extract

from .conftest import ASSESSMENT_HEADER, assessment_rows, snapshot, write_csv


def test_head_matches_db_py(engine):
    """Every change to db.py comes with a migration: head and the metadata agree."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_init_is_idempotent(db_url):
    engine = db.connect(db_url)
    assert db.init_db(engine) == (None, db.head_revision())
    assert db.init_db(engine) == (db.head_revision(), db.head_revision())
    db.require_schema(engine)
    engine.dispose()


def test_pre_alembic_database_is_stamped_and_upgraded(db_url, tmp_path, book):
    """A database made by metadata.create_all before migrations existed keeps its data."""
    engine = db.connect(db_url)
    first = [db.metadata.tables[name] for name in ("import_run", "assessment", "review", "change_log")]
    # the first schema had no deadlines_moved column: build it as it was
    old = sa.MetaData()
    for table in first:
        table.to_metadata(old)
    _first_import_run(old)
    _first_review(old)
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(old.tables["import_run"].insert().values(
            started_at=dt.datetime(2024, 1, 1), file_name="x.csv", as_of=dt.date(2024, 1, 1), status="imported"))
        conn.execute(old.tables["assessment"].insert().values(
            request_id="R1", person_id="P1", request_received=dt.date(2024, 1, 1), first_run_id=1, last_run_id=1))
    with pytest.raises(EhcpError, match="run `ehcp init` to upgrade"):
        db.require_schema(engine)
    before, after = db.init_db(engine)
    assert (before, after) == ("pre-migrations", db.head_revision())
    db.require_schema(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(db.assessment_table.c.request_id)).scalars().all() == ["R1"]
    engine.dispose()


def _first_import_run(old: sa.MetaData) -> None:
    """import_run as revision 0001 made it: without the columns (and index) later revisions added."""
    table = old.tables["import_run"]
    for name in ("deadlines_moved", "batch", *NEW_IN_0016):
        table._columns.remove(table.c[name])
    for index in [i for i in table.indexes if i.name == "ix_import_run_batch"]:
        table.indexes.discard(index)


NEW_IN_0016 = ("refusal_reason", "new_queries")  # on import_run (0016_import_refusal_reason, issue 25)
NEW_IN_0006 = ("ncy_academic_year", "transferred_in", "meeting_notice_sent", "advice_circulated",
               "review_report_sent")


NEW_IN_0008 = ("exception_from", "exception_to", "assessment_type", "tribunal_order", "tribunal_order_date")
NEW_IN_0009 = ("tribunal_order", "tribunal_order_date", "tribunal_amended_plan_issued")
NEW_IN_0014 = ("source",)  # on both case tables (0014_sen2)
# 0011_law_third_reading (issue 24, chained after 0014_sen2): reg 15(4) and regs 44-45 on both kinds
NEW_IN_0011 = {"assessment": ("tribunal_route", "tribunal_exception", "tribunal_notice_sent"),
               "review": ("transfer_notice_sent", "tribunal_route", "tribunal_exception")}


def _first_review(old: sa.MetaData) -> None:
    """review as revisions before 0006_legal made it (and assessment as before 0008_assessment_law)."""
    for name in (*NEW_IN_0006, *NEW_IN_0009, *NEW_IN_0014, *NEW_IN_0011["review"]):
        old.tables["review"]._columns.remove(old.tables["review"].c[name])
    if "assessment" in old.tables:
        for name in (*NEW_IN_0008, *NEW_IN_0014, *NEW_IN_0011["assessment"]):
            old.tables["assessment"]._columns.remove(old.tables["assessment"].c[name])


def test_upgrade_from_first_revision_loses_nothing(db_url, tmp_path, book):
    """Build the first schema, fill it through a real import, upgrade to head: every row survives."""
    engine = db.connect(db_url)
    db.init_db(engine, revision=db.FIRST_REVISION)
    with pytest.raises(EhcpError, match=r"behind \(revision 0001.*run `ehcp init` to upgrade"):
        db.require_schema(engine)
    # fill it as the first version did (no deadlines_moved column, no deadline_change table)
    old = sa.MetaData()
    for name in ("import_run", "assessment", "review", "change_log"):
        db.metadata.tables[name].to_metadata(old)
    _first_import_run(old)
    _first_review(old)
    rows = assessment_rows(50)
    with engine.begin() as conn:
        run_id = conn.execute(old.tables["import_run"].insert().values(
            started_at=dt.datetime(2024, 5, 1), file_name="a.csv", as_of=dt.date(2024, 5, 1),
            status="imported", rows_read=50, cases_new=50)).inserted_primary_key[0]
        conn.execute(old.tables["assessment"].insert(), [
            {"request_id": r[0], "person_id": r[1], "request_received": dt.date(2024, 3, 1), "caseworker": r[3],
             "team": r[4], "first_run_id": run_id, "last_run_id": run_id} for r in rows])
        conn.execute(old.tables["change_log"].insert(), [
            {"run_id": run_id, "kind": "assessments", "case_id": r[0], "field": "(new case)", "old_value": "",
             "new_value": "created"} for r in rows])
    before = snapshot(db_url)
    assert db.init_db(engine) == ("0001", db.head_revision())
    after = snapshot(db_url)
    for name, table_rows in before.items():
        if name == "import_run":  # 0002 deadlines_moved, 0003 batch and 0016's two, NULL for old runs
            assert [r + ("None",) * (2 + len(NEW_IN_0016)) for r in table_rows] == after[name]
        elif name == "assessment":  # 0005 row_digest, the five of 0008, 0014's source and three of 0011, NULL for old rows
            assert [r + ("None",) * (1 + len(NEW_IN_0008) + len(NEW_IN_0014) + len(NEW_IN_0011[name]))
                    for r in table_rows] == after[name]
        elif name == "review":  # 0005 row_digest, the three of 0009, 0014's source and three of 0011, NULL for old rows
            assert [r + ("None",) * (1 + len(NEW_IN_0009) + len(NEW_IN_0014) + len(NEW_IN_0011[name]))
                    for r in table_rows] == after[name]
        else:
            assert after[name] == table_rows, name
    # and the upgraded database imports as usual
    path = write_csv(tmp_path / "a.csv", ASSESSMENT_HEADER, rows)
    summary = import_extract(engine, path, book, dt.date(2024, 5, 2))
    assert (summary.new, summary.unchanged) == (0, 50)
    engine.dispose()


def test_cli_refuses_a_behind_schema(db_url):
    from click.testing import CliRunner

    from ehcp_tracker.cli import cli

    engine = db.connect(db_url)
    db.init_db(engine, revision=db.FIRST_REVISION)
    engine.dispose()
    result = CliRunner().invoke(cli, ["--db", db_url, "due"])
    assert result.exit_code == 1
    assert "run `ehcp init` to upgrade" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["--db", db_url, "init"])
    assert result.exit_code == 0, result.output
    assert "upgraded from 0001" in result.output
    assert CliRunner().invoke(cli, ["--db", db_url, "due"]).exit_code == 0


def test_partial_foreign_schema_is_refused(db_url):
    engine = db.connect(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE assessment (x INTEGER)"))
    with pytest.raises(EhcpError, match="not a database this tool made"):
        db.init_db(engine)
    engine.dispose()


def test_0006_keeps_the_year_stored_rows_were_imported_under(db_url):
    """Before December 2026 ``ncy`` was the year group in the academic year of the review's due date;
    0006_legal writes that year into ``ncy_academic_year`` so the stored rows keep their meaning.
    Plan 1 March 2023 -> due 29 February 2024 (2023/24); last review 10 September 2024 -> due
    9 September 2025 (2025/26); no ncy -> nothing to state."""
    engine = db.connect(db_url)
    db.init_db(engine, revision="0005_row_digest")  # the revision before 0006_legal
    old = sa.MetaData()
    for name in ("import_run", "review"):
        db.metadata.tables[name].to_metadata(old)
    _first_review(old)
    with engine.begin() as conn:
        conn.execute(old.tables["import_run"].insert().values(
            started_at=dt.datetime(2024, 5, 1), file_name="r.csv", as_of=dt.date(2024, 5, 1), status="imported"))
        conn.execute(old.tables["review"].insert(), [
            {"review_id": "AR1", "person_id": "P1", "plan_issued": dt.date(2023, 3, 1), "last_review": None,
             "ncy": 6, "first_run_id": 1, "last_run_id": 1},
            {"review_id": "AR2", "person_id": "P2", "plan_issued": dt.date(2021, 1, 5),
             "last_review": dt.date(2024, 9, 10), "ncy": 10, "first_run_id": 1, "last_run_id": 1},
            {"review_id": "AR3", "person_id": "P3", "plan_issued": dt.date(2023, 3, 1), "last_review": None,
             "ncy": None, "first_run_id": 1, "last_run_id": 1}])
    db.init_db(engine)
    with engine.connect() as conn:
        got = dict(conn.execute(sa.select(db.review_table.c.review_id, db.review_table.c.ncy_academic_year)).all())
    assert got == {"AR1": 2023, "AR2": 2025, "AR3": None}
    engine.dispose()
