"""``Item``: the model the benchmark's events push records into; ``version`` orders them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from pyck.core.datasources import MockDatasource, OnDelete, SyncConfig, SyncedModel


@dataclass
class ItemRecord:
    """A record as the events carry it."""

    id: int
    name: str
    version: int


class Item(SyncedModel):
    """A record of the remote; written by the webhook inbox only (no listing is synced)."""

    sync_config = SyncConfig(
        datasource=MockDatasource([], resource_type=ItemRecord, name="bench.items"),
        sync_interval=None,
        on_delete=OnDelete.DELETE,
        version_field="version",
    )
    external_id = models.IntegerField(unique=True)
    name = models.CharField(max_length=100)
    version = models.IntegerField(default=0)
