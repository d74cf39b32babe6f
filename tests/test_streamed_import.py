"""The streamed CSV read (``ingest/csv_stream.py``) and the import built on it (issue 27).

A CSV extract is read a block at a time; what it gives must be exactly what one read of the whole
file gives: the same cells, row numbers, skipped rows, guards and database. And the memory a read
takes must follow the batch and the distinct cells, not the file: a whole-file copy coming back
fails :func:`test_reading_memory_does_not_follow_the_file_size`.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from ehcp_tracker.clocks import slices
from ehcp_tracker.demo.synthetic import write_extracts
from ehcp_tracker.errors import ImportRejected
from ehcp_tracker.ingest import csv_stream, extract, importer
from ehcp_tracker.ingest.extract import read_extract
from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.ingest.new_queries import _queries
from ehcp_tracker.ingest.validate import validate
from ehcp_tracker.schema import KINDS
from ehcp_tracker.store import db

from .conftest import ROOT, snapshot

AS_OF = dt.date(2026, 10, 30)
ONE_BLOCK = csv_stream.READ_BLOCK_BYTES  # the shipped block: the whole of these small extracts
CATEGORICALS = csv_stream._categoricals
DIGEST_ROWS = importer.DIGEST_BATCH_ROWS
SLICE_CASES = slices.SLICE_CASES


@pytest.fixture(scope="module")
def extracts(tmp_path_factory) -> dict[str, Path]:
    return write_extracts(tmp_path_factory.mktemp("extracts"), 400, 280, 7, AS_OF)


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        records = list(csv.reader(handle))
    return records[0], records[1:]


def _write(path: Path, header: list[str], rows: list[list[str]], *, footer: str = "", encoding="utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
        handle.write(footer)
    return path


def _hostile(extracts, tmp_path: Path) -> Path:
    """The synthetic assessments with what the guards must see across batches: an ambiguous date
    early and a month-first-only date late in the same column (the column is month-first: both
    rejected), a duplicate key far from its first, a bad code, a footer, a quoted line break."""
    header, rows = _rows(extracts["assessments"])
    col = {name: i for i, name in enumerate(header)}
    received = col["request_received"]
    rows[3][received] = "05/03/2024"  # ambiguous: 5 March or 3 May
    rows[-5][received] = "03/25/2024"  # only month-first: the column is US-style
    rows[-3][col["request_id"]] = rows[10][col["request_id"]]  # a duplicate, batches apart
    rows[50][col["request_outcome"]] = "maybe"
    rows[60][col["caseworker"]] = "Line one\nline two"  # a quoted line break inside a value
    return _write(tmp_path / "hostile.csv", header, rows, footer="Total records: 400" + "," * (len(header) - 1) + "\n")


def _block_for(path: Path) -> int:
    """A block of a few rows: three of the longest line (pyarrow needs a whole row in a block)."""
    return 3 * max(len(line) for line in path.read_bytes().splitlines())


def _read(path: Path, block: int | None, monkeypatch) -> tuple:
    batches = []

    def counting(chunks):
        batches.append(len(chunks[0]) if chunks else 0)
        return CATEGORICALS(chunks)

    monkeypatch.setattr(csv_stream, "_categoricals", counting)
    monkeypatch.setattr(csv_stream, "READ_BLOCK_BYTES", block or ONE_BLOCK)
    return read_extract(path), batches


def _same_extract(a, b) -> None:
    assert list(a.cells.columns) == list(b.cells.columns)
    for name in a.cells.columns:
        left, right = a.cells[name], b.cells[name]
        assert left.dtype == right.dtype, name
        pd.testing.assert_series_equal(left, right, check_names=True)
    assert a.row_numbers.tolist() == b.row_numbers.tolist()
    assert (a.skipped.as_dict(), a.encoding, a.warnings, a.notes) == (b.skipped.as_dict(), b.encoding, b.warnings, b.notes)


@pytest.mark.parametrize("name", ["assessments", "reviews", "hostile"])
def test_a_few_rows_a_batch_read_the_same_as_one_batch_and_as_the_whole_file(name, extracts, tmp_path, monkeypatch):
    path = _hostile(extracts, tmp_path) if name == "hostile" else extracts[name]
    small, small_batches = _read(path, _block_for(path), monkeypatch)
    one, one_batches = _read(path, None, monkeypatch)
    assert small_batches[0] > 20 and one_batches == [1]  # streamed in many batches, and in one
    _same_extract(small, one)
    header, columns, numbers, encoding, skipped = extract._read_csv_whole(path, path.name, set())
    assert len(numbers) == len(one.row_numbers) and list(numbers) == one.row_numbers.tolist()
    assert skipped.as_dict() == one.skipped.as_dict() and encoding == one.encoding
    if name == "hostile":
        assert one.skipped.footer == [one.row_numbers.iloc[-1] + 1]


@pytest.mark.parametrize("bom, encoding", [(False, "utf-8"), (True, "utf-8"), (False, "cp1252")])
def test_encodings_stream_as_they_read_whole(bom, encoding, extracts, tmp_path, monkeypatch):
    header, rows = _rows(extracts["assessments"])
    rows[7][header.index("team")] = "Équipe Nord £"  # not ASCII: UTF-8 two bytes, Windows-1252 one
    path = _write(tmp_path / "e.csv", header, rows[:120], encoding=("utf-8-sig" if bom else encoding))
    streamed, batches = _read(path, _block_for(path), monkeypatch)
    assert len(batches) == 1 and batches[0] > 5
    whole = extract._read_csv_whole(path, path.name, set())
    assert streamed.encoding == whole[3] == ("utf-8-sig" if bom else "windows-1252" if encoding == "cp1252" else "utf-8")
    assert "Équipe Nord £" in set(streamed.cells["team"].astype(str))


@pytest.mark.parametrize("damage", ["blank record", "nul byte", "bad bytes", "title line", "unclosed quote"])
def test_anything_unusual_goes_to_the_whole_file_reader(damage, extracts, tmp_path, monkeypatch):
    """The first look hands these to the csv-module path, which reads or refuses them as it always has."""
    data = extracts["assessments"].read_bytes()
    lines = data.split(b"\n")
    if damage == "blank record":
        data = b"\n".join(lines[:5] + [b""] + lines[5:])
    elif damage == "nul byte":
        data = data[:500] + b"\x00" + data[500:]
    elif damage == "bad bytes":
        data = data[:500] + b"\x81\x8d" + data[500:]  # neither UTF-8 nor Windows-1252
    elif damage == "title line":
        data = b"EHC needs assessments, run 02/11/2026\n" + data
    else:
        data = data[:-40] + b'"' + data[-40:]
    path = tmp_path / "odd.csv"
    path.write_bytes(data)
    wholes = []
    original = extract._read_csv_whole
    monkeypatch.setattr(extract, "_read_csv_whole", lambda *a: wholes.append(1) or original(*a))
    try:
        read_extract(path)
    except Exception:  # noqa: BLE001 - refused or read: either way by the whole-file reader
        pass
    assert wholes == [1]


def _database(url: str) -> dict:
    """Every table's rows, without what differs between two runs of the same import (times)."""
    tables = snapshot(url)
    engine = db.connect(url)
    try:
        with engine.connect() as conn:
            runs = [tuple(map(str, r)) for r in conn.execute(sa.select(
                *(c for c in db.import_run.c if c.name not in ("started_at", "finished_at")))).fetchall()]
    finally:
        engine.dispose()
    tables["import_run"] = sorted(runs)
    tables.pop("clock_state", None)  # the fingerprint row carries no time, but is compared below by count
    return tables


