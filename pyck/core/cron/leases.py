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
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import connection, connections, router, transaction
from django.db.models import Q
from django.utils import timezone

from ..conf import pyck_settings
from ..models import CronTask
from ..signals import batch_written

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

logger = logging.getLogger("pyck.cron.leases")


def lease_duration() -> timedelta:
    """The `CRON_LEASE_DURATION` setting as a `timedelta` (it may be given in seconds)."""
    value = pyck_settings.CRON_LEASE_DURATION
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


def new_owner_id(kind: str = "clock") -> str:
    """Return a lease owner id unique to this process and call: `kind@host:pid:random`."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def free_lease(now: datetime) -> Q:
    """The condition "nobody holds the lease at `now`" (none, or expired), for filtering `CronTask` rows."""
    return Q(lease_expires__isnull=True) | Q(lease_expires__lt=now)


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


def renew(name: str, owner: str, *, now: datetime, lease: timedelta) -> bool:
    """Push the expiry of `owner`'s lease on `name` to `now + lease`; `False` if `owner` lost it."""
    return CronTask.objects.filter(name=name, lease_owner=owner).update(lease_expires=now + lease) == 1


def release(name: str, owner: str, **fields: Any) -> bool:
    """Free `owner`'s lease on `name` and store `fields` (the run's outcome) in the same update.

    Returns `False` and changes nothing when `owner` no longer holds the lease (it expired and was taken
    over); the process that holds it now records its own outcome.
    """
    updated = CronTask.objects.filter(name=name, lease_owner=owner).update(lease_owner="", lease_expires=None, **fields)
    return updated == 1


class LeaseRenewer:
    """Renews a lease while the work inside runs; use as a context manager.

    `renew(now)` pushes the lease's expiry to `now + lease` and returns whether it was still held (a row
    count: 0 means another process took it over). A renewal is due every third of the lease, so two renewals
    can fail before another process may take the work over (one that fails is tried again sooner).

    A background thread makes them, on a database connection of its own that it closes when it stops. When the
    work is a sync, the sync makes them too, on its own thread and connection, between two batches (the
    `batch_written` signal). On SQLite, which writes one transaction at a time, the thread leaves the renewals
    to the sync as long as its batches come often enough, and never renews while a transaction of the work is
    open: a write from another connection then would make the sync's batch fail ("database is locked").
    """

    def __init__(self, renew: Callable[[datetime], object], lease: timedelta, what: str) -> None:
        self.renew = renew
        self.lease = lease
        self.what = what
        # Set when a renewal found the lease held by someone else.
        self.lost = False
        self._period = max(lease.total_seconds() / 3, 0.05)
        # When the next renewal is due (time.monotonic()); sooner again after one that failed.
        self._next = time.monotonic() + self._period
        self._renewing = threading.Lock()
        # The thread doing the work, and its connection to the lease's database when that is SQLite.
        self._work_thread: int | None = None
        self._work_connection: Any = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"pyck-heartbeat:{what}", daemon=True)

    def __enter__(self) -> LeaseRenewer:
        self._work_thread = threading.get_ident()
        work_connection = connections[router.db_for_write(CronTask)]
        self._work_connection = work_connection if work_connection.vendor == "sqlite" else None
        batch_written.connect(self._between_batches, weak=False, dispatch_uid=self._uid())
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        batch_written.disconnect(dispatch_uid=self._uid())
        self._stop.set()
        self._thread.join(timeout=max(self.lease.total_seconds(), 1.0))

    def _uid(self) -> str:
        return f"pyck.cron.leases.LeaseRenewer:{id(self)}"

    def _due(self) -> bool:
        return not self.lost and time.monotonic() >= self._next

    def _between_batches(self, sender: Any, **kwargs: Any) -> None:
        if threading.get_ident() == self._work_thread and self._due():
            self._renew(on_work_thread=True)

    def _run(self) -> None:
        try:
            while not self._stop.wait(min(self._period / 10, 1.0)):
                if self.lost:
                    return
                if self._work_connection is not None and not self._left_to_this_thread():
                    continue
                if self._due():
                    self._renew(on_work_thread=False)
        finally:
            connections.close_all()

    def _left_to_this_thread(self) -> bool:
        """On SQLite: whether this thread may renew the lease now, on its own connection. Only when a sync has
        not renewed it between two batches for half a period after it was due (the work is waiting on the
        network, say, or is no sync), and never while a transaction of the work is open: the renewal would then
        make the work's next write fail ("database is locked"), or its batch be redone record by record."""
        return not self._work_connection.in_atomic_block and time.monotonic() >= self._next + self._period / 2

    def _renew(self, *, on_work_thread: bool) -> None:
        if not self._renewing.acquire(blocking=False):
            return  # the other thread is renewing it
        try:
            if not self._due():
                return
            try:
                if on_work_thread:
                    # Under a savepoint when the work runs inside a transaction of its caller's: an error leaves
                    # that transaction usable.
                    with transaction.atomic(using=router.db_for_write(CronTask)):
                        kept = self.renew(timezone.now())
                else:
                    kept = self.renew(timezone.now())
            except Exception:
                logger.exception("Could not renew the lease of %s; retrying.", self.what)
                self._next = time.monotonic() + self._period / 3
                if not on_work_thread:
                    connections.close_all()
                return
            self._next = time.monotonic() + self._period
            logger.debug(
                "Renewed the lease of %s %s.", self.what, "between two batches" if on_work_thread else "from its thread"
            )
            if not kept:
                self.lost = True
                logger.error(
                    "The lease of %s was taken over by another process while it ran; raise "
                    "CRON_LEASE_DURATION if the database was unreachable for that long.",
                    self.what,
                )
        finally:
            self._renewing.release()


class Heartbeat(LeaseRenewer):
    """Renews `owner`'s lease on cron task `name` while the task runs (see `LeaseRenewer`)."""

    def __init__(self, name: str, owner: str, lease: timedelta) -> None:
        self.name = name
        self.owner = owner
        super().__init__(
            lambda now: renew(name, owner, now=now, lease=lease), lease, f"cron task {name!r} (owner {owner})"
        )
