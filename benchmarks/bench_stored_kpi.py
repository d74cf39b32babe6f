"""Would the KPIs be quicker from the stored clock rows than from the engine? (issue 27, part 3)

    python benchmarks/bench_stored_kpi.py --db sqlite:////tmp/kpi100.db --as-of 2026-10-30
    python benchmarks/bench_stored_kpi.py --db postgresql+psycopg://... --as-of 2026-10-30 --repeat 3

On a database whose clocks are stored (``ehcp import`` / ``ehcp evaluate``) and answer for the as-of
date (``listings.stored_ok``), this times the two ways of making the frame ``compute_kpis`` counts
from (the KPI clocks' results with their stop dates, ``measures.kpi._result_columns``):

- ``engine``: ``evaluate_caseload(..., stops=True)`` over the caseload already read, as today;
- ``stored``: the stored rows of the same clocks read in one bulk read (SQLite: one packed
  ``group_concat`` string split by pyarrow, as ``store.caseload`` reads cases; PostgreSQL: ``COPY
  ... TO STDOUT (FORMAT csv)`` parsed by pyarrow), judged on the as-of date (``engine.judge``), the
  case fields (caseworker, outcomes, filter fields) joined from the caseload by case id;

checks that the two frames are equal (sorted by kind, case and clock), and prints each step's
best time. Both need the caseload read (``load_caseload``: the month-end snapshots, ``History``,
re-evaluate from the cases, whatever the frame came from), so that is timed on its own. Nothing here
is used by the tracker: it is the measurement behind ``benchmarks/stored_kpi.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ehcp_tracker.clocks.engine import judge  # noqa: E402
from ehcp_tracker.clocks.rules import load_rule_book  # noqa: E402
from ehcp_tracker.listings import stored_ok  # noqa: E402
from ehcp_tracker.measures import kpi as K  # noqa: E402
from ehcp_tracker.measures.catalogue import load_catalogue  # noqa: E402
from ehcp_tracker.schema import BY_CASE  # noqa: E402
from ehcp_tracker.store import clock_table, db  # noqa: E402

FIELD = "\x1f"
STORED = ["case_id", "rule", "started", "due", "stop_event", "closure", "overtaken", "exception", "transfer_type"]
TEXT = ("case_id", "exception", "transfer_type")


def _packed_sqlite(conn, kind_code: int, rule_ids: list[int]) -> dict[str, np.ndarray]:
    import pyarrow as pa
    import pyarrow.compute as pc

    r = db.clock_result
    fields = [r.c[n] for n in STORED]  # printf's %s writes NULL as ""
    packed = sa.func.group_concat(sa.func.printf(FIELD.join(["%s"] * len(fields)), *fields), FIELD)
    count, text = conn.execute(sa.select(sa.func.count(), packed).where(r.c.kind == kind_code,
                                                                      r.c.rule.in_(rule_ids))).one()
    if not count:
        return {n: np.empty(0) for n in STORED}
    flat = pc.split_pattern(pa.array([text], type=pa.large_string()), FIELD).flatten()
    del text
    width = len(STORED)
    columns = {}
    for j, name in enumerate(STORED):
        column = flat.take(pa.array(np.arange(j, count * width, width, dtype=np.int64)))
        if name not in TEXT:
            column = pc.cast(pc.if_else(pc.equal(column, ""), None, column), pa.int64())
        columns[name] = column
    return _arrays(columns)


def _copy_postgres(conn, kind_code: int, rule_ids: list[int]) -> dict[str, np.ndarray]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    ids = ",".join(str(int(i)) for i in rule_ids)
    sql = (f"COPY (SELECT {', '.join(STORED)} FROM clock_result WHERE kind = {int(kind_code)} "
           f"AND rule IN ({ids})) TO STDOUT (FORMAT csv)")
    buffer = io.BytesIO()
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for data in copy:
            buffer.write(data)
    types = {n: (pa.string() if n in TEXT else pa.int64()) for n in STORED}
    table = pcsv.read_csv(io.BytesIO(buffer.getvalue()), read_options=pcsv.ReadOptions(column_names=STORED),
                          convert_options=pcsv.ConvertOptions(column_types=types, strings_can_be_null=True))
    return _arrays({n: table.column(n) for n in STORED})


def _arrays(columns) -> dict[str, np.ndarray]:
    out = {}
    for name, column in columns.items():
        if name in TEXT:
            encoded = column.combine_chunks().dictionary_encode() if hasattr(column, "combine_chunks") \
                else column.dictionary_encode()
            distinct = np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
            distinct[distinct == ""] = None
            codes = encoded.indices.to_numpy(zero_copy_only=False)
            values = np.empty(len(codes), dtype=object)
            known = ~np.isnan(codes) if codes.dtype.kind == "f" else np.ones(len(codes), dtype=bool)
            values[known] = distinct[codes[known].astype(np.int64)]
            out[name] = values
        else:
            numbers = column.to_numpy(zero_copy_only=False)
            if numbers.dtype.kind == "f":  # nulls: NaN
                days = np.full(len(numbers), np.iinfo(np.int64).min, dtype=np.int64)
                known = ~np.isnan(numbers)
                days[known] = numbers[known].astype(np.int64)
                numbers = days
            out[name] = numbers.astype(np.int64) if name == "rule" else numbers.view("datetime64[D]")
    return out


def stored_frame(conn, caseload, clocks: list[str], columns: list[str], as_of: dt.date) -> pd.DataFrame:
    """The engine's frame for ``clocks`` from the stored rows (see the module docstring)."""
    today = np.datetime64(as_of, "D")
    reader = _copy_postgres if conn.dialect.name == "postgresql" else _packed_sqlite
    frames = []
    for case, cases in caseload.items():
        rules = clock_table._rules(conn, case)
        ids = [int(i) for i in rules.index[rules["clock"].isin(clocks)]]
        if not ids or not len(cases):
            continue
        got = reader(conn, db.KIND_CODES[case], ids)
        at = pd.Index(cases[BY_CASE[case].key].to_numpy(dtype=object)).get_indexer(got["case_id"])
        got = {name: values[at >= 0] for name, values in got.items()}
        at = at[at >= 0]
        shared = rules.reindex(got["rule"])
        warning = shared["warning_days"].to_numpy(dtype=np.int64)
        n = len(at)
        stopped = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        status, reason = np.empty(n, dtype=object), np.empty(n, dtype=object)
        overdue = np.zeros(n, dtype=np.int64)
        for days in np.unique(warning):
            rows = warning == days
            stopped[rows], status[rows], overdue[rows], reason[rows] = judge(
                got["due"][rows], got["stop_event"][rows], got["closure"][rows], today, int(days),
                got["overtaken"][rows])
        data = {"case_id": got["case_id"], "kind": np.full(n, case, dtype=object),
                "clock": shared["clock"].to_numpy(dtype=object), "started": got["started"].astype("datetime64[s]"),
                "due": got["due"].astype("datetime64[s]"), "stopped": stopped.astype("datetime64[s]"),
                "status": status, "stop_reason": reason, "exception": got["exception"],
                "transfer_type": got["transfer_type"]}
        for name in ("stop_event", "closure", "overtaken"):
            data[name] = got[name].astype("datetime64[s]")
        for name in columns:
            if name not in data:
                data[name] = cases[name].to_numpy()[at] if name in cases else np.full(n, None, dtype=object)
        frames.append(pd.DataFrame({k: pd.Series(v, dtype=v.dtype, copy=False) for k, v in data.items()},
                                   copy=False)[columns])
    return pd.concat(frames, ignore_index=True)


