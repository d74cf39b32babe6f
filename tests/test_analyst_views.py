"""Data for analysts (issue 23, point 7): the views ``analyst_clocks`` and ``analyst_cases`` and
``ehcp export``, on SQLite and PostgreSQL.

The views judge in SQL what ``engine.judge`` judges in numpy: row for row they must equal the
listing (``ehcp clocks``) on the database's today. The export judges on ``--as-of`` and must equal
``ehcp clocks --as-of`` on any day the stored clocks answer for. The column dictionary (the docs
page, generated) must name exactly the columns a migrated database's views have.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from ehcp_tracker import docs_gen
from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.listings import Filters, clock_results
from ehcp_tracker.report.analysts import export_frame, read_view
from ehcp_tracker.schema import ASSESSMENTS, REVIEWS
from ehcp_tracker.store import analyst_views, db

from .conftest import ROOT
from .test_engine_vs_explain import assessment, review
from .test_stored_clocks import _base, fresh_database, other_book, write_extract

SAMPLE = [ROOT / "sample_data" / "assessments.csv", ROOT / "sample_data" / "reviews.csv"]
COMPARED = ["case_id", "kind", "clock", "started", "due", "stopped", "status", "days_overdue", "exception",
            "statutory", "stop_reason", "rule_version", "reference"]


@pytest.fixture
def imported(run):
    """The sample caseload imported today (the clocks stored by the import)."""
    result = run("import", *SAMPLE)
    assert result.exit_code == 0, result.output
    return run


def _listing(engine, book, as_of: dt.date) -> pd.DataFrame:
    frame = clock_results(engine, book, as_of, Filters(include_missing=True), stored=True)
    # the listing's flag and its "" for a running clock's stop reason are the view's yes / no and NULL
    frame = frame.assign(statutory=frame["statutory"].map(lambda v: {True: "yes", False: "no"}.get(v, v)),
                         stop_reason=frame["stop_reason"].replace("", None))
    return _comparable(frame)


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[COMPARED].copy()
    for name in ("started", "due", "stopped"):
        out[name] = pd.to_datetime(out[name]).dt.strftime("%Y-%m-%d").where(out[name].notna(), None)
    out["days_overdue"] = out["days_overdue"].astype(int)
    out = out.astype(object).where(out.notna(), None)
    return out.sort_values(["kind", "case_id", "clock"]).reset_index(drop=True)


def _same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Equal row for row; else the first differing rows, by column."""
    assert list(left.columns) == list(right.columns) and len(left) == len(right)
    for name in left.columns:
        differ = left[name].ne(right[name]) & ~(left[name].isna() & right[name].isna())
        assert not differ.any(), (name, left[differ].head(3).to_dict("records"), right[differ].head(3).to_dict("records"))


def _db_today(engine) -> dt.date:
    with engine.connect() as conn:
        value = conn.execute(sa.text("SELECT status_on FROM analyst_clocks LIMIT 1")).scalar()
    return dt.date.fromisoformat(str(value)[:10])


def test_the_clocks_view_judges_as_the_engine_does(imported, db_url, book):
    engine = db.connect(db_url)
    view = read_view(engine, "clocks")
    today = _db_today(engine)
    assert today >= dt.date.today() - dt.timedelta(days=1)
    # the sample caseload on today has every status, so every branch of the SQL verdict is compared
    assert set(view["status"]) >= {"met", "late", "overdue", "open"}
    assert set(view["stop_reason"].dropna()) == {"event", "closed"}
    _same(_comparable(view), _listing(engine, book, today))
    # readable: real dates, words for kinds and flags, the citation as stored
    assert set(view["kind"]) == {"assessment", "review"}
    assert set(view["looked_after"].dropna()) <= {"yes", "no"}
    assert view["reference"].str.contains("SEND Regulations 2014").any()
    engine.dispose()


def test_the_cases_view_has_one_row_per_case_and_counts_its_clocks(imported, db_url):
    engine = db.connect(db_url)
    cases, clocks = read_view(engine, "cases"), read_view(engine, "clocks")
    with engine.connect() as conn:
        stored = sum(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() for t in db.CASE_TABLES.values())
    assert len(cases) == stored and not cases.duplicated(["kind", "case_id"]).any()
    per_case = clocks.groupby(["kind", "case_id"]).agg(counted=("clock", "size"),
                                                       overdue=("status", lambda s: int(s.eq("overdue").sum())),
                                                       late=("status", lambda s: int(s.eq("late").sum())))
    joined = cases.set_index(["kind", "case_id"]).join(per_case, how="left")
    assert joined["clocks"].astype(int).equals(joined["counted"].fillna(0).astype(int))
    assert joined["clocks_overdue"].astype(int).equals(joined["overdue"].fillna(0).astype(int))
    assert joined["clocks_late"].astype(int).equals(joined["late"].fillna(0).astype(int))
    assert cases["first_imported"].notna().all()
    engine.dispose()


