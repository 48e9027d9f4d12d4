"""One writer per model: two syncs of one model started at once, by real processes on PostgreSQL, never both write.

``testapp.Party`` has no unique constraint on ``external_id`` (not even an index: a sync loads its table's
external ids once, at its first batch), so two syncs overlapping in time store every record the other one
writes after that first batch a second time. The listing is served slowly by a local server (page by page), so
the second sync always starts while the first is writing. The writers are the ones a project has:
``Party.sync()`` (``tests/faults/writer_child.py``), ``manage.py run_cron_tasks --once``, and the admin's "Sync
now" (in this process).

The first push to a model (``apply_records``) while a sync of it writes: the sync read the model's marks before
pushes wrote it, so its batches do not take turns with the push's; the push waits for it to end.

Also here: a ``--once`` killed with ``SIGKILL`` mid-sync leaves a lease held by a dead process, which the next
``--once`` takes over at once; a ``--once`` that cannot get the lease says so and exits with a status that is
not 0.

SQLite cannot play: its test database lives in the memory of the test process.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib import admin, messages
from django.urls import path, reverse

from pyck.core.admin import SyncedModelAdmin
from pyck.core.models import CronTask, SyncRun
from tests.cron_support.helpers import Child, child_env, requires_postgresql, run_manage, wait_for
from pyck.core.datasources import apply_records
from tests.cron_support.remote import PartyRow, parties
from tests.testapp.models import Party

from .server import STALL_LIMIT, FaultServer, Handler

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]

site = admin.AdminSite(name="one_writer")
site.register(Party, SyncedModelAdmin)
urlpatterns = [path("admin/", site.urls)]

RECORDS = 120
PAGE = 10
#: Seconds each page takes to come: twelve pages, several seconds, so that the second writer starts in time.
DELAY = 0.4
TASK = "sync:testapp.Party"


class SlowListing:
    """``RECORDS`` parties at ``/parties`` by offset, each page after ``DELAY``; the first request for
    ``hold_offset`` (if any) waits for :attr:`release`."""

    def __init__(self, delay: float = DELAY, hold_offset: int | None = None) -> None:
        self.delay = delay
        self.hold_offset = hold_offset
        self.held = threading.Event()
        self.release = threading.Event()

    def __call__(self, handler: Handler) -> None:
        offset = int(handler.received.query.get("offset", ["0"])[0])
        limit = int(handler.received.query.get("limit", ["100"])[0])
        if offset == self.hold_offset and not self.held.is_set():
            self.held.set()
            self.release.wait(STALL_LIMIT * 3)
        else:
            time.sleep(self.delay)
        ids = range(offset + 1, min(offset + limit, RECORDS) + 1)
        body = json.dumps({"items": [{"id": i, "name": f"Party {i}"} for i in ids]}).encode()
        try:
            handler.send_body(200, body)
        except OSError:
            handler.close_connection = True  # the child was killed while waiting


@pytest.fixture
def children() -> Iterator[Callable[..., Child]]:
    """``children(args, env, module=...)`` starts a child; any still running at the end is killed."""
    started: list[Child] = []

    def start(args: list[str], env: dict[str, str], module: str = "django") -> Child:
        started.append(Child(args, env, module=module))
        return started[-1]

    yield start
    for child in started:
        child.kill()


def _env(server: FaultServer, **extra: Any) -> dict[str, str]:
    return child_env(PYCK_REMOTE_URL=server.url, PYCK_REMOTE_PAGE=PAGE, **extra)


def _writer(children: Callable[..., Child], server: FaultServer, *args: str, **extra: Any) -> Child:
    """``Party.sync()`` in a child process."""
    return children([server.url, *args], _env(server, **extra), module="tests.faults.writer_child")


def _once(children: Callable[..., Child], server: FaultServer, *args: str, **extra: Any) -> Child:
    return children(["run_cron_tasks", "--once", "testapp.Party", *args], _env(server, **extra))


def _writing() -> bool:
    return Party.objects.count() >= PAGE


def _assert_each_record_once() -> None:
    ids = list(Party.objects.values_list("external_id", flat=True))
    assert len(ids) == RECORDS and sorted(ids) == list(range(1, RECORDS + 1)), (
        f"{len(ids)} rows for {RECORDS} records: {len(ids) - len(set(ids))} duplicated"
    )


def test_once_started_while_model_sync_writes_waits_for_it_and_each_record_is_stored_once(server, children) -> None:
    server.route("/parties", SlowListing())
    first = _writer(children, server)
    wait_for(_writing, 30, "the first sync to write its first batch")
    once = _once(children, server)

    assert first.wait(timeout=60) == 0, first.output()
    assert once.wait(timeout=60) == 0, once.output()

    _assert_each_record_once()
    assert "RESULT" in first.output() and "waited" in once.output(), once.output()
    assert sorted(SyncRun.objects.values_list("status", flat=True)) == ["succeeded", "succeeded"]


def test_a_second_sync_of_an_unscheduled_model_is_refused_while_the_first_writes(server, children) -> None:
    server.route("/parties", SlowListing())
    first = _writer(children, server, PYCK_REMOTE_UNSCHEDULED=1)
    wait_for(_writing, 30, "the first sync to write its first batch")
    second = _writer(children, server, PYCK_REMOTE_UNSCHEDULED=1)

    assert second.wait(timeout=60) == 3, second.output()
    assert first.wait(timeout=60) == 0, first.output()

    _assert_each_record_once()
    refusal = second.output()
    assert "REFUSED SyncInProgressError" in refusal and "testapp.Party" in refusal and "sync@" in refusal, refusal
    assert SyncRun.objects.count() == 1, "the refused sync recorded no run"
    # The model has no sync_interval, yet its lease row exists: created for the sync, and free again.
    row = CronTask.objects.get(name=TASK)
    assert (row.interval, row.lease_owner, row.last_status) == (None, "", "succeeded")


def test_sync_now_is_refused_while_model_sync_writes(server, children, admin_client, monkeypatch) -> None:
    server.route("/parties", SlowListing())
    monkeypatch.setenv("PYCK_REMOTE_PAGE", str(PAGE))
    monkeypatch.setattr(Party.sync_config, "datasource", parties(server.url))  # this process's, for "Sync now"
    monkeypatch.setattr(Party.sync_config, "batch_size", PAGE)
    first = _writer(children, server)
    wait_for(_writing, 30, "the first sync to write its first batch")

    response = admin_client.post(reverse("one_writer:testapp_party_sync"), follow=True)

    [message] = list(response.context["messages"])
    assert message.level == messages.WARNING and "running already" in message.message, message.message
    assert "sync@" in message.message, "the message names the holder"
    assert first.wait(timeout=60) == 0, first.output()
    _assert_each_record_once()


def test_the_first_push_while_a_sync_writes_waits_for_it_and_each_record_is_stored_once(server, children, monkeypatch) -> None:
    server.route("/parties", SlowListing())
    monkeypatch.setattr(Party.sync_config, "datasource", parties(server.url))  # PartyRow records, for the push
    first = _writer(children, server)
    wait_for(_writing, 30, "the sync to write its first batch")

    # Records the sync has not reached yet, new to the table: without waiting, both would insert them.
    result = apply_records(Party, [PartyRow(id=i, name=f"Party {i}") for i in range(RECORDS - 19, RECORDS + 1)])

    listed = SyncRun.objects.get(mode="full").status
    assert first.wait(timeout=60) == 0, first.output()
    _assert_each_record_once()
    assert listed == "succeeded", "the push waited for the sync to end"
    assert (result.created, result.updated, result.unchanged) == (0, 0, 20), "the sync had stored them"


def test_once_after_a_killed_once_takes_the_dead_processs_lease_over_and_syncs(server, children) -> None:
    listing = SlowListing(delay=0.05, hold_offset=2 * PAGE)  # the killed run's third page waits
    server.route("/parties", listing)
    killed = _once(children, server)
    wait_for(lambda: listing.held.is_set() and Party.objects.count() == 2 * PAGE, 30, "two batches written")
    killed.kill()
    listing.release.set()
    assert CronTask.objects.get(name=TASK).lease_owner.startswith("clock@"), "the dead process holds the lease"

    again = run_manage(["run_cron_tasks", "--once", "testapp.Party"], _env(server), timeout=60)

    assert again.returncode == 0, again.stdout + again.stderr
    _assert_each_record_once()
    assert "took over" in again.stdout + again.stderr, again.stdout + again.stderr
    row = CronTask.objects.get(name=TASK)
    assert (row.last_status, row.lease_owner) == ("succeeded", "")


def test_once_that_cannot_get_the_lease_says_so_and_exits_non_zero(server, children) -> None:
    listing = SlowListing(delay=0.05, hold_offset=2 * PAGE)
    server.route("/parties", listing)
    # A lease of 2 s: --once waits that long by default, while the live holder keeps renewing it.
    holder = _writer(children, server, PYCK_CRON_LEASE=2)
    wait_for(listing.held.is_set, 30, "the first sync to wait for its third page")

    once = run_manage(["run_cron_tasks", "--once", "testapp.Party"], _env(server, PYCK_CRON_LEASE=2), timeout=60)

    listing.release.set()
    assert holder.wait(timeout=60) == 0, holder.output()
    assert once.returncode == 75, once.stdout + once.stderr
    said = once.stdout + once.stderr
    # Said at the default verbosity: by the command, or by pyck's log when it reaches the console (as in these
    # children's settings), which the command then does not repeat.
    assert "not run" in said and "sync:testapp.Party" in said and "sync@" in said, said
    _assert_each_record_once()
