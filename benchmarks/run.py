"""National-scale benchmark (issues 6 and 17): 10,000 to 1,000,000 requests on SQLite and PostgreSQL, against the floors.

    python benchmarks/run.py                                   # 10k, 100k, 1M on SQLite and PostgreSQL
    python benchmarks/run.py --sizes 10000 --databases sqlite --no-write    # the CI smoke run
    python benchmarks/run.py --db-url postgresql+psycopg://ehcp:ehcp@localhost/ehcp_bench

For each size N (with 0.7 N reviews, as nationally): write the synthetic extracts (``ehcp demo
generate``), then on each database, every step in its own process (so each step's peak memory is
its own, read from ``ru_maxrss`` of the process and its children): full import of both extracts into
an empty database; re-import with nothing changed; re-import with 1% of cases changed; full clock
evaluation (load + engine, assessments and reviews); then, end to end through the command line
(``python -m ehcp_tracker``, start-up included, as a caseworker or cron meets them): ``kpi --year``,
``kpi --month``, ``report --month`` (HTML), ``due --caseworker X`` and ``ehcp --version``; and
``explain`` for one case (library). The floors, on the same files: pandas ``read_csv(dtype=str)`` of
the assessments file, pyarrow's CSV read of both extracts, and DuckDB reading the assessments CSV
and computing the plans issued within 20 weeks per month. Prints the tables (seconds against issue
17's targets, peak memory, every step as a multiple of each floor, growth) and writes
``benchmarks/results.md``.

PostgreSQL: give ``--db-url`` (or env EHCP_BENCH_PG_URL), a database the benchmark may empty. On
Debian: ``pg_ctlcluster 15 main start``; ``su postgres -c "psql -c \\"CREATE ROLE ehcp LOGIN
PASSWORD 'ehcp'\\""``; ``su postgres -c "createdb -O ehcp ehcp_bench"``. Timings are wall-clock
seconds on the machine described in the output; nothing is asserted (performance is measured, not
tested; CI only checks that the smoke run completes).
"""

from __future__ import annotations

import argparse
import datetime as dt
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

# (step id, label in the table); the CLI steps run ``ehcp`` in a process of its own, start-up included
STEPS = [
    ("import", "full import (assessments + reviews)"),
    ("reimport", "re-import, nothing changed"),
    ("reimport_1pct", "re-import, 1% of cases changed"),
    ("evaluate", "full clock evaluation (load + engine)"),
    ("store", "ehcp evaluate: every clock worked out and stored (CLI, end to end)"),
    ("kpi_year", "kpi --year (CLI, end to end)"),
    ("kpi_month", "kpi --month (CLI, end to end)"),
    ("report", "report --month, HTML with 12-month trends (CLI, end to end)"),
    ("due", "due --caseworker X (CLI, end to end)"),
    ("due_in_memory", "due --caseworker X, another rule book: evaluated in memory (CLI)"),
    ("explain", "explain, one case"),
    ("version", "ehcp --version (CLI, end to end)"),
    ("alerts", "alerts, first run (events + routing + every digest rendered)"),
]
FLOOR = [("pandas_read", "floor: pandas read_csv(dtype=str) of the assessments file"),
         ("pyarrow_read", "floor: pyarrow CSV read of both extracts"),
         ("duckdb_20w", "floor: DuckDB, plans within 20 weeks per month")]
# Issue 17's targets at 1,000,000 requests on SQLite (seconds); PostgreSQL's are 1.5 times these.
TARGETS = {"import": 30, "reimport": 8, "reimport_1pct": 10, "evaluate": 5, "store": 5, "kpi_year": 5, "kpi_month": 3,
           "report": 15, "due": 1, "version": 0.3}
PEAK_TARGET_MB = 2048
GROWTH_TARGET = 11


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


def _cli(url: str | None, *args: str):
    """``ehcp ARGS`` in a process of its own (start-up included), its output thrown away."""
    command = [sys.executable, "-m", "ehcp_tracker", *(["--db", url] if url else []), "--as-of", AS_OF.isoformat(),
               "--quiet", *args]

    def run():
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
        return f"ehcp {' '.join(args)}: {len(done.stdout.splitlines())} lines out"
    return run


