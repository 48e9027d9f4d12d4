"""The abstract `SyncedModel`, base of every model kept in step with a datasource."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from django.apps import apps
from django.db import models

from ..options import SyncConfig

if TYPE_CHECKING:
    from ..sync import SyncResult

__all__ = ["SyncedModel"]


class SyncedModel(models.Model):
    """A model whose rows mirror the records of a datasource.

    Subclass it, give it a `SyncConfig` and the fields you want to keep:

    ```python
    class Constituency(SyncedModel):
        sync_config = SyncConfig(datasource=parliament.constituencies)
        external_id = models.IntegerField(db_index=True)
        name = models.CharField(max_length=256)
    ```

    The primary key is a UUID assigned in Python, so the sync engine can point references at rows before they
    are saved. Concrete subclasses register themselves with `pyck.core.models.registry`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    last_sync_time = models.DateTimeField(null=True, blank=True, editable=False)
    """When a sync last wrote this row: created it or changed a column (`None`: never synced, e.g. created by
    hand). An unchanged row is not rewritten, so this is not when it was last seen: for that, see the model's
    `SyncState.last_full_sync` (a row still here after a complete full listing was in it).
    """

    sync_config: ClassVar[SyncConfig]
    """The sync options; required on every concrete subclass."""

    class Meta:
        abstract = True

    @classmethod
    def sync(cls, **options: Any) -> SyncResult:
        """Sync this model from its datasource now and return the result (see `pyck.core.sync.sync_model`).

        One sync of a model runs at a time: while another one runs (the cron clock, "Sync now", another
        `sync()`), this raises `SyncInProgressError`, unless `wait=<seconds>` lets it wait for that one first.
        """
        # The engine imports the models, so they reach it through the app (see PyckConfig.sync_model).
        return apps.get_app_config("pyck").sync_model(cls, **options)

