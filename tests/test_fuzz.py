"""Fuzzing the import: random malformed extracts never crash it and never half-write.

Each example is an extract made of random headers, random cells (dates in every spelling, junk,
blanks, repeated IDs), sometimes written as XLSX, sometimes truncated, sometimes pure random bytes.
For every one: only an ``EhcpError`` may come out; if the import fails the database is exactly as
before (an audit row for a rejected file aside); with ``--skip-bad-rows`` every row read is either
stored or reported, and every stored row's ID is in the database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os

import sqlalchemy as sa
from hypothesis import HealthCheck, given, seed, settings, strategies as st

from ehcp_tracker.store import db
from ehcp_tracker.errors import EhcpError
from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.schema import ASSESSMENTS

from .conftest import ASSESSMENT_HEADER, assessment_rows, snapshot, write_csv

AS_OF = dt.date(2024, 5, 1)
COLUMNS = [c.name for c in ASSESSMENTS.columns]

dates = st.dates(dt.date(2019, 1, 1), dt.date(2024, 6, 30))
date_text = st.one_of(
    dates.map(lambda d: d.isoformat()), dates.map(lambda d: d.strftime("%d/%m/%Y")),
    dates.map(lambda d: d.strftime("%d-%m-%y")), dates.map(lambda d: d.strftime("%m/%d/%Y")),
    st.sampled_from(["31/02/2024", "00/00/0000", "2024-13-01", "yesterday", "44927", "1/1/1"]))
cell = st.one_of(
    st.just(""), date_text, st.sampled_from(["assess", "not_assess", "issue", "Y", "n", "maybe", "1", "0",
                                             "personal_circumstances", "=cmd()", "R0001", "R0002", "P1"]),
    st.text(max_size=12), st.integers(-5, 10**12).map(str), st.floats(allow_nan=True).map(str))
header_name = st.one_of(st.sampled_from(COLUMNS), st.sampled_from(COLUMNS).map(str.upper),
                        st.text(max_size=10), st.sampled_from(["Date Request Received", "Request ID", "Person ID"]))
ids = st.sampled_from([f"R{i:04d}" for i in range(1, 30)] + ["", " ", "R1.0"])


@st.composite
def extracts(draw):
    """(bytes, suffix) of one random, probably malformed, extract."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300)), draw(st.sampled_from([".csv", ".xlsx"]))
    header = ["request_id", "person_id", "request_received"] if draw(st.booleans()) else []
    header += draw(st.lists(header_name, max_size=6))
    header = draw(st.permutations(header))
    rows = []
    for _ in range(draw(st.integers(0, 8))):
        row = [draw(cell) for _ in header]
        if "request_id" in header and draw(st.integers(0, 3)):
            row[header.index("request_id")] = draw(ids)
        rows.append(row)
    if draw(st.integers(0, 4)) == 0:
        from openpyxl import Workbook

        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        header = [ILLEGAL_CHARACTERS_RE.sub("", h) for h in header]
        rows = [[ILLEGAL_CHARACTERS_RE.sub("", c) for c in row] for row in rows]
        book = Workbook()
        if draw(st.booleans()):
            book.active.append(["Title row"])
        book.active.append(header)
        for row in rows:
            book.active.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        data, suffix = buffer.getvalue(), ".xlsx"
    else:
        text = io.StringIO()
        csv.writer(text).writerows([header, *rows])
        data, suffix = text.getvalue().encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"])),
                                              errors="replace"), ".csv"
    if draw(st.integers(0, 4)) == 0:  # truncated in transfer
        data = data[: len(data) * draw(st.integers(0, 99)) // 100]  # a share: XLSX sizes vary with timestamps
    return data, suffix


def _stored(snap: dict) -> dict:
    """Everything but the audit rows of rejected files (a rejected file leaves only its run row)."""
    return {name: rows for name, rows in snap.items() if name != "import_run"} | {
        "import_run": [r for r in snap.get("import_run", []) if "rejected" not in r]}


STATS = {"examples": 0, "rows": 0, "crashes": 0, "lost": 0}


def teardown_module():
    if os.environ.get("EHCP_FUZZ_REPORT"):  # e.g. EHCP_FUZZ_EXAMPLES=2000 EHCP_FUZZ_REPORT=1 pytest -s tests/test_fuzz.py
        print(f"\nfuzz: {STATS}")


@seed(20261201)  # fixed: the same examples in every run (a longer run: EHCP_FUZZ_EXAMPLES=2000)
@settings(max_examples=int(os.environ.get("EHCP_FUZZ_EXAMPLES", "200")), deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(extract=extracts(), skip=st.booleans())
def test_fuzzed_extracts_never_crash_or_half_write(engine, db_url, book, tmp_path, extract, skip):
    data, suffix = extract
    with engine.connect() as conn:
        if not conn.execute(sa.select(sa.func.count()).select_from(db.assessment_table)).scalar():
            import_extract(engine, write_csv(tmp_path / "base.csv", ASSESSMENT_HEADER, assessment_rows(20)),
                           book, AS_OF)
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    before = snapshot(engine, reflect=False)
    STATS["examples"] += 1
    try:
        # the guards of issue 11 relaxed (a fuzzed file is small and lacks columns), so the rows get
        # as far as being stored; the guards are fuzzed through the command line (test_fuzz_cli.py)
        summary = import_extract(engine, path, book, AS_OF, skip_bad_rows=skip, rejects_path=tmp_path / "rejects.csv",
                                 max_missing=100, keep_absent=("all",))
    except EhcpError:
        assert _stored(snapshot(engine, reflect=False)) == _stored(before)
        return
    except Exception:
        STATS["crashes"] += 1
        raise
    STATS["rows"] += summary.rows_read
    stored = summary.new + summary.changed + summary.unchanged
    problem_rows = {p.row for p in summary.problems if p.row is not None}
    lost = summary.rows_read - stored - len(problem_rows)
    STATS["lost"] += max(lost, 0)
    assert lost == 0
    assert summary.rejected == len(problem_rows)
    with engine.connect() as conn:
        keys = set(conn.execute(sa.select(db.assessment_table.c.request_id)).scalars())
    raw_ids = summary.rows_read - summary.rejected
    assert raw_ids == stored and len(keys) >= stored