def step_kpi_cli(url: str, period: str):
    chosen = ["--year", str(AS_OF.year)] if period == "year" else ["--month", f"{AS_OF:%Y-%m}"]
    return _cli(url, "kpi", *chosen, "--format", "csv")


def step_report(url: str, work: Path):
    return _cli(url, "report", "--month", f"{AS_OF:%Y-%m}", "--output", str(work / "pack.html"))


def step_due_cli(url: str):
    return _cli(url, "due", "--caseworker", _one_case(url, "caseworker"), "--days", "28", "--format", "csv")


def step_due_in_memory(url: str, work: Path):
    """``due`` as before issue 17's stored clocks: a rule book whose fingerprint differs (one
    description changed) makes the command evaluate the caseworker's cases in memory."""
    import shutil

    rules = work / "rules-other"
    if not rules.exists():
        shutil.copytree(ROOT / "rules", rules)
        path = rules / "local" / "example.toml"
        path.write_text(path.read_text(encoding="utf-8").replace(
            "Targets an example SEND service", "Targets a SEND service", 1), encoding="utf-8")
    return _cli(url, "--rules", str(rules), "due", "--caseworker", _one_case(url, "caseworker"), "--days", "28",
                "--format", "csv")


def _one_case(url: str, column: str):
    """The second case by ID (the first is among the 1% the changed extract moved to another caseworker)."""
    import sqlalchemy as sa

    from ehcp_tracker.store import db

    table = db.assessment_table
    with _engine(url).connect() as conn:
        query = sa.select(table.c[column]).order_by(table.c.request_id).limit(1).offset(1)
        return conn.execute(query).scalar_one()


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


def floor_pandas(extracts: Path):
    import pandas as pd

    def run():
        return f"{len(pd.read_csv(extracts / 'assessments.csv', dtype=str)):,} rows"
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
            return step_kpi_cli(url, "year")
        case "kpi_month":
            return step_kpi_cli(url, "month")
        case "report":
            return step_report(url, extracts)
        case "due":
            return step_due_cli(url)
        case "due_in_memory":
            return step_due_in_memory(url, extracts)
        case "store":
            return _cli(url, "evaluate")
        case "explain":
            return step_explain(url)
        case "alerts":
            return step_alerts(url)
        case "version":
            return _cli(None, "--version")
        case "pandas_read":
            return floor_pandas(extracts)
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
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
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


def _target(db: str, step: str) -> float | None:
    target = TARGETS.get(step)
    return None if target is None else target * (1.5 if db == "postgresql" else 1)


