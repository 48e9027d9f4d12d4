"""A sync killed for real mid-run (``SIGKILL`` of a child process, on PostgreSQL) resumes from its checkpoint
and ends with exactly the rows of the remote side (issue #7).

The child (:mod:`tests.faults.resume_child`) syncs ``tests.testapp`` ``Ticket`` (incremental on
``updated_at``, pages of 10 by offset) from a :class:`benchmarks.server.BenchServer` on 127.0.0.1, in batches
of 15, so that batches end part way through pages and the checkpoint's item index matters. The test process
kills it, checks what the database holds, then runs the sync itself and checks that it went on from the
checkpoint (in the server's request log) and that the table ends equal to the remote listing.

Two kills: one inside a batch's transaction, after its rows and its checkpoint were written and before the
commit (the child pauses there); one at whatever moment a slowed-down incremental listing has reached.

Two more kills leave nothing to resume from, and check that the next run closes the killed run's record all
the same (issue 17, item 3): one as the run starts, before its first checkpoint; one while the run confirms
with `get()` that a row missing from the listing is gone, after its listing ended.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from benchmarks.server import BenchServer, TicketData
from pyck.core.models import SyncRun, SyncState
from pyck.core.options import OnDelete
from pyck.core.sync import sync_model
from tests.cron_support.helpers import ROOT, child_env, wait_for
from tests.testapp.models import Ticket

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="a killed child process and the test must share one database server; the SQLite test database is "
        "in memory (run with DATABASE_URL=postgres://...)",
    ),
    pytest.mark.django_db(transaction=True),
]

TICKETS = 200
PAGE = 10  # Ticket's datasource pages by 10 (tests/testapp/resources.py)
BATCH = 15


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The remote side: 200 tickets; the Ticket datasource of this process points at it."""
    with BenchServer(records=TICKETS) as server:
        monkeypatch.setattr(Ticket.sync_config.datasource, "base_url", server.url)
        yield server


class _SyncChild:
    """``python -m tests.faults.resume_child``, its output in files."""

    def __init__(self, tmp_path: Path, url: str, **extra: Any) -> None:
        self.out, self.err = tmp_path / "child.out", tmp_path / "child.err"
        env = child_env(PYCK_RESUME_URL=url, PYCK_RESUME_BATCH_SIZE=BATCH, **extra)
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.faults.resume_child"], cwd=ROOT, env=env, stdout=out, stderr=err
            )

    def output(self) -> str:
        return self.out.read_text() + "\n--- stderr ---\n" + self.err.read_text()[-4000:]

    def wait_for_line(self, text: str) -> str:
        def seen() -> str | None:
            line = next((line for line in self.out.read_text().splitlines() if text in line), None)
            if line is None and self.process.poll() is not None:
                pytest.fail(f"the child exited ({self.process.returncode}) before printing {text!r}:\n{self.output()}")
            return line

        return str(wait_for(seen, 30, f"{text!r} from the child"))

    def sigkill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        code = self.process.wait(timeout=10)
        assert code == -signal.SIGKILL, f"the child ended by itself before the kill:\n{self.output()}"

    def cleanup(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def spawn(tmp_path: Path) -> Any:
    children: list[_SyncChild] = []

    def start(url: str, **extra: Any) -> _SyncChild:
        children.append(_SyncChild(tmp_path, url, **extra))
        return children[-1]

    yield start
    for child in children:
        child.cleanup()


def _state() -> SyncState:
    return SyncState.objects.get(model="testapp.Ticket", partition="")


def _wait_for_the_killed_session_to_end() -> None:
    """PostgreSQL rolls back the dead child's open transaction when it sees the connection gone; wait for that."""

    def alone() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0] == 0

    wait_for(alone, 15, "the killed child's database session to end")


def _row(ticket: dict[str, Any]) -> tuple[str, str, datetime]:
    return ticket["subject"], ticket["status"], datetime.fromisoformat(ticket["updated_at"])


def _rows() -> dict[int, tuple[str, str, datetime]]:
    return {t.external_id: (t.subject, t.status, t.updated_at) for t in Ticket.objects.all()}


def _assert_table_is_the_remote_listing(tickets: TicketData) -> None:
    remote = {t["id"]: _row(t) for t in tickets.listing()}
    assert Ticket.objects.count() == len(remote) == TICKETS  # none duplicated (external_id is unique, too)
    assert _rows() == remote