def best(function, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = function()
        times.append(time.perf_counter() - start)
    return min(times), out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", choices=["engine", "stored"], help="one way only (for its peak RSS)")
    args = parser.parse_args(argv)
    engine = sa.create_engine(args.db)
    book = load_rule_book()
    catalogue, _ = K._usable(load_catalogue(book=book), book)
    clocks = sorted({k.clock for k in catalogue.kpis})
    columns = K._result_columns(catalogue)
    with engine.connect() as conn:
        reason = stored_ok(conn, book, args.as_of)
    if reason:
        print(f"the stored rows do not answer: {reason}")
        return 1
    load_s, caseload = best(lambda: K.load_caseload(engine), args.repeat)
    print(f"load_caseload            {load_s:7.2f} s  ({sum(len(c) for c in caseload.values()):,} cases)")
    frames = {}
    if args.only in (None, "engine"):
        seconds, frames["engine"] = best(lambda: K.evaluate_caseload(caseload, book, args.as_of, clocks, stops=True,
                                                                     columns=columns), args.repeat)
        print(f"engine (KPI clocks)      {seconds:7.2f} s  ({len(frames['engine']):,} rows)")
    if args.only in (None, "stored"):
        def read():
            with engine.connect() as conn:
                return stored_frame(conn, caseload, clocks, columns, args.as_of)
        seconds, frames["stored"] = best(read, args.repeat)
        print(f"stored read + judge/join {seconds:7.2f} s  ({len(frames['stored']):,} rows)")
    if len(frames) == 2:
        key = ["kind", "case_id", "clock", "started"]
        a, b = (f[columns].sort_values(key, kind="stable").reset_index(drop=True) for f in frames.values())
        pd.testing.assert_frame_equal(a, b)
        print("frames equal (sorted by kind, case, clock)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
