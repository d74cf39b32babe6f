"""Core benchmark (issue 2): import and evaluate N synthetic assessment requests on SQLite.

    python benchmarks/bench_core.py --sizes 10000 100000

For each size: write the synthetic extract, import it into a fresh SQLite database, re-import it
unchanged, evaluate every clock of every case (load + engine), and list what is due this week for
one caseworker. Prints a table and the growth ratio between sizes. Timings are wall-clock seconds on
this machine; nothing here is asserted (performance is measured, never tested).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ehcp_tracker.store import db  # noqa: E402
from ehcp_tracker.clocks.engine import evaluate  # noqa: E402
from ehcp_tracker.ingest.importer import import_extract  # noqa: E402
from ehcp_tracker.listings import Filters, due  # noqa: E402
from ehcp_tracker.clocks.rules import load_rule_book  # noqa: E402
from ehcp_tracker.schema import ASSESSMENTS  # noqa: E402
from ehcp_tracker.demo.synthetic import generate_assessments  # noqa: E402

AS_OF = dt.date(2026, 10, 30)


def timed(func):
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def run(size: int, work: Path) -> dict:
    book = load_rule_book(ROOT / "rules")
    frame = generate_assessments(size, seed=1, end=AS_OF)
    path = work / f"assessments_{size}.csv"
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    engine = db.connect(f"sqlite:///{work / f'bench_{size}.db'}")
    db.init_db(engine)
    t_import, summary = timed(lambda: import_extract(engine, path, book, AS_OF))
    t_reimport, again = timed(lambda: import_extract(engine, path, book, AS_OF))
    assert summary.new == size and again.unchanged == size

    def evaluate_all():
        with engine.connect() as conn:
            cases = db.load_cases(conn, ASSESSMENTS)
        return evaluate(cases, book, AS_OF)

    t_eval, results = timed(evaluate_all)
    caseworker = frame["caseworker"].iloc[0]
    t_due, (rows, _) = timed(lambda: due(engine, book, AS_OF, Filters(caseworker=caseworker)))
    return {"requests": size, "import_s": t_import, "reimport_s": t_reimport, "evaluate_s": t_eval,
            "clocks": len(results), "due_one_caseworker_s": t_due, "due_rows": len(rows),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            rows.append(run(size, Path(folder)))
            r = rows[-1]
            print(f"{r['requests']:>9,} requests: import {r['import_s']:.2f}s, re-import {r['reimport_s']:.2f}s, "
                  f"evaluate {r['evaluate_s']:.2f}s ({r['clocks']:,} clocks), due for one caseworker "
                  f"{r['due_one_caseworker_s']:.3f}s ({r['due_rows']} rows), peak RSS {r['peak_rss_mb']:.0f} MB",
                  flush=True)
    for small, large in zip(rows, rows[1:]):
        factor = large["requests"] / small["requests"]
        print(f"growth x{factor:g} in size: " + ", ".join(
            f"{key} x{large[key] / small[key]:.1f}" for key in ("import_s", "reimport_s", "evaluate_s",
                                                              "due_one_caseworker_s")))


if __name__ == "__main__":
    main()
