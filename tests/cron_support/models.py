"""A synced model for the enqueue test: a worker process syncs it from an in-memory datasource."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import models

from pyck.core.datasources import MockDatasource, SyncConfig, SyncedModel


@dataclass
class City:
    """A record of the in-memory datasource."""

    id: int
    name: str


cities = MockDatasource([City(1, "Leeds"), City(2, "York"), City(3, "Hull")], resource_type=City)


class CronCity(SyncedModel):
    """Synced every hour by the cron clock (task ``sync:cron_support.CronCity``)."""

    sync_config = SyncConfig(datasource=cities, sync_interval=timedelta(hours=1))
    external_id = models.IntegerField(unique=True)
    name = models.CharField(max_length=100)
