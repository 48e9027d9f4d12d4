"""`StripeDatasource`: one Stripe list endpoint (customers, products, prices...) as typed records.

```python
customers = StripeDatasource(resource_type=Customer)          # GET https://api.stripe.com/v1/customers
subscriptions = StripeDatasource(resource_type=Subscription)  # GET …/v1/subscriptions
```

What it relies on, from Stripe's documentation:

- Authentication: the secret key as a bearer token, `Authorization: Bearer sk_…`
  (https://docs.stripe.com/api/authentication), read from the `STRIPE_API_KEY` setting at each request. pyck
  remembers every header value it sends and blanks it out of logs, errors and stored runs.
- Versioning: the `Stripe-Version` header pins the API version of a request
  (https://docs.stripe.com/api/versioning); pyck sends `STRIPE_API_VERSION`, default `DEFAULT_API_VERSION`.
- Listing: `StripePaginator` (`limit=100`, `starting_after`, `has_more`; https://docs.stripe.com/api/pagination).
- Expanding: `expand[]` names fields to send as objects instead of ids; in a list, each field is prefixed with
  `data.` (https://docs.stripe.com/expand, https://docs.stripe.com/api/expanding_objects).
- Deleted objects: retrieving a deleted customer answers `{"id": ..., "object": "customer", "deleted": true}`
  (https://docs.stripe.com/api/customers/delete): `tombstone = {"deleted": True}` makes `get()` raise
  `NotFoundError` for it, so a sync with `OnDelete.DELETE` deletes its row.
- Errors: `{"error": {"type": ..., "code": ..., "message": ...}}` (https://docs.stripe.com/api/errors): the
  message is quoted in pyck's error.
- Rate limits: 100 requests a second in live mode, 25 in a sandbox, and 25 a second per endpoint unless
  stated otherwise (https://docs.stripe.com/rate-limits); a request over them answers 429. `rate_limit` is 25
  by default, and datasources share it by `rate_limit_key` per endpoint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings

from pyck.core.base import Listed
from pyck.core.exceptions import ConfigurationError, DatasourceError, InvalidResourceError
from pyck.core.options import Incremental
from pyck.core.rest import RestDatasource

from .events import EVENTS_KEPT, ChangedRecords, changed_since

from .pagination import StripePaginator
from .resources import Charge, Customer, Invoice, PaymentIntent, Price, Product, Subscription

__all__ = [
    "API_ROOT",
    "DEFAULT_API_VERSION",
    "OBJECT_TYPES",
    "RATE_LIMIT",
    "StripeDatasource",
    "object_type_of",
    "stripe_incremental",
]

logger = logging.getLogger("pyck.contrib.stripe")

API_ROOT = "https://api.stripe.com/v1"
"""Stripe's API root (https://docs.stripe.com/api)."""

DEFAULT_API_VERSION = "2025-07-30.basil"
"""The `Stripe-Version` sent when `STRIPE_API_VERSION` is not set: the version the resource classes follow."""

RATE_LIMIT = 25.0
"""Requests a second: Stripe's default limit per endpoint, and its whole limit in a sandbox
(https://docs.stripe.com/rate-limits)."""

OBJECT_TYPES: dict[type, tuple[str, str]] = {
    Customer: ("customer", "/customers"),
    Product: ("product", "/products"),
    Price: ("price", "/prices"),
    Subscription: ("subscription", "/subscriptions"),
    Invoice: ("invoice", "/invoices"),
    PaymentIntent: ("payment_intent", "/payment_intents"),
    Charge: ("charge", "/charges"),
}
"""The `object` value and the endpoint of each resource class (a subclass finds its base's)."""


def object_type_of(resource_type: Any) -> tuple[str, str] | None:
    """The `(object, path)` of `resource_type` or of the first base class `OBJECT_TYPES` knows; `None` if none."""
    for cls in getattr(resource_type, "__mro__", ()):
        if cls in OBJECT_TYPES:
            return OBJECT_TYPES[cls]
    return None


def stripe_incremental(
    *, reconcile_interval: timedelta = timedelta(days=1), lookback: int = 300
) -> Incremental:
    """The `Incremental` of a model synced by a `StripeDatasource`: incremental runs read the Events API (see
    `pyck.contrib.stripe.events`) from the model's cursor, `seen_at`, minus `lookback` seconds (for the
    difference between your clock, which stamps full listings, and Stripe's, which stamps events).

    Args:
        reconcile_interval: how often a run is a full listing (which also finds deleted objects). At most 29
            days: Stripe keeps events for 30, and a cursor older than that cannot be caught up with events.
        lookback: seconds read again before the cursor.

    Raises:
        ConfigurationError: `reconcile_interval` is 30 days or more.
    """
    if reconcile_interval >= timedelta(seconds=EVENTS_KEPT - 24 * 3600):
        raise ConfigurationError(
            f"stripe_incremental(reconcile_interval={reconcile_interval}): Stripe keeps events for 30 days; a full "
            "run must come at most 29 days after the last, so that no incremental run starts before them"
        )
    return Incremental(field="seen_at", lookback=lookback, reconcile_interval=reconcile_interval)


