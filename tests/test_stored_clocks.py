"""Stored clocks (``clock_result``, issue 17) equal a fresh evaluation, whatever happened before.

Hypothesis draws a short history of nightly imports of random rows (most of them invalid, so
``--skip-bad-rows`` keeps only the good ones): cases added, changed, moved to another child, left out
of the extract (kept, marked missing), and the rule book changed between imports. After every import
the listings read from the stored rows must be exactly what the engine gives over the caseload,
on SQLite and on PostgreSQL. Then a few fixed cases through the CLI: ``ehcp evaluate``, the note when
the rule book differs, ``init`` storing the clocks, and ``explain`` agreeing with the stored row.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from ehcp_tracker.clocks.rules import load_rule_book
from ehcp_tracker.errors import EhcpError
from ehcp_tracker.ingest import refresh
from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.listings import Filters, clock_results, explain, stored_ok, working_rows
from ehcp_tracker.schema import ASSESSMENTS, REVIEWS
from ehcp_tracker.store import caseload, clock_table, db

from .conftest import ROOT
from .test_engine_vs_explain import assessment, review

IMPORT_AS_OF = dt.date(2026, 11, 2)  # the Monday after the synthetic extracts end


def other_book(tmp_path: Path):
    """The shipped rules with the 20-week limit made 21: every final_plan deadline moves a week."""
    folder = tmp_path / "rules-21"
    if not folder.exists():
        shutil.copytree(ROOT / "rules", folder)
        path = folder / "england" / "send-regs-2014.toml"
        text = path.read_text(encoding="utf-8")
        assert text.count("  weeks = 20\n") == 1
        path.write_text(text.replace("  weeks = 20\n", "  weeks = 21\n"), encoding="utf-8")
    return load_rule_book(folder)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def write_extract(path: Path, kind, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(kind.names)
        writer.writerows([[_cell(row.get(name)) for name in kind.names] for row in rows])
    return path


def comparable(frame: pd.DataFrame) -> list[tuple]:
    """A listing as sorted tuples of text (blank for missing), so row order and dtype quirks of
    NaN against None do not hide or invent a difference."""
    text = frame.astype(object).where(frame.notna(), None).map(lambda v: "" if v is None else str(v))
    return sorted(map(tuple, text.to_numpy().tolist()))


def assert_stored_equals_fresh(engine, book, as_of):
    with engine.connect() as conn:
        assert stored_ok(conn, book, as_of) is None  # the stored path is the one under test
    for filters in (Filters(), Filters(include_missing=True), Filters(kind="reviews", caseworker="CW1")):
        try:
            stored = clock_results(engine, book, as_of, filters, stored=True)
        except Exception as exc:  # noqa: BLE001 - a filter matching no case is an error on both paths
            with pytest.raises(type(exc)):
                clock_results(engine, book, as_of, filters, fresh=True)
            continue
        fresh = clock_results(engine, book, as_of, filters, fresh=True)
        assert list(stored.columns) == list(fresh.columns)
        if filters.include_missing:  # assessments do not depend on one another: exact there too
            mine = lambda f: comparable(f[f["kind"] == "assessment"])  # noqa: E731
            assert mine(stored) == mine(fresh)
        if filters.caseworker is None and not filters.include_missing:
            # a phase transfer belongs to the child: the fresh path filtered by caseworker sees only
            # that caseworker's rows of the child, the stored one all; with --include-missing it
            # places a child's transfer among present and missing rows alike, the stored rows
            # among the present ones (so a display option cannot move a present row's deadline)
            only_stored = sorted(set(comparable(stored)) - set(comparable(fresh)))
            only_fresh = sorted(set(comparable(fresh)) - set(comparable(stored)))
            assert (only_stored, only_fresh) == ([], [])
            assert comparable(stored) == comparable(fresh)
            assert dict(stored.dtypes) == dict(fresh.dtypes) or not len(fresh)


def fresh_database(url: str):
    engine = db.connect(url)
    db.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    db.init_db(engine)
    return engine


SYNTHETIC_END = dt.date(2026, 10, 30)
# one night: which rows drop out, which rows change and how, random rows thrown in, which rule book
night = st.fixed_dictionaries({
    "drop": st.lists(st.integers(0, 40), max_size=4),
    "changes": st.lists(st.tuples(st.integers(0, 40), st.sampled_from(["blank", "shift", "person", "caseworker"]),
                                  st.integers(0, 60)), max_size=6),
    "junk": st.lists(st.one_of(assessment(90), review(90)), max_size=2),
    "other_rules": st.booleans(),
})


def _tonight(rows: list[dict], kind, plan: dict) -> list[dict]:
    """The base rows as tonight's extract: some left out, some changed (some into bad rows)."""
    out = [dict(r) for i, r in enumerate(rows) if i % max(len(rows), 1) not in
           {d % max(len(rows), 1) for d in plan["drop"]}]
    dates = [c for c in kind.date_columns]
    for index, how, amount in plan["changes"]:
        if not out:
            break
        row = out[index % len(out)]
        column = dates[amount % len(dates)]
        if how == "blank":
            row[column] = None
        elif how == "shift" and row.get(column) is not None:
            row[column] = row[column] + dt.timedelta(days=amount - 30)
        elif how == "person":  # the row moves to another child (a phase transfer is the child's)
            row["person_id"] = out[amount % len(out)]["person_id"]
        elif how == "caseworker":
            row["caseworker"] = f"CW{amount % 3}"
    key = kind.key
    for junk in plan["junk"]:
        if key in junk:
            out.append(dict(junk, **{key: f"{junk[key]}J"}))
    return list({r[key]: r for r in out}.values())  # one row per ID in an extract


