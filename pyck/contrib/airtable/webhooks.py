"""`AirtableWebhookReceiver`: Airtable's webhook notifications, through pyck's webhook inbox
(`pyck.core.webhooks`), and `refresh_webhooks`, the cron task that keeps the webhooks alive.

```python
from pyck.contrib.airtable.webhooks import AirtableWebhookReceiver
from pyck.core.webhooks import register_receiver

register_receiver(AirtableWebhookReceiver(
    name="airtable-members", base_id="appA1b2C3d4E5f6G7", webhook_id="achW1e2B3h4O5o6K7",
    secret_setting="AIRTABLE_MEMBERS_WEBHOOK_SECRET", models=["members.Person", "members.Branch"],
))
```

What it does, with the page of Airtable's documentation that says why:

- **The notification** ([webhooks overview](https://airtable.com/developers/web/api/webhooks-overview)) is a
  ping without the changes: `{"base": {"id": …}, "webhook": {"id": …}, "timestamp": …}`, signed in the header
  `X-Airtable-Content-MAC: hmac-sha256=<hex>`, the HMAC-SHA256 of the body under the webhook's MAC secret,
  base64-decoded (`macSecretBase64`, which [create a webhook](https://airtable.com/developers/web/api/create-a-webhook)
  returns once). `verify` compares it in constant time; the inbox stores the ping (one INSERT) under the id
  `<webhook id>:<timestamp>`, so a redelivered ping is stored once.
- **The changes** ([list webhook payloads](https://airtable.com/developers/web/api/list-webhook-payloads)) are
  read off the request, by the inbox's workers (`parse`): `GET {base_url}/bases/{base}/webhooks/{id}/payloads?cursor=`
  from the stored cursor, page after page while `mightHaveMore`; each page's `cursor` is where the next starts.
  In each payload's `changedTablesById`, the tables of `models` give `createdRecordsById`, `changedRecordsById`
  and `destroyedRecordIds`. A changed record carries only its changed cells, by field id: every created or
  changed record is therefore fetched with the datasource's `get()` (one request each) and written whole; a
  destroyed one is deleted under `OnDelete.DELETE` (kept under `KEEP`).
- **Tables** are named by id in payloads; a model whose datasource names its table by name is matched through
  `table_ids`, else through the base's schema ([get base schema](https://airtable.com/developers/web/api/get-base-schema),
  `GET {base_url}/meta/bases/{base}/tables`), read once per process.
- **The cursor** is kept in the database (a `SyncState` row named `airtable-webhook:<base>/<webhook>`) and moves
  on only once the changes are written (`committed`): a worker dying before that leaves it where it was, and
  the next attempt reads the same payloads again, which writes the same rows again.
- **Expiry** ([refresh a webhook](https://airtable.com/developers/web/api/refresh-a-webhook)): a webhook
  expires 7 days after its creation, last refresh or last payload listing; `refresh_webhooks`, registered as a
  cron task, refreshes every registered Airtable webhook (`POST …/webhooks/{id}/refresh`).
- **Rate limit** ([webhooks overview](https://airtable.com/developers/web/api/webhooks-overview)): "The webhook
  API is subject to the same 5 requests per second per base as the REST API": every request goes through the
  first model's datasource, so it counts against the base's budget (`rate_limit_key` `"airtable:<base>"`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from django.db import transaction

from pyck.core.exceptions import ConfigurationError
from pyck.core.models import SyncState
from pyck.core.models.synced import SyncedModel
from pyck.core.webhooks import Change, Rejected, WebhookReceiver, webhook_receivers

from .datasources import AirtableDatasource

__all__ = ["AirtableWebhookReceiver", "PayloadChanges", "refresh_webhooks"]

logger = logging.getLogger("pyck.webhooks")

MAC_HEADER = "x-airtable-content-mac"
"""The header carrying the notification's MAC (https://airtable.com/developers/web/api/webhooks-overview)."""

MAX_PAYLOADS = 50
"""The most payloads one listing returns (https://airtable.com/developers/web/api/list-webhook-payloads)."""


class PayloadChanges(list[Change]):
    """The changes `AirtableWebhookReceiver.parse` read, and the cursor the listing ended at: where the next
    listing starts once these changes are written."""

    def __init__(self, changes: Sequence[Change] = (), *, cursor: int) -> None:
        super().__init__(changes)
        self.cursor = cursor