def _import_all(url: str, paths: list[Path], book, **options) -> list:
    engine = db.connect(url)
    db.init_db(engine)
    summaries = []
    try:
        for path in paths:
            try:
                summaries.append(import_extract(engine, path, book, AS_OF, **options).as_dict())
            except ImportRejected as exc:
                summaries.append([str(p) for p in exc.problems])
    finally:
        engine.dispose()
    return summaries


def _without_paths(summaries):
    return [{k: v for k, v in s.items() if k not in ("rejects_file", "run_id")} if isinstance(s, dict) else s
            for s in summaries]


def test_a_few_rows_a_batch_import_the_same_as_one_batch_guards_included(extracts, tmp_path, monkeypatch, book):
    """The same imports (a first one, tonight's with a hostile file refused then taken with
    --skip-bad-rows, and a re-import) into two databases, one reading a few rows a batch and
    digesting two rows at a time: the same summaries, problems and every stored row."""
    hostile = _hostile(extracts, tmp_path)
    changed_header, changed_rows = _rows(extracts["assessments"])
    for row in changed_rows[::37]:
        row[changed_header.index("caseworker")] = "CW-MOVED"
    changed = _write(tmp_path / "changed.csv", changed_header, changed_rows)
    order = [extracts["assessments"], extracts["reviews"], hostile, changed, extracts["reviews"]]
    results = {}
    for label, block, digest_rows in (("small", _block_for(hostile), 2), ("one", None, None)):
        monkeypatch.setattr(slices, "SLICE_CASES", 7 if digest_rows else SLICE_CASES)  # queries judged 7 cases at a time
        monkeypatch.setattr(csv_stream, "READ_BLOCK_BYTES", block or ONE_BLOCK)
        monkeypatch.setattr(importer, "DIGEST_BATCH_ROWS", digest_rows or DIGEST_ROWS)
        url = f"sqlite:///{tmp_path / (label + '.db')}"
        summaries = _import_all(url, order[:3], book)  # the hostile file is refused whole
        summaries += _import_all(url, [hostile], book, skip_bad_rows=True,
                                 rejects_path=tmp_path / f"{label}-rejects.csv")
        summaries += _import_all(url, order[3:], book)
        results[label] = (_without_paths(summaries), _database(url),
                          (tmp_path / f"{label}-rejects.csv").read_text(encoding="utf-8"))
    small, one = results["small"], results["one"]
    assert small[0] == one[0]
    assert any("month-first" in str(p) for p in small[0][2])  # the guard saw both dates across batches
    assert small[2] == one[2]
    assert small[1] == one[1]
    assert len(small[1]["clock_result"]) > 1000 and len(small[1]["change_log"]) > 400


