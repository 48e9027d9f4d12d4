"""Two real processes pushing overlapping records of the same model at once with `apply_records`, on
PostgreSQL.

The guide's models have no unique constraint on `external_id` (not even an index): nothing in the database
stops two transactions that both found an id absent from both inserting it. Each child process
(`tests/faults/push_child.py`) is sent the records of a round, says it is ready, and is released by the test
at the same moment as the other one (a barrier over a socket), for many rounds. Each round brings ids that are
new to both processes, half of them shared, so every round is a fresh chance to insert a row twice:

- `Party` records: new ids overlapping by half, plus the same changes to ids of the previous round;
- `MP` records: new members overlapping by half, all pointing at parties stored by neither process yet, which
  each process fetches with the party datasource's `get()` and inserts as references.

Afterwards: each id was created exactly once (the two results' `created` add up to the new ids of the round),
no external id has two rows, neither caller saw an exception or a failed record, and the two calls really
overlapped in time in most rounds (the race was run, not avoided by luck of timing).

SQLite cannot play: its test database lives in the memory of the test process, which the children cannot
reach (and SQLite writers are serialised database-wide anyway).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from pyck.core.datasources import SyncRun
from tests.cron_support.helpers import ROOT, child_env
from tests.testapp.models import MP, Party

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason=(
            "two processes need a database they can share: SQLite's test database lives in the memory of the "
            "test process (run with DATABASE_URL=postgres://...)"
        ),
    ),
    pytest.mark.django_db(transaction=True),
]

ROUNDS = 30
#: New ids per process and round; the two processes share half of them.
PER_PROCESS = 120
SHARED = PER_PROCESS // 2
#: Ids of the previous round both processes change in the next one (Party rounds).
CHANGED = 20
#: Parties per round the members point at, stored by neither process beforehand (MP rounds).
PARTIES = 5
#: Seconds any one step may take (a child starting, a round) before the test gives up.
TIMEOUT = 120


class Children:
    """The two child processes and the test's end of their connections: the barrier."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.server = socket.create_server(("127.0.0.1", 0))
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self.streams: dict[str, Any] = {}
        self.connections: list[socket.socket] = []

    def start(self, model: str, names: tuple[str, ...] = ("A", "B")) -> None:
        """Start a child per name pushing ``model`` records, and wait for each to connect."""
        port = self.server.getsockname()[1]
        for name in names:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "tests.faults.push_child", str(port), name, model],
                cwd=ROOT,
                env=child_env(),
                stdout=(self.tmp_path / f"{name}.out").open("w"),
                stderr=(self.tmp_path / f"{name}.err").open("w"),
                text=True,
            )
        self.server.settimeout(0.2)
        deadline = time.monotonic() + TIMEOUT
        for _ in names:
            while True:
                try:
                    conn, _ = self.server.accept()
                    break
                except TimeoutError:
                    if any(process.poll() is not None for process in self.processes.values()):
                        pytest.fail(f"a child exited before connecting:\n{self.output()}")
                    if time.monotonic() > deadline:
                        pytest.fail(f"a child did not connect within {TIMEOUT}s:\n{self.output()}")
            conn.settimeout(TIMEOUT)
            self.connections.append(conn)
            stream = conn.makefile("rw", encoding="utf-8", newline="\n")
            hello, name = self._read(stream, "hello").split()
            assert hello == "hello" and name in names
            self.streams[name] = stream

    def round(self, plans: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Send each child its records, wait until both are ready, release both at once, return their results."""
        for name, plan in plans.items():
            self._send(name, json.dumps(plan))
        for name in plans:
            assert self._read(self.streams[name], f"{name} ready") == "ready"
        for name in plans:  # back to back: the children start within microseconds of each other
            self._send(name, "go")
        return {name: json.loads(self._read(self.streams[name], f"{name}'s result")) for name in plans}

    def finish(self) -> None:
        """Tell the children to exit; each must exit 0."""
        for name in self.streams:
            self._send(name, "end")
        for name, process in self.processes.items():
            try:
                code = process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                pytest.fail(f"child {name} did not exit:\n{self.output()}")
            assert code == 0, self.output()

    def close(self) -> None:
        for conn in self.connections:
            conn.close()
        self.server.close()
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait()

    def output(self) -> str:
        return "\n".join(
            f"--- child {name} stdout ---\n{(self.tmp_path / f'{name}.out').read_text()}"
            f"--- child {name} stderr ---\n{(self.tmp_path / f'{name}.err').read_text()}"
            for name in self.processes
        )

    def _send(self, name: str, line: str) -> None:
        try:
            self.streams[name].write(line + "\n")
            self.streams[name].flush()
        except OSError as error:
            pytest.fail(f"child {name} went away ({error}):\n{self.output()}")

    def _read(self, stream: Any, what: str) -> str:
        try:
            line = stream.readline()
        except (OSError, TimeoutError) as error:
            pytest.fail(f"no {what} within {TIMEOUT}s ({error}):\n{self.output()}")
        if not line:
            pytest.fail(f"a child closed its connection instead of sending {what}:\n{self.output()}")
        return line.strip()


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Children]:
    pair = Children(tmp_path)
    yield pair
    pair.close()


def _new_ids(round: int) -> tuple[range, range]:
    """The ids process A and process B bring in ``round``: new to both, the middle half shared."""
    base = 1000 * (round + 1)
    return range(base, base + PER_PROCESS), range(base + SHARED, base + SHARED + PER_PROCESS)


def _overlapped(results: dict[str, dict[str, Any]]) -> bool:
    a, b = results["A"], results["B"]
    return max(a["start"], b["start"]) < min(a["end"], b["end"])


def _check_results(round: int, results: dict[str, dict[str, Any]], sizes: dict[str, int], new: int) -> None:
    for name, result in results.items():
        assert result["round"] == round
        assert (result["mode"], result["status"], result["failed"], result["errors"]) == ("push", "succeeded", 0, []), (
            name, result
        )
        assert result["created"] + result["updated"] + result["unchanged"] == sizes[name], (name, result)
    assert results["A"]["created"] + results["B"]["created"] == new, (round, results)


def _duplicates(table: str) -> list[tuple[int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT external_id, COUNT(*) FROM {table} GROUP BY external_id HAVING COUNT(*) > 1")
        return sorted(cursor.fetchall())


def _run_rounds(children: Children, plan: Callable[[int], dict[str, list[list[Any]]]]) -> list[dict[str, dict[str, Any]]]:
    every = []
    for round in range(ROUNDS):
        records = plan(round)
        results = children.round({name: {"round": round, "records": rows} for name, rows in records.items()})
        new = len({row[0] for rows in records.values() for row in rows} - _existing_before(round, records))
        _check_results(round, results, {name: len(rows) for name, rows in records.items()}, new)
        every.append(results)
    children.finish()
    return every


def _existing_before(round: int, records: dict[str, list[list[Any]]]) -> set[int]:
    """Ids of this round's records that earlier rounds stored."""
    return {row[0] for rows in records.values() for row in rows if row[0] < 1000 * (round + 1)}


def test_two_processes_pushing_overlapping_records_create_each_row_once(children: Children) -> None:
    def plan(round: int) -> dict[str, list[list[Any]]]:
        changed = [[id, f"Party {id} (round {round})", None] for id in range(1000 * round, 1000 * round + CHANGED)] if round else []
        a, b = _new_ids(round)
        return {
            "A": [[id, f"Party {id}", None] for id in a] + changed,
            "B": changed + [[id, f"Party {id}", None] for id in b],
        }

    children.start("party")
    every = _run_rounds(children, plan)

    assert _duplicates("testapp_party") == []
    expected = {}
    for round in range(ROUNDS):
        a, b = _new_ids(round)
        expected.update({id: f"Party {id}" for id in [*a, *b]})
        if round:
            expected.update({id: f"Party {id} (round {round})" for id in range(1000 * round, 1000 * round + CHANGED)})
    assert dict(Party.objects.values_list("external_id", "name")) == expected
    assert Party.objects.count() == len(expected) == ROUNDS * (PER_PROCESS + SHARED)
    runs = SyncRun.objects.filter(model="testapp.Party")
    assert (runs.count(), set(runs.values_list("mode", "status"))) == (2 * ROUNDS, {("push", "succeeded")})
    overlapped = sum(_overlapped(results) for results in every)
    assert overlapped >= ROUNDS // 2, f"the two calls overlapped in only {overlapped} of {ROUNDS} rounds"


def test_two_processes_pushing_members_of_parties_neither_has_store_each_party_once(children: Children) -> None:
    def party_of(id: int) -> int:
        return 1000 * (id // 1000) + 500 + id % PARTIES  # new in the member's round, shared by both processes

    def plan(round: int) -> dict[str, list[list[Any]]]:
        a, b = _new_ids(round)
        return {name: [[id, f"MP {id}", party_of(id)] for id in ids] for name, ids in (("A", a), ("B", b))}

    children.start("member")
    every = _run_rounds(children, plan)

    assert _duplicates("testapp_party") == []
    assert _duplicates("testapp_mp") == []
    assert Party.objects.count() == ROUNDS * PARTIES
    members = dict(MP.objects.values_list("external_id", "latest_party__external_id"))
    assert len(members) == MP.objects.count() == ROUNDS * (PER_PROCESS + SHARED)
    assert all(party == party_of(id) for id, party in members.items())
    for results in every:
        # Each process asks for a party it lacks once per call; the one that came second finds it stored.
        assert all(result["gets"] <= PARTIES for result in results.values()), results
        assert sum(result["gets"] for result in results.values()) >= PARTIES, results
    overlapped = sum(_overlapped(results) for results in every)
    assert overlapped >= ROUNDS // 2, f"the two calls overlapped in only {overlapped} of {ROUNDS} rounds"
