"""``Item``: a synced model whose listing (pages of 20 by offset, with a total) is split into page ranges.

Its datasource (:data:`.api.items`) reads ``PYCK_PARTITION_API``, the test's local server.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models

from pyck.core.datasources import OnDelete, PageRanges, SyncConfig, SyncedModel

from .api import PAGE, items

#: How many page-range partitions the listing is split into.
PARTITIONS = 4


class Item(SyncedModel):
    """A record of ``/items``; ``parent`` points at another item, often one of another partition."""

    sync_config = SyncConfig(
        datasource=items,
        partitions=PageRanges(items, count=PARTITIONS),
        on_delete=OnDelete.DELETE,
        batch_size=PAGE,
        sync_interval=timedelta(hours=1),
    )
    external_id = models.IntegerField(unique=True)
    name = models.CharField(max_length=100)
    parent = models.ForeignKey("self", null=True, on_delete=models.SET_NULL, related_name="children")
    # Local-only: never written by a sync.
    note = models.CharField(max_length=100, blank=True, default="")