def test_the_dictionary_names_exactly_the_views_columns(engine):
    """The docs page, the lists in store.analyst_views and a migrated database agree."""
    inspector = sa.inspect(engine)
    assert set(analyst_views.VIEWS) <= set(inspector.get_view_names())
    page = docs_gen.analyst_views_page()
    for view, columns in ((analyst_views.CLOCKS_VIEW, analyst_views.CLOCK_COLUMNS),
                          (analyst_views.CASES_VIEW, analyst_views.CASE_COLUMNS)):
        found = inspector.get_columns(view)
        assert [c["name"] for c in found] == [c.name for c in columns]
        assert f"## `{view}`" in page
        for column in columns:
            assert f"| `{column.name}` | {column.type} |" in page, column.name
        if engine.dialect.name == "postgresql":  # real dates, not day numbers
            dates = {c["name"] for c in found if isinstance(c["type"], sa.Date)}
            assert dates == {c.name for c in columns if c.type == "date"}


def test_the_export_judges_on_as_of_as_the_listing_does(imported, db_url, book):
    engine = db.connect(db_url)
    later = dt.date.today() + dt.timedelta(days=200)  # every stored clock answers for a later day
    exported = export_frame(engine, book, later, "clocks")
    assert set(exported["status_on"].dt.date) == {later}
    _same(_comparable(exported), _listing(engine, book, later))
    cases = export_frame(engine, book, later, "cases")
    overdue = exported[exported["status"] == "overdue"].groupby(["kind", "case_id"]).size()
    counted = cases.set_index(["kind", "case_id"])["clocks_overdue"]
    assert counted[counted > 0].astype(int).sort_index().equals(overdue.astype(int).sort_index())
    engine.dispose()