def _base(frame: pd.DataFrame) -> list[dict]:
    return [{k: (None if v is None or (not isinstance(v, str) and pd.isna(v)) else v) for k, v in row.items()}
            for row in frame.astype(object).to_dict("records")]


@seed(17)
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(generator_seed=st.integers(0, 10_000), sizes=st.tuples(st.integers(3, 30), st.integers(3, 25)),
       history=st.lists(night, min_size=1, max_size=3),
       as_of=st.integers(0, 800).map(lambda n: IMPORT_AS_OF + dt.timedelta(days=n)))
def test_stored_clocks_equal_a_fresh_evaluation_after_random_imports(db_url, tmp_path, book, generator_seed, sizes,
                                                                     history, as_of, monkeypatch):
    from ehcp_tracker.demo.synthetic import generate_assessments, generate_reviews

    # a handful of cases would otherwise always be re-evaluated whole: test the case-by-case refresh
    monkeypatch.setattr(refresh, "WHOLE_KIND_SHARE", 10.0)
    # and a whole kind (the first import, a rule book change) is worked out a few cases at a time
    monkeypatch.setattr(caseload, "SLICE_CASES", 4)
    engine = fresh_database(db_url)
    books = {False: book, True: other_book(tmp_path)}
    base = {ASSESSMENTS: _base(generate_assessments(sizes[0], generator_seed, SYNTHETIC_END)),
            REVIEWS: _base(generate_reviews(sizes[1], generator_seed, SYNTHETIC_END))}
    compared = 0
    try:
        for number, plan in enumerate(history):
            chosen = books[plan["other_rules"]]
            for kind, rows in base.items():
                tonight = _tonight(rows, kind, plan)
                path = write_extract(tmp_path / f"{kind.name}-{number}.csv", kind, tonight)
                if not tonight:  # a header and no rows is refused by design: nothing stored changes
                    with pytest.raises(EhcpError, match="no data rows"):
                        import_extract(engine, path, chosen, IMPORT_AS_OF, kind=kind.name, skip_bad_rows=True,
                                       max_missing=100)
                    continue
                import_extract(engine, path, chosen, IMPORT_AS_OF, kind=kind.name, skip_bad_rows=True,
                               max_missing=100)
            assert_stored_equals_fresh(engine, chosen, as_of)
            compared += 1
    finally:
        engine.dispose()
    assert compared == len(history)


