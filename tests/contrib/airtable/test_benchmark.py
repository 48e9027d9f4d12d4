"""`benchmarks/bench_airtable.py` end to end at a tiny size, so that the harness cannot rot unnoticed: two worker
processes sharing the base's budget in Redis (db 9), against the local Airtable server."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from benchmarks.bench_airtable import main, most_in_any_window


def test_most_in_any_window_counts_sliding_seconds_not_clock_seconds() -> None:
    assert most_in_any_window([0.5, 0.9, 1.2, 1.4], 1.0) == 4
    assert most_in_any_window([0.0, 1.0, 2.0], 1.0) == 1
    assert most_in_any_window([], 1.0) == 0


def _redis_is_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _redis_is_up(), reason="needs Redis on 127.0.0.1:6379 (db 9), where the workers count")
def test_a_tiny_run_shares_the_base_without_a_429(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    main(["--records", "300", "--second", "200", "--phases", "alone,shared", "--output", str(output)])
    text = output.read_text()
    rows = [line for line in text.splitlines() if line.startswith(("| alone", "| shared"))]
    assert len(rows) == 2
    alone, shared = ([cell.strip() for cell in row.split("|")[1:-1]] for row in rows)
    assert alone[2:4] == ["3", "0"]  # 3 pages, no 429
    assert shared[2:4] == ["5", "0"]  # 3 + 2 pages from two processes, no 429
    assert shared[4] == "5 (limit 5)"
