"""The `WebhookEvent` rows: the webhook inbox, one row per event a receiver accepted (see `pyck.core.webhooks`)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

__all__ = ["WebhookEvent"]


class WebhookEvent(models.Model):
    """One event a webhook receiver verified and stored, and where its processing has got to.

    The webhook view inserts the row (the body as received, the few headers the receiver needs later) and
    nothing else; workers then claim pending rows, apply their changes and mark them `applied`, or `failed`
    with the error and the time of the next attempt. The provider's event id is unique per source: a
    redelivered event is not stored again. Secrets and signature headers are never stored.
    """

    class Status(models.TextChoices):
        """Where an event's processing has got to."""

        PENDING = "pending", "pending"
        APPLIED = "applied", "applied"
        FAILED = "failed", "failed"
        DISCARDED = "discarded", "discarded"

    source = models.CharField(max_length=100, help_text="The name of the receiver that accepted the event.")
    event_id = models.CharField(max_length=255, help_text="The provider's id of the event (unique per source).")
    received = models.DateTimeField(default=timezone.now, help_text="When the event was stored.")
    body = models.BinaryField(help_text="The request body, byte for byte as received.")
    headers = models.JSONField(default=dict, blank=True, help_text="The request headers the receiver keeps.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="How many times processing the event was started.")
    next_attempt = models.DateTimeField(
        default=timezone.now, help_text="The event is not processed (again) before this time."
    )
    claimed_by = models.CharField(max_length=100, blank=True, default="", help_text="The worker processing it now.")
    claim_expires = models.DateTimeField(
        null=True, blank=True, help_text="When another worker may take the event over from the one processing it."
    )
    applied = models.DateTimeField(null=True, blank=True, help_text="When its changes were written.")
    model = models.CharField(max_length=500, blank=True, default="", help_text="The models the event changes.")
    record_ids = models.CharField(
        max_length=500, blank=True, default="", help_text="The external ids of the records the event changes."
    )
    outcome = models.TextField(blank=True, default="", help_text="What processing did with the event's changes.")
    stale = models.PositiveIntegerField(
        default=0, help_text="Changes skipped because the row already reflected a newer version."
    )
    error = models.TextField(blank=True, default="", help_text="Why the last attempt failed.")

    class Meta:
        app_label = "pyck"
        ordering = ["-received", "-id"]
        verbose_name = "webhook event"
        constraints = [models.UniqueConstraint(fields=["source", "event_id"], name="pyck_webhookevent_source_event")]
        indexes = [models.Index(fields=["status", "next_attempt"], name="pyck_webhookevent_due")]

    def __str__(self) -> str:
        return f"{self.source} {self.event_id}"

    @property
    def lag(self) -> float | None:
        """Seconds from receiving the event to writing its changes, once applied."""
        if self.applied is None:
            return None
        return (self.applied - self.received).total_seconds()