class StripeDatasource(RestDatasource[Any]):
    """A Stripe list endpoint as records of `resource_type` (see `pyck.contrib.stripe.resources`).

    `path` and `object_type` follow from a resource class of this package (or a subclass of one); give them for
    another object (`StripeDatasource(resource_type=Coupon, path="/coupons", object_type="coupon")`).

    Attributes beyond `RestDatasource`'s: `api_key` (default: the `STRIPE_API_KEY` setting), `api_version`
    (default: `STRIPE_API_VERSION`, else `DEFAULT_API_VERSION`), `expand` (fields to expand, such as
    `("customer",)`) and `object_type` (the `object` value of this endpoint's records, which the Events API
    and webhooks name).
    """

    base_url = API_ROOT
    paginator = StripePaginator()
    tombstone = {"deleted": True}
    rate_limit = RATE_LIMIT
    api_key: str | None = None
    """The secret key; `None`: the `STRIPE_API_KEY` setting, read at each request."""
    api_version: str | None = None
    """The `Stripe-Version` header; `None`: the `STRIPE_API_VERSION` setting, else `DEFAULT_API_VERSION`."""
    expand: Sequence[str] = ()
    """Fields to expand into objects (`("customer",)`): `expand[]=customer` on `get()`, `expand[]=data.customer`
    on listings."""
    object_type: str | None = None
    """The `object` value of the records (`"customer"`); `None`: from `resource_type`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        known = object_type_of(self.resource_type)
        if known is not None:
            if self.object_type is None:
                self.object_type = known[0]
            if not self.path:
                self.path = known[1]
        if not self.path:
            raise ConfigurationError(
                f"{self}: give path= (\"/coupons\") for a resource type pyck.contrib.stripe does not know"
            )
        if self.rate_limit_key is None:
            # Stripe counts each endpoint's requests together, whichever datasource sends them.
            self.rate_limit_key = f"stripe:{self.path}"
        if isinstance(self.expand, str):
            self.expand = (self.expand,)
        if self.expand:
            # In a list, an expanded field is named under data (https://docs.stripe.com/expand#lists).
            self.list_query = {**self.list_query, "expand[]": [f"data.{name}" for name in self.expand]}

    def get_api_key(self) -> str:
        """The secret key: `api_key`, else the `STRIPE_API_KEY` setting.

        Raises:
            ConfigurationError: neither is set.
        """
        key = self.api_key or getattr(settings, "STRIPE_API_KEY", None)
        if not key:
            raise ConfigurationError(f"{self}: set STRIPE_API_KEY (a Stripe secret key) in your settings")
        return str(key)

    def get_api_version(self) -> str:
        """The `Stripe-Version` sent: `api_version`, else `STRIPE_API_VERSION`, else `DEFAULT_API_VERSION`."""
        return str(self.api_version or getattr(settings, "STRIPE_API_VERSION", None) or DEFAULT_API_VERSION)

    def get_headers(self) -> dict[str, str]:
        """`Authorization: Bearer <key>` and `Stripe-Version`."""
        return {"Authorization": f"Bearer {self.get_api_key()}", "Stripe-Version": self.get_api_version()}

    def get(self, id: Any, **query: Any) -> Any:
        """Retrieve the object `id`, with `expand[]` for each of `expand`.

        Raises:
            NotFoundError: Stripe answered 404, or with the stub of a deleted object (`"deleted": true`).
        """
        if self.expand and "expand[]" not in query:
            query["expand[]"] = list(self.expand)
        return super().get(id, **query)

    def read_listing(self, filter: Mapping[str, Any], *, start: Any = None) -> Iterator[Listed]:
        """The listing a sync reads (see `RestDatasource.read_listing`), each record's `seen_at` the time it
        started: a change made while it was read has an event at least as late, which the next incremental run
        reads."""
        started = int(time.time())
        for record, position in super().read_listing(filter, start=start):
            if not isinstance(record, InvalidResourceError) and hasattr(record, "seen_at"):
                record.seen_at = started
            yield record, position

    def list_changed(self, since: Any, **filter: Any) -> ChangedRecords:
        """The records created or updated since `since` (Unix seconds), read from the Events API (see
        `pyck.contrib.stripe.events.changed_since`); the sync engine calls it for incremental runs
        (`stripe_incremental`).

        Raises:
            ConfigurationError: `filter` is given (events cannot be filtered as a list is), or `since` is older
                than the 30 days of events Stripe keeps.
        """
        if filter:
            raise ConfigurationError(f"{self}: an incremental run through the Events API cannot apply a filter ({sorted(filter)})")
        return changed_since(self, int(since))

    def get_status_error(self, response: requests.Response, *, method: str, url: str) -> DatasourceError:
        """pyck's error for the answer, with Stripe's `error.message` (and `error.code`) quoted."""
        error = super().get_status_error(response, method=method, url=url)
        body = error.body
        detail = body.get("error") if isinstance(body, dict) else None
        if isinstance(detail, dict) and isinstance(detail.get("message"), str):
            code = f" ({detail['code']})" if isinstance(detail.get("code"), str) else ""
            error.reason = f"{error.reason}: Stripe says{code}: {detail['message'][:300]}"
        return error
