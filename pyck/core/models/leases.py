"""Leases on `CronTask` rows: which process may run a periodic task, or write a synced model's rows, now.

A lease is the pair `(lease_owner, lease_expires)` on a `CronTask` row: its owner may do the work until the
expiry, and renews it from a `LeaseRenewer` thread while it works. Two kinds of work hold one:

- a periodic task, run by the cron clock or a Django Tasks worker (`pyck.core.cron.leases` takes those);
- the sync of a synced model, however it was started: the clock, `run_cron_tasks --once`, a worker, the
  admin's "Sync now", `Model.sync()`, `sync_model()`, `pyck_merge_duplicates`. Each holds the lease of the
  row `sync:<app_label>.<ModelName>` (`SyncLease`): the model's cron task when the clock schedules the model,
  a row created on demand when it does not. Two of them never write one model's rows at once: the second
  waits for the lease, up to a bound, or is refused with `SyncInProgressError`.

An owner id says who holds a lease: `kind@host:pid:random`, the host part naming the machine and its process
namespace. A lease whose holder died expires after `CRON_LEASE_DURATION`; when the holder ran on this machine
and its process is gone, `take` takes the lease over at once instead (`holder_is_dead`), as it does a lease of
this very process that its sync could not free (the database had gone).

This module imports no other part of pyck than the models and the settings: the sync engine uses it, and the
cron clock builds on it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import datetime, timedelta
from types import MappingProxyType, TracebackType
from typing import Any

from django.db import DatabaseError, connection, connections, router, transaction
from django.db.models import F, Q
from django.utils import timezone

from ..conf import pyck_settings
from ..exceptions import ConfigurationError, SyncInProgressError
from ..signals import batch_written
from .cron import CronTask

__all__ = [
    "MAX_ERROR_CHARS",
    "MAX_RESULT_CHARS",
    "SYNC_PREFIX",
    "LeaseRenewer",
    "SyncLease",
    "describe_holder",
    "free_lease",
    "held_here",
    "holder",
    "holder_is_dead",
    "holding",
    "lease_duration",
    "new_owner_id",
    "release",
    "renew",
    "sync_task_name",
    "take",
    "wait_for_release",
]

logger = logging.getLogger("pyck.cron.leases")

SYNC_PREFIX = "sync:"
"""The prefix of a synced model's task and lease names: `sync:<app_label>.<ModelName>`."""

MAX_ERROR_CHARS = 10_000
"""Longest traceback kept in `CronTask.last_error` (the tail is kept: it names the failing line)."""

MAX_RESULT_CHARS = 2_000
"""Longest summary of a task's return value kept in `CronTask.last_result`."""

# Seconds between two looks at a lease someone waits for.
_POLL = 0.25

# Who holds a lease, by the first part of its owner id: for messages.
_KINDS = {
    "clock": "the cron clock",
    "worker": "a Django Tasks worker",
    "enqueued": "a cron task waiting in the Django Tasks queue",
    "admin": '"Sync now" in the admin',
    "sync": "Model.sync() or sync_model()",
    "merge": "pyck_merge_duplicates",
}

_OWNER = re.compile(r"^(?P<kind>[^@]*)@(?P<host>[^:]*):(?P<pid>\d+):")

# The owner ids of leases this process held and could not free (the database had gone): they are dead too.
_unfreed: set[str] = set()


def sync_task_name(label: str) -> str:
    """The task and lease name of the synced model `label` (`"app_label.ModelName"`): `sync:<label>`."""
    return f"{SYNC_PREFIX}{label}"


def lease_duration() -> timedelta:
    """The `CRON_LEASE_DURATION` setting as a `timedelta` (it may be given in seconds)."""
    value = pyck_settings.CRON_LEASE_DURATION
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


@functools.cache
def _host() -> str:
    """This machine's host name and, where there is one, its process namespace: two containers sharing a host
    name (host networking) count processes apart, so neither takes the other's pids for its own."""
    name = socket.gethostname()
    try:
        return f"{name}/{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return name


def new_owner_id(kind: str = "clock") -> str:
    """Return a lease owner id unique to this process and call: `kind@host:pid:random`."""
    return f"{kind}@{_host()}:{os.getpid()}:{os.urandom(4).hex()}"