@pytest.mark.parametrize("name", ["assessments", "reviews"])
def test_queries_judged_a_slice_at_a_time_are_the_queries_of_the_whole(name, extracts, book, monkeypatch):
    """A first import judges the queries of every case a slice at a time (``new_queries._queries``)."""
    path = ROOT / "sample_data" / "assessments.csv" if name == "assessments" else extracts[name]
    cases = validate(read_extract(path), book, AS_OF).good
    whole = _queries(KINDS[name], cases, book, AS_OF)
    monkeypatch.setattr(slices, "SLICE_CASES", 9)
    sliced = _queries(KINDS[name], cases, book, AS_OF)
    assert len(whole) >= 2
    pd.testing.assert_frame_equal(sliced, whole)


_MEASURE = """
import json, sys
sys.path.insert(0, {root!r})
from ehcp_tracker.ingest import csv_stream
from ehcp_tracker.ingest.extract import read_extract
import pyarrow
csv_stream.READ_BLOCK_BYTES = 1 << 20  # a block smaller than both files: what is held is the block's and the cells'

def status(name):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(name))

open("/proc/self/clear_refs", "w").write("5")  # the peak so far forgotten: the read's own is measured
before = status("VmRSS")
raw = read_extract({path!r})
print(json.dumps({{"rows": len(raw.cells), "grew_kb": status("VmHWM") - before}}))
"""


def _peak_growth(path: Path) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", _MEASURE.format(root=str(ROOT), path=str(path))],
                         capture_output=True, text=True, check=True)
    found = json.loads(out.stdout)
    return found["rows"], found["grew_kb"] * 1024


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="reads Linux's peak-RSS counters")
def test_reading_memory_does_not_follow_the_file_size(extracts, tmp_path):
    """Two extracts whose rows carry a long report column (the same text on every row, as exports
    repeat a report's title or a disclaimer) and differ only in length: a whole-file read holds the
    file's bytes, its text and its strings, so its peak grows by several times the extra bytes; the
    streamed read holds a block and the distinct cells, so its peak grows by well under them."""
    header, rows = _rows(extracts["assessments"])
    header = header + ["report_notes"]
    filler = "Produced by the case-management system's standard EHC report; not for onward sharing. " * 30
    sizes = {}
    for count in (2, 25):
        body = [row + [filler] for _ in range(count) for row in rows]
        for i, row in enumerate(body):
            row[header.index("request_id")] = f"R{i:07d}"
        path = _write(tmp_path / f"wide-{count}.csv", header, body)
        sizes[count] = (path.stat().st_size, *_peak_growth(path))
    (small_bytes, small_rows, small_grew), (big_bytes, big_rows, big_grew) = sizes[2], sizes[25]
    assert big_rows == 12.5 * small_rows
    extra = big_bytes - small_bytes
    assert extra > 20_000_000
    # measured at the change (+25.3 MB of file): the streamed read's peak grew by 9 MB (25 -> 34 MB);
    # read whole (the reader before issue 27, or this one with the streamed path turned off) by 180 MB
    assert big_grew - small_grew < 0.5 * extra, (big_grew - small_grew, extra)
