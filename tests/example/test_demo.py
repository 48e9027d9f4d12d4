"""``python -m example_project.demo --replay``: the tutorial end to end, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, example_env, new_database, on_postgresql


def _demo(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "example_project.demo", "--replay", *args],
        cwd=REPO,
        env=example_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"the demo exited {done.returncode} on {database_url}:\n{done.stdout}\n{done.stderr}"
    return done


# A temporary SQLite file always; a new PostgreSQL database too when the suite runs on PostgreSQL.
@pytest.mark.parametrize(
    "postgresql", [False, True] if on_postgresql() else [False], ids=lambda pg: "postgresql" if pg else "sqlite"
)
def test_the_demo_syncs_and_lists_the_constituency_its_mp_and_party(tmp_path: Path, postgresql: bool) -> None:
    with new_database(tmp_path, postgresql) as database_url:
        first = _demo(database_url)
        again = _demo(database_url, "--rows", "0")  # a second run updates the same rows

    assert "Replaying recorded UK Parliament responses from http://127.0.0.1:" in first.stdout
    assert "1 constituency, 3 MPs, 15 parties." in first.stdout
    [row] = [line.split() for line in first.stdout.splitlines() if line.startswith("  Inverness")]
    assert " ".join(row) == "Inverness, Skye and West Ross-shire Mr Angus MacDonald Liberal Democrat #faa01a"
    assert "1 constituency, 3 MPs, 15 parties." in again.stdout
    assert "Inverness" not in again.stdout
