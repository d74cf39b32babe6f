"""National-scale benchmark (issue 6): 10,000 to 1,000,000 requests on SQLite and PostgreSQL, against the floor.

    python benchmarks/run.py                                   # 10k, 100k, 1M on SQLite and PostgreSQL
    python benchmarks/run.py --sizes 10000 --databases sqlite --no-write    # the CI smoke run
    python benchmarks/run.py --db-url postgresql+psycopg://ehcp:ehcp@localhost/ehcp_bench

For each size N (with 0.7 N reviews, as nationally): write the synthetic extracts (``ehcp demo
generate``), then on each database, every step in its own process (so each step's peak memory is
its own, read from ``ru_maxrss``): full import of both extracts into an empty database; re-import
with nothing changed; re-import with 1% of cases changed; full clock evaluation (load + engine,
assessments and reviews); ``kpi --year`` and ``kpi --month`` (``ehcp_tracker.measures.kpi`` when it exists,
otherwise n/a); ``due`` for one caseworker; ``explain`` for one case. The floor, on the same files:
pyarrow's CSV read of the extracts, and DuckDB reading the assessments CSV and computing the plans
issued within 20 weeks per month. Prints a table and writes ``benchmarks/results.md``.

PostgreSQL: give ``--db-url`` (or env EHCP_BENCH_PG_URL), a database the benchmark may empty. On
Debian: ``pg_ctlcluster 15 main start``; ``su postgres -c "psql -c \\"CREATE ROLE ehcp LOGIN
PASSWORD 'ehcp'\\""``; ``su postgres -c "createdb -O ehcp ehcp_bench"``. Timings are wall-clock
seconds on the machine described in the output; nothing is asserted (performance is measured, not
tested; CI only checks that the smoke run completes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = dt.date(2026, 10, 30)
SEED = 1
REVIEWS_PER_REQUEST = 0.7
DEFAULT_PG = "postgresql+psycopg://ehcp:ehcp@localhost/ehcp_bench"

# (step id, label in the table)
STEPS = [
    ("import", "full import (assessments + reviews)"),
    ("reimport", "re-import, nothing changed"),
    ("reimport_1pct", "re-import, 1% of cases changed"),
    ("evaluate", "full clock evaluation (load + engine)"),
    ("kpi_year", "kpi --year"),
    ("kpi_month", "kpi --month"),
    ("due", "due, one caseworker"),
    ("explain", "explain, one case"),
    ("alerts", "alerts, first run (events + routing + every digest rendered)"),
]
FLOOR = [("pyarrow_read", "floor: pyarrow CSV read of both extracts"),
         ("duckdb_20w", "floor: DuckDB, plans within 20 weeks per month")]


# --------------------------------------------------------------------------- the steps (child process)
# Each step prepares (imports, rule book, connection, which case to ask about) and returns the
# operation itself; only the operation is timed.


def _book():
    from ehcp_tracker.clocks.rules import load_rule_book

    return load_rule_book(ROOT / "rules")


def _engine(url: str):
    from ehcp_tracker.store import db

    return db.connect(url)


def step_import(url: str, extracts: Path, fresh: bool = False):
    from ehcp_tracker.store import db
    from ehcp_tracker.ingest.importer import import_extract

    engine, book = _engine(url), _book()
    if fresh:
        import sqlalchemy as sa

        db.metadata.drop_all(engine)
        with engine.begin() as conn:  # the migration record too, or init would think the schema is there
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        db.init_db(engine)

    def run():
        described = []
        for name in ("assessments", "reviews"):
            summary = import_extract(engine, extracts / f"{name}.csv", book, AS_OF)
            described.append(f"{summary.kind}: {summary.new} new, {summary.changed} changed, "
                             f"{summary.unchanged} unchanged")
        return "; ".join(described)
    return run


def step_evaluate(url: str):
    from ehcp_tracker.store import db
    from ehcp_tracker.clocks.engine import evaluate
    from ehcp_tracker.schema import KINDS

    book, engine = _book(), _engine(url)

    def run():
        clocks = 0
        with engine.connect() as conn:
            for kind in KINDS.values():
                clocks += len(evaluate(db.load_cases(conn, kind), book, AS_OF, case=kind.case))
        return f"{clocks:,} clocks"
    return run


def step_kpi(url: str, period: str):
    try:
        from ehcp_tracker.measures import kpi
    except ImportError:
        return lambda: "n/a: ehcp_tracker.measures.kpi not on this branch"
    function = getattr(kpi, "compute_kpis", None)
    if function is None:
        return lambda: "n/a: ehcp_tracker.measures.kpi has no compute_kpis"
    offered = {"engine": _engine(url), "book": _book(), "as_of": AS_OF}
    offered |= {"year": AS_OF.year} if period == "year" else {"month": f"{AS_OF:%Y-%m}"}
    accepted = inspect.signature(function).parameters
    arguments = {k: v for k, v in offered.items() if k in accepted}

    def run():
        result = function(**arguments)
        return f"{len(result)} KPI rows" if hasattr(result, "__len__") else "done"
    return run


def _one_case(url: str, column: str):
    """The second case by ID (the first is among the 1% the changed extract moved to another caseworker)."""
    import sqlalchemy as sa

    from ehcp_tracker.store import db

    table = db.assessment_table
    with _engine(url).connect() as conn:
        query = sa.select(table.c[column]).order_by(table.c.request_id).limit(1).offset(1)
        return conn.execute(query).scalar_one()


def step_due(url: str):
    from ehcp_tracker.listings import Filters, due

    caseworker, engine, book = _one_case(url, "caseworker"), _engine(url), _book()

    def run():
        rows, _ = due(engine, book, AS_OF, Filters(caseworker=caseworker), days=28)
        return f"{len(rows)} clocks due for {caseworker} in 28 days"
    return run


def step_explain(url: str):
    from ehcp_tracker.listings import explain

    case_id, engine, book = _one_case(url, "request_id"), _engine(url), _book()

    def run():
        working = explain(engine, book, AS_OF, case_id)
        return f"{case_id}: {sum(w.applies for w in working.clocks)} clocks"
    return run


def step_alerts(url: str):
    """A first alerts run (the largest: every clock overdue or due soon is news), as far as the
    messages: every caseworker and a team lead per team in the people file, every digest rendered
    as text and HTML; nothing is sent (delivery is the SMTP server's time, not ours)."""
    import sqlalchemy as sa

    from ehcp_tracker.alerts.people import People, Person
    from ehcp_tracker.alerts.run import plan
    from ehcp_tracker.store import db

    engine, book = _engine(url), _book()
    with engine.connect() as conn:
        pairs = set()
        for table in (db.assessment_table, db.review_table):
            pairs |= set(conn.execute(sa.select(table.c.caseworker, table.c.team).distinct()).all())
    teams = {cw: team or "" for cw, team in sorted(pairs, key=str) if cw}
    people = [Person(cw, cw, f"{cw.lower()}@council.example", team, "caseworker") for cw, team in sorted(teams.items())]
    people += [Person(f"lead-{team}", "Lead", f"lead.{team.lower()}@council.example", team, "team_lead")
               for team in sorted({t for _, t in pairs if t})]

    def run():
        outcome, _ = plan(engine, book, AS_OF, People(people))
        size = sum(len(d.text()) + len(d.html()) for d in outcome.digests)
        return (f"{sum(len(d.alerts) for d in outcome.digests)} alerts in {len(outcome.digests)} digests "
                f"({size / 1e6:.1f} MB of text and HTML)")
    return run


def floor_pyarrow(extracts: Path):
    import pyarrow.csv as pacsv

    def run():
        rows = sum(pacsv.read_csv(extracts / f"{n}.csv").num_rows for n in ("assessments", "reviews"))
        return f"{rows:,} rows"
    return run


def floor_duckdb(extracts: Path):
    import duckdb

    query = f"""
        SELECT strftime(final_plan_issued, '%Y-%m') AS month, count(*) AS plans,
               count(*) FILTER (WHERE final_plan_issued <= request_received + INTERVAL 140 DAY) AS within_20_weeks
        FROM read_csv('{extracts / "assessments.csv"}', header = true,
                      types = {{'request_received': 'DATE', 'final_plan_issued': 'DATE'}})
        WHERE final_plan_issued IS NOT NULL GROUP BY 1 ORDER BY 1"""

    def run():
        months = duckdb.connect().execute(query).fetchall()
        return f"{len(months)} months"
    return run


def prepare_step(name: str, url: str | None, extracts: Path):
    match name:
        case "import":
            return step_import(url, extracts, fresh=True)
        case "reimport":
            return step_import(url, extracts)
        case "reimport_1pct":
            return step_import(url, extracts / "changed")
        case "evaluate":
            return step_evaluate(url)
        case "kpi_year":
            return step_kpi(url, "year")
        case "kpi_month":
            return step_kpi(url, "month")
        case "due":
            return step_due(url)
        case "explain":
            return step_explain(url)
        case "alerts":
            return step_alerts(url)
        case "pyarrow_read":
            return floor_pyarrow(extracts)
        case "duckdb_20w":
            return floor_duckdb(extracts)
    raise ValueError(name)


def child(args) -> None:
    """One step in this process: print {"seconds", "peak_rss_mb", "detail"} as JSON on stdout."""
    operation = prepare_step(args.step, args.url, Path(args.extracts))
    start = time.perf_counter()
    detail = operation()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    na = detail.startswith("n/a")
    print(json.dumps({"seconds": None if na else seconds, "peak_rss_mb": peak, "detail": detail}))


# --------------------------------------------------------------------------- the driver


def write_extracts(size: int, folder: Path) -> Path:
    """The synthetic extracts for ``size`` requests, and a copy with 1% of cases changed."""
    import pandas as pd

    from ehcp_tracker.demo.synthetic import write_extracts as generate

    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "assessments.csv").is_file():
        generate(folder, size, round(size * REVIEWS_PER_REQUEST), SEED, AS_OF)
    changed = folder / "changed"
    changed.mkdir(exist_ok=True)
    for name in ("assessments", "reviews"):
        frame = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        every_hundredth = frame.index % 100 == 0  # 1% of cases move to another caseworker
        frame.loc[every_hundredth, "caseworker"] = "CW-MOVED"
        frame.to_csv(changed / f"{name}.csv", index=False)
    return folder


