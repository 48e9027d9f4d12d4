"""One run of a cron task in this process, under a lease its caller holds: a heartbeat while it runs, then the
outcome recorded and the lease released in one update.

The clock runs a due task through `execute`, and so does a Django Tasks worker running an enqueued one
(`pyck.core.cron.tasks`).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connections
from django.db.models import F
from django.utils import timezone

from ..exceptions import ConfigurationError, SyncError
from ..models.leases import MAX_ERROR_CHARS, MAX_RESULT_CHARS, holding
from ..options import MODES
from . import leases
from .jobs import CronJob
from .report import Outcome, Reporter

__all__ = [
    "MAX_ERROR_CHARS",
    "MAX_RESULT_CHARS",
    "Interrupted",
    "check_sync_mode",
    "execute",
    "next_due",
    "recycle_connections",
    "release",
]

logger = logging.getLogger("pyck.cron")

class Interrupted(BaseException):
    """Raised inside a running task by a second SIGTERM/SIGINT. `BaseException` so task code that catches
    `Exception` does not swallow it."""


def check_sync_mode(sync_mode: str | None) -> str | None:
    """Return the mode to pass to `sync_model(mode=...)` for a clock's `sync_mode`: `None` for `None` and
    `"auto"` (each model's own choice), else the mode itself.

    Raises:
        ConfigurationError: `sync_mode` is not one of `MODES` or `None`.
    """
    if sync_mode is not None and sync_mode not in MODES:
        raise ConfigurationError(f"Cron sync_mode: expected one of {', '.join(MODES)} or None, got {sync_mode!r}.")
    return None if sync_mode == "auto" else sync_mode


def next_due(started: datetime, finished: datetime, interval: timedelta) -> datetime:
    """When a task that ran from `started` to `finished` is due next: `started + interval`, keeping the
    cadence, unless the run outlasted its interval; then `finished + interval`. Missed runs are never caught up.
    """
    due = started + interval
    return due if due > finished else finished + interval


def recycle_connections(*, broken: bool = False) -> None:
    """Close this thread's connections that are broken (`broken`: all of them) or past `CONN_MAX_AGE`.

    A connection inside a transaction that the caller opened (a test's) is left alone: closing it would end
    that transaction.
    """
    for conn in connections.all(initialized_only=True):
        if conn.in_atomic_block:
            continue
        if broken:
            conn.close()
        else:
            conn.close_if_unusable_or_obsolete()


def release(name: str, owner: str, fields: dict[str, Any]) -> bool:
    """Release `owner`'s lease on task `name` and store `fields` (see `leases.release`), starting afresh once
    with new connections when the task left its connection unusable.

    Returns:
        Whether `owner` still held the lease.
    """
    try:
        return leases.release(name, owner, **fields)
    except DatabaseError:
        # The task may have left the connection unusable (an interrupted query): start afresh once.
        recycle_connections(broken=True)
        return leases.release(name, owner, **fields)


def _call(job: CronJob, owner: str, reporter: Reporter, sync_mode: str | None = None) -> Any:
    if job.is_sync:
        options = {"mode": sync_mode} if sync_mode else {}
        # The task's lease is the model's sync lease: the sync inside takes none of its own.
        with holding(job.name, owner):
            return job.func(progress=reporter.progress if reporter.tty else None, **options)
    return job.func()


def execute(
    job: CronJob,
    owner: str,
    *,
    started: datetime,
    reporter: Reporter,
    now: Callable[[], datetime],
    abortable: Callable[[bool], None] = lambda on: None,
    sync_mode: str | None = None,
) -> Outcome:
    """Run `job` (whose lease `owner` holds) with a heartbeat, release the lease and record the outcome.

    `sync_mode` (`"full"`, `"incremental"`; `None`: the model's own choice) is passed to a sync task
    as `sync_model(mode=...)`.
    """
    lease = leases.lease_duration()
    reporter.started(job)
    logger.info("Cron task %s started (lease %s).", job.name, owner)
    clock_start = time.monotonic()
    outcome = Outcome(name=job.name, status="succeeded")
    interrupted: Interrupted | None = None
    with leases.Heartbeat(job.name, owner, lease):
        try:
            abortable(True)
            try:
                value = _call(job, owner, reporter, sync_mode)
            finally:
                abortable(False)
        except Interrupted as exc:
            interrupted = exc
            outcome.status = "interrupted"
            outcome.error = (
                f"Interrupted by signal {exc.args[0] if exc.args else '?'}; its open transaction was rolled back."
            )
        except Exception as exc:
            logger.exception("Cron task %s failed; it will run again when next due.", job.name)
            outcome.status = "failed"
            outcome.exception = exc
            outcome.error = traceback.format_exc()[-MAX_ERROR_CHARS:]
        else:
            outcome.summary = "" if value is None else str(value)[:MAX_RESULT_CHARS]
            if getattr(value, "ok", True) is False:
                outcome.status = "failed"
                outcome.exception = SyncError(f"Cron task {job.name} did not succeed: {outcome.summary}")
    outcome.duration = time.monotonic() - clock_start
    finished = now()
    fields: dict[str, Any] = {
        "last_finished": finished,
        "last_status": outcome.status,
        "last_duration": timedelta(seconds=outcome.duration),
        "last_result": outcome.summary,
        "last_error": outcome.error,
    }
    if interrupted is None:
        fields["next_due"] = next_due(started, finished, job.interval)
        fields["run_count"] = F("run_count") + 1
    if not release(job.name, owner, fields):
        logger.error(
            "Cron task %s: its lease was taken over while it ran; this run's outcome is not recorded.", job.name
        )
    log = logger.warning if outcome.status != "succeeded" else logger.info
    # A sync's result (its counts) was logged by `pyck.sync` as the sync finished: not repeated here.
    summary = "" if job.is_sync else outcome.summary
    due = fields.get("next_due")
    log(
        "Cron task %s %s in %.2fs%s%s",
        job.name,
        outcome.status,
        outcome.duration,
        f": {summary}" if summary else "",
        f"; next due {timezone.localtime(due):%Y-%m-%d %H:%M:%S %Z}" if due else "",
    )
    reporter.finished(outcome)
    if interrupted is not None:
        raise interrupted
    return outcome