class AirtableWebhookReceiver(WebhookReceiver):
    """The receiver of one Airtable webhook's notifications (see the module docstring).

    Options (class attributes, or constructor keywords), besides `name` and `secret_setting` (the setting
    holding the webhook's `macSecretBase64`):

    - `base_id`: the base the webhook watches (`app…`).
    - `webhook_id`: the webhook (`ach…`).
    - `models`: the synced models its changes go to (classes or `"app_label.ModelName"`), each synced from a
      table of the base with an `AirtableDatasource`. A change in a table no model reads is skipped.
    - `table_ids`: table name -> table id (`{"Active Members": "tbl…"}`), for the models whose datasource
      names its table by name: payloads name tables by id only. A name not given here is looked up once per
      process in the base's schema (`GET {base_url}/meta/bases/{base}/tables`,
      https://airtable.com/developers/web/api/get-base-schema; the token then needs `schema.bases:read`).
    """

    base_id: str = ""
    webhook_id: str = ""
    models: Sequence[type[SyncedModel] | str] = ()
    table_ids: Mapping[str, str] = {}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for option in ("base_id", "webhook_id"):
            if not isinstance(getattr(self, option), str) or not getattr(self, option):
                raise ConfigurationError(f"AirtableWebhookReceiver(name={self.name!r}): {option} is required.")
        if not self.models or isinstance(self.models, str):
            raise ConfigurationError(
                f"AirtableWebhookReceiver(name={self.name!r}, models=...): expected the list of models the webhook's "
                f"changes go to, got {self.models!r}."
            )
        # Table name -> id, from the base's schema: read once, when a model names its table by name.
        self.schema_ids: dict[str, str] | None = None

    # --- Receiving (in the request) ----------------------------------------------------------------------

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        """Check `X-Airtable-Content-MAC` (`hmac-sha256=` and the hex HMAC-SHA256 of `body` under the
        base64-decoded secret) in constant time; return `<webhook id>:<timestamp>` from the body."""
        given = headers.get(MAC_HEADER)
        if not given:
            raise Rejected("missing header X-Airtable-Content-MAC")
        try:
            key = base64.b64decode(self.get_secret(), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError(
                f"Webhook receiver {self.name!r}: the setting {self.secret_setting} is not base64 (it should hold the "
                f"webhook's macSecretBase64)."
            ) from None
        expected = "hmac-sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.strip().encode(), expected.encode()):
            raise Rejected("the X-Airtable-Content-MAC does not verify")
        try:
            ping = json.loads(body)
            base, webhook, timestamp = ping["base"]["id"], ping["webhook"]["id"], ping["timestamp"]
        except (ValueError, TypeError, KeyError):
            raise Rejected("not an Airtable notification (base.id, webhook.id, timestamp)", status=400) from None
        if (base, webhook) != (self.base_id, self.webhook_id):
            raise Rejected(f"a notification for {base}/{webhook}, not {self.base_id}/{self.webhook_id}", status=400)
        return f"{webhook}:{timestamp}"

    # --- Processing (in the inbox's workers) -------------------------------------------------------------

    def parse(self, payload: Any, headers: Mapping[str, str]) -> PayloadChanges:
        """List the webhook's payloads from the stored cursor and return the records they change, in the
        tables of `models` (the last change of each record: written whole, after a `get()`, or deleted)."""
        datasource = self.datasource()
        tables = self.tables()
        url = f"{str(datasource.base_url).rstrip('/')}/bases/{quote(self.base_id, safe='')}/webhooks/{quote(self.webhook_id, safe='')}/payloads"
        cursor = self.stored_cursor()
        latest: dict[tuple[str, str], bool] = {}  # (table id, record id) -> destroyed, in the order last changed
        while True:
            params: dict[str, Any] = {"limit": MAX_PAYLOADS}
            if cursor is not None:
                params["cursor"] = cursor
            page = datasource.request("GET", url, params=params).json()
            for item in page.get("payloads") or ():
                if item.get("error"):
                    raise ValueError(f"Airtable webhook {self.webhook_id}: a payload says error {item.get('code')!r}")
                for table_id, changed in (item.get("changedTablesById") or {}).items():
                    if table_id not in tables:
                        continue
                    for record_id in [*(changed.get("createdRecordsById") or {}), *(changed.get("changedRecordsById") or {})]:
                        latest.pop((table_id, record_id), None)
                        latest[(table_id, record_id)] = False
                    for record_id in changed.get("destroyedRecordIds") or ():
                        latest.pop((table_id, record_id), None)
                        latest[(table_id, record_id)] = True
            following = int(page["cursor"])
            if not page.get("mightHaveMore") or following == cursor:
                cursor = following
                break
            cursor = following
        changes = [
            Change(model=model, external_id=record_id, deleted=destroyed)
            for (table_id, record_id), destroyed in latest.items()
            for model in tables[table_id]
        ]
        return PayloadChanges(changes, cursor=cursor)

    def committed(self, payload: Any, headers: Mapping[str, str], changes: Sequence[Change]) -> None:
        """Store the cursor the listing ended at, now that its changes are written (never moving it back)."""
        cursor = getattr(changes, "cursor", None)
        if cursor is None:
            return
        with transaction.atomic():
            state, _ = SyncState.objects.select_for_update().get_or_create(model=self.state_label, partition="")
            stored = (state.cursor or {}).get("int")
            if stored is None or stored < cursor:
                state.cursor = {"int": cursor}
                state.save(update_fields=["cursor"])

    # --- Helpers -----------------------------------------------------------------------------------------

    @property
    def state_label(self) -> str:
        """The `SyncState.model` of the row holding this webhook's cursor."""
        return f"airtable-webhook:{self.base_id}/{self.webhook_id}"

    def stored_cursor(self) -> int | None:
        """The cursor the next listing starts at; `None` before the first (Airtable then starts at 1)."""
        row = SyncState.objects.filter(model=self.state_label, partition="").values_list("cursor", flat=True).first()
        return (row or {}).get("int")

    def datasource(self) -> AirtableDatasource[Any]:
        """The datasource requests go through (the first model's): its token, `base_url` and rate limit."""
        model = self.resolve_model(self.models[0])
        datasource = model.sync_config.datasource
        if not isinstance(datasource, AirtableDatasource) or datasource.base_id != self.base_id:
            raise ConfigurationError(
                f"Webhook receiver {self.name!r}: {model._meta.label} is not synced from base {self.base_id} with an "
                "AirtableDatasource."
            )
        return datasource

    def tables(self) -> dict[str, list[type[SyncedModel]]]:
        """Table id -> the models synced from it."""
        found: dict[str, list[type[SyncedModel]]] = {}
        for item in self.models:
            model = self.resolve_model(item)
            datasource = model.sync_config.datasource
            if not isinstance(datasource, AirtableDatasource) or datasource.base_id != self.base_id:
                raise ConfigurationError(
                    f"Webhook receiver {self.name!r}: {model._meta.label} is not synced from base {self.base_id} with "
                    "an AirtableDatasource."
                )
            table = str(datasource.table_name or "")
            table_id = table if table.startswith("tbl") else self.table_ids.get(table)
            if not table_id:
                if self.schema_ids is None:
                    self.schema_ids = self.read_schema(datasource)
                table_id = self.schema_ids.get(table)
            if not table_id:
                raise ConfigurationError(
                    f"Webhook receiver {self.name!r}: base {self.base_id} has no table {table!r} ({model._meta.label}): "
                    f"pass table_ids={{{table!r}: 'tbl…'}} (or table_name='tbl…' to the datasource)."
                )
            found.setdefault(table_id, []).append(model)
        return found

    def read_schema(self, datasource: AirtableDatasource[Any]) -> dict[str, str]:
        """The base's table names and their ids, from `GET {base_url}/meta/bases/{base}/tables`."""
        url = f"{str(datasource.base_url).rstrip('/')}/meta/bases/{quote(self.base_id, safe='')}/tables"
        return {table["name"]: table["id"] for table in datasource.request("GET", url).json().get("tables") or ()}

    def refresh(self) -> str | None:
        """Extend the webhook's life (`POST {base_url}/bases/{base}/webhooks/{id}/refresh`); return the new
        `expirationTime`."""
        datasource = self.datasource()
        url = f"{str(datasource.base_url).rstrip('/')}/bases/{quote(self.base_id, safe='')}/webhooks/{quote(self.webhook_id, safe='')}/refresh"
        return datasource.request("POST", url).json().get("expirationTime")


def refresh_webhooks() -> str:
    """Refresh every registered `AirtableWebhookReceiver`'s webhook (a cron task: register it to run more
    often than every 7 days, e.g. daily); return what it did.

    Raises:
        RuntimeError: a refresh failed (after trying them all); the message names the webhooks and why.
    """
    done, failed = [], []
    for receiver in webhook_receivers():
        if not isinstance(receiver, AirtableWebhookReceiver):
            continue
        try:
            done.append(f"{receiver.webhook_id} until {receiver.refresh()}")
        except Exception as error:
            failed.append(f"{receiver.base_id}/{receiver.webhook_id}: {error}")
    if failed:
        raise RuntimeError(f"Refreshing Airtable webhooks failed: {'; '.join(failed)}")
    return f"Refreshed {len(done)} Airtable webhook(s): {', '.join(done)}" if done else "No Airtable webhook to refresh."