def measure(step: str, url: str | None, extracts: Path) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", step, "--extracts", str(extracts)]
    if url:
        command += ["--url", url]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"seconds": None, "peak_rss_mb": None, "detail": f"failed: {tail[0]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def postgres_ready(url: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available", with the reason shown
        return str(exc).splitlines()[0]


def machine(pg_url: str | None) -> dict[str, str]:
    import sqlite3

    import numpy
    import pandas
    import sqlalchemy

    info = {"date": dt.date.today().isoformat()}
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    info["CPU"] = f"{cpu}, {os.cpu_count()} cores"
    memory = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    info["RAM"] = f"{memory / 1024 / 1024:.1f} GiB"
    info["OS"] = platform.platform()
    info["Python"] = platform.python_version()
    info["pandas / numpy"] = f"{pandas.__version__} / {numpy.__version__}"
    info["SQLAlchemy"] = sqlalchemy.__version__
    info["SQLite"] = sqlite3.sqlite_version
    for module in ("pyarrow", "duckdb"):
        try:
            info[module] = __import__(module).__version__
        except ImportError:
            info[module] = "not installed"
    if pg_url:
        try:
            import sqlalchemy as sa

            with sa.create_engine(pg_url).connect() as conn:
                info["PostgreSQL"] = conn.execute(sa.text("SHOW server_version")).scalar_one()
        except Exception:  # noqa: BLE001
            info["PostgreSQL"] = "not reachable"
    return info


