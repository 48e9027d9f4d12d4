"""What a webhook receiver is: `WebhookReceiver`, the base class of one source's receiver (how its requests are
verified, which headers are kept, how a stored body turns into `Change`s), and `Rejected`, what `verify` raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings

from ..exceptions import ConfigurationError
from ..models.synced import SyncedModel

__all__ = ["Change", "Rejected", "WebhookReceiver"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One record an event says changed.

    Attributes:
        model: the synced model the record belongs to (the class, or its `"app_label.ModelName"`).
        external_id: the record's id at the source (what the model's `external_id` field holds).
        record: the record as the event carries it: a resource of the model's datasource `resource_type`, or
            its JSON (turned into one by the datasource). `None`: the event carries only the id, and the
            record is fetched with the datasource's `get()` before it is written.
        version: the record's version or modification time, when the event says it (any values that compare
            in order: numbers, ISO 8601 strings of one format, datetimes); see `SyncConfig.version_field`.
        deleted: the record was deleted at the source.
    """

    model: type[SyncedModel] | str
    external_id: Any
    record: Any = None
    version: Any = None
    deleted: bool = False


class Rejected(Exception):
    """Raised by `WebhookReceiver.verify`: the request is not authentic (or not well formed); it is answered with
    `status` and nothing is stored.

    Args:
        message: why, for the answer's body and the log (never a secret or a signature).
        status: the HTTP status of the answer: 401 for a bad signature, 400 for a malformed request.
    """

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class WebhookReceiver:
    """The receiver of one source's webhooks: subclass it, set its options and implement `verify` and `parse`
    (or use `StandardWebhooksReceiver`), then register an instance with `register_receiver`.

    The webhook view calls `verify` for each request, before anything else, and stores the event it accepts;
    `parse` is called later, off the request, by the worker that processes the event.

    Options are class attributes, or keyword arguments of the constructor (`Receiver(name="crm")`).
    """

    # The source's name: the last part of the webhook URL, and the `source` of its stored events.
    name: str = ""
    # The name of the Django setting holding the shared secret (never stored, logged or shown).
    secret_setting: str = ""
    # The request headers (lower case) stored with each event, for `parse`: only those it needs, never a
    # signature.
    kept_headers: tuple[str, ...] = ()
    # True: write every change as the datasource's `get()` returns the record now, whatever the event carries
    # (the order events arrive in then no longer matters).
    fetch: bool = False

    def __init__(self, **options: Any) -> None:
        for key, value in options.items():
            if not hasattr(type(self), key):
                raise ConfigurationError(f"{type(self).__name__}(): unknown option {key!r}.")
            setattr(self, key, value)
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise ConfigurationError(
                f"{type(self).__name__}(name=...): expected a non-empty name without '/', got {self.name!r}."
            )
        if not isinstance(self.secret_setting, str) or not self.secret_setting:
            raise ConfigurationError(
                f"{type(self).__name__}(secret_setting=...): expected the name of a Django setting, got "
                f"{self.secret_setting!r}."
            )
        self.kept_headers = tuple(header.lower() for header in self.kept_headers)

    def get_secret(self) -> str:
        """Return the secret from the setting `secret_setting` names.

        Raises:
            ConfigurationError: the setting is missing or empty (its value is never part of the message).
        """
        secret = getattr(settings, self.secret_setting, None)
        if not secret:
            raise ConfigurationError(
                f"Webhook receiver {self.name!r}: the setting {self.secret_setting} (its secret) is missing or empty."
            )
        return str(secret)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        """Check that the request is authentic (in constant time, and within a timestamp tolerance where the
        scheme has one) and return the provider's id of the event.

        Args:
            body: the request body, as received.
            headers: the request headers, with lower-case names.

        Returns:
            The event's id, unique for this source (at most 255 characters).

        Raises:
            Rejected: the request is not authentic, or lacks what the scheme needs.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement verify(body, headers).")

    def stored_body(self, body: bytes) -> bytes:
        """Return the body as the inbox stores it, once `verify` accepted it: by default the body as received.

        Override when the scheme sends its secret inside the body (NationBuilder's `token`): return the body
        without it, so that the secret is never stored. What it returns must still be JSON, and is what `parse`
        gets.
        """
        return body

    def parse(self, payload: Any, headers: Mapping[str, str]) -> Sequence[Change]:
        """Return the changes an event describes.

        Args:
            payload: the stored body, parsed as JSON.
            headers: the headers of `kept_headers` the request had.

        Returns:
            The changed records, in the order they happened.

        Raises:
            Exception: the payload does not have the expected shape: the event fails, with this message.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement parse(payload, headers).")

    def committed(self, payload: Any, headers: Mapping[str, str], changes: Sequence[Change]) -> None:
        """Called by the worker once the changes `parse` returned for an event are written and the event is
        marked applied; it does nothing unless overridden.

        A receiver that reads a source's change feed from a stored position (`AirtableWebhookReceiver`) moves
        the position on here, so that a worker that dies before this point makes the next attempt read the
        same changes again. An exception raised here is logged; the event stays applied.

        Args:
            payload: the stored body, parsed as JSON.
            headers: the headers of `kept_headers` the request had.
            changes: what `parse` returned for the event.
        """

    def resolve_model(self, model: type[SyncedModel] | str) -> type[SyncedModel]:
        """Return the model class `model` names (a class, or an `"app_label.ModelName"`).

        Raises:
            ValueError: it is not a concrete synced model.
        """
        found: Any = model
        if isinstance(model, str):
            try:
                found = apps.get_model(model)
            except (LookupError, ValueError) as error:
                raise ValueError(f"no model {model!r} ({error})") from None
        if not (isinstance(found, type) and issubclass(found, SyncedModel)) or found._meta.abstract:
            raise ValueError(f"{model!r} is not a concrete SyncedModel")
        return found

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
