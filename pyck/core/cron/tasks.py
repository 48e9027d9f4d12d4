"""The clock's enqueue mode: what it hands to Django Tasks workers, and how it looks after what they run.

Django's Tasks framework (`django.tasks` on Django 6.x; the `django-tasks` backport, app `django_tasks`,
on Django 5.2) runs work on many machines but has no scheduler: the cron clock is that scheduler. In enqueue
mode (`run_cron_tasks --enqueue` or the `CRON_ENQUEUE` setting) the clock takes a due task's lease under a
one-off token, marks it `enqueued` and enqueues `run_cron_task` with the task's name and the token.
The worker takes the lease over from the token, renews it while the task runs, records the outcome and
releases it (`run_enqueued`). A copy that no worker picks up before the lease expires is enqueued again by a
clock later; the stale copy, if it ever runs, sees that its token no longer holds the lease and does nothing.

The same backend and queue carry the tasks of partitioned runs (see `pyck.core.cron.partitions`): the sync task
of a model whose partitions can run on many workers starts a partitioned run (`parallel_job`), each partition
is the task `sync_partition`, and at every tick the clock enqueues again what a dead worker left
(`resume_partitioned_runs`), and `finish_partitioned_run` for a run whose last worker died before
finishing it.

This module needs a configured Tasks framework at import time; the clock imports it only in enqueue mode.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..models import registry
from ..exceptions import PyckError
from ..models import PartitionedRun, PartitionRun
from . import leases, partitions, queue
from .execution import check_sync_mode, execute
from .jobs import CronJob, autodiscover, get_cron_job
from .partitions import can_run_in_parallel, enqueue_partition, enqueue_partitioned_sync, sync_partition
from .report import Reporter

__all__ = [
    "enqueue_cron_task",
    "enqueue_finish",
    "enqueue_partition",
    "finish_partitioned_run",
    "parallel_job",
    "resume_partitioned_runs",
    "run_cron_task",
    "run_enqueued",
    "sync_partition",
]

logger = logging.getLogger("pyck.cron")
# What is done for partitioned runs logs where the rest of their story does (pyck.core.cron.partitions).
_partitions_logger = logging.getLogger("pyck.partitioned")

_RUN = PartitionedRun.Status
_PART = PartitionRun.Status
_ACTIVE = (_PART.PENDING, _PART.RUNNING)


# --- Cron tasks --------------------------------------------------------------------------------------------


@queue.task
def run_cron_task(name: str, token: str, sync_mode: str | None = None) -> str:
    """Run the registered cron task `name` in a Tasks worker, under the lease the clock holds as `token`.

    `sync_mode` (`"full"`, `"incremental"`; `None`: the model's own choice) is the enqueueing clock's
    `Clock(sync_mode=...)`, for a sync task. Arguments are plain strings so that every backend can serialise
    them. Returns the run's summary.
    """
    return run_enqueued(name, token, sync_mode)


def enqueue_cron_task(name: str, token: str, sync_mode: str | None = None) -> Any:
    """Enqueue `run_cron_task` on the `CRON_TASKS_BACKEND` backend and `CRON_TASKS_QUEUE` queue.

    Returns the backend's `TaskResult`.
    """
    # Without a mode, the arguments stay (name, token), as before sync modes existed.
    if sync_mode is None:
        return queue.enqueue(run_cron_task, name, token)
    return queue.enqueue(run_cron_task, name, token, sync_mode=sync_mode)


def run_enqueued(name: str, token: str, sync_mode: str | None = None) -> str:
    """Run cron task `name` in a Django Tasks worker, taking over the lease the clock holds under `token`.

    `sync_mode` is the enqueueing clock's (see `Clock`). Returns the run's summary. When the lease is
    no longer `token`'s (it expired and another clock took the task), does nothing and says so. Raises the
    task's exception (after recording it) when it fails, so the Tasks backend marks its result failed too.

    The sync task of a model whose partitions can run in parallel
    (`can_run_in_parallel`) starts a partitioned run instead: one Django Task
    per partition, on any workers.
    """
    sync_mode = check_sync_mode(sync_mode)
    autodiscover()
    job = get_cron_job(name)
    if job.is_sync:
        job = parallel_job(job)  # a model whose partitions can run on many workers: start a partitioned run
    owner = leases.new_owner_id("worker")
    started = timezone.now()
    if not leases.hand_over(name, token, owner, now=started, lease=leases.lease_duration()):
        logger.warning(
            "Cron task %s: enqueued copy %s is stale (its lease expired and was taken over); skipped.", name, token
        )
        return f"skipped: the lease of {token} was taken over"
    outcome = execute(job, owner, started=started, reporter=Reporter(), now=timezone.now, sync_mode=sync_mode)
    if outcome.failed:
        raise outcome.exception or PyckError(f"Cron task {name} failed: {outcome.error}")
    return outcome.summary


def parallel_job(job: CronJob) -> CronJob:
    """`job`, or for the sync task of a model whose partitions can run in parallel (`can_run_in_parallel`)
    a copy that starts a partitioned run instead of syncing the partitions one after another.

    A Django Tasks worker running an enqueued `sync:` task calls this (see `run_cron_tasks --enqueue`).
    """
    if not job.model_label:
        return job
    model = registry.get_model(job.model_label)
    if not can_run_in_parallel(model):
        return job
    return dataclasses.replace(job, func=_StartRun(job.model_label))


class _StartRun:
    """A cron job function starting a partitioned run of a model (called with the sync task's arguments)."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, progress: Callable[[Any], None] | None = None, mode: str = "auto") -> _Started:
        run, started = enqueue_partitioned_sync(registry.get_model(self.label), mode=mode)
        return _Started(run, started)


@dataclasses.dataclass(frozen=True)
class _Started:
    run: PartitionedRun
    started: bool
    ok: bool = True

    def __str__(self) -> str:
        run = self.run
        if self.started:
            return f"partitioned run #{run.pk} of {run.model} started: {run.partitions.count()} partitions enqueued"
        started = f"{run.started:%Y-%m-%d %H:%M:%S}"
        return f"partitioned run #{run.pk} of {run.model}, started {started}, is still going: none started"


# --- Partitioned runs --------------------------------------------------------------------------------------


@queue.task
def finish_partitioned_run(run_id: int, token: str) -> str:
    """Finish the partitioned run `run_id` that the clock handed over under `token` (see
    `pyck.core.cron.partitions.finish_partitioned_run`). Returns the run's summary."""
    return partitions.finish_partitioned_run(run_id, token)


def enqueue_finish(run_id: int, token: str) -> Any:
    """Enqueue `finish_partitioned_run` on the `CRON_TASKS_BACKEND` backend and `CRON_TASKS_QUEUE` queue."""
    return queue.enqueue(finish_partitioned_run, run_id, token)


def resume_partitioned_runs(now: datetime | None = None) -> list[str]:
    """Look after unfinished partitioned runs; return a line per thing done. The clock calls it at every tick in
    enqueue mode (`run_cron_tasks --enqueue`); call it yourself if you start runs without that clock.

    * A running partition whose lease expired (its worker died) is enqueued again, to go on from its
      checkpoint; after `max_attempts` attempts it counts as failed.
    * Pending partitions of a run none of whose partitions is running, enqueued longer ago than a lease, are
      enqueued again (a task lost by the queue); a copy whose attempt was already taken does nothing.
    * A run whose partitions have all ended and that nobody is finishing (its last worker died before
      finishing it) gets a task that finishes it.
    """
    if not PartitionedRun.objects.filter(finished__isnull=True).exists():
        return []  # the usual case at a tick: one query
    now = now or timezone.now()
    lease = leases.lease_duration()
    done: list[str] = []
    stalled = PartitionRun.objects.filter(status=_PART.RUNNING, lease_expires__lt=now, run__finished__isnull=True)
    for part in stalled.select_related("run"):
        retry = part.attempts < part.run.max_attempts
        message = f"attempt {part.attempts} stopped: its worker ({part.owner}) stopped renewing its lease"
        still = PartitionRun.objects.filter(pk=part.pk, status=_PART.RUNNING, owner=part.owner, lease_expires__lt=now)
        taken = still.update(
            status=_PART.PENDING if retry else _PART.FAILED,
            owner="",
            lease_expires=now + lease if retry else None,
            finished=now,
            errors=[{"record_id": None, "message": message}],
        )
        if not taken:
            continue
        if retry:
            done.append(f"partition {part.name} of run #{part.run_id}: {message}; attempt {part.attempts + 1} enqueued")
            _try_enqueue_partition(part.run_id, part.name, part.attempts + 1)
        else:
            done.append(f"partition {part.name} of run #{part.run_id}: {message}; no attempts left: failed")
    running = PartitionRun.objects.filter(run=OuterRef("run"), status=_PART.RUNNING)
    lost = PartitionRun.objects.filter(
        ~Exists(running), status=_PART.PENDING, lease_expires__lt=now, run__finished__isnull=True
    )
    for part in lost:
        waiting = PartitionRun.objects.filter(pk=part.pk, status=_PART.PENDING, attempts=part.attempts, lease_expires__lt=now)
        if waiting.update(lease_expires=now + lease):
            done.append(f"partition {part.name} of run #{part.run_id}: still queued after a lease; enqueued again")
            _try_enqueue_partition(part.run_id, part.name, part.attempts + 1)
    active = PartitionRun.objects.filter(run=OuterRef("pk"), status__in=_ACTIVE)
    free = Q(lease_owner="") | Q(lease_expires__lt=now)
    for run in PartitionedRun.objects.filter(~Exists(active), free, finished__isnull=True):
        token = leases.new_owner_id("enqueued")
        if PartitionedRun.objects.filter(free, pk=run.pk, finished__isnull=True, lease_owner=run.lease_owner).update(
            lease_owner=token, lease_expires=now + lease
        ):
            done.append(f"run #{run.pk} of {run.model}: every partition has ended; finishing it")
            try:
                enqueue_finish(run.pk, token)
            except Exception:  # its lease runs out, and the next tick tries again
                _partitions_logger.exception("Could not enqueue the finishing of partitioned run #%s", run.pk)
    for line in done:
        _partitions_logger.info("%s", line)
    return done


def _try_enqueue_partition(run_id: int, name: str, attempt: int) -> None:
    try:
        enqueue_partition(run_id, name, attempt)
    except Exception:  # it stays pending; the next tick after its lease tries again
        _partitions_logger.exception("Could not enqueue partition %s of run #%s", name, run_id)
