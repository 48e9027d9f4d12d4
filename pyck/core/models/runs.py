"""The `SyncRun` history: one row per model sync, and `SyncStatus`, how a sync ended."""

from __future__ import annotations

from django.db import models

__all__ = ["SyncRun", "SyncStatus"]


class SyncStatus(models.TextChoices):
    """How a sync ended, or that it is still running: the `status` of a `SyncResult` and of its `SyncRun`.

    - `RUNNING`: the run has started and not recorded its outcome yet.
    - `SUCCEEDED`: every record listed was written, and deletions were done as configured.
    - `PARTIAL`: the run finished but not everything landed: some records failed, the listing was cut short (a
      paginator's `max_pages`), or deletions were refused or left unconfirmed. The errors say which.
    - `FAILED`: the listing itself failed (records written before the failure stay), or the run crashed.
    """

    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"


class SyncRun(models.Model):
    """One sync of one model: when it ran, how it ended, its counts and its first errors.

    Written by `pyck.core.sync.sync_model` (`status="running"` at the start, the outcome at the end). A run
    whose process dies (killed, a lost machine) cannot record its outcome: the next listing run of the same
    model and partition records it as failed, saying so, as it starts.
    """

    Status = SyncStatus
    """The choices of `status` (`SyncRun.Status.FAILED`...)."""

    class Mode(models.TextChoices):
        FULL = "full", "Full"
        """The whole listing."""
        INCREMENTAL = "incremental", "Incremental"
        """The records changed since the cursor."""
        PUSH = "push", "Push"
        """Records given to `apply_records` (a webhook, a burst), not read from the listing."""

    model = models.CharField(max_length=200, db_index=True, help_text="The synced model's 'app_label.ModelName'.")
    started = models.DateTimeField(db_index=True)
    finished = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    kept = models.PositiveIntegerField(
        default=0, help_text="Rows missing from the listing whose records get() still returned: kept, and refreshed."
    )
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The first errors: [{'record_id': ..., 'message': ...}].")
    warnings = models.JSONField(
        default=list,
        blank=True,
        help_text="Data changed or left as it was without a failure, with counts: "
        "[{'kind': ..., 'model': ..., 'field': ..., 'count': ..., 'message': ...}] (see SyncWarning).",
    )
    duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    partition = models.CharField(max_length=200, blank=True, default="", help_text="The partition synced, if any.")
    mode = models.CharField(
        max_length=16,
        blank=True,
        choices=Mode.choices,
        default=Mode.FULL,
        help_text="'full' (the whole listing), 'incremental' (the records changed since the cursor) or 'push' (records given to apply_records).",
    )
    resumed = models.BooleanField(default=False, help_text="Whether the run went on from an earlier run's checkpoint.")

    class Meta:
        app_label = "pyck"
        ordering = ["-started"]
        verbose_name = "sync run"
        indexes = [
            # Each listing run looks for the runs of its model still recorded as running (their process died):
            # a handful of rows among the model's whole history.
            models.Index(fields=["model", "partition"], condition=models.Q(status="running"), name="pyck_syncrun_running"),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.status} at {self.started:%Y-%m-%d %H:%M:%S}"
