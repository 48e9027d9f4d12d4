"""`benchmarks/bench_action_network.py` runs, small, and measures what RESULTS.md quotes: a full sync at the
rate limit with no 429, and an incremental run reading only the changed people's pages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_action_network_benchmark_counts_the_requests_of_a_full_and_an_incremental_run(tmp_path: Path) -> None:
    database = tmp_path / "bench.sqlite3"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_action_network", "--people", "120", "--changed", "5",
         "--database-url", f"sqlite:///{database}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| ") and "Sync of" in line]
    assert [int(row[2]) for row in rows] == [6, 2]  # 5 pages and the empty one; 1 page of changes and the empty one
    assert [int(row[3]) for row in rows] == [0, 0]  # no 429: the datasource kept to 4 requests a second
    assert "120 created" in rows[0][1] and "6 updated" in rows[1][1]
