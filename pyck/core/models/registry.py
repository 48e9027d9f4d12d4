"""The registry of synced models, walked by the sync engine, the system checks and the cron clock.

Concrete `SyncedModel` subclasses register themselves when Django prepares their class (the `class_prepared`
signal, connected here); `register` is there for models built some other way.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import class_prepared

from ..exceptions import ConfigurationError
from ..options import SyncConfig
from .synced import SyncedModel

__all__ = ["get_model", "register", "synced_models", "unregister"]

# label (lower case) -> model, in registration order.
_models: dict[str, type[SyncedModel]] = {}


def _label(model: type[Any]) -> str:
    return model._meta.label_lower


def register(model: type[SyncedModel]) -> type[SyncedModel]:
    """Register a concrete synced model (usable as a class decorator); registering it again replaces it.

    Only needed for models that bypass Django's `class_prepared` signal: subclasses of `SyncedModel` register
    themselves.
    """
    if not (isinstance(model, type) and issubclass(model, SyncedModel)):
        raise ConfigurationError(f"register(): expected a SyncedModel subclass, got {model!r}.")
    if model._meta.abstract or model._meta.proxy:
        raise ConfigurationError(f"register(): {model.__qualname__} is abstract or a proxy; register concrete models only.")
    _models[_label(model)] = model
    return model


def unregister(model: type[SyncedModel]) -> None:
    """Remove a model from the registry (for tests that define throwaway models). Unknown models are ignored."""
    if _models.get(_label(model)) is model:
        del _models[_label(model)]


def synced_models() -> list[type[SyncedModel]]:
    """Return the registered concrete synced models, in registration order."""
    return list(_models.values())


def get_model(label: str) -> type[SyncedModel]:
    """Return the synced model labelled `"app_label.ModelName"` (case-insensitive).

    Raises:
        ConfigurationError: no synced model has that label; the message lists the known ones.
    """
    try:
        return _models[label.lower()]
    except (KeyError, AttributeError):
        known = ", ".join(model._meta.label for model in _models.values()) or "none"
        raise ConfigurationError(
            f"No synced model is labelled {label!r}. Use 'app_label.ModelName'; the synced models are: {known}."
        ) from None


def _register_synced_model(sender: type[Any], **kwargs: Any) -> None:
    """Check and register each concrete `SyncedModel` subclass as Django prepares its class."""
    if not issubclass(sender, SyncedModel) or sender._meta.abstract or sender._meta.proxy:
        return
    config = getattr(sender, "sync_config", None)
    if not isinstance(config, SyncConfig):
        raise ConfigurationError(
            f"{sender.__module__}.{sender.__qualname__} is a SyncedModel without a SyncConfig "
            f"(found sync_config={config!r}). Add one to the class body, for example:\n"
            f"    sync_config = SyncConfig(datasource=...)"
        )
    register(sender)


class_prepared.connect(_register_synced_model, dispatch_uid="pyck.models.synced.register")
