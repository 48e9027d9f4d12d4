"""The `PartitionedRun` rows: one sync of a partitioned model spread over Django Tasks workers, and the
`PartitionRun` of each of its partitions.

Written by `pyck.core.cron.partitions`; read them (or the admin) to follow a run.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

__all__ = ["PartitionRun", "PartitionedRun"]


class PartitionedRun(models.Model):
    """One sync of a partitioned model whose partitions run as separate Django Tasks, on any workers.

    Created by `pyck.core.cron.partitions.enqueue_partitioned_sync` with the set of partitions, fixed for
    the whole run. The worker that ends the last partition finishes the run: after every partition completed
    a full listing without errors it deletes what is gone (`OnDelete.DELETE`), then records the outcome
    here. At most one run of a model is unfinished at a time.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        """Partitions are queued or running."""
        FINISHING = "finishing", "Finishing"
        """Every partition has ended; a worker is deleting what is gone and recording the outcome."""
        SUCCEEDED = "succeeded", "Succeeded"
        """Every partition completed without errors, and deletions were done as configured."""
        PARTIAL = "partial", "Partial"
        """Every partition ran, but records failed, a listing was cut short, or deletions were refused: the
        errors say which. Nothing was deleted unless every partition succeeded.
        """
        FAILED = "failed", "Failed"
        """A partition failed on its last attempt (or the run could not be enqueued): nothing was deleted."""

    model = models.CharField(max_length=200, db_index=True, help_text="The synced model's 'app_label.ModelName'.")
    mode = models.CharField(
        max_length=16, default="auto", help_text="The mode asked of every partition: 'auto', 'full' or 'incremental'."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started = models.DateTimeField(db_index=True)
    finished = models.DateTimeField(null=True, blank=True)
    max_attempts = models.PositiveSmallIntegerField(
        default=3, help_text="How many times a partition is tried (a failed listing, a worker that stopped)."
    )
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    kept = models.PositiveIntegerField(
        default=0, help_text="Rows missing from the listing whose record get() still returned: kept and refreshed."
    )
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="The first errors: [{'record_id': ..., 'message': ...}]."
    )
    lease_owner = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="The worker finishing the run (or the token of its queued task).",
    )
    lease_expires = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "pyck"
        ordering = ["-started"]
        verbose_name = "partitioned run"
        constraints = [
            models.UniqueConstraint(
                fields=["model"], condition=Q(finished__isnull=True), name="pyck_partitionedrun_one_unfinished"
            )
        ]

    def __str__(self) -> str:
        return f"partitioned run #{self.pk} of {self.model}: {self.status}"

    @property
    def ok(self) -> bool:
        """False when the run ended failed or partial; True while it runs and after it succeeded."""
        return self.status not in (self.Status.FAILED, self.Status.PARTIAL)


class PartitionRun(models.Model):
    """One partition of a `PartitionedRun`: its `list()` arguments, its attempts and its outcome.

    A worker takes it with a lease (`owner`, `lease_expires`) that a background thread renews while the
    partition syncs; when the worker dies, the lease runs out and the clock (`run_cron_tasks --enqueue`)
    enqueues the partition again, and the next attempt goes on from the partition's checkpoint.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        """Waiting in the queue for a worker."""
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"
        """Failed on its last attempt."""

    run = models.ForeignKey(PartitionedRun, on_delete=models.CASCADE, related_name="partitions")
    name = models.CharField(max_length=200)
    order = models.PositiveIntegerField(default=0)
    filter = models.JSONField(default=list, help_text="The partition's list() arguments, encoded with their types.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Attempts started so far.")
    owner = models.CharField(max_length=255, blank=True, default="", help_text="The worker of the last attempt.")
    lease_expires = models.DateTimeField(
        null=True, blank=True, help_text="Running: its worker's lease; pending: when to look for a lost queued task."
    )
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    mode = models.CharField(max_length=16, blank=True, default="", help_text="'full' or 'incremental' (last attempt).")
    resumed = models.BooleanField(default=False, help_text="Whether the last attempt went on from a checkpoint.")
    listing_started = models.DateTimeField(
        null=True, blank=True, help_text="When the listing the last attempt completed started (earlier if it resumed)."
    )
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        app_label = "pyck"
        ordering = ["run", "order"]
        verbose_name = "partition run"
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="pyck_partitionrun_run_name")]

    def __str__(self) -> str:
        return f"{self.name} of run #{self.run_id}: {self.status} (attempt {self.attempts})"
