"""`benchmarks/bench_sheets.py` runs, small, and measures what RESULTS.md quotes: one read per sync, and one read
per confirmed deletion without the run's kept read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_sheets_benchmark_counts_one_read_per_run_and_one_per_get_without_the_kept_read(tmp_path: Path) -> None:
    database = tmp_path / "bench.sqlite3"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_sheets", "--rows", "60", "--vanish", "3", "--database-url", f"sqlite:///{database}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| ") and "Sync of" in line]
    values_requests = [int(row[2]) for row in rows]
    table_writes = [int(row[5]) for row in rows]
    assert values_requests == [1, 1, 1, 1, 4]
    assert table_writes[1] == 0  # the unchanged re-sync
    assert "3 deleted" in rows[2][1] and "3 deleted" in rows[4][1]
