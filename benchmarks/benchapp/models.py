"""The benchmark's models: Region <- Party <- Member, a chain of foreign keys, and an incremental Ticket.

``Region``, ``Party`` and ``Member`` are SyncedModels declared as the guide declares them: ``external_id`` is an
``IntegerField`` with no unique constraint (so the engine cannot rely on ``ON CONFLICT``). ``PlainRegion``,
``PlainParty`` and ``PlainMember`` hold the same data for the hand-written loop (:mod:`benchmarks.handwritten`).
Both sets index ``external_id``, as ``SyncConfig`` recommends and a careful user would, so neither side's lookups
are full scans.

``Ticket`` is the incremental sync benchmark's model (:mod:`benchmarks.bench_incremental`): runs after the first
ask ``/tickets`` for the tickets updated since the cursor only.
"""

from __future__ import annotations

from django.db import models

from pyck.core.datasources import Incremental, SyncConfig, SyncedModel

from . import datasources

__all__ = ["Member", "Party", "PlainMember", "PlainParty", "PlainRegion", "Region", "Ticket"]


class Region(SyncedModel):
    """A region, synced by pyck from ``/regions``."""

    sync_config = SyncConfig(datasource=datasources.regions)

    external_id = models.IntegerField(db_index=True)
    name = models.CharField(max_length=100)
    code = models.CharField(max_length=10)


class Party(SyncedModel):
    """A party, synced by pyck from ``/parties``; its region is a reference by id."""

    sync_config = SyncConfig(datasource=datasources.parties)

    external_id = models.IntegerField(db_index=True)
    name = models.CharField(max_length=100)
    colour = models.CharField(max_length=6)
    region = models.ForeignKey(Region, null=True, on_delete=models.SET_NULL)


class Member(SyncedModel):
    """A member, synced by pyck from ``/members``; its party is a reference by id."""

    sync_config = SyncConfig(datasource=datasources.members)

    external_id = models.IntegerField(db_index=True)
    name = models.CharField(max_length=200)
    membership_number = models.IntegerField()
    joined_on = models.DateField()
    active = models.BooleanField()
    dues = models.DecimalField(max_digits=8, decimal_places=2)
    nickname = models.CharField(max_length=100, null=True)
    party = models.ForeignKey(Party, null=True, on_delete=models.SET_NULL)


class Ticket(SyncedModel):
    """A helpdesk ticket, synced by pyck from ``/tickets``: incrementally (``?updated_since=<cursor>``) after the
    first run."""

    sync_config = SyncConfig(
        datasource=datasources.tickets, incremental=Incremental(field="updated_at", param="updated_since")
    )

    external_id = models.IntegerField(db_index=True)
    subject = models.CharField(max_length=200)
    status = models.CharField(max_length=20)
    priority = models.IntegerField()
    assignee = models.CharField(max_length=100, null=True)
    updated_at = models.DateTimeField()


class PlainRegion(models.Model):
    """A region, written by the hand-written loop."""

    external_id = models.IntegerField(db_index=True)
    name = models.CharField(max_length=100)
    code = models.CharField(max_length=10)


class PlainParty(models.Model):
    """A party, written by the hand-written loop."""

    external_id = models.IntegerField(db_index=True)
    name = models.CharField(max_length=100)
    colour = models.CharField(max_length=6)
    region = models.ForeignKey(PlainRegion, null=True, on_delete=models.SET_NULL)


class PlainMember(models.Model):
    """A member, written by the hand-written loop."""

    external_id = models.IntegerField(db_index=True)
    name = models.CharField(max_length=200)
    membership_number = models.IntegerField()
    joined_on = models.DateField()
    active = models.BooleanField()
    dues = models.DecimalField(max_digits=8, decimal_places=2)
    nickname = models.CharField(max_length=100, null=True)
    party = models.ForeignKey(PlainParty, null=True, on_delete=models.SET_NULL)
