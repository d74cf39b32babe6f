"""Re-import by digest (issue 17; its second version, issue 27): unchanged rows are recognised by a
stored digest of the canonical row, so they are neither read back, compared field by field, nor rewritten; what the import
reports, stores and logs is what the field-by-field comparison gave."""

from __future__ import annotations

import datetime as dt
import hashlib
import random

import pandas as pd
import pytest
import sqlalchemy as sa

from ehcp_tracker.ingest import importer
from ehcp_tracker.ingest.importer import DIGEST_PERSON, comparable, digests_of, import_extract, row_digests
from ehcp_tracker.schema import ASSESSMENTS
from ehcp_tracker.store import db

from .conftest import ASSESSMENT_HEADER, assessment_rows, v2_digest, write_csv

AS_OF = dt.date(2024, 6, 3)


def _digests(engine) -> dict[str, str | None]:
    table = db.assessment_table
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(table.c.request_id, table.c.row_digest)).all())


def _log_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.change_log)).scalar_one()


def test_the_digest_sums_blake2b_of_each_canonical_cell():
    """Stable across versions and runs: the documented definition (``row_digest.py``), worked out
    by hand with hashlib's blake2b, from the typed row and from its canonical text alike."""
    frame = pd.DataFrame([{name: None for name in ASSESSMENTS.names}])
    frame = frame.assign(request_id="R1", person_id="P1", request_received=pd.Timestamp("2024-03-01"),
                         caseworker="CW1", looked_after=True)
    for name in ASSESSMENTS.date_columns:
        frame[name] = pd.to_datetime(frame[name])
    text = comparable(frame, ASSESSMENTS)
    cells = {name: str(text[name].iloc[0]) for name in ASSESSMENTS.names if name != "request_id"}
    expected = v2_digest(cells)
    assert DIGEST_PERSON == b"ehcp-row-v2"
    assert list(row_digests(text, ASSESSMENTS)) == [expected]
    assert list(digests_of(frame, ASSESSMENTS)) == [expected]
    assert cells["request_received"] == "2024-03-01" and cells["looked_after"] == "yes"  # canonical, not as spelt
    assert row_digests(text.assign(caseworker="CW2"), ASSESSMENTS)[0] != expected
    # a value moved to another column is another row
    assert row_digests(text.assign(caseworker="", team="CW1"), ASSESSMENTS)[0] != expected
    # the key is not hashed: a digest is only ever compared with the stored one of the same key
    assert row_digests(text.assign(request_id="R2"), ASSESSMENTS)[0] == expected


def test_unchanged_rows_are_settled_by_digest_alone(engine, book, tmp_path, monkeypatch):
    rows = assessment_rows(30)
    path = write_csv(tmp_path / "a.csv", ASSESSMENT_HEADER, rows)
    import_extract(engine, path, book, AS_OF)
    assert all(_digests(engine).values())
    compared = []
    original = importer.differences  # the field-by-field comparison (made before the write lock)

    def spying(kind, new_text, existing, *args, **kwargs):
        compared.append((sorted(new_text["request_id"]), sorted(existing["request_id"])))
        return original(kind, new_text, existing, *args, **kwargs)
    monkeypatch.setattr(importer, "differences", spying)
    rows[4][3] = "CW9"
    summary = import_extract(engine, write_csv(tmp_path / "b.csv", ASSESSMENT_HEADER, rows), book, AS_OF)
    assert (summary.new, summary.changed, summary.unchanged) == (0, 1, 29)
    assert compared == [(["R0005"], ["R0005"])]  # only the changed case was compared, field by field
    summary = import_extract(engine, write_csv(tmp_path / "c.csv", ASSESSMENT_HEADER, rows), book, AS_OF)
    assert (summary.changed, summary.unchanged) == (0, 30) and compared[-1] == ([], [])


def test_a_missing_or_stale_digest_is_compared_and_refreshed_without_a_change(engine, book, tmp_path):
    """Cases stored before migration 0005 have no digest: compared the old way, digest filled in,
    nothing logged as changed."""
    rows = assessment_rows(10)
    path = write_csv(tmp_path / "a.csv", ASSESSMENT_HEADER, rows)
    import_extract(engine, path, book, AS_OF)
    good = _digests(engine)
    logged = _log_rows(engine)
    with engine.begin() as conn:
        conn.execute(db.assessment_table.update().where(db.assessment_table.c.request_id.in_(["R0001", "R0002"]))
                     .values(row_digest=None))
        conn.execute(db.assessment_table.update().where(db.assessment_table.c.request_id == "R0003")
                     .values(row_digest="0" * 32))
    summary = import_extract(engine, path, book, AS_OF)
    assert (summary.changed, summary.unchanged) == (0, 10)
    assert _digests(engine) == good and _log_rows(engine) == logged


def test_a_case_back_in_the_extract_is_not_settled_by_its_digest(engine, book, tmp_path):
    rows = assessment_rows(5)
    import_extract(engine, write_csv(tmp_path / "a.csv", ASSESSMENT_HEADER, rows), book, AS_OF)
    gone = import_extract(engine, write_csv(tmp_path / "b.csv", ASSESSMENT_HEADER, rows[1:]), book, AS_OF,
                          max_missing=100)
    assert gone.missing == 1
    back = import_extract(engine, write_csv(tmp_path / "c.csv", ASSESSMENT_HEADER, rows), book, AS_OF)
    assert (back.changed, back.unchanged, back.missing) == (1, 4, 0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_imports_store_exactly_the_extract(engine, book, tmp_path, seed):
    """After each of a run of random extracts (cases changed, added, dropped, brought back), the
    stored cases are the extract's plus the missing ones, and the counts are the true differences."""
    rng = random.Random(seed)
    current = {r[0]: r for r in assessment_rows(40)}
    stored: dict[str, list] = {}
    for night in range(5):
        rows = [list(r) for r in current.values() if rng.random() > 0.1]
        expected_changed = 0
        for r in rows:
            if rng.random() < 0.2:
                r[3] = rng.choice(["CW0", "CW1", "CW7"])
                r[2] = rng.choice(["2024-03-01", "2024-03-04"])
        rows += assessment_rows(rng.randint(0, 5), start=100 + night * 10)
        for r in rows:
            before = stored.get(r[0])
            if before is not None and (before[1] != r or before[0]):  # changed, or back in the extract
                expected_changed += 1
        summary = import_extract(engine, write_csv(tmp_path / f"n{night}.csv", ASSESSMENT_HEADER, rows), book, AS_OF,
                                 max_missing=100)
        seen = {r[0] for r in rows}
        assert summary.changed == expected_changed
        assert summary.new == sum(r[0] not in stored for r in rows)
        assert summary.unchanged == len(rows) - summary.new - summary.changed
        for key in list(stored):
            if key not in seen:
                stored[key] = (True, stored[key][1])
        stored.update({r[0]: (False, list(r)) for r in rows})
        current.update({r[0]: r for r in rows})
        with engine.connect() as conn:
            cases = db.load_cases(conn, ASSESSMENTS).set_index("request_id")
        for key, (missing, row) in stored.items():
            case = cases.loc[key]
            assert (case["caseworker"], case["request_received"].date().isoformat()) == (row[3], row[2])
            assert pd.isna(case["missing_since_run_id"]) != missing
        text = comparable(cases.reset_index(), ASSESSMENTS)
        assert list(row_digests(text, ASSESSMENTS)) == [_digests(engine)[k] for k in cases.index]
