"""Database leases on cron tasks: a task due once runs once, whatever the number of clock processes.

A lease is the pair `(lease_owner, lease_expires)` on the task's `CronTask` row.
Taking it is one conditional `UPDATE ... WHERE name = %s AND (lease_expires IS NULL OR lease_expires < now)
AND next_due <= now`: the database applies it to the row atomically, so of two processes racing for a due
task exactly one sees a row count of 1. On PostgreSQL the clock first looks at the row with
`SELECT ... FOR UPDATE SKIP LOCKED` inside a short transaction, so a clock never waits behind another one's
claim. SQLite has no `FOR UPDATE`; the conditional update alone is correct there too.

A lease expires so that the task of a crashed process is taken over; while a task runs, a `Heartbeat`
thread pushes the expiry forward, so a slow task is never started again while it still runs. During a sync the
sync itself renews it too, between two batches (on SQLite, the one moment another write cannot break a batch).

The lease itself (owner ids, renewing, releasing, the renewing thread) is `pyck.core.models.leases`, which the
sync engine uses too: a synced model's task and every other sync of that model share one lease. The names it
defines are also importable from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import Q

from ..models import CronTask
from ..models.leases import LeaseRenewer, free_lease, lease_duration, new_owner_id, release, renew

if TYPE_CHECKING:
    from .jobs import CronJob

__all__ = [
    "Heartbeat",
    "LeaseRenewer",
    "claim",
    "ensure_rows",
    "free_lease",
    "hand_over",
    "lease_duration",
    "new_owner_id",
    "release",
    "renew",
]


def ensure_rows(jobs: Iterable[CronJob], now: datetime) -> None:
    """Create the schedule row of every job that has none (due at `now`) and record changed intervals.

    When an interval is shortened, a `next_due` computed from the old one is brought forward to
    `last_started + interval`.
    """
    jobs = list(jobs)
    CronTask.objects.bulk_create(
        [CronTask(name=job.name, interval=job.interval, next_due=now) for job in jobs], ignore_conflicts=True
    )
    intervals = {job.name: job.interval for job in jobs}
    for row in CronTask.objects.filter(name__in=intervals).only("pk", "name", "interval", "next_due", "last_started"):
        if row.interval != intervals[row.name]:
            _record_interval(row, intervals[row.name])


def _record_interval(row: Any, interval: timedelta) -> None:
    changes: dict[str, Any] = {"interval": interval}
    if row.last_started is not None and row.last_started + interval < row.next_due:
        changes["next_due"] = row.last_started + interval
    CronTask.objects.filter(pk=row.pk).update(**changes)


def claim(
    name: str, owner: str, *, now: datetime, lease: timedelta, due_only: bool = True, status: str = "running"
) -> bool:
    """Take the lease of task `name` for `owner` until `now + lease`; return whether it was taken.

    Only a free lease (none, or expired) is taken, and with `due_only` only when `next_due <= now`.
    `status` is recorded as the task's `last_status` (`"running"`, or `"enqueued"` when a worker will
    run it); `"running"` also records `last_started = now`.
    """
    condition = Q(name=name) & free_lease(now)
    if due_only:
        condition &= Q(next_due__lte=now)
    changes: dict[str, Any] = {"lease_owner": owner, "lease_expires": now + lease, "last_status": status}
    if status == "running":
        changes["last_started"] = now
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            pk = (
                CronTask.objects.select_for_update(skip_locked=True)
                .filter(condition)
                .values_list("pk", flat=True)
                .first()
            )
            if pk is None:
                return False
            return CronTask.objects.filter(condition, pk=pk).update(**changes) == 1
    return CronTask.objects.filter(condition).update(**changes) == 1


def hand_over(name: str, token: str, owner: str, *, now: datetime, lease: timedelta) -> bool:
    """Move the lease a clock took when it enqueued `name` (held under `token`) to the worker `owner`.

    Returns `False` when the lease is no longer held by `token`: it expired and another clock re-enqueued
    or ran the task, so this queued copy must not run.
    """
    return (
        CronTask.objects.filter(name=name, lease_owner=token)
        .update(lease_owner=owner, lease_expires=now + lease, last_status="running", last_started=now)
        == 1
    )


class Heartbeat(LeaseRenewer):
    """Renews `owner`'s lease on cron task `name` while the task runs (see `LeaseRenewer`)."""

    def __init__(self, name: str, owner: str, lease: timedelta) -> None:
        self.name = name
        self.owner = owner
        super().__init__(
            lambda now: renew(name, owner, now=now, lease=lease), lease, f"cron task {name!r} (owner {owner})"
        )