def _import_samples(run, as_of="2026-11-02"):
    for name in ("assessments", "reviews"):
        result = run("--as-of", as_of, "import", ROOT / "sample_data" / f"{name}.csv")
        assert result.exit_code == 0, result.output


def test_due_reads_the_stored_clocks_and_says_when_it_cannot(run, db_url, tmp_path, book):
    _import_samples(run)
    engine = db.connect(db_url)
    with engine.connect() as conn:
        assert stored_ok(conn, book, dt.date(2026, 11, 2)) is None
        stored = conn.execute(sa.select(sa.func.count()).select_from(db.clock_result)).scalar_one()
    fresh = clock_results(engine, book, dt.date(2026, 11, 2), Filters(include_missing=True), fresh=True)
    assert stored == len(fresh) > 2000
    same = run("--as-of", "2026-11-02", "due", "--caseworker", "CW002", "--format", "csv")
    assert same.exit_code == 0 and "note:" not in same.stderr
    rules = tmp_path / "rules-21"
    other_book(tmp_path)
    moved = run("--as-of", "2026-11-02", "--rules", rules, "clocks", "--clock", "final_plan", "--format", "csv")
    assert moved.exit_code == 0
    assert "note: evaluating in memory: the stored clocks were worked out under another rule book" in moved.stderr
    before = run("--as-of", "2026-11-02", "clocks", "--clock", "final_plan", "--format", "csv").stdout
    assert moved.stdout != before  # 21 weeks, not 20: the in-memory answer is the other book's
    stored_run = run("--rules", rules, "evaluate")
    assert stored_run.exit_code == 0 and "clocks worked out and stored" in stored_run.stderr
    again = run("--as-of", "2026-11-02", "--rules", rules, "clocks", "--clock", "final_plan", "--format", "csv")
    assert again.stdout == moved.stdout and "note:" not in again.stderr
    # and the shipped book is now the stranger
    assert "note: evaluating in memory" in run("--as-of", "2026-11-02", "due").stderr
    engine.dispose()


def test_init_stores_the_clocks_of_an_upgraded_database(db_url, tmp_path, book, run):
    _import_samples(run)
    engine = db.connect(db_url)
    with engine.begin() as conn:
        conn.execute(db.clock_result.delete())
        conn.execute(db.clock_state.delete())
    assert "not been stored" in run("--as-of", "2026-11-02", "breaches").stderr
    result = run("init")
    assert result.exit_code == 0 and "clocks stored:" in result.stderr
    assert "note:" not in run("--as-of", "2026-11-02", "breaches").stderr
    engine.dispose()


def test_a_past_as_of_is_evaluated_in_memory_and_agrees(run, db_url, book):
    """The stored rows are settled from each case's latest stage date; judged earlier, the engine
    must cut the later dates, so the listing is worked out afresh (and without a note)."""
    _import_samples(run)
    engine = db.connect(db_url)
    past = dt.date(2025, 6, 30)
    with engine.connect() as conn:
        assert "before the latest stage date" in stored_ok(conn, book, past)
    result = run("--as-of", past, "breaches", "--format", "csv")
    assert result.exit_code == 0 and "note:" not in result.stderr
    listed = clock_results(engine, book, past, Filters(), stored=True)
    assert comparable(listed) == comparable(clock_results(engine, book, past, Filters(), fresh=True))
    engine.dispose()


