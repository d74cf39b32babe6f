"""The benchmark runs end to end at 10,000 requests (a smoke run: nothing about its timings is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_smoke_run_produces_every_row(tmp_path):
    pytest.importorskip("pyarrow")
    pytest.importorskip("duckdb")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--sizes", "10000",
                           "--databases", "sqlite", "--no-write", "--work", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    table = done.stdout
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from run import FLOOR, STEPS
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    for _, label in STEPS + FLOOR:
        assert f"| {label} |" in table, label
    assert "failed" not in table, table
    for step in ("import", "reimport", "reimport_1pct", "evaluate", "due", "explain"):
        row = next(line for line in table.splitlines() if line.startswith(f"| {dict(STEPS)[step]} |"))
        assert "n/a" not in row, f"{step} did not run: {row}"
    assert "assessments: 0 new, 100 changed, 9900 unchanged" in table  # only the 1% changed is rewritten
