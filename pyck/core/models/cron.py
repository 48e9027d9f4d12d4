"""The schedule state of the cron clock: one row per registered periodic task.

The clock (`pyck.core.cron`) keeps what it knows in the database, so that a restarted clock neither
runs everything again nor forgets what is due, and so that several clock processes agree on who runs what
through the lease columns.
"""

from __future__ import annotations

from django.db import models

__all__ = ["CronTask"]


class CronTask(models.Model):
    """When a periodic task last ran, how that went, when it is due next, and who holds its lease.

    Rows are created by the clock for every registered task (a new task is due at once) and are never
    required to be edited by hand; set `next_due` to now to make a task run at the next tick. A synced model
    the clock does not schedule gets a row too, with no `interval`, the first time it is synced: its lease keeps
    two syncs of the model apart (see `pyck.core.models.leases`).
    """

    class Status(models.TextChoices):
        """The outcome of the last run."""

        NEVER = "", "never run"
        RUNNING = "running", "running"
        """A clock or a worker is running it now."""
        ENQUEUED = "enqueued", "enqueued"
        """The clock has put it on a Django Tasks queue; a worker has not started it yet."""
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"
        INTERRUPTED = "interrupted", "interrupted"
        """The process was told to stop and abandoned the run (its transaction was rolled back)."""

    name = models.CharField(max_length=255, unique=True)
    """The registered name: a dotted function path, or `sync:<app_label>.<Model>` for a synced model."""
    interval = models.DurationField(null=True, blank=True)
    """The interval the task was last registered with (for `run_cron_tasks --list`); `None` for a synced model
    the clock does not schedule."""
    next_due = models.DateTimeField(db_index=True)
    """The task runs at the first tick at or after this time."""
    last_started = models.DateTimeField(null=True, blank=True)
    last_finished = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEVER, blank=True)
    last_result = models.TextField(blank=True, default="")
    """A one-line summary of the last run's result (for a sync, the `SyncResult` summary)."""
    last_error = models.TextField(blank=True, default="")
    """The traceback of the last failure, truncated; empty after a success."""
    last_duration = models.DurationField(null=True, blank=True)
    lease_owner = models.CharField(max_length=255, blank=True, default="")
    """Who may run the task now: `kind@host:pid:random` of a clock, a worker, any other sync of the model
    (`admin`, `sync`, `merge`), or an enqueue token; empty when free."""
    lease_expires = models.DateTimeField(null=True, blank=True)
    """The lease is free for anyone to take after this time (the holder renews it while the task runs)."""
    run_count = models.PositiveIntegerField(default=0)
    """How many runs have finished (successfully or not)."""

    class Meta:
        verbose_name = "cron task"
        verbose_name_plural = "cron tasks"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
