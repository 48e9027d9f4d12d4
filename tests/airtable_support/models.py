"""`Member` links one `Team` (a foreign key from a single linked record) and several (a many-to-many from a
linked-record column), with no code beyond the models."""

from __future__ import annotations

from datetime import timedelta

from django.db import models

from pyck.core.datasources import Incremental, OnDelete, SyncConfig, SyncedModel

from .resources import members, teams


class Team(SyncedModel):
    """A row of the "Teams" table."""

    sync_config = SyncConfig(datasource=teams, sync_interval=None)
    external_id = models.CharField(max_length=17, unique=True)
    name = models.CharField(max_length=100)


class Member(SyncedModel):
    """A row of the "Members" table: incremental runs ask for the rows modified since the last one, full runs
    delete the rows whose record is gone."""

    sync_config = SyncConfig(
        datasource=members,
        sync_interval=None,
        on_delete=OnDelete.DELETE,
        incremental=Incremental(field="modified", lookback=timedelta(seconds=1)),
    )
    external_id = models.CharField(max_length=17, unique=True)
    name = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=False)
    created_time = models.DateTimeField(null=True)
    modified = models.DateTimeField(null=True)
    team = models.ForeignKey(Team, null=True, on_delete=models.SET_NULL, related_name="members")
    groups = models.ManyToManyField(Team, related_name="group_members")
    # Local-only: a sync never writes it.
    note = models.CharField(max_length=100, blank=True, default="")
