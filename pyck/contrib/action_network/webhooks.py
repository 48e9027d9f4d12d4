"""Action Network's webhooks, through pyck's inbox (`pyck.core.webhooks`): `ActionNetworkReceiver` and the view
that checks the URL's token.

What Action Network sends (https://actionnetwork.org/docs/webhooks):

- A POST of a JSON array; each item wraps one OSDI resource in its type: `{"osdi:signature": {...}}`,
  `osdi:attendance`, `osdi:submission`, `osdi:donation`, `action_network:upload`, `action_network:action`
  ("events are identified by their type, which is the JSON closure that surrounds the hash in the POSTed array",
  https://actionnetwork.org/docs/webhooks/attendance). Triggers fire for actions (and uploads) and for new
  subscribers only: never for edits or deletions of people or other records, so polling stays necessary.
- No signature: Action Network POSTs to the URL you give it, over HTTPS only. The URL itself must be the secret:
  `https://example.org/webhooks/action-network/?token=<a long random token>`. The view compares the token with
  the `ACTION_NETWORK_WEBHOOK_TOKEN` setting in constant time; it is never stored (the inbox keeps no header of
  this receiver) nor logged by pyck (Django logs a refused request's path, which leaves the query string out).
- Webhook payloads carry an `idempotency_key` (added on December 7, 2022, https://actionnetwork.org/docs); an item
  that has one is named by it, else by its type and its `action_network:` identifier, else by the SHA-256 of
  its JSON. A request is stored once per set of items (its id is the SHA-256 of their names), so a redelivery is
  not applied twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from pyck.core.models.synced import SyncedModel
from pyck.core.webhooks import Change, Rejected, WebhookReceiver
from pyck.core.webhooks.views import receive_webhook

from .links import action_network_id

__all__ = ["TOKEN_HEADER", "ActionNetworkReceiver", "item_id", "receive_action_network_webhook"]

logger = logging.getLogger("pyck.contrib.action_network")

TOKEN_HEADER = "x-pyck-action-network-token"
"""The request header the view puts the URL's token in, for `ActionNetworkReceiver.verify` (never stored)."""


def item_id(item: Mapping[str, Any]) -> str:
    """A stable name for one item of a webhook payload: its `idempotency_key`, else its type and its
    `action_network:` identifier (`osdi:donation:d91b…`), else the SHA-256 of its JSON."""
    key = item.get("idempotency_key")
    if isinstance(key, str) and key:
        return f"key:{key}"
    for kind, resource in item.items():
        if isinstance(resource, Mapping):
            found = action_network_id(resource.get("identifiers"))
            if found is not None:
                return f"{kind}:{found}"
    return "sha256:" + hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()


class ActionNetworkReceiver(WebhookReceiver):
    """The receiver of Action Network's webhooks: each item of the POSTed array whose type is a key of `models`
    becomes a change of that model (`{"osdi:donation": "campaign.Donation"}`), written as its datasource reads
    the resource (its `action_network:` id, its links as ids). Items of other types are skipped.

    Register it in a `webhooks.py` module of your app, and mount `receive_action_network_webhook` (see the docs
    page "Action Network"). The token comes from the `ACTION_NETWORK_WEBHOOK_TOKEN` setting.
    """

    name = "action_network"
    secret_setting = "ACTION_NETWORK_WEBHOOK_TOKEN"
    kept_headers = ()
    models: Mapping[str, type[SyncedModel] | str] = {}
    """The models of the item types to apply: `{"osdi:donation": Donation, "osdi:signature": "app.Signature"}`."""

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        """Check the URL's token (in constant time) and name the request by its items (see `item_id`).

        Raises:
            Rejected: 401 for a missing or wrong token; 400 for a body that is not a JSON array of objects.
        """
        token = headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(token.encode(), self.get_secret().encode()):
            raise Rejected("the URL's token is missing or wrong", status=401)
        try:
            payload = json.loads(body)
        except ValueError:
            raise Rejected("the body is not JSON", status=400) from None
        if not isinstance(payload, list) or not all(isinstance(item, Mapping) for item in payload):
            raise Rejected("the body is not a JSON array of objects", status=400)
        names = sorted(item_id(item) for item in payload)
        return "batch:" + hashlib.sha256("\n".join(names).encode()).hexdigest()

    def parse(self, payload: Any, headers: Mapping[str, str]) -> Sequence[Change]:
        """The changes of the items whose type `models` maps, in the order they came.

        Raises:
            ValueError: a mapped item carries no `action_network:` identifier.
        """
        changes = []
        for item in payload:
            for kind, resource in item.items():
                model = self.models.get(kind)
                if model is None or not isinstance(resource, Mapping):
                    continue
                external_id = action_network_id(resource.get("identifiers"))
                if external_id is None:
                    raise ValueError(f"a {kind} item carries no action_network: identifier ({item_id(item)})")
                changes.append(Change(model=model, external_id=external_id, record=dict(resource)))
        return changes


@csrf_exempt
def receive_action_network_webhook(request: HttpRequest, source: str = ActionNetworkReceiver.name) -> HttpResponse:
    """The view Action Network POSTs to: it hands the `token` query parameter to the receiver registered as
    `source` (in a header the inbox does not keep), then stores the event as `pyck.core.webhooks`' view does.

    Mount it with `path("webhooks/action-network/", receive_action_network_webhook)` and give Action Network
    `https://<your host>/webhooks/action-network/?token=<ACTION_NETWORK_WEBHOOK_TOKEN>`.
    """
    # Overwritten whatever the client sent in that header: only the URL's token counts.
    request.META["HTTP_" + TOKEN_HEADER.upper().replace("-", "_")] = request.GET.get("token", "")
    return receive_webhook(request, source)
