"""A partitioned run on two real Django Tasks workers (``db_worker``) and a real enqueueing clock, on
PostgreSQL, against a real HTTP server on 127.0.0.1; one worker is killed (SIGKILL) part way through a partition.

The child processes use ``tests.partition_support.settings``: ``Item`` (unique ``external_id``, a ``parent``
pointing at other items, a local-only ``note``) syncs ``/items`` (240 records, pages of 20, one batch per page)
split into 4 page ranges of 3 pages, with ``OnDelete.DELETE``; leases last 2 seconds. The server stalls the
third page of the second partition; the test kills the worker reading it once the other partitions have landed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from pyck.core.models import CronTask, PartitionedRun, PartitionRun, SyncRun
from tests.cron_support.helpers import Child, child_env, requires_postgresql, run_manage, wait_for
from tests.partition_support.api import PAGE, ListingServer

pytestmark = [
    requires_postgresql,
    pytest.mark.skipif(find_spec("django_tasks_db") is None, reason="django-tasks-db is not installed"),
    pytest.mark.django_db(transaction=True),
]

RECORDS = 240
STALLED = "pages-3-5"  # offsets 60, 80 and 100
STALL_AT = 100
STALE = [1001, 1002, 1003, 1004, 1005]  # local rows whose records are gone remotely
KEPT_NOTES = range(1, 11)  # local rows of remote records, with a local-only note


def remote() -> dict[int, dict[str, Any]]:
    """Item ``n``'s parent is item ``(37 n mod 240) + 1``, mostly in another partition; every fifth has none."""
    return {
        n: {"id": n, "name": f"item {n}", "parent": None if n % 5 == 0 else (37 * n) % RECORDS + 1}
        for n in range(1, RECORDS + 1)
    }


def seed() -> None:
    """The local table before the run: the stale rows, and old copies of items 1-10 with a note."""
    old = timezone.now() - timedelta(days=1)
    rows = [(uuid.uuid4(), old, n, "stale", "") for n in STALE]
    rows += [(uuid.uuid4(), old, n, "old name", f"note {n}") for n in KEPT_NOTES]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM partition_support_item")
        cursor.execute("DELETE FROM django_tasks_database_dbtaskresult")
        cursor.executemany(
            "INSERT INTO partition_support_item (id, last_sync_time, external_id, name, note) VALUES (%s, %s, %s, %s, %s)",
            rows,
        )


def local_items() -> list[tuple[int, str, int | None, str]]:
    """``(external_id, name, parent's external_id, note)`` of every local row, by external id."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.external_id, i.name, p.external_id, i.note FROM partition_support_item i "
            "LEFT JOIN partition_support_item p ON p.id = i.parent_id ORDER BY i.external_id"
        )
        return list(cursor.fetchall())


def test_two_workers_one_killed_mid_partition_end_with_exactly_the_remote_state(
    tmp_path: Path, spawn: Callable[..., Child]
) -> None:
    records = remote()
    api = ListingServer(records)
    api.stall_offset = STALL_AT
    children: list[Child] = []
    try:
        env = child_env(
            None,
            DJANGO_SETTINGS_MODULE="tests.partition_support.settings",
            PYCK_CRON_TASKS_BACKEND="db",
            PYCK_CRON_LEASE="2",
            PYCK_PARTITION_API=api.url,
        )
        migrated = run_manage(["migrate", "--no-input", "-v", "0"], env, timeout=60)  # Tasks and Item tables
        assert migrated.returncode == 0, migrated.stderr
        seed()

        worker_args = ["db_worker", "--interval", "0.1", "--no-startup-delay", "--no-reload"]
        workers = [spawn(worker_args, env), spawn(worker_args, env)]
        clock = spawn(["run_cron_tasks", "--enqueue", "partition_support.Item"], env)
        children = [*workers, clock]

        def stalled_partition() -> PartitionRun | None:
            return PartitionRun.objects.filter(name=STALLED, status="running").select_related("run").first()

        wait_for(api.stalled.is_set, 30, "a worker to reach the stalled page")
        part = wait_for(stalled_partition, 10, "the stalled partition to be running")
        run = part.run
        others = PartitionRun.objects.filter(run=run).exclude(name=STALLED)
        # Partial when two workers wrote the same row at once (a parent fetched by reference): synced again at the end.
        ended = ("succeeded", "partial")
        wait_for(lambda: not others.exclude(status__in=ended).exists(), 30, "the other partitions to land")
        # Partitions landed out of order; the run is not complete, so nothing is deleted yet.
        assert PartitionedRun.objects.get(pk=run.pk).status == "running"
        assert {n for n, *_ in local_items()} >= set(STALE)

        victim_pid = int(part.owner.split(":")[1])
        [victim] = [w for w in workers if w.pid == victim_pid]
        [survivor] = [w for w in workers if w is not victim]
        victim.kill()
        read_before = len(api.offsets())
        api.release.set()

        finished = wait_for(
            lambda: (r := PartitionedRun.objects.get(pk=run.pk)).finished and r, 30, "the run to finish"
        )
        assert clock.stop() == 0
        survivor.stop()  # db_worker's own exit code on SIGTERM depends on where the signal lands: not ours to test

        # Exactly the remote state: every record once, its parent resolved across partitions, notes kept.
        expected = [
            (n, r["name"], r["parent"], f"note {n}" if n in KEPT_NOTES else "") for n, r in sorted(records.items())
        ]
        assert local_items() == expected

        # One run, finished once, which deleted the stale rows after every partition landed.
        assert PartitionedRun.objects.filter(model="partition_support.Item").count() == 1
        assert (finished.status, finished.deleted, finished.failed) == ("succeeded", len(STALE), 0), finished.errors
        parts = {p.name: p for p in PartitionRun.objects.filter(run=run)}
        assert {p.status for p in parts.values()} == {"succeeded"}
        # The killed partition's next attempt went on from its checkpoint (after the page at offset 80). It ends
        # partial if records of its first attempt failed (written by two workers at once): then the finishing
        # worker synced it once more from the start, alone. The killed attempt's record was closed by the one
        # that resumed it.
        runs = SyncRun.objects.filter(model="partition_support.Item", partition=STALLED).order_by("started")
        assert [(r.status, r.resumed) for r in runs] in (
            [("failed", False), ("succeeded", True)],
            [("failed", False), ("partial", True), ("succeeded", False)],
        )
        assert "stopped without recording its outcome" in runs[0].errors[0]["message"]
        assert sorted(api.offsets()[read_before : read_before + 2]) == [80, STALL_AT]
        retried = parts[STALLED]
        assert retried.attempts == len(runs) and str(victim_pid) not in retried.owner
        assert max(api.offsets()) == RECORDS - PAGE, "the last partition read on to the end, and no further"

        task = CronTask.objects.get(name="sync:partition_support.Item")
        assert task.last_status == "succeeded" and task.last_result.startswith(f"partitioned run #{run.pk} ")
    except BaseException:
        for child in children:
            child.kill()
            print(f"--- {child.process.args}:\n{child.output()}")
        raise
    finally:
        api.close()
