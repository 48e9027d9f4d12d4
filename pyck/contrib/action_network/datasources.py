"""`ActionNetworkDatasource` and one datasource class per resource of Action Network's API v2 (OSDI over HAL).

```python
from pyck.contrib.action_network import People, Tags, Taggings

people = People()  # the key comes from the ACTION_NETWORK_API_KEY setting
```

What it relies on, from Action Network's documentation:

- The API lives under `https://actionnetwork.org/api/v2/`, one collection per resource type
  (https://actionnetwork.org/docs/v2/aep); a record is at `{collection}/{id}`, its id being its `action_network:`
  identifier without the prefix (https://actionnetwork.org/docs/v2/people). Some collections live under their
  parent only: taggings under `/tags/{tag_id}/taggings` (https://actionnetwork.org/docs/v2/taggings), signatures
  under `/petitions/{petition_id}/signatures` (https://actionnetwork.org/docs/v2/signatures), submissions under
  `/forms/{form_id}/submissions` (https://actionnetwork.org/docs/v2/submissions), attendances under
  `/events/{event_id}/attendances` (https://actionnetwork.org/docs/v2/attendances).
- Every request carries the API key in the `OSDI-API-Token` header ("Authentication", https://actionnetwork.org/docs/v2/).
- A collection is a page of at most 25 resources under `_embedded["osdi:{collection}"]`, with the next page's URL
  at `_links.next.href` ("Paging and Navigation", https://actionnetwork.org/docs/v2/; `max_page_size` in
  https://actionnetwork.org/docs/v2/aep). The last page may still carry a next link, which then answers a page
  with no resources (https://actionnetwork.org/docs: "A next link will be present if the page in the collection
  is the last page, but not present if no resources are returned"); that empty page ends the listing.
- Ids are only in `identifiers`, references only link hrefs (see `pyck.contrib.action_network.links`).
- "API calls are limited to 4 requests per second" per API key (https://actionnetwork.org/docs/v2/):
  every datasource using one key shares one limit of 4 requests a second, in the process (`rate_limit_key`), and
  across processes with a `RequestBudget` counted in Redis (the `ACTION_NETWORK_BUDGET_CACHE` setting).
- Collections can be filtered with OData: `filter=modified_date gt '2014-03-25'`
  ("Searching and filtering (OData)", https://actionnetwork.org/docs/v2/); see `pyck.contrib.action_network.incremental`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

from django.conf import settings

from pyck.core.base import ResourceT
from pyck.core.budget import RequestBudget
from pyck.core.exceptions import ConfigurationError, InvalidResourceError
from pyck.core.pagination import NextUrlPaginator
from pyck.core.rest import RestDatasource

from .links import action_network_id, link_id
from .resources import (
    Attendance,
    Donation,
    Event,
    Form,
    Person,
    Petition,
    Signature,
    Submission,
    Tag,
    Tagging,
)

__all__ = [
    "ActionNetworkDatasource",
    "Attendances",
    "Donations",
    "Events",
    "Forms",
    "People",
    "Petitions",
    "Signatures",
    "Submissions",
    "Taggings",
    "Tags",
]

TOKEN_HEADER = "OSDI-API-Token"
"""The header that carries the API key ("Authentication", https://actionnetwork.org/docs/v2/)."""


class ActionNetworkDatasource(RestDatasource[ResourceT]):
    """One collection of Action Network's API v2, as records of `resource_type`.

    - **Key**: `api_key`, else the `ACTION_NETWORK_API_KEY` setting, read at each request (so Django's
      `override_settings` works), sent as the `OSDI-API-Token` header. It never reaches a log line, an error, a
      `SyncRun` row or the webhook inbox: pyck treats a header whose name holds "token" as a credential.
    - **Pages**: `_embedded["osdi:{collection}"]`, then `_links.next.href`, 25 records a page; a sync can resume
      an interrupted listing at the page it had reached (the position is the next link).
    - **Ids**: the `action_network:` identifier, wherever it stands in `identifiers` (`get_raw_id`); a record
      without one fails on its own, named by the page it came in.
    - **Links**: each `links` entry (`{"person": "osdi:person"}`) fills that field with the id the link's href
      ends in, so a model's foreign key `person` is filled with no code of yours.
    - **Rate limit**: 4 requests a second per API key (`requests_per_second`), shared by every datasource of the
      process with the same key (`rate_limit_key`); with the `ACTION_NETWORK_BUDGET_CACHE` setting, by every
      process too (`request_budget`, counted in Redis).
    """

    base_url = "https://actionnetwork.org/api/v2"
    collection: ClassVar[str] = ""
    """The collection's name: its records are at `_embedded["osdi:{collection}"]` (`"people"`)."""
    links: ClassVar[Mapping[str, str]] = {}
    """Fields filled from links: field name -> link relation (`{"person": "osdi:person"}`)."""
    api_key: str | None = None
    """The API key; `None`: the `ACTION_NETWORK_API_KEY` setting."""
    requests_per_second: ClassVar[int] = 4
    """The documented limit: "API calls are limited to 4 requests per second" (https://actionnetwork.org/docs/v2/)."""
    rate_margin: ClassVar[float] = 0.05
    """The share of the limit left unused, so that network jitter never puts five requests in one of the API's
    seconds: requests are spaced `(1 + rate_margin) / requests_per_second` seconds apart."""
    rate_limit = requests_per_second / (1 + rate_margin)
    retry_after_429 = 1.0
    """A 429 (requests bunched by network or machine load) waits one second, the API's window, then retries."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.collection:
            raise ConfigurationError(f"{type(self).__name__}: collection must name the OSDI collection (\"people\")")
        if self.paginator is None:
            self.paginator = NextUrlPaginator(
                next_url_path="_links.next.href", items_path=f"_embedded.osdi:{self.collection}"
            )

    def __str__(self) -> str:
        return f"Action Network {self.collection}"

    # --- Configuration ---------------------------------------------------------------------------------

    def get_api_key(self) -> str:
        """The API key: `api_key`, else the `ACTION_NETWORK_API_KEY` setting.

        Raises:
            ConfigurationError: neither is set.
        """
        key = self.api_key if self.api_key is not None else getattr(settings, "ACTION_NETWORK_API_KEY", None)
        if not isinstance(key, str) or not key:
            raise ConfigurationError(
                f"{self}: no API key: set ACTION_NETWORK_API_KEY in your settings (or api_key on the datasource)"
            )
        return key

    def get_headers(self) -> dict[str, str]:
        """`OSDI-API-Token: <key>`."""
        return {TOKEN_HEADER: self.get_api_key()}

    @property
    def account_key(self) -> str:
        """A name for the API key that does not reveal it: `action_network:` and the first 16 hex digits of its
        SHA-256. Datasources with the same key share one request budget under this name."""
        key = self.api_key if self.api_key is not None else getattr(settings, "ACTION_NETWORK_API_KEY", None)
        digest = hashlib.sha256(str(key or "").encode()).hexdigest()[:16]
        return f"action_network:{digest}"

    @property  # type: ignore[override]
    def rate_limit_key(self) -> str:  # noqa: D102 - documented below
        """`account_key`: every datasource of this process using the same API key shares one `rate_limit`."""
        return self.account_key

    @property  # type: ignore[override]
    def request_budget(self) -> RequestBudget | None:
        """With the `ACTION_NETWORK_BUDGET_CACHE` setting (the alias of a Redis cache in `CACHES`): at most
        `requests_per_second` requests in any second, counted there under `account_key`, so that every process
        using one key shares the limit. `None` without it: the limit is kept per process (`rate_limit`)."""
        cache = getattr(settings, "ACTION_NETWORK_BUDGET_CACHE", None)
        if not cache:
            return None
        return RequestBudget(
            requests=self.requests_per_second, per=1, key=self.account_key, cache=cache, margin=self.rate_margin
        )

    # --- Records ---------------------------------------------------------------------------------------

    def flatten(self, data: Any) -> dict[str, Any]:
        """The raw item as the resource type reads it: without `_links` and `_embedded`, with `id` (its
        `action_network:` identifier) and each `links` field (the id its link's href ends in; absent when the
        item has no such link, so that a sync leaves the relation as it was).

        Raises:
            InvalidResourceError: the item is not an object, or has no `action_network:` identifier.
        """
        if not isinstance(data, Mapping):
            raise InvalidResourceError(f"expected a JSON object, got {type(data).__name__}")
        record = {key: value for key, value in data.items() if key not in ("_links", "_embedded")}
        record_id = action_network_id(data.get("identifiers"))
        if record_id is None:
            raise InvalidResourceError("the record has no action_network: identifier in identifiers", keyless=True)
        record["id"] = record_id
        for name, relation in self.links.items():
            # A link the item lacks stays absent (not None): a sync then leaves the column as it was, rather than
            # clearing a relation because one payload (a webhook's) did not carry it.
            linked = link_id(data, relation)
            if linked is not None:
                record[name] = linked
        return record

    def deserialize(self, data: Any) -> ResourceT:
        """`flatten` the item, then read it as `resource_type`."""
        return super().deserialize(self.flatten(data))

    def get_raw_id(self, data: Any) -> Any:
        """The `action_network:` identifier of a raw item, without the prefix (`None` if it has none)."""
        return action_network_id(data.get("identifiers")) if isinstance(data, Mapping) else None


class People(ActionNetworkDatasource[Person]):
    """`/people` (https://actionnetwork.org/docs/v2/people)."""

    path = "/people"
    collection = "people"
    resource_type = Person


class Tags(ActionNetworkDatasource[Tag]):
    """`/tags` (https://actionnetwork.org/docs/v2/tags)."""

    path = "/tags"
    collection = "tags"
    resource_type = Tag


class Taggings(ActionNetworkDatasource[Tagging]):
    """`/tags/{tag_id}/taggings`: list it per tag, `list(tag_id=...)` or `SyncConfig(for_each=ForEach("tag",
    param="tag_id"))` (https://actionnetwork.org/docs/v2/taggings)."""

    path = "/tags/{tag_id}/taggings"
    collection = "taggings"
    resource_type = Tagging
    links = {"person": "osdi:person", "tag": "osdi:tag"}


class Events(ActionNetworkDatasource[Event]):
    """`/events` (https://actionnetwork.org/docs/v2/events)."""

    path = "/events"
    collection = "events"
    resource_type = Event


class Attendances(ActionNetworkDatasource[Attendance]):
    """`/events/{event_id}/attendances`, per event (https://actionnetwork.org/docs/v2/attendances)."""

    path = "/events/{event_id}/attendances"
    collection = "attendances"
    resource_type = Attendance
    links = {"person": "osdi:person", "event": "osdi:event"}


class Forms(ActionNetworkDatasource[Form]):
    """`/forms` (https://actionnetwork.org/docs/v2/forms)."""

    path = "/forms"
    collection = "forms"
    resource_type = Form


class Submissions(ActionNetworkDatasource[Submission]):
    """`/forms/{form_id}/submissions`, per form (https://actionnetwork.org/docs/v2/submissions)."""

    path = "/forms/{form_id}/submissions"
    collection = "submissions"
    resource_type = Submission
    links = {"person": "osdi:person", "form": "osdi:form"}


class Petitions(ActionNetworkDatasource[Petition]):
    """`/petitions` (https://actionnetwork.org/docs/v2/petitions)."""

    path = "/petitions"
    collection = "petitions"
    resource_type = Petition


class Signatures(ActionNetworkDatasource[Signature]):
    """`/petitions/{petition_id}/signatures`, per petition (https://actionnetwork.org/docs/v2/signatures)."""

    path = "/petitions/{petition_id}/signatures"
    collection = "signatures"
    resource_type = Signature
    links = {"person": "osdi:person", "petition": "osdi:petition"}


class Donations(ActionNetworkDatasource[Donation]):
    """`/donations`, every donation of the key's group (https://actionnetwork.org/docs/v2/donations)."""

    path = "/donations"
    collection = "donations"
    resource_type = Donation
    links = {"person": "osdi:person", "fundraising_page": "osdi:fundraising_page"}