def _listing_requests(server: BenchServer, start: int, exclude: set[tuple[str, int]]) -> list[dict[str, str]]:
    """The queries of the listing requests the server received from its ``start``-th on, but from ``exclude``
    clients (a request the killed child sent just before dying may be logged late)."""
    return [r.query for r in server.log()[start:] if r.endpoint == "tickets:list" and r.client not in exclude]


def test_a_run_killed_inside_a_batch_transaction_resumes_after_the_last_commit(api, spawn):
    child = spawn(api.url, PYCK_RESUME_PAUSE_AT=4)
    assert child.wait_for_line("PAUSED 4").endswith("in_atomic_block=True")
    # Batch 4's rows and checkpoint are written, not committed: no one else sees either.
    assert Ticket.objects.count() == 3 * BATCH
    assert _state().checkpoint["position"] == {"page": 40, "index": 5}

    child.sigkill()
    _wait_for_the_killed_session_to_end()

    # Only the three committed batches are there, and the checkpoint says exactly that: after 45 tickets, i.e.
    # after item 5 of the page at offset 40. The killed run's rows and checkpoint were rolled back together.
    listing = [t["id"] for t in api.tickets.listing()]
    state = _state()
    assert state.checkpoint["mode"] == "full"
    assert state.checkpoint["position"] == {"page": 40, "index": 5}
    assert sorted(_rows()) == sorted(listing[: 3 * BATCH])
    assert _rows() == {t["id"]: _row(t) for t in api.tickets.listing()[: 3 * BATCH]}
    assert state.cursor is None
    Ticket.objects.filter(external_id=listing[7]).update(triage_note="set before the restart")
    mark = len(api.log())

    result = sync_model(Ticket, batch_size=BATCH)

    assert result.ok and result.resumed and result.mode == "full"
    # From the checkpoint's page (its first 5 items skipped), not from offset 0.
    requests = _listing_requests(api, mark, set())
    assert [int(q["offset"]) for q in requests] == list(range(40, TICKETS, PAGE))
    assert all("updated_since" not in q for q in requests)
    assert (result.created, result.updated, result.unchanged) == (TICKETS - 3 * BATCH, 0, 0)
    _assert_table_is_the_remote_listing(api.tickets)
    assert Ticket.objects.get(external_id=listing[7]).triage_note == "set before the restart"
    state = _state()
    assert state.checkpoint is None and state.last_full_sync is not None
    assert state.cursor == {"datetime": api.tickets.latest().isoformat()}
    assert SyncRun.objects.filter(model="testapp.Ticket", resumed=True).count() == 1
    # The killed run's record no longer says "running": the run that resumed it closed it.
    killed = SyncRun.objects.get(model="testapp.Ticket", resumed=False)
    assert killed.status == "failed" and "stopped without recording its outcome" in killed.errors[0]["message"]