def fmt_seconds(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 10 else f"{value:.1f}"


def render(results: dict, sizes: list[int], databases: list[str], info: dict) -> str:
    lines = ["# Benchmark results", "", f"`python benchmarks/run.py --sizes {' '.join(map(str, sizes))} "
             f"--databases {' '.join(databases)}` (as of {AS_OF}, seed {SEED}, {REVIEWS_PER_REQUEST} reviews per request)",
             "", "## Machine", ""]
    lines += [f"- {key}: {value}" for key, value in info.items()]
    lines += ["", "## Seconds (wall clock; each step in its own process)", ""]
    columns = [(db, n) for db in databases for n in sizes]
    header = "| step | " + " | ".join(f"{db} {n:,}" for db, n in columns) + " |"
    lines += [header, "|" + " --- |" * (len(columns) + 1)]
    for step, label in STEPS:
        cells = [fmt_seconds(results.get((db, n, step), {}).get("seconds")) for db, n in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    peak = []
    for db, n in columns:
        values = [results.get((db, n, s), {}).get("peak_rss_mb") for s, _ in STEPS]
        values = [v for v in values if v]
        peak.append(f"{max(values):,.0f}" if values else "n/a")
    lines.append("| peak memory of any step (MB RSS) | " + " | ".join(peak) + " |")
    lines += ["", "## The floor (same extracts)", "", "| floor | " + " | ".join(f"{n:,}" for n in sizes) + " |",
              "|" + " --- |" * (len(sizes) + 1)]
    for step, label in FLOOR:
        lines.append(f"| {label} | " + " | ".join(fmt_seconds(results.get(("floor", n, step), {}).get("seconds"))
                                                    for n in sizes) + " |")
    lines += ["", "## Ours as a multiple of the floor", "",
              "| ratio | " + " | ".join(f"{db} {n:,}" for db, n in columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    for step, floor, label in (("import", "pyarrow_read", "full import / pyarrow read"),
                               ("reimport", "pyarrow_read", "unchanged re-import / pyarrow read"),
                               ("evaluate", "duckdb_20w", "full evaluation / DuckDB 20-week query"),
                               ("kpi_year", "duckdb_20w", "kpi --year / DuckDB 20-week query")):
        cells = []
        for db, n in columns:
            ours = results.get((db, n, step), {}).get("seconds")
            base = results.get(("floor", n, floor), {}).get("seconds")
            cells.append(f"x{ours / base:.0f}" if ours and base else "n/a")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if len(sizes) > 1:
        lines += ["", "## Growth (time at the larger size / time at the smaller)", "",
                  "| step | " + " | ".join(f"{db} {a:,} -> {b:,} (x{b // a})" for db in databases
                                           for a, b in zip(sizes, sizes[1:])) + " |",
                  "|" + " --- |" * (len(databases) * (len(sizes) - 1) + 1)]
        for step, label in STEPS:
            cells = []
            for db in databases:
                for a, b in zip(sizes, sizes[1:]):
                    small = results.get((db, a, step), {}).get("seconds")
                    large = results.get((db, b, step), {}).get("seconds")
                    cells.append(f"x{large / small:.1f}" if small and large else "n/a")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "## What each step returned", ""]
    for (db, n, step), value in results.items():
        lines.append(f"- {db} {n:,} {step}: {value['detail']}"
                     + (f" (peak {value['peak_rss_mb']:,.0f} MB)" if value.get("peak_rss_mb") else ""))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--db-url", default=os.environ.get("EHCP_BENCH_PG_URL", DEFAULT_PG),
                        help="PostgreSQL database the benchmark may empty (env EHCP_BENCH_PG_URL)")
    parser.add_argument("--work", type=Path, help="folder for extracts and SQLite files (default: a temporary one)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md")
    parser.add_argument("--no-write", action="store_true", help="print the table only; leave results.md alone")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--extracts", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.step = args.child
        child(args)
        return 0

    databases = list(args.databases)
    if "postgresql" in databases:
        problem = postgres_ready(args.db_url)
        if problem:
            print(f"PostgreSQL not reachable at {args.db_url} ({problem}); skipping it. Start it with "
                  "`pg_ctlcluster 15 main start` and create the role and database (see --help).", file=sys.stderr)
            databases.remove("postgresql")
    work = args.work or Path(tempfile.mkdtemp(prefix="ehcp-bench-"))
    results: dict = {}
    for size in args.sizes:
        started = time.perf_counter()
        extracts = write_extracts(size, work / f"extracts_{size}")
        print(f"{size:,} requests: extracts written in {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
        for step, _ in FLOOR:
            results[("floor", size, step)] = measure(step, None, extracts)
        for database in databases:
            url = f"sqlite:///{work / f'bench_{size}.db'}" if database == "sqlite" else args.db_url
            if database == "sqlite":
                for leftover in work.glob(f"bench_{size}.db*"):
                    leftover.unlink()
            for step, label in STEPS:
                value = measure(step, url, extracts)
                results[(database, size, step)] = value
                print(f"  {database} {size:,} {label}: {fmt_seconds(value['seconds'])} s "
                      f"({value['detail']}; peak {value['peak_rss_mb'] or 0:,.0f} MB)", file=sys.stderr, flush=True)
    table = render(results, args.sizes, databases, machine(args.db_url if "postgresql" in databases else None))
    print(table)
    if not args.no_write:
        args.output.write_text(table, encoding="utf-8")
        print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