def test_explain_agrees_with_the_stored_row(run, db_url, book):
    _import_samples(run)
    engine = db.connect(db_url)
    as_of = dt.date(2026, 11, 2)
    stored = clock_results(engine, book, as_of, Filters(), stored=True)
    for case_id in ["R0000130", "AR0000007", "AR0000135"]:
        mine = stored[stored["case_id"] == case_id].drop(columns=["transfer_type"])
        working = working_rows(explain(engine, book, as_of, case_id)).drop(columns=["transfer_type"])
        assert len(mine) > 0
        assert comparable(mine) == comparable(working[mine.columns])
    engine.dispose()


def import_two_requests(engine, book, path: Path, second_plan: str) -> None:
    """R0001 (no final plan yet) and R0002 (final plan issued on ``second_plan``, blank for none),
    both requested 5 Jan 2026 and agreed 10 Feb, imported on IMPORT_AS_OF."""
    header = ["request_id", "person_id", "request_received", "request_outcome", "request_outcome_date",
              "final_plan_issued", "assessment_outcome"]
    rows = [["R0001", "P1", "2026-01-05", "assess", "2026-02-10", "", ""],
            ["R0002", "P2", "2026-01-05", "assess", "2026-02-10", second_plan, ""]]
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    import_extract(engine, path, book, IMPORT_AS_OF)


def test_an_import_rewrites_the_stored_clocks_of_the_cases_it_changed(engine, book, tmp_path):
    """Changed by hand: R0002's final plan issued on day 140 (on time) then cleared (overdue);
    R0001 untouched keeps its stored row as it was."""
    path = tmp_path / "a.csv"
    import_two_requests(engine, book, path, "2026-05-25")
    as_of = IMPORT_AS_OF
    plan = lambda: clock_results(engine, book, as_of, Filters(clock="final_plan"),  # noqa: E731
                                 stored=True).set_index("case_id")
    before = plan()
    # 5 Jan 2026 + 20 weeks (reg 13(2)) = 25 May 2026: issued that day is on time
    assert before.loc["R0002", "due"] == pd.Timestamp("2026-05-25") and before.loc["R0002", "status"] == "met"
    import_two_requests(engine, book, path, "")
    after = plan()
    # still running on 2 Nov 2026: 161 days past 25 May 2026
    assert after.loc["R0002", "status"] == "overdue" and after.loc["R0002", "days_overdue"] == 161
    assert after.loc["R0001"].equals(before.loc["R0001"])
    with engine.connect() as conn:
        assert stored_ok(conn, book, as_of) is None


def test_a_stored_row_holds_day_numbers_and_shares_its_rule(engine, book, tmp_path):
    """The compact row (migration 0010): dates as days since 1970-01-01, the rule's texts once in
    ``clock_rule``; and ``clock_state`` keeps the count and the latest settled day the writers know,
    exact after a full evaluation and never earlier than the truth after a case-by-case refresh."""
    path = tmp_path / "a.csv"
    import_two_requests(engine, book, path, "2026-05-25")
    results, rules = db.clock_result, db.clock_rule
    with engine.connect() as conn:
        raw = conn.execute(sa.select(results.c.case_id, rules.c.clock, results.c.due, results.c.kind,
                                     results.c.settled_from, rules.c.reference)
                           .join(rules, rules.c.id == results.c.rule).where(rules.c.clock == "final_plan")
                           .order_by(results.c.case_id)).all()
        # 5 Jan 2026 + 20 weeks (reg 13(2)) = 25 May 2026, day 20598 of the Unix epoch
        assert [(r.case_id, r.due, r.kind) for r in raw] == [("R0001", 20598, 1), ("R0002", 20598, 1)]
        assert raw[1].settled_from == (dt.date(2026, 5, 25) - dt.date(1970, 1, 1)).days  # the latest stage date
        assert "reg 13(2)" in raw[0].reference
        count = conn.execute(sa.select(sa.func.count()).select_from(results)).scalar_one()
        shared = conn.execute(sa.select(sa.func.count()).select_from(rules)).scalar_one()
        assert shared < count and shared == conn.execute(
            sa.select(sa.func.count(sa.distinct(results.c.rule)))).scalar_one()
        assert clock_table.state(conn) == (count, raw[1].settled_from)
        assert clock_table.latest_settled(conn) == dt.date(2026, 5, 25)
    # R0002's plan date cleared: its latest stage date is now the decision (10 Feb), but the recorded
    # latest stays 25 May (cautious: a row may still be settled that late as far as the writer knows)
    import_two_requests(engine, book, path, "")
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(results)).scalar_one()
        assert clock_table.state(conn)[0] == count
        assert clock_table.latest_settled(conn) == dt.date(2026, 5, 25)
        assert stored_ok(conn, book, dt.date(2026, 5, 24)).startswith("--as-of 2026-05-24 is before")
    refresh.refresh_everything(engine, book)  # a full evaluation knows exactly
    with engine.connect() as conn:
        assert clock_table.latest_settled(conn) == dt.date(2026, 2, 10)


