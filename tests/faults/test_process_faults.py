"""A sync process killed with SIGKILL part way through, then started again, on PostgreSQL.

A real child process (``tests/faults/sync_child.py``) syncs ``testapp.Party`` from a real HTTP server on
127.0.0.1, in batches of four, one page per batch. The test kills it at a point it controls:

* **inside a batch's transaction**: this process holds a row of the third batch locked (``SELECT ... FOR
  UPDATE``), so the child's third batch inserts its new rows and then waits for that row; the child is killed
  while it waits;
* **between batches**: the server holds back the third page until the child is dead; the child is killed once
  the table shows two batches written.

Either way the table must then hold whole batches only, each row complete, and a second child, run to the end,
must leave exactly the remote state: no row lost or duplicated (``Party.external_id`` has no unique constraint
to prevent duplicates), local-only columns untouched. Whether the second run resumes from the first one's
checkpoint or starts over, the assertions are the same.

SQLite cannot play: its test database lives in memory inside the test process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

from pyck.core.datasources import SyncRun
from tests.cron_support.helpers import ROOT, child_env, requires_postgresql, wait_for
from tests.testapp.models import Party

from .server import STALL_LIMIT, FaultServer, Handler

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]

BATCH = 4
#: The remote listing: five pages (and batches) of four.
REMOTE = {i: f"Party {i}" for i in range(1, 21)}
#: Rows stored before the sync, with a local-only colour: in batches 1, 3 and 5, and one not listed.
LOCAL = {3: "local 3", 10: "local 10", 19: "local 19", 99: "local 99"}
#: The name the child's backends go by in ``pg_stat_activity``.
APP_NAME = "pyck-faults-sync-child"


class Listing:
    """Serves :data:`REMOTE` at ``/parties`` by offset; ``hold_offset`` makes that page wait for :attr:`release`."""

    def __init__(self, hold_offset: int | None = None) -> None:
        self.hold_offset = hold_offset
        self.release = threading.Event()
        self.held = threading.Event()

    def __call__(self, handler: Handler) -> None:
        offset = int(handler.received.query.get("offset", ["0"])[0])
        limit = int(handler.received.query.get("limit", ["100"])[0])
        if offset == self.hold_offset and not self.release.is_set():
            self.held.set()
            self.release.wait(STALL_LIMIT)
        ids = sorted(REMOTE)[offset : offset + limit]
        body = json.dumps({"items": [{"id": i, "name": REMOTE[i]} for i in ids]}).encode()
        try:
            handler.send_body(200, body)
        except OSError:
            handler.close_connection = True  # the child was killed while waiting


@pytest.fixture
def locker() -> Iterator[psycopg.Connection[Any]]:
    """Another connection to the test database, in a transaction: it holds row locks until it rolls back."""
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
    ) as conn:
        yield conn
        conn.rollback()


@pytest.fixture
def start_child(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    """Start ``tests/faults/sync_child.py`` against a base URL; children still running at the end are killed."""
    children: list[subprocess.Popen[str]] = []

    def start(base_url: str) -> subprocess.Popen[str]:
        n = len(children)
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.sync_child", base_url, str(BATCH)],
            cwd=ROOT,
            env=child_env(PGAPPNAME=APP_NAME),
            stdout=(tmp_path / f"child{n}.out").open("w"),
            stderr=(tmp_path / f"child{n}.err").open("w"),
            text=True,
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait()


def _output(tmp_path: Path, n: int) -> str:
    return (tmp_path / f"child{n}.out").read_text() + "\n--- stderr ---\n" + (tmp_path / f"child{n}.err").read_text()


def _child_backends() -> list[tuple[int, str | None]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid, wait_event_type FROM pg_stat_activity WHERE application_name = %s", [APP_NAME])
        return cursor.fetchall()


def _kill(child: subprocess.Popen[str]) -> None:
    child.kill()  # SIGKILL: no cleanup of any kind in the child
    assert child.wait(timeout=10) == -9


def _rows() -> dict[int, tuple[str, str]]:
    rows = list(Party.objects.values_list("external_id", "name", "background_colour"))
    table = {external_id: (name, colour) for external_id, name, colour in rows}
    assert len(table) == len(rows), f"duplicated external ids: {sorted(r[0] for r in rows)}"
    return table


def _expected(synced: set[int]) -> dict[int, tuple[str, str]]:
    """The table once the records in ``synced`` are written: stored rows keep their colour, new ones have none."""
    table = {i: ("Old", colour) for i, colour in LOCAL.items()}
    for i in synced:
        table[i] = (REMOTE[i], LOCAL.get(i, ""))
    return table


def _batches(n: int) -> set[int]:
    return set(sorted(REMOTE)[: n * BATCH])


@pytest.fixture
def stored() -> None:
    for i, colour in LOCAL.items():
        Party.objects.create(external_id=i, name="Old", background_colour=colour)


def _restart_converges(start_child: Callable[[str], subprocess.Popen[str]], server: FaultServer, tmp_path: Path) -> None:
    """Run the sync again to its end: exactly the remote state, local-only columns untouched."""
    again = start_child(server.url)
    code = again.wait(timeout=60)
    assert code == 0, _output(tmp_path, 1)
    assert " succeeded: " in _output(tmp_path, 1)
    assert _rows() == _expected(set(REMOTE))
    # The killed run never recorded its end; whatever else it says, it does not claim success.
    killed, finished = SyncRun.objects.order_by("started")
    assert killed.status in ("running", "failed") and finished.status == "succeeded"


def test_a_sync_killed_inside_a_batch_leaves_whole_batches_and_a_restart_converges(
    stored, server, locker, start_child, tmp_path
) -> None:
    server.route("/parties", Listing())
    locker.execute("SELECT 1 FROM testapp_party WHERE external_id = 10 FOR UPDATE")  # in batch 3

    child = start_child(server.url)
    wait_for(
        lambda: any(wait == "Lock" for _, wait in _child_backends()) or child.poll() is not None,
        30,
        "the child's third batch to wait for the locked row",
    )
    assert child.poll() is None, _output(tmp_path, 0)
    _kill(child)
    locker.rollback()  # the child's backend may now finish its statement, then finds its client gone
    wait_for(lambda: not _child_backends(), 30, "the killed child's backend to go away")

    assert _rows() == _expected(_batches(2))  # batch 3's inserts were rolled back with it
    _restart_converges(start_child, server, tmp_path)


def test_a_sync_killed_between_batches_leaves_whole_batches_and_a_restart_converges(
    stored, server, start_child, tmp_path
) -> None:
    listing = Listing(hold_offset=2 * BATCH)  # the third page waits
    server.route("/parties", listing)

    child = start_child(server.url)
    wait_for(
        lambda: listing.held.is_set() or child.poll() is not None, 30, "the child to ask for the third page"
    )
    assert child.poll() is None, _output(tmp_path, 0)
    wait_for(lambda: _rows() == _expected(_batches(2)), 30, "two batches in the table")
    _kill(child)
    listing.release.set()
    wait_for(lambda: not _child_backends(), 30, "the killed child's backend to go away")

    assert _rows() == _expected(_batches(2))
    _restart_converges(start_child, server, tmp_path)
