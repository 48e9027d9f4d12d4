"""`NationBuilderReceiver`: NationBuilder's people webhooks (person created, changed and merged) into the webhook
inbox (`pyck.core.webhooks`).

```python
from pyck.contrib.nationbuilder.webhooks import NationBuilderReceiver
from pyck.core.webhooks import register_receiver

register_receiver(NationBuilderReceiver(name="nb-people", model="members.Person"))
```

What it relies on, from NationBuilder's documentation:

- A webhook is registered per event ("Person created", "Person changed", "Person merged", ...), each with its
  URL; "you can attach a shared secret token to your nation which will be attached to the payload via the key
  token", to be used over HTTPS (https://nationbuilder.com/webhooks_overview). This receiver compares the body's
  top-level `token` with the `NATIONBUILDER_WEBHOOK_TOKEN` setting in constant time, and the inbox stores the
  body without it (`stored_body`): the token is never stored, logged or shown.
- The person created and changed payloads are `{"nation_slug": ..., "payload": {"person": {"id": ..., ...}}}`
  (https://nationbuilder.com/webhooks_people), a person of API v1. pyck does not write that v1 person: it
  re-fetches the signup of the same id from API v2 (`fetch = True`), so a webhook writes exactly what a sync
  would. The pages consulted do not say that v1 person ids and v2 signup ids are the same; NationBuilder's
  v2 signups are its people ("signups"), and this receiver assumes they share ids.

What the documentation does not give, and what this receiver does instead:

- **An event id.** The payloads carry none. The inbox's id of an event is the trigger and the SHA-256 of its
  body without the token: a redelivery of the same payload is stored once, and two different changes (their
  `updated_at` differs) are two events.
- **The event type.** The payload does not name it: each receiver handles one `trigger`, so register one
  receiver (one URL) per webhook: `"person_changed"` (also right for "person created"), `"person_merged"`.
- **The shape of the person merged payload.** The pages consulted do not show it. The surviving person is read
  at `person_path` (`payload.person`, as in the other people webhooks) and the merged-away person's id at
  `merged_id_path`, which you set after looking at one of your nation's merged payloads (the Events admin
  shows the stored body). A merge is applied by `pyck.contrib.nationbuilder.merges.merge_rows` when the event
  is read, in its own transaction, before the surviving person is re-fetched; it is idempotent, so a retried
  event is harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pyck.core.exceptions import ConfigurationError
from pyck.core.pagination.paginator import lookup
from pyck.core.webhooks import Change, Rejected, WebhookReceiver

from .merges import merge_rows

__all__ = ["TRIGGERS", "NationBuilderReceiver"]

TRIGGERS = ("person_created", "person_changed", "person_merged")
"""The people webhooks this receiver handles (https://nationbuilder.com/webhooks_overview)."""


class NationBuilderReceiver(WebhookReceiver):
    """One NationBuilder people webhook: verify the body's `token`, store the event without it, and re-fetch the
    person it names (merging first, for `"person_merged"`).

    Options (class attributes or constructor keywords): `name`, `model` (the synced model of your signups,
    a class or `"app_label.Model"`), `trigger`, `person_path`, `merged_id_path`, `secret_setting`
    (`"NATIONBUILDER_WEBHOOK_TOKEN"`).
    """

    name = "nationbuilder"
    secret_setting = "NATIONBUILDER_WEBHOOK_TOKEN"
    fetch = True
    # The synced model of the people (its datasource: `Signups`).
    model: Any = None
    # The webhook this receiver is registered for: one of TRIGGERS.
    trigger: str = "person_changed"
    # Where the (surviving) person is in the body.
    person_path: str = "payload.person"
    # Where the merged-away person's id is in a person merged body (see the module docstring); required for
    # trigger="person_merged".
    merged_id_path: str | None = None

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.trigger not in TRIGGERS:
            raise ConfigurationError(f"NationBuilderReceiver(trigger=...): expected one of {TRIGGERS}, got {self.trigger!r}.")
        if self.model is None:
            raise ConfigurationError("NationBuilderReceiver(model=...): name the synced model of your people.")
        if self.trigger == "person_merged" and not self.merged_id_path:
            raise ConfigurationError(
                "NationBuilderReceiver(trigger='person_merged') needs merged_id_path: where the merged-away "
                "person's id is in the payload (NationBuilder's pages do not show it)."
            )

    def _body(self, body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body)
        except ValueError:
            raise Rejected("the body is not JSON", status=400) from None
        if not isinstance(payload, dict):
            raise Rejected("the body is not a JSON object", status=400)
        return payload

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        """Check the body's `token` against the secret in constant time; the event id is the trigger and the
        SHA-256 of the body without the token.

        Raises:
            Rejected: 400 for a body that is not a JSON object, 401 for a missing or wrong token.
        """
        payload = self._body(body)
        secret = self.get_secret()
        token = payload.pop("token", None)
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), secret.encode()):
            raise Rejected("the token is missing or wrong")
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        return f"{self.trigger}:{digest}"

    def stored_body(self, body: bytes) -> bytes:
        """The body without its `token`."""
        payload = self._body(body)
        payload.pop("token", None)
        return json.dumps(payload).encode()

    def parse(self, payload: Any, headers: Mapping[str, str]) -> Sequence[Change]:
        """The person to re-fetch; for a merge, the merged-away row is first merged into the surviving one
        (`merge_rows`).

        Raises:
            ValueError: the body has no person id (or, for a merge, no merged-away id) where expected.
        """
        person = lookup(payload, self.person_path, None)
        person_id = person.get("id") if isinstance(person, Mapping) else None
        if person_id is None or isinstance(person_id, (dict, list, bool)):
            raise ValueError(f"no person id at {self.person_path}.id")
        model = self.resolve_model(self.model)
        if self.trigger == "person_merged":
            merged_id = lookup(payload, str(self.merged_id_path), None)
            if merged_id is None or isinstance(merged_id, (dict, list, bool)):
                raise ValueError(f"no merged-away person id at {self.merged_id_path}")
            merge_rows(model, merged_id, person_id)
        return [Change(model=model, external_id=str(person_id))]
