"""`benchmarks/bench_nationbuilder.py` runs, small, under a tighter rate limit, and measures what RESULTS.md
quotes: a full listing of `ceil(N / S) + 1` requests with no 429 from the server enforcing the limit, and an
incremental run after 1% changed that reads only the changed signups' pages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.bench_nationbuilder import floor_seconds

ROOT = Path(__file__).resolve().parents[2]


def test_the_floor_counts_the_intervals_the_requests_need() -> None:
    assert floor_seconds(501, 250, 10) == 20 and floor_seconds(250, 250, 10) == 0 and floor_seconds(251, 250, 10) == 10
    assert floor_seconds(101, 250, 10) == 0


def test_the_nationbuilder_benchmark_respects_the_limit_and_reads_only_the_changes(tmp_path: Path) -> None:
    database = tmp_path / "bench.sqlite3"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_nationbuilder", "--signups", "400", "--limit", "10", "--interval", "0.5",
         "--database-url", f"sqlite:///{database}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )
    assert "429s answered: 0." in done.stdout
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| ") and "Sync of" in line]
    full, incremental = rows
    assert "400 created" in full[1] and int(full[2]) == 21  # 20 pages of 20, then the empty page
    assert "4 updated" in incremental[1] and int(incremental[2]) == 2  # one page of changes, then the empty page
