"""Time the KPI step (after clock evaluation) for a year of months at 10k, 100k and 1M requests.

    python benchmarks/bench_kpi.py                 # 10k, 100k, 1M
    python benchmarks/bench_kpi.py --sizes 10000   # just one size

The caseload comes from ``ehcp_tracker.demo.synthetic`` (requests over two years to 30 October 2026);
the clocks are evaluated once as of 2 November 2026, plus the final-plan clock at each month end for
the snapshot KPIs; only ``kpi.kpi_table`` is inside the timed step (best of ``--repeat`` runs).
Target (issue 4): under 5 seconds at 1,000,000 requests, growing linearly.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ehcp_tracker.measures import kpi as K  # noqa: E402
from ehcp_tracker.clocks.engine import evaluate  # noqa: E402
from ehcp_tracker.measures.catalogue import load_catalogue  # noqa: E402
from ehcp_tracker.clocks.rules import load_rule_book  # noqa: E402
from ehcp_tracker.demo.synthetic import generate_assessments  # noqa: E402

END, AS_OF = dt.date(2026, 10, 30), dt.date(2026, 11, 2)


def bench(n: int, repeat: int) -> dict:
    book = load_rule_book()
    catalogue, _ = K._usable(load_catalogue(book=book), book)
    months = K.months_for(as_of=AS_OF, year=2026)
    t = time.perf_counter()
    cases = generate_assessments(n=n, seed=1, end=END)
    generated = time.perf_counter() - t
    t = time.perf_counter()
    results = evaluate(cases, book, AS_OF)
    snapshots = K.snapshot_results(lambda day: evaluate(cases, book, day, clocks=["final_plan"]), months, AS_OF)
    evaluated = time.perf_counter() - t
    del cases
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        frame = K.kpi_table(results, catalogue, months, as_of=AS_OF, snapshots=snapshots)
        best = min(best, time.perf_counter() - t)
    return {"requests": n, "clock_rows": len(results), "snapshot_rows": len(snapshots), "kpi_rows": len(frame),
            "generate_s": generated, "evaluate_s": evaluated, "kpi_s": best,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'requests':>10} {'clock rows':>11} {'snapshot rows':>14} {'generate s':>11} {'evaluate s':>11} "
          f"{'KPI step s':>11} {'s per 1M rows':>14} {'peak RSS MiB':>13}")
    for n in args.sizes:
        r = bench(n, args.repeat)
        per_million = r["kpi_s"] / (r["clock_rows"] + r["snapshot_rows"]) * 1e6
        print(f"{r['requests']:>10,} {r['clock_rows']:>11,} {r['snapshot_rows']:>14,} {r['generate_s']:>11.2f} "
              f"{r['evaluate_s']:>11.2f} {r['kpi_s']:>11.3f} {per_million:>14.3f} {r['peak_rss_mib']:>13,.0f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