def test_slices_keep_every_row_of_a_child_together(engine, book, tmp_path):
    """A review's phase transfer is its child's: slicing a kind for the engine never splits a child,
    leaves no case out and counts none twice."""
    from ehcp_tracker.demo.synthetic import generate_reviews

    frame = generate_reviews(60, 5, SYNTHETIC_END)
    rows = _base(frame)
    path = write_extract(tmp_path / "reviews.csv", REVIEWS, rows)
    import_extract(engine, path, book, IMPORT_AS_OF, kind="reviews")
    with engine.connect() as conn:
        every = db.load_cases(conn, REVIEWS)
        parts = [db.load_cases(conn, REVIEWS, where) for where in caseload.slices(conn, REVIEWS, size=7)]
    assert len(parts) > 5
    ids = [i for p in parts for i in p["review_id"]]
    assert sorted(ids) == sorted(every["review_id"]) and len(set(ids)) == len(ids)
    children = [set(p["person_id"].dropna()) for p in parts]
    assert all(a.isdisjoint(b) for i, a in enumerate(children) for b in children[i + 1:])
    assert max(len(p) for p in parts) < 7 + max(every["person_id"].value_counts())


def test_a_first_import_works_out_the_whole_kind_without_looking_up_children(engine, book, tmp_path, monkeypatch):
    """Every review of a first import is new, so every clock of the kind is worked out: looking up
    each new row's child first (an IN list per 500 rows, each read as a whole table by PostgreSQL's
    planner while its statistics still say "empty") only added to a set already whole, and took 99
    of a 100,000-request import's 104 s on PostgreSQL. A few changed rows still take that path."""
    from ehcp_tracker.demo.synthetic import generate_assessments, generate_reviews

    first = write_extract(tmp_path / "assessments.csv", ASSESSMENTS, _base(generate_assessments(5, 3, SYNTHETIC_END)))
    import_extract(engine, first, book, IMPORT_AS_OF, kind="assessments")  # the clocks are stored from here on
    lookups = []
    real = refresh.persons_of
    monkeypatch.setattr(refresh, "persons_of", lambda *a, **k: lookups.append(1) or real(*a, **k))
    rows = _base(generate_reviews(40, 3, SYNTHETIC_END))
    path = write_extract(tmp_path / "reviews.csv", REVIEWS, rows)
    import_extract(engine, path, book, IMPORT_AS_OF, kind="reviews")
    assert lookups == []
    with engine.connect() as conn:
        assert clock_table.state(conn)[0] == conn.execute(
            sa.select(sa.func.count()).select_from(db.clock_result)).scalar_one() > 40
    rows[0]["caseworker"] = "CW9"
    import_extract(engine, write_extract(tmp_path / "reviews2.csv", REVIEWS, rows), book, IMPORT_AS_OF, kind="reviews")
    assert lookups == [1]
    assert_stored_equals_fresh(engine, book, IMPORT_AS_OF)
