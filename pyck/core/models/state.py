"""The `SyncState` rows: per model and partition, the incremental cursor and the checkpoint of a run."""

from __future__ import annotations

from django.db import models

__all__ = ["SyncState"]


class SyncState(models.Model):
    """Where the syncs of one model (one partition of it) have got to.

    Written by the sync engine in the same transaction as the batch each change covers, so that the state
    never claims data that was not written, and data is never written without the state saying so:

    * `cursor`: the largest value of the model's `Incremental.field` seen by the last complete run that
      had no failed record. Incremental runs ask for the records from it on.
    * `checkpoint`: while a run is going, or after it died, where its listing had got to. The next run
      goes on from there instead of starting over (when the datasource's paging allows it). A checkpoint
      whose own page made a run fail is marked (`"unresumable"`: the error): the next run starts over.
    * `last_full_sync`: when the last complete full listing ended (incremental models re-read everything
      every `Incremental.reconcile_interval`).
    * `pushed` (on the row of partition `""`): `apply_records` writes the model (its records, or rows they
      reference): its syncs then take turns with pushes, batch by batch (on PostgreSQL).

    Delete the row (the admin's "Reset sync state" action, or `run_cron_tasks --reset`) to make the next run
    a full listing from the start.
    """

    model = models.CharField(max_length=200, help_text="The synced model's 'app_label.ModelName'.")
    partition = models.CharField(
        max_length=200, blank=True, default="", help_text="The partition's name; empty for an unpartitioned model."
    )
    cursor = models.JSONField(null=True, blank=True, help_text="The incremental cursor, tagged with its type.")
    cursor_updated = models.DateTimeField(null=True, blank=True)
    checkpoint = models.JSONField(null=True, blank=True, help_text="Where an unfinished run's listing had got to.")
    checkpoint_updated = models.DateTimeField(null=True, blank=True)
    last_full_sync = models.DateTimeField(null=True, blank=True, help_text="When the last complete full listing ended.")
    pushed = models.BooleanField(
        default=False, help_text="Whether apply_records writes this model: its syncs then take turns with pushes."
    )

    class Meta:
        app_label = "pyck"
        ordering = ["model", "partition"]
        verbose_name = "sync state"
        constraints = [models.UniqueConstraint(fields=["model", "partition"], name="pyck_syncstate_model_partition")]

    def __str__(self) -> str:
        return f"{self.model} [{self.partition}]" if self.partition else self.model