def test_export_parquet_is_typed(imported, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    out = tmp_path / "clocks.parquet"
    result = imported("export", "--what", "clocks", "-o", out)
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.column_names == [c.name for c in analyst_views.CLOCK_COLUMNS]
    types = {f.name: f.type for f in table.schema}
    assert types["due"] == pa.date32() and types["days_overdue"] == pa.int64() and types["status"] == pa.string()
    cases = tmp_path / "cases.parquet"
    assert imported("export", "--what", "cases", "--format", "parquet", "-o", cases).exit_code == 0
    assert pq.read_table(cases).num_rows == 705
    assert "rows (cases, judged on" in imported("export", "--what", "cases", "-o", cases).stderr


def test_export_csv_is_formula_safe(imported, db_url, tmp_path):
    engine = db.connect(db_url)
    with engine.begin() as conn:  # a name typed into the case system as a formula
        conn.execute(db.assessment_table.update().where(db.assessment_table.c.request_id == "R0000001")
                     .values(caseworker="=HYPERLINK(\"http://x\")"))
    engine.dispose()
    out = tmp_path / "cases.csv"
    result = imported("export", "--what", "cases", "-o", out)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    first = next(r for r in rows if r["case_id"] == "R0000001")
    assert first["caseworker"] == "'=HYPERLINK(\"http://x\")"
    assert dt.date.fromisoformat(first["request_received"]) and first["clocks"].isdigit()
    assert len(rows) == 705


def test_export_without_pyarrow_names_the_extra(imported, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    out = tmp_path / "clocks.parquet"
    result = imported("export", "-o", out)
    assert result.exit_code == 1
    assert "pip install 'ehcp-tracker[parquet]'" in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


def test_export_refuses_clocks_worked_out_under_another_rule_book(imported, db_url, tmp_path):
    folder = tmp_path / "rules-21"
    other_book(tmp_path)
    out = tmp_path / "clocks.csv"
    result = imported("--rules", folder, "export", "-o", out)
    assert result.exit_code == 1 and "ehcp evaluate" in result.stderr and not out.exists()
    result = imported("export", "-o", tmp_path / "clocks.txt")
    assert result.exit_code == 2 and "--format" in result.stderr


def test_views_go_with_a_downgrade_and_drop_all(engine):
    from alembic import command

    with db.write_transaction(engine) as conn:
        command.downgrade(db._alembic_config(conn), "0011_law_third_reading")
    assert not set(analyst_views.VIEWS) & set(sa.inspect(engine).get_view_names())
    db.init_db(engine)
    assert set(analyst_views.VIEWS) <= set(sa.inspect(engine).get_view_names())
    db.metadata.drop_all(engine)  # PostgreSQL refuses to drop a table a view reads: the views go first
    assert not sa.inspect(engine).get_view_names()


@seed(23)
@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(generator_seed=st.integers(0, 10_000), sizes=st.tuples(st.integers(1, 40), st.integers(1, 30)),
       days_back=st.integers(0, 3000), junk=st.lists(st.one_of(assessment(90), review(90)), max_size=4))
def test_the_views_judge_random_caseloads_as_the_engine_does(db_url, tmp_path, book, generator_seed, sizes,
                                                             days_back, junk):
    """Random caseloads (generated as of a random day up to eight years ago, plus random rows that
    the import keeps or rejects): the clocks view equals the listing on the database's today, and
    the cases view has one row per stored case."""
    from ehcp_tracker.demo.synthetic import generate_assessments, generate_reviews

    end = dt.date.today() - dt.timedelta(days=days_back)
    engine = fresh_database(db_url)
    rows = {ASSESSMENTS: _base(generate_assessments(sizes[0], generator_seed, end)),
            REVIEWS: _base(generate_reviews(sizes[1], generator_seed, end))}
    try:
        for kind, base in rows.items():
            base += [dict(j, **{kind.key: f"{j[kind.key]}J"}) for j in junk if kind.key in j]
            path = write_extract(tmp_path / f"{kind.name}.csv", kind, list({r[kind.key]: r for r in base}.values()))
            import_extract(engine, path, book, end, kind=kind.name, skip_bad_rows=True, max_missing=100)
        view = read_view(engine, "clocks")
        _same(_comparable(view), _listing(engine, book, _db_today(engine)))
        with engine.connect() as conn:
            stored = sum(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                         for t in db.CASE_TABLES.values())
        assert len(read_view(engine, "cases")) == stored
    finally:
        engine.dispose()


def test_a_later_migration_may_rebuild_a_table_the_views_read(db_url, tmp_path, monkeypatch):
    """SQLite's batch mode copies a table to change it, and refuses the rename while a view names
    the table: ``init_db`` drops the views before it upgrades and makes them again after, so a later
    migration (here one rebuilding ``review``) need not know of them."""
    import shutil

    engine = db.connect(db_url)
    db.init_db(engine)
    folder = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / "0099_rebuild_review.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f'revision = "0099_rebuild_review"\ndown_revision = "{db.head_revision()}"\n'
        "branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n"
        '    with op.batch_alter_table("review", recreate="always") as batch:\n'
        '        batch.add_column(sa.Column("later_column", sa.String(10)))\n\n\n'
        "def downgrade():\n    pass\n")
    monkeypatch.setattr(db, "MIGRATIONS_DIR", folder)
    db.head_revision.cache_clear()
    try:
        before, after = db.init_db(engine)
        assert after == "0099_rebuild_review"
        assert set(analyst_views.VIEWS) <= set(sa.inspect(engine).get_view_names())
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT * FROM analyst_cases")).fetchall()
    finally:
        db.head_revision.cache_clear()
        engine.dispose()


def test_the_export_streams_in_chunks_with_one_header(imported, db_url, tmp_path, monkeypatch):
    """Read, judged and written a chunk at a time (memory stays flat at national scale): the file
    is the same as in one piece, the CSV header once, one Parquet row group per chunk."""
    from ehcp_tracker.report import analysts

    whole = [tmp_path / "whole.csv", tmp_path / "whole.parquet"]
    for path in whole:
        assert imported("export", "-o", path).exit_code == 0
    monkeypatch.setattr(analysts, "CHUNK_ROWS", 500)
    parts = [tmp_path / "parts.csv", tmp_path / "parts.parquet"]
    for path in parts:
        assert imported("export", "-o", path).exit_code == 0
    text = parts[0].read_text(encoding="utf-8")
    assert text == whole[0].read_text(encoding="utf-8") and text.count("case_id,kind,") == 1
    pq = pytest.importorskip("pyarrow.parquet")
    assert pq.ParquetFile(parts[1]).num_row_groups == 6  # 2,948 rows
    assert pq.read_table(parts[1]).equals(pq.read_table(whole[1]))
