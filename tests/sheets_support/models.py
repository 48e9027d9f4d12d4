"""The model of the docs page "Google Sheets" (docs/datasources/google-sheets.md, block `sheets-models`)."""

from django.db import models

from pyck.core.datasources import OnDelete, SyncConfig, SyncedModel

from .sheets import volunteers


class Volunteer(SyncedModel):
    sync_config = SyncConfig(datasource=volunteers, on_delete=OnDelete.DELETE)

    # The key column (Email): each row's id.
    external_id = models.CharField(max_length=254, unique=True)

    name = models.CharField(max_length=200)
    hours = models.FloatField(null=True)
    active = models.BooleanField(default=False)
    joined = models.DateField(null=True)
    last_shift = models.DateTimeField(null=True)