def test_an_incremental_run_killed_mid_listing_resumes_from_its_checkpoint(api, spawn):
    assert sync_model(Ticket).ok  # the first, full run: every ticket, and the cursor
    cursor_before = _state().cursor
    before = {t["id"]: _row(t) for t in api.tickets.listing()}
    since = api.tickets.latest()
    api.tickets.change(120)
    listing = [t["id"] for t in api.tickets.listing(since=since)]  # the boundary ticket, then the 120 changed
    assert len(listing) == 121

    api.control(delay=0.3)  # 13 slow pages: the kill lands while the child is still reading
    mark_child = len(api.log())
    child = spawn(api.url)

    def three_batches_committed() -> dict[str, Any] | None:
        checkpoint = _state().checkpoint
        return checkpoint if checkpoint and checkpoint["position"]["page"] >= 3 * PAGE else None

    wait_for(three_batches_committed, 30, "the child to commit three batches")
    child.sigkill()
    _wait_for_the_killed_session_to_end()
    child_clients = {r.client for r in api.log()[mark_child:]}

    state = _state()
    checkpoint = state.checkpoint
    assert checkpoint["mode"] == "incremental"
    assert checkpoint["since"] == {"datetime": since.isoformat()}
    written = checkpoint["position"]["page"] + checkpoint["position"]["index"]
    assert written % BATCH == 0 and 3 * BATCH <= written < len(listing)  # whole batches, and not all of them
    # The killed run wrote exactly the first `written` tickets of its listing (stamped since it started, and
    # holding the new data) but the boundary ticket, unchanged and so not rewritten; every other row is as the
    # first run left it. The cursor has not moved.
    restamped = Ticket.objects.filter(last_sync_time__gte=datetime.fromisoformat(checkpoint["started"]))
    assert sorted(restamped.values_list("external_id", flat=True)) == sorted(listing[1:written])
    remote = {t["id"]: _row(t) for t in api.tickets.listing()}
    assert _rows() == {id: remote[id] if id in listing[:written] else before[id] for id in before}
    assert state.cursor == cursor_before
    # Local-only values set before the restart, on a ticket the killed run rewrote and on one it did not reach.
    done, pending = listing[written - 1], listing[-1]
    Ticket.objects.filter(external_id__in=[done, pending]).update(triage_note="mine")
    api.control(delay=0)
    mark = len(api.log())

    result = sync_model(Ticket, batch_size=BATCH)

    assert result.ok and result.resumed and result.mode == "incremental"
    # The requests after the kill start at the checkpoint's page and ask from the killed run's cursor.
    requests = _listing_requests(api, mark, child_clients)
    assert [int(q["offset"]) for q in requests] == list(range(checkpoint["position"]["page"], len(listing), PAGE))
    assert {q["updated_since"] for q in requests} == {since.isoformat()}
    assert (result.created, result.updated, result.unchanged) == (0, len(listing) - written, 0)  # the rest only
    _assert_table_is_the_remote_listing(api.tickets)
    assert set(Ticket.objects.filter(triage_note="mine").values_list("external_id", flat=True)) == {done, pending}
    state = _state()
    assert state.checkpoint is None
    assert state.cursor == {"datetime": api.tickets.latest().isoformat()} != cursor_before


def _runs() -> list[SyncRun]:
    return list(SyncRun.objects.filter(model="testapp.Ticket").order_by("started"))


def _assert_closed_by(killed: SyncRun, later: SyncRun) -> None:
    """The killed run's record says failed, and why, since the later run started; no run is left "running"."""
    killed.refresh_from_db()
    assert killed.status == "failed", killed.errors
    assert "stopped without recording its outcome" in killed.errors[0]["message"]
    assert killed.started <= killed.finished <= later.started
    assert not SyncRun.objects.filter(status="running").exists()


def test_a_run_killed_before_its_first_checkpoint_is_closed_by_the_next_run(api, spawn):
    child = spawn(api.url, PYCK_RESUME_PAUSE_AT="start")
    child.wait_for_line("PAUSED start")
    child.sigkill()
    _wait_for_the_killed_session_to_end()
    [killed] = _runs()
    assert killed.status == "running" and _state().checkpoint is None  # nothing to resume from

    result = sync_model(Ticket, batch_size=BATCH)

    assert result.ok and not result.resumed
    assert any("1 earlier run(s) still recorded as running" in note for note in result.notes)
    killed_again, later = _runs()
    assert later.status == "succeeded"
    _assert_closed_by(killed, later)
    assert killed.finished == killed.started  # it made no progress anyone saw
    assert "found it still marked running" in killed.errors[0]["message"]
    _assert_table_is_the_remote_listing(api.tickets)


def test_a_run_killed_while_confirming_deletions_is_closed_by_the_next_run(api, spawn):
    assert sync_model(Ticket).ok
    Ticket.objects.create(external_id=TICKETS + 1, subject="gone", status="open", updated_at=api.tickets.latest())
    child = spawn(api.url, PYCK_RESUME_PAUSE_AT="confirm", PYCK_RESUME_DELETE="1")
    child.wait_for_line("PAUSED confirm")
    child.sigkill()
    _wait_for_the_killed_session_to_end()
    first, killed = _runs()
    # The listing ended (no checkpoint left to resume from); the run died confirming that the extra row is gone.
    assert killed.status == "running" and _state().checkpoint is None
    listing_ended = _state().checkpoint_updated
    assert killed.started < listing_ended

    result = sync_model(Ticket, batch_size=BATCH, mode="full", on_delete=OnDelete.DELETE, max_delete_fraction=1.0)

    assert result.ok and not result.resumed and result.deleted == 1
    *_, later = _runs()
    _assert_closed_by(killed, later)
    assert killed.finished == listing_ended  # the last time it was seen making progress
    _assert_table_is_the_remote_listing(api.tickets)
