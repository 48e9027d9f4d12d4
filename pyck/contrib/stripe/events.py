"""Incremental runs of a Stripe model through the Events API: the objects of one type created or updated since a
point in time, as their latest event carries them.

What it relies on, from Stripe's documentation:

- `GET /v1/events` lists events newest first, paged like every list (`limit`, `starting_after`, `has_more`),
  filtered by `created[gte]` (Unix seconds, inclusive) and by `types[]` ("An array of up to 20 strings
  containing specific event names"); it goes back up to 30 days only
  (https://docs.stripe.com/api/events/list). An event is `{"id", "type", "created", "data": {"object"}}`, the
  object as it was when the event happened (https://docs.stripe.com/api/events/object).
- Event types name the object type, except a subscription's: `customer.subscription.created`
  (https://docs.stripe.com/api/events/types).
- `created[gte]` on an object list filters by the object's creation time: it misses objects updated since, so an
  incremental run reads events instead (https://docs.stripe.com/api/customers/list).

An incremental run yields each object created or updated since `since`, once, as its latest event carries it,
with `seen_at` set to that event's `created`: the model's cursor becomes the time of the latest event read. An
object whose latest event is `<type>.deleted` is yielded as `Deleted(id)`: the run deletes its row under
`OnDelete.DELETE` once the listing completes (except a subscription's, whose `customer.subscription.deleted`
means it ended: its object is written, with its `canceled` status).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from pyck.core.base import Deleted
from pyck.core.exceptions import ConfigurationError, InvalidResourceError, ResponseError
from pyck.core.pagination import Page

__all__ = ["ENDED_NOT_DELETED", "EVENTS_KEPT", "EVENT_PREFIXES", "ChangedRecords", "changed_since", "event_types"]

ENDED_NOT_DELETED = frozenset({"subscription"})
"""Object types whose `*.deleted` event means "ended", not deleted: `customer.subscription.deleted` "occurs
whenever a customer's subscription ends" (https://docs.stripe.com/api/events/types)."""

EVENTS_KEPT = 30 * 24 * 3600
"""How far back, in seconds, the Events API lists events: 30 days (https://docs.stripe.com/api/events/list)."""

EVENT_PREFIXES = {"subscription": "customer.subscription"}
"""The prefix of the event types of an object type, where it is not the type itself
(https://docs.stripe.com/api/events/types)."""


def event_types(object_type: str) -> list[str]:
    """The event types an incremental run asks for: `<prefix>.created`, `.updated` and `.deleted`."""
    prefix = EVENT_PREFIXES.get(object_type, object_type)
    return [f"{prefix}.created", f"{prefix}.updated", f"{prefix}.deleted"]


class ChangedRecords(Iterator[Any]):
    """The records of an incremental run, in order: `next()` raises the `InvalidResourceError` of a record that
    does not fit, and goes on with the next one after it (a generator could not: see `listing_of`)."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.index = 0

    def __next__(self) -> Any:
        if self.index >= len(self.items):
            raise StopIteration
        item = self.items[self.index]
        self.index += 1
        if isinstance(item, InvalidResourceError):
            raise item
        return item


def changed_since(datasource: Any, since: int, *, now: float | None = None) -> ChangedRecords:
    """Return the records of `datasource` (a `StripeDatasource`) created or updated at or after `since` (Unix
    seconds), oldest change first, each once as its latest event carries it, with `seen_at` that event's time
    (the events are all read first: they are few, and the latest of each object's must be known).

    Raises:
        ConfigurationError: `since` is older than the 30 days of events Stripe keeps: only a full sync can catch
            up (`sync_model(Model, mode="full")`); the datasource has no `object_type`.
    """
    if not datasource.object_type:
        raise ConfigurationError(f"{datasource}: an incremental run through the Events API needs object_type")
    oldest = int(time.time() if now is None else now) - EVENTS_KEPT
    if since < oldest:
        raise ConfigurationError(
            f"{datasource}: the cursor ({since}) is older than the 30 days of events Stripe keeps; run a full sync "
            "(sync_model(Model, mode=\"full\")), and keep Incremental.reconcile_interval under 30 days"
        )
    url = f"{datasource.base_url.rstrip('/')}/events"
    query = {"created[gte]": since, "types[]": event_types(datasource.object_type)}

    def fetch(page_url: str, params: Any) -> Page:
        return Page(data=datasource.fetch_url(page_url, params), url=page_url)

    latest: dict[str, dict[str, Any]] = {}
    for _, events in datasource.paginator.walk(fetch, url, query):
        for event in events:
            obj = (event.get("data") or {}).get("object") if isinstance(event, dict) else None
            if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                raise ResponseError(f"{datasource}: event {event.get('id') if isinstance(event, dict) else event!r} has "
                                    "no data.object with an id", datasource=datasource, url=datasource.redact(url))
            if obj.get("object") == datasource.object_type and obj["id"] not in latest:
                latest[obj["id"]] = event  # events come newest first: the first one seen is the latest
    items: list[Any] = []
    for event in sorted(latest.values(), key=lambda e: (e.get("created", 0), e.get("id", ""))):
        obj = event["data"]["object"]
        if event["type"].endswith(".deleted") and datasource.object_type not in ENDED_NOT_DELETED:
            items.append(Deleted(obj["id"]))
            continue
        try:
            record = datasource.deserialize_record(obj, url=datasource.redact(url), record_id=obj["id"])
        except InvalidResourceError as error:
            items.append(error)
            continue
        record.seen_at = event.get("created")
        items.append(record)
    return ChangedRecords(items)