def render(results: dict, sizes: list[int], databases: list[str], info: dict, note: str = "") -> str:
    lines = ["# Benchmark results", "", f"`python benchmarks/run.py --sizes {' '.join(map(str, sizes))} "
             f"--databases {' '.join(databases)}` (as of {AS_OF}, seed {SEED}, {REVIEWS_PER_REQUEST} reviews per request)",
             "", "## Machine", ""]
    lines += [f"- {key}: {value}" for key, value in info.items()]
    if note:
        lines += ["", note]
    columns = [(db, n) for db in databases for n in sizes]
    big = max(sizes)

    def seconds(db, n, step):
        return results.get((db, n, step), {}).get("seconds")

    lines += ["", "## Seconds (wall clock; each step in its own process)", "",
              f"Targets are issue 17's at {big:,} requests (SQLite; PostgreSQL x1.5); `missed` marks a step over "
              "its target at that size.", ""]
    header = "| step | " + " | ".join(f"{db} {n:,}" for db, n in columns) + " | target sqlite / postgresql |"
    lines += [header, "|" + " --- |" * (len(columns) + 2)]
    for step, label in STEPS:
        cells = []
        for db, n in columns:
            value, target = seconds(db, n, step), _target(db, step)
            missed = n == big and value is not None and target is not None and value > target
            cells.append(fmt_seconds(value) + (" missed" if missed else ""))
        target = f"<= {TARGETS[step]:g} / <= {TARGETS[step] * 1.5:g}" if step in TARGETS else ""
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    lines += ["", "## Peak memory (MB RSS of the step's process, its `ehcp` child included)", "",
              "| step | " + " | ".join(f"{db} {n:,}" for db, n in columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    for step, label in STEPS:
        cells = [f"{v:,.0f}" if (v := results.get((db, n, step), {}).get("peak_rss_mb")) else "n/a" for db, n in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    peak = []
    for db, n in columns:
        values = [v for s, _ in STEPS if (v := results.get((db, n, s), {}).get("peak_rss_mb"))]
        worst = max(values) if values else None
        peak.append("n/a" if worst is None else f"{worst:,.0f}" + (" missed" if n == big and worst > PEAK_TARGET_MB else ""))
    lines.append(f"| peak of any step (target <= {PEAK_TARGET_MB:,}) | " + " | ".join(peak) + " |")
    lines += ["", "## The floor (same extracts)", "", "| floor | " + " | ".join(f"{n:,}" for n in sizes) + " |",
              "|" + " --- |" * (len(sizes) + 1)]
    for step, label in FLOOR:
        lines.append(f"| {label} | " + " | ".join(fmt_seconds(seconds("floor", n, step)) for n in sizes) + " |")
    lines += ["", "## Every step as a multiple of each floor (pandas read / pyarrow read / DuckDB query)", "",
              "| step | " + " | ".join(f"{db} {n:,}" for db, n in columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    for step, label in STEPS:
        cells = []
        for db, n in columns:
            ours = seconds(db, n, step)
            ratios = []
            for floor, _ in FLOOR:
                base = seconds("floor", n, floor)
                ratios.append(f"x{ours / base:.1f}" if ours and base else "n/a")
            cells.append(" / ".join(ratios))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if len(sizes) > 1:
        lines += ["", f"## Growth (time at the larger size / time at the smaller; target: no step over x{GROWTH_TARGET} "
                  "for x10 the cases)", "",
                  "| step | " + " | ".join(f"{db} {a:,} -> {b:,} (x{b // a})" for db in databases
                                           for a, b in zip(sizes, sizes[1:])) + " |",
                  "|" + " --- |" * (len(databases) * (len(sizes) - 1) + 1)]
        for step, label in STEPS:
            cells = []
            for db in databases:
                for a, b in zip(sizes, sizes[1:]):
                    small, large = seconds(db, a, step), seconds(db, b, step)
                    growth = large / small if small and large else None
                    cells.append("n/a" if growth is None else f"x{growth:.1f}"
                                 + (" missed" if b == 10 * a and growth > GROWTH_TARGET else ""))
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "## What each step returned", ""]
    for (db, n, step), value in results.items():
        lines.append(f"- {db} {n:,} {step}: {value['detail']}"
                     + (f" (peak {value['peak_rss_mb']:,.0f} MB)" if value.get("peak_rss_mb") else ""))
    return "\n".join(lines) + "\n"


KEPT_MARKER = "<!-- kept by run.py: sections of other benchmarks below -->"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--db-url", default=os.environ.get("EHCP_BENCH_PG_URL", DEFAULT_PG),
                        help="PostgreSQL database the benchmark may empty (env EHCP_BENCH_PG_URL)")
    parser.add_argument("--work", type=Path, help="folder for extracts and SQLite files (default: a temporary one)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md")
    parser.add_argument("--no-write", action="store_true", help="print the table only; leave results.md alone")
    parser.add_argument("--note", default="", help="a line for results.md about the run (e.g. that the machine was busy)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--extracts", help=argparse.SUPPRESS)
    parser.add_argument("--write-extracts", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_extracts:
        write_extracts(args.write_extracts, Path(args.extracts))
        return 0
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
        extracts = work / f"extracts_{size}"
        # in a process of its own: Linux carries a parent's peak RSS into every child it starts, so a
        # runner that had generated a million rows itself would show ~1.1 GB for `ehcp --version`
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--write-extracts", str(size),
                        "--extracts", str(extracts)], check=True, cwd=ROOT)
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
    table = render(results, args.sizes, databases, machine(args.db_url if "postgresql" in databases else None),
                   args.note)
    print(table)
    if not args.no_write:
        # the sections other benchmarks keep below KEPT_MARKER (bench_web.py's) survive a new run
        old = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        kept = old[old.index(KEPT_MARKER):] if KEPT_MARKER in old else ""
        args.output.write_text(table.rstrip("\n") + ("\n\n" + kept if kept else "\n"), encoding="utf-8")
        print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
