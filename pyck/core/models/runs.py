"""The :class:`SyncRun` history: one row per model sync."""

from __future__ import annotations

from django.db import models

__all__ = ["SyncRun"]


class SyncRun(models.Model):
    """One sync of one model: when it ran, how it ended, its counts and its first errors.

    Written by :func:`pyck.core.sync.sync_model` (``status="running"`` at the start, the outcome at the end).
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        #: Every record listed was written.
        SUCCEEDED = "succeeded", "Succeeded"
        #: The run finished but not everything landed: some records failed, the listing was truncated (max_pages),
        #: or deletions were refused or left unconfirmed. The errors say which.
        PARTIAL = "partial", "Partial"
        #: The listing itself failed (records written before the failure stay).
        FAILED = "failed", "Failed"

    class Mode(models.TextChoices):
        #: The whole listing.
        FULL = "full", "Full"
        #: The records changed since the cursor.
        INCREMENTAL = "incremental", "Incremental"
        #: Records given to `apply_records` (a webhook, a burst), not read from the listing.
        PUSH = "push", "Push"

    model = models.CharField(max_length=200, db_index=True, help_text="The synced model's 'app_label.ModelName'.")
    started = models.DateTimeField(db_index=True)
    finished = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The first errors: [{'record_id': ..., 'message': ...}].")
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

    def __str__(self) -> str:
        return f"{self.model} {self.status} at {self.started:%Y-%m-%d %H:%M:%S}"
