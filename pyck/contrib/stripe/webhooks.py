"""`StripeWebhookReceiver`: Stripe's webhook events into the webhook inbox (`pyck.core.webhooks`), each event
routed to the model whose `StripeDatasource` reads its object type.

```python
# billing/webhooks.py (found by the inbox's autodiscovery)
from pyck.contrib.stripe.webhooks import StripeWebhookReceiver
from pyck.core.webhooks import register_receiver

register_receiver(StripeWebhookReceiver(models=["billing.Customer", "billing.Subscription"]))
```

What it relies on, from Stripe's documentation:

- Each request carries `Stripe-Signature: t=<timestamp>,v1=<signature>`, an HMAC-SHA256 of
  `<timestamp>.<body>` with the endpoint's signing secret (`whsec_…`); a timestamp more than 300 seconds
  (the tolerance of Stripe's libraries) from now is refused, against replays
  (https://docs.stripe.com/webhooks#verify-events). The check is the official `stripe` package's
  (`stripe.WebhookSignature.verify_header`; `pip install 'django-pyck[stripe]'`), not pyck's own.
- The body is an event: `{"id": "evt_…", "type": "customer.updated", "created": …, "data": {"object": …}}`,
  the object as it was when the event happened, rendered in the API version of the webhook endpoint
  (https://docs.stripe.com/api/events/object). Its `object` key names its type (`"customer"`).
- Stripe delivers an event at least once, retries it for up to three days, and does not promise the order
  (https://docs.stripe.com/webhooks#handle-duplicate-events, https://docs.stripe.com/webhooks#event-ordering):
  the inbox stores each event id once; `fetch=True` writes each changed object as `get()` returns it now, so
  that an older event arriving late cannot overwrite a newer state.
- `<type>.deleted` deletes the object, except `customer.subscription.deleted`, which "occurs whenever a
  customer's subscription ends": the subscription is still there, canceled, and is written as such
  (https://docs.stripe.com/api/events/types).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pyck.core.exceptions import ConfigurationError
from pyck.core.models.synced import SyncedModel
from pyck.core.webhooks import Change, Rejected, WebhookReceiver

from .events import ENDED_NOT_DELETED

__all__ = ["StripeWebhookReceiver", "event_changes"]


def event_changes(event: Any, models: Mapping[str, type[SyncedModel]]) -> list[Change]:
    """The change a Stripe event makes to the model `models` maps its object type to (none for another type).

    Raises:
        ValueError: `event` is not an event with `type` and `data.object.id`.
    """
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ValueError(f"expected a Stripe event with a 'type', got {str(event)[:200]}")
    obj = (event.get("data") or {}).get("object") if isinstance(event.get("data"), dict) else None
    if not isinstance(obj, dict) or not obj.get("id"):
        raise ValueError(f"event {event.get('id')!r} ({event['type']}) has no data.object with an id")
    model = models.get(str(obj.get("object", "")))
    if model is None:
        return []
    deleted = event["type"].endswith(".deleted") and obj.get("object") not in ENDED_NOT_DELETED
    return [
        Change(
            model=model,
            external_id=obj["id"],
            record=None if deleted else obj,
            version=event.get("created"),
            deleted=deleted,
        )
    ]


class StripeWebhookReceiver(WebhookReceiver):
    """Receives a Stripe webhook endpoint's events (see the module docstring); the signing secret comes from
    the `STRIPE_WEBHOOK_SECRET` setting.

    Options (class attributes or keyword arguments): `models`, the synced models events may change (classes
    or `"app_label.ModelName"`), each with a `StripeDatasource` whose `object_type` routes the events of that
    type to it; `name` (`"stripe"`: the URL is `.../webhooks/stripe/`); `secret_setting`; `fetch`; `tolerance`
    (seconds, 300).
    """

    name = "stripe"
    secret_setting = "STRIPE_WEBHOOK_SECRET"
    # The models events may change.
    models: Sequence[type[SyncedModel] | str] = ()
    # How far the signature's timestamp may be from now, in seconds (Stripe's libraries: 300).
    tolerance: int = 300

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.models or isinstance(self.models, str):
            raise ConfigurationError(
                f"StripeWebhookReceiver(name={self.name!r}, models=...): expected the list of models Stripe's events "
                f"may change, got {self.models!r}."
            )

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        """Check `Stripe-Signature` with the `stripe` package and return the event's id."""
        # Not at the top: the stripe package is an optional extra (django-pyck[stripe]), needed by this receiver only.
        import stripe

        signature = headers.get("stripe-signature")
        if not signature:
            raise Rejected("missing header Stripe-Signature", status=400)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected("the body is not UTF-8", status=400) from None
        try:
            stripe.WebhookSignature.verify_header(text, signature, self.get_secret(), tolerance=self.tolerance)
        except stripe.SignatureVerificationError as error:
            # Its message says what failed (no signature matched, timestamp outside the tolerance), never a secret.
            raise Rejected(f"the Stripe-Signature does not verify ({error.user_message or 'no match'})") from None
        try:
            event_id = json.loads(text).get("id")
        except (ValueError, AttributeError):
            raise Rejected("the body is not a Stripe event (JSON with an id)", status=400) from None
        if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
            raise Rejected("the body is not a Stripe event (JSON with an id)", status=400)
        return event_id

    def routes(self) -> dict[str, type[SyncedModel]]:
        """The model of each object type: the `object_type` of each model's datasource.

        Raises:
            ConfigurationError: a model's datasource has no `object_type`, or two models read the same type.
        """
        routes: dict[str, type[SyncedModel]] = {}
        for name in self.models:
            model = self.resolve_model(name)
            object_type = getattr(model.sync_config.datasource, "object_type", None)
            if not object_type:
                raise ConfigurationError(
                    f"StripeWebhookReceiver {self.name!r}: {model._meta.label}'s datasource has no object_type "
                    "(use a StripeDatasource)."
                )
            if object_type in routes:
                raise ConfigurationError(
                    f"StripeWebhookReceiver {self.name!r}: both {routes[object_type]._meta.label} and "
                    f"{model._meta.label} read {object_type!r} objects."
                )
            routes[object_type] = model
        return routes

    def parse(self, payload: Any, headers: Mapping[str, str]) -> Sequence[Change]:
        """The change the event makes (see `event_changes`): none for an object type no model reads."""
        return event_changes(payload, self.routes())
