"""Django app configuration for pyck."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from django.apps import AppConfig

if TYPE_CHECKING:
    from .sync import SyncResult


class PyckConfig(AppConfig):
    """The `pyck.core` app. Its label is `pyck` (tables are named `pyck_*`)."""

    name = "pyck.core"
    label = "pyck"
    verbose_name = "pyck"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .health.alerts import register_check  # it imports models: not before the app registry is ready

        register_check()
        if importlib.util.find_spec("prometheus_client") is not None:
            from .health.metrics import register_metrics  # it needs prometheus_client, an optional extra

            register_metrics()

    def sync_model(self, model: Any, **options: Any) -> SyncResult:
        """Sync `model` now with `pyck.core.sync.sync_model`: how `SyncedModel.sync()` reaches the engine, which
        imports the models."""
        from .sync import sync_model  # it imports the models: Django imports this module before they may be

        return sync_model(model, **options)
