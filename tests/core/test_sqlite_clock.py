"""The clock on SQLite: its lease heartbeat shares the database with the sync it guards, in real processes.

SQLite writes one transaction at a time. A heartbeat that renewed the lease from its own thread and connection
while a batch's transaction was open made that batch fail ("database is locked") and be redone record by
record. Now the sync renews the lease itself, between two batches, on its own connection, and the thread never
writes while a transaction of the sync is open. Several processes writing one SQLite file need the settings
`docs/deployment.md` gives (`transaction_mode: IMMEDIATE`, a busy timeout longer than a batch).

The children use a SQLite file of their own (`tests.clock_sqlite.settings`), whatever database the suite runs on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.clock_sqlite import BATCH

ROOT = Path(__file__).resolve().parents[2]
RECORDS = 20_000


def _env(path: Path, **extra: Any) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.clock_sqlite.settings",
        PYCK_SQLITE_FILE=str(path),
        PYCK_SQLITE_RECORDS=str(RECORDS),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with pyck's tables and `Sample`'s."""
    path = tmp_path_factory.mktemp("clock-sqlite") / "db.sqlite3"
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "-v", "0", "--skip-checks"],
        cwd=ROOT, env=_env(path), check=True, timeout=120,
    )
    return path


def _start(mode: str, path: Path, *args: str, **env: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.clock_sqlite.clock_child", mode, *args],
        cwd=ROOT, env=_env(path, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _result(child: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = child.communicate(timeout=300)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert child.returncode == 0 and lines, f"{out}\n{err[-3000:]}"
    return json.loads(lines[-1].removeprefix("RESULT "))


def _statements(result: dict[str, Any]) -> int:
    return sum(count for kind, count in result["statements"].items() if kind != "writes to the synced table")


def test_the_clocks_heartbeat_on_sqlite_breaks_no_batch_and_costs_only_its_renewals(database: Path) -> None:
    unleased = _result(_start("plain", database))
    # A lease of 0.6 s: the heartbeat falls due every 0.2 s, many times during the sync's 80 batches.
    leased = _result(_start("clock", database, PYCK_CRON_LEASE=0.6))

    for result in (unleased, leased):
        assert result["status"] == 0 and result["rows"] == RECORDS
        assert result["run"] == {"status": "succeeded", "created": RECORDS, "failed": 0}
    notes = leased["notes"]
    assert notes.get("redone batches", 0) == 0 == unleased["notes"].get("redone batches", 0), notes
    assert notes.get("failed renewals", 0) == 0 and notes.get("lost leases", 0) == 0, notes
    between = notes.get("renewals between batches", 0)
    renewals = between + notes.get("renewals from the thread", 0)
    assert between >= 2, notes  # the heartbeat fell due during the sync, and the sync renewed the lease
    # The same batches (one INSERT each), and besides the clock's own few statements (taking and releasing the
    # lease, the task's row) only the renewals' (a BEGIN and an UPDATE each, on the sync's connection).
    writes = RECORDS // BATCH
    for result in (unleased, leased):
        assert result["statements"]["writes to the synced table"] == writes
    assert _statements(unleased) < _statements(leased) <= _statements(unleased) + 8 + 2 * renewals, (unleased, leased)


def test_several_processes_syncing_one_sqlite_file_with_the_documented_settings_all_succeed(database: Path) -> None:
    subprocess.run(  # a fresh start: the rows and the run state of earlier tests go
        [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('DELETE FROM clock_sqlite_sample'); c.execute('DELETE FROM pyck_syncstate'); c.commit()",
         str(database)],
        check=True, timeout=60,
    )
    children = [_start("plain", database, "keep", PYCK_SQLITE_IMMEDIATE=1) for _ in range(3)]
    results = [_result(child) for child in children]

    for result in results:
        assert result["status"] == 0 and result["rows"] == RECORDS, result
        assert result["run"]["status"] == "succeeded" and result["run"]["failed"] == 0, result
        assert result["notes"].get("redone batches", 0) == 0, result
    # Each record stored once: the processes took turns on the model's sync lease (and their lease and run
    # bookkeeping, written at the same time, never met "database is locked").
    assert sum(result["run"]["created"] for result in results) == RECORDS
