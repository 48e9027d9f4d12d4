"""`StandardWebhooksReceiver`: the receiver of any service signing its webhooks as the Standard Webhooks
specification says (`webhook-id`, `webhook-timestamp`, `webhook-signature`; HMAC-SHA256 with a `whsec_`
secret), and carrying records in pyck's generic payload. Verified by the `standardwebhooks` package
(`pip install django-pyck[webhooks]`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import ConfigurationError
from ..models.synced import SyncedModel
from .receivers import Change, Rejected, WebhookReceiver

__all__ = ["StandardWebhooksReceiver"]

# The headers the specification requires.
_REQUIRED = ("webhook-id", "webhook-timestamp", "webhook-signature")


class StandardWebhooksReceiver(WebhookReceiver):
    """Receives Standard Webhooks requests whose body is pyck's generic payload:

    ```json
    {"changes": [
        {"model": "app.Ticket", "id": 7, "record": {"id": 7, "title": "Printer"}, "version": 12},
        {"model": "app.Ticket", "id": 8, "deleted": true}
    ]}
    ```

    Each change names the model (`"app_label.ModelName"`, one of `models`), the record's `id`, and either the
    `record` (the JSON the datasource's listing returns for it) or nothing, in which case the record is
    fetched with the datasource's `get()`; `"deleted": true` says the record is gone; `version` (optional) is
    its version or modification time. A body with no `"changes"` key is one change.

    The signature is checked by the `standardwebhooks` package: HMAC-SHA256 of `id.timestamp.body`, compared
    in constant time, with a timestamp at most 5 minutes away from now. The secret (`whsec_...`) is read from
    the setting `secret_setting` names.
    """

    kept_headers = ("webhook-timestamp",)
    # The models the source may change: classes or "app_label.ModelName" (a change of any other model fails).
    models: Sequence[type[SyncedModel] | str] = ()

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.models or isinstance(self.models, str):
            raise ConfigurationError(
                f"StandardWebhooksReceiver(name={self.name!r}, models=...): expected the list of models the source "
                f"may change, got {self.models!r}."
            )

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        """Check the Standard Webhooks signature with the `standardwebhooks` package; return `webhook-id`."""
        # Not at the top: the package is an optional extra (django-pyck[webhooks]), needed by this receiver only.
        from standardwebhooks import Webhook, WebhookVerificationError

        missing = [name for name in _REQUIRED if not headers.get(name)]
        if missing:
            raise Rejected(f"missing header(s) {', '.join(missing)}", status=400)
        try:
            webhook = Webhook(self.get_secret())
        except ValueError:  # binascii.Error: not base64 (never say more: it is the secret)
            raise ConfigurationError(
                f"Webhook receiver {self.name!r}: the setting {self.secret_setting} is not a Standard Webhooks "
                f"secret ('whsec_' and base64)."
            ) from None
        try:
            webhook.verify(body, dict(headers), json_parse=False)
        except WebhookVerificationError as error:
            raise Rejected(f"the signature does not verify ({error})") from None
        return headers["webhook-id"]

    def parse(self, payload: Any, headers: Mapping[str, str]) -> Sequence[Change]:
        """Read the changes of the generic payload (see the class docstring)."""
        if not isinstance(payload, dict):
            raise ValueError(f"expected a JSON object, got {type(payload).__name__}")
        items = payload["changes"] if "changes" in payload else [payload]
        if not isinstance(items, list):
            raise ValueError(f"'changes' must be a list, got {type(items).__name__}")
        allowed = {self.resolve_model(model) for model in self.models}
        changes = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or "model" not in item or item.get("id") is None:
                raise ValueError(f"change {index}: expected an object with 'model' and 'id', got {item!r:.200}")
            model = self.resolve_model(item["model"])
            if model not in allowed:
                raise ValueError(f"change {index}: this receiver may not change {model._meta.label}")
            changes.append(
                Change(
                    model=model,
                    external_id=item["id"],
                    record=item.get("record"),
                    version=item.get("version"),
                    deleted=bool(item.get("deleted", False)),
                )
            )
        return changes
