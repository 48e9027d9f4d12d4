"""``Team`` and ``Ticket``: synced models the webhook inbox writes in its tests. ``Ticket.note`` is local-only."""

from __future__ import annotations

from django.db import models

from pyck.core.datasources import OnDelete, SyncConfig, SyncedModel

from .api import Teams, Tickets


class Team(SyncedModel):
    """A helpdesk team."""

    sync_config = SyncConfig(datasource=Teams(), sync_interval=None)
    external_id = models.IntegerField(unique=True)
    name = models.CharField(max_length=100)


class Ticket(SyncedModel):
    """A helpdesk ticket; deleted when its record is deleted; never overwritten by an older version of it."""

    sync_config = SyncConfig(datasource=Tickets(), sync_interval=None, on_delete=OnDelete.DELETE, version_field="version")
    external_id = models.IntegerField(unique=True)
    title = models.CharField(max_length=100)
    version = models.IntegerField(default=0)
    team = models.ForeignKey(Team, null=True, on_delete=models.SET_NULL)
    # Local-only: never written by a sync or a push.
    note = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        # A constraint the database checks (on every database), for the tests of records the database refuses.
        constraints = [models.CheckConstraint(condition=models.Q(version__gte=0), name="webhook_support_ticket_version")]
