"""The registry of webhook receivers: the view finds a request's receiver here by the name in its URL.

Register receivers in a `webhooks` module of one of your apps (found by `autodiscover`, as the admin finds
`admin` modules), or in your `AppConfig.ready()`.
"""

from __future__ import annotations

import threading

from django.utils.module_loading import autodiscover_modules

from ..exceptions import ConfigurationError
from .receivers import WebhookReceiver

__all__ = ["autodiscover", "get_receiver", "register_receiver", "unregister_receiver", "webhook_receivers"]

# name -> receiver, in registration order.
_receivers: dict[str, WebhookReceiver] = {}
_discovered = threading.Event()
_discovering = threading.Lock()


def register_receiver(receiver: WebhookReceiver) -> WebhookReceiver:
    """Register `receiver` under its `name` and return it.

    Registering again under the same name replaces the receiver (a module imported twice in tests).

    Raises:
        ConfigurationError: `receiver` is not a `WebhookReceiver`.
    """
    if not isinstance(receiver, WebhookReceiver):
        raise ConfigurationError(f"register_receiver(): expected a WebhookReceiver instance, got {receiver!r}.")
    _receivers[receiver.name] = receiver
    return receiver


def unregister_receiver(name: str) -> None:
    """Forget the receiver registered as `name` (no error if there is none)."""
    _receivers.pop(name, None)


def get_receiver(name: str) -> WebhookReceiver | None:
    """Return the receiver registered as `name`, or `None`; the `webhooks` modules are imported first."""
    autodiscover()
    return _receivers.get(name)


def webhook_receivers() -> list[WebhookReceiver]:
    """Return every registered receiver, in registration order; the `webhooks` modules are imported first."""
    autodiscover()
    return list(_receivers.values())


def autodiscover() -> None:
    """Import the `webhooks` module of every installed app, once per process."""
    if _discovered.is_set():
        return
    with _discovering:
        if not _discovered.is_set():
            autodiscover_modules("webhooks")
            _discovered.set()
