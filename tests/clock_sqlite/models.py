"""`Sample`: a synced model with many records, written in batches, for the clock to run on a SQLite file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from django.db import models

from pyck.core.datasources import MockDatasource, SyncConfig, SyncedModel

from . import BATCH


@dataclass
class SampleResource:
    """One record of the in-memory datasource."""

    id: int
    name: str
    value: float


samples = MockDatasource(
    [SampleResource(n, f"Sample {n}", n / 7) for n in range(int(os.environ.get("PYCK_SQLITE_RECORDS", "100")))],
    resource_type=SampleResource,
    name="samples",
)


class Sample(SyncedModel):
    """Synced every hour by the clock (task `sync:clock_sqlite.Sample`)."""

    sync_config = SyncConfig(datasource=samples, sync_interval=timedelta(hours=1), batch_size=BATCH)
    external_id = models.IntegerField(unique=True)
    name = models.CharField(max_length=100)
    value = models.FloatField()