def holder_is_dead(owner: str) -> bool:
    """Whether `owner` (an owner id) is a process of this machine that no longer runs, or a lease of this
    process that it could not free when its sync ended.

    `False` when it cannot tell: another machine, a process that exists (even under another user), an owner id
    of another form, a system without POSIX signals. A pid the system has given to a new process since counts
    as alive: the lease then expires as usual.
    """
    if owner in _unfreed:
        return True
    match = _OWNER.match(owner)
    if match is None or match["host"] != _host() or os.name != "posix":
        return False
    pid = int(match["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether process `pid` has exited and waits for its parent to reap it (Linux; elsewhere `False`)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def describe_holder(owner: str) -> str:
    """`owner` for people: `"the cron clock (clock@host:12:ab12cd34)"`."""
    match = _OWNER.match(owner)
    kind = _KINDS.get(match["kind"]) if match else None
    return f"{kind} ({owner})" if kind else owner


def free_lease(now: datetime) -> Q:
    """The condition "nobody holds the lease at `now`" (none, or expired), for filtering `CronTask` rows."""
    return Q(lease_expires__isnull=True) | Q(lease_expires__lt=now)


def take(
    name: str,
    owner: str,
    *,
    now: datetime,
    lease: timedelta,
    status: str | None = "running",
    condition: Q | None = None,
) -> bool:
    """Take the lease of the row `name` for `owner` until `now + lease`; return whether it was taken.

    It is taken when free (none, or expired), or when its holder is a dead process of this machine
    (`holder_is_dead`; logged as a warning). `condition` narrows the rows further (`Q(next_due__lte=now)`).
    `status` is recorded as the row's `last_status` (`None`: the run columns are left alone); `"running"` also
    records `last_started = now`.
    """
    changes = _taken(owner, now, lease, status)
    rows = CronTask.objects.filter(Q(name=name) & (condition or Q()))
    if rows.filter(free_lease(now)).update(**changes):
        return True
    current = rows.values_list("lease_owner", flat=True).first()
    if current and holder_is_dead(current) and rows.filter(lease_owner=current).update(**changes):
        logger.warning("%s: took over the lease of %s, whose holder is gone (a process killed?).", name, current)
        _unfreed.discard(current)
        return True
    return False


def _taken(owner: str, now: datetime, lease: timedelta, status: str | None) -> dict[str, Any]:
    """The columns `take` sets."""
    changes: dict[str, Any] = {"lease_owner": owner, "lease_expires": now + lease}
    if status is not None:
        changes["last_status"] = status
    if status == "running":
        changes["last_started"] = now
    return changes


def _take_or_create(
    name: str, owner: str, *, now: datetime, lease: timedelta, interval: timedelta | None, status: str | None
) -> bool:
    """`take` the lease on `name`, creating its row (with `interval`, due at `now`) if there is none.

    On PostgreSQL and SQLite a row that is missing or free is taken with one statement (`INSERT ... ON CONFLICT
    DO UPDATE ... WHERE` the lease is free): a sync costs the same two statements (this and the release)
    whether the row exists or not.
    """
    changes = _taken(owner, now, lease, status)
    if connection.vendor in ("postgresql", "sqlite"):
        values = {"name": name, "interval": interval, "next_due": now, **changes}
        fields = [field for field in CronTask._meta.concrete_fields if not field.primary_key]
        qn = connection.ops.quote_name
        table, expires = qn(CronTask._meta.db_table), qn(CronTask._meta.get_field("lease_expires").column)
        columns = ", ".join(qn(field.column) for field in fields)
        taken = ", ".join(f"{qn(column)} = EXCLUDED.{qn(column)}" for column in changes)
        sql = (
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT ({qn(CronTask._meta.get_field('name').column)}) DO UPDATE SET {taken} "
            f"WHERE {table}.{expires} IS NULL OR {table}.{expires} < %s"
        )
        params = [
            field.get_db_prep_save(values.get(field.attname, field.get_default()), connection) for field in fields
        ]
        params.append(CronTask._meta.get_field("lease_expires").get_db_prep_save(now, connection))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if cursor.rowcount == 1:
                return True
    else:
        CronTask.objects.bulk_create([CronTask(name=name, interval=interval, next_due=now)], ignore_conflicts=True)
    return take(name, owner, now=now, lease=lease, status=status)  # a dead holder's lease, or a row just created


def holder(name: str, now: datetime | None = None) -> tuple[str, datetime | None]:
    """The owner and expiry of the lease on `name` held at `now` (default: now); `("", None)` when free."""
    now = now or timezone.now()
    row = CronTask.objects.filter(name=name).exclude(free_lease(now)).values_list("lease_owner", "lease_expires").first()
    return row if row is not None else ("", None)


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


def wait_for_release(name: str, owner: str, deadline: float | None = None) -> bool:
    """Wait until `owner` no longer holds the lease on `name` (released, expired, taken over, or its process
    dead), at most until `deadline` (a `time.monotonic()` value; `None`: no bound); return whether it does not."""
    while True:
        current, _ = holder(name)
        if current != owner or holder_is_dead(owner):
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(_POLL if deadline is None else max(0.0, min(_POLL, deadline - time.monotonic())))


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
        return f"pyck.core.models.leases.LeaseRenewer:{id(self)}"

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


# The leases the code running in this context holds, by name: their owner ids (see `holding`).
_held: ContextVar[Mapping[str, str]] = ContextVar("pyck_held_leases", default=MappingProxyType({}))


@contextlib.contextmanager
def holding(name: str, owner: str) -> Iterator[None]:
    """Note that the code inside runs under `owner`'s lease on `name`, which the caller took and renews (the
    clock running a model's sync task): a `SyncLease` of that name inside takes nothing of its own."""
    token = _held.set(MappingProxyType({**_held.get(), name: owner}))
    try:
        yield
    finally:
        _held.reset(token)


def held_here(name: str) -> str | None:
    """The owner id under which the code running now holds the lease on `name` (see `holding`), or `None`."""
    return _held.get().get(name)


class SyncLease:
    """The lease of a synced model's sync, held while the code inside runs: one writer of the model at a time.

    Entering takes the lease of the row `sync:<app_label>.<ModelName>`, created on demand (with the model's
    `sync_interval`, which may be `None`), renews it from a thread, and notes it held in this context, so that a
    `SyncLease` of the same model inside (the engine's, in `Model.sync()` inside "Sync now") takes nothing.
    Nothing is taken either when the caller holds the lease already (the cron clock running the model's task,
    see `holding`); the caller then records the run itself.

    A lease another live process holds is waited for, up to `wait` seconds; one whose holder is a dead
    process of this machine is taken over at once (see `take`). Entered inside a transaction (a view under
    `ATOMIC_REQUESTS`), the lease is taken in that transaction and not renewed: its row stays locked until the
    transaction ends, and the others wait for it there.

    Leaving records the run on the row as the clock records its own runs, and frees the lease: `last_started`,
    `last_finished`, `last_duration`, `last_status`, `last_result` (from the result given to `record`),
    `last_error` (the traceback of an exception leaving the block) and `run_count`; with `reschedule`, also
    `next_due`, `sync_interval` after the run finished, so that the clock does not sync again at once what was
    just synced. An interruption (an exception that is not an `Exception`) records `interrupted` and leaves
    the schedule alone.

    Args:
        model: a concrete synced model.
        kind: who holds the lease, the first part of its owner id: `"sync"` (`Model.sync()`, `sync_model()`),
            `"admin"`, `"merge"`.
        wait: seconds (or a `timedelta`) to wait for a lease someone else holds; `0` refuses at once.
        reschedule: whether the end of the run moves the model's next due time on the clock's schedule: what the
            admin's "Sync now" does, a manual run of the clock's task. `Model.sync()` and `sync_model()` leave
            the schedule alone (they may sync part of a model, or be part of something else).
        record_run: `False` for work that is not a sync (merging duplicates): the row's run columns are left
            alone; only the lease is taken and freed.

    Raises:
        SyncInProgressError: on entering, when someone else kept the lease for longer than `wait`.
        ConfigurationError: `wait` is negative or not a number.
    """

    def __init__(
        self,
        model: type[Any],
        *,
        kind: str = "sync",
        wait: float | timedelta = 0.0,
        reschedule: bool = False,
        record_run: bool = True,
    ) -> None:
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else wait
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
            raise ConfigurationError(f"wait=...: expected a number of seconds (or a timedelta) >= 0, got {wait!r}.")
        self.model = model
        self.label: str = model._meta.label
        self.name = sync_task_name(self.label)
        self.kind = kind
        self.wait = float(seconds)
        self.reschedule = reschedule
        self.record_run = record_run
        self.owner = ""
        # True when the lease was held already in this context: this one takes, renews and records nothing.
        self.reentered = False
        # Seconds spent waiting for another holder.
        self.waited = 0.0
        self.started: datetime | None = None
        self._outcome: Any = None
        self._renewer: LeaseRenewer | None = None
        self._token: Any = None

    def __enter__(self) -> SyncLease:
        held = held_here(self.name)
        if held is not None:
            self.owner, self.reentered = held, True
            return self
        self.owner = new_owner_id(self.kind)
        self._acquire()
        lease = lease_duration()
        name, owner = self.name, self.owner
        # Inside a transaction the row stays locked until it ends, which keeps the others out; a renewal from
        # another connection would wait for that lock, and for the transaction, for ever.
        if not connection.in_atomic_block:
            self._renewer = LeaseRenewer(
                lambda now: renew(name, owner, now=now, lease=lease), lease, f"the sync of {self.label} ({owner})"
            )
            self._renewer.__enter__()
        self._token = _held.set(MappingProxyType({**_held.get(), name: owner}))
        return self

    def _acquire(self) -> None:
        clock = time.monotonic()
        deadline = clock + self.wait
        interval = self.model.sync_config.sync_interval
        while True:
            now = timezone.now()
            status = "running" if self.record_run else None
            if _take_or_create(self.name, self.owner, now=now, lease=lease_duration(), interval=interval, status=status):
                self.started, self.waited = now, time.monotonic() - clock
                if self.waited >= _POLL:
                    logger.info("%s: waited %.1fs for the lease, held by another sync.", self.label, self.waited)
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._refusal(*holder(self.name, now))
            time.sleep(min(_POLL, remaining))

    def _refusal(self, current: str, until: datetime | None) -> SyncInProgressError:
        held = f", its lease renewed until {until:%Y-%m-%d %H:%M:%S %Z}" if until else ""
        waited = f" after waiting {self.wait:g}s" if self.wait else ""
        return SyncInProgressError(
            f"A sync of {self.label} is running already, by {describe_holder(current) or 'another process'}{held}: "
            f"this one was not started{waited}. Try again when it has finished (the sync run history shows it), or "
            "pass wait=<seconds> to wait for it.",
            model=self.label,
            holder=current,
            until=until,
        )

    def record(self, result: Any) -> None:
        """Note the run's result (a `SyncResult`, or anything with `ok` and a one-line `str()`), recorded on
        the row when the lease is released. Nothing when the lease was held already (its holder records)."""
        self._outcome = result

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.reentered:
            return
        _held.reset(self._token)
        if self._renewer is not None:
            self._renewer.__exit__(exc_type, exc, tb)
        fields = self._fields(exc) if self.record_run else {}
        unfreed = (
            "%s: could not free the sync's lease; the next sync of the model in this process or on this machine "
            "takes it over, others when it runs out (CRON_LEASE_DURATION)."
        )
        if isinstance(exc, DatabaseError) and connection.connection is None:
            # The sync lost the database and could not reconnect: no third attempt just for the lease.
            _unfreed.add(self.owner)
            logger.error(unfreed, self.label)
            return
        try:
            kept = release(self.name, self.owner, **fields)
        except DatabaseError:
            if exc is not None:  # the sync failed already: say so, and let its error be the one raised
                _unfreed.add(self.owner)
                logger.exception(unfreed, self.label)
                return
            if connection.in_atomic_block:
                raise
            connection.close()  # the sync may have left it unusable (an interrupted query): once more, afresh
            kept = release(self.name, self.owner, **fields)
        if not kept:
            logger.error("%s: the sync's lease was taken over while it ran; its outcome is not recorded.", self.label)

    def _fields(self, exc: BaseException | None) -> dict[str, Any]:
        finished = timezone.now()
        fields: dict[str, Any] = {"last_finished": finished}
        if self.started is not None:
            fields["last_duration"] = finished - self.started
        if exc is not None and not isinstance(exc, Exception):
            fields.update(last_status="interrupted", last_result="", last_error=f"Interrupted: {exc!r}")
            return fields
        if exc is not None:
            error = "".join(traceback.format_exception(exc))[-MAX_ERROR_CHARS:]
            fields.update(last_status="failed", last_result="", last_error=error)
        else:
            outcome = self._outcome
            ok = getattr(outcome, "ok", True) is not False
            summary = "" if outcome is None else str(outcome)[:MAX_RESULT_CHARS]
            fields.update(last_status="succeeded" if ok else "failed", last_result=summary, last_error="")
        fields["run_count"] = F("run_count") + 1
        interval = self.model.sync_config.sync_interval
        if self.reschedule and interval is not None:
            fields["next_due"] = finished + interval
        return fields
