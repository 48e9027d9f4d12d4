"""The `HealthIncident` rows: what the alerts have said is wrong, so that each incident is told once, and its end once."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

__all__ = ["DataHealth", "HealthIncident"]


class HealthIncident(models.Model):
    """One incident the alerts opened: a model stale or failing, a burst of refused webhook requests.

    `pyck.core.health.alerts.check_alerts` opens a row (and alerts) when an incident starts, and closes it (and
    alerts the recovery) when it ends; while it lasts, nothing more is sent. At most one open row per `key`
    (a unique constraint), so two clocks evaluating at once alert once, and a restarted process does not alert
    again. Closed rows stay as the history of incidents.
    """

    class Kind(models.TextChoices):
        STALE = "stale", "data older than stale_after"
        FAILING = "failing", "failed runs in a row"
        REFUSALS = "refusals", "refused webhook requests"

    key = models.CharField(max_length=300, help_text="What the incident is about: '<kind>:<model, partition or source>'.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    subject = models.CharField(max_length=300, help_text="The model, 'model [partition]', or webhook source.")
    opened = models.DateTimeField(db_index=True)
    closed = models.DateTimeField(null=True, blank=True, help_text="When it ended; empty while it lasts.")
    message = models.TextField(blank=True, default="", help_text="What the opening alert said.")

    class Meta:
        app_label = "pyck"
        ordering = ["-opened"]
        verbose_name = "health incident"
        constraints = [models.UniqueConstraint(fields=["key"], condition=Q(closed__isnull=True), name="pyck_incident_open_key")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"


class DataHealth(HealthIncident):
    """The admin's health page ("Data health" in the pyck section): a proxy with no rows of its own, so that the
    page has its place in the admin index and its own view permission (`pyck.view_datahealth`)."""

    class Meta:
        proxy = True
        app_label = "pyck"
        verbose_name = "data health"
        verbose_name_plural = "data health"
