"""A local Stripe API (list, retrieve and the Events API) on 127.0.0.1, for the tests and
`benchmarks/bench_stripe.py`. Built from Stripe's public documentation; each behaviour cites its page.

- Authentication: `Authorization: Bearer <secret key>`; a missing or unknown key answers 401
  (https://docs.stripe.com/api/authentication, https://docs.stripe.com/api/errors: 401 "No valid API key
  provided").
- Versioning: the `Stripe-Version` header of each request is recorded (https://docs.stripe.com/api/versioning).
- Listing: `GET /v1/{objects}` answers `{"object": "list", "url", "has_more", "data"}`, objects newest first
  ("in reverse chronological order"); `limit` between 1 and 100, default 10 (anything else: 400);
  `starting_after` is an object id, the page starts after it (https://docs.stripe.com/api/pagination). An
  unknown `starting_after` answers 400 (`resource_missing`, https://docs.stripe.com/error-codes#resource-missing).
  Deleted objects are not listed.
- Retrieving: `GET /v1/{objects}/{id}` answers the object, 404 `resource_missing` for an unknown id, and for a
  deleted customer or product the stub `{"id", "object", "deleted": true}` with 200
  (https://docs.stripe.com/api/customers/delete, https://docs.stripe.com/api/products/delete).
- Expanding: `expand[]=customer` on a retrieve, `expand[]=data.customer` on a list, replaces the id with the
  object, or with the deleted stub (https://docs.stripe.com/expand, https://docs.stripe.com/api/expanding_objects).
- Events: `GET /v1/events` lists events newest first, paged the same way, filtered by `created[gte]`,
  `created[gt]`, `created[lte]`, `created[lt]` (Unix seconds), `type` (one type, or a group with `*`:
  `customer.*`) and `types[]` (https://docs.stripe.com/api/events/list); an event is
  `{"id": "evt_…", "object": "event", "type", "created", "data": {"object": ...}}`
  (https://docs.stripe.com/api/events/object). Events older than 30 days are not listed ("List events, going
  back up to 30 days").
- Rate limit: `rate_limit` requests a second per endpoint (25 by default: Stripe's default per endpoint, and its
  whole limit in a sandbox), counted with a token bucket holding a second's worth, as Stripe's own limiter does
  ("we use the token bucket algorithm", https://stripe.com/blog/rate-limiters); a request finding the bucket
  empty answers 429 with the error code `rate_limit` (https://docs.stripe.com/rate-limits,
  https://docs.stripe.com/error-codes#rate-limit). No `Retry-After`: the docs promise none.
- Errors are `{"error": {"type", "code", "message"}}` (https://docs.stripe.com/api/errors).

From Python::

    with StripeServer() as server:
        server.api_keys.add("sk_test_123")
        server.add("customer", {"id": "cus_1", "email": "ann@example.org"})
        server.update("customer", "cus_1", email="ann@example.com")   # and a customer.updated event
        server.delete("customer", "cus_1")                           # and a customer.deleted event
        server.requests_to("/v1/customers")
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["ENDPOINTS", "EVENT_PREFIXES", "Received", "StripeServer"]

ENDPOINTS = {
    "customer": "customers",
    "product": "products",
    "price": "prices",
    "subscription": "subscriptions",
    "invoice": "invoices",
    "payment_intent": "payment_intents",
    "charge": "charges",
}
"""The endpoint of each object type (https://docs.stripe.com/api)."""

EVENT_PREFIXES = {"subscription": "customer.subscription"}
"""Event types name a subscription `customer.subscription.*` (https://docs.stripe.com/api/events/types); the
others by their object type."""

# The objects whose deletion leaves a stub (https://docs.stripe.com/api/customers/delete,
# https://docs.stripe.com/api/products/delete).
_STUBBED = {"customer", "product"}
_EXPANDABLE = {"customer", "product"}
EVENTS_KEPT = 30 * 24 * 3600


@dataclass
class Received:
    """One request as the server saw it."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int = 0


@dataclass
class _State:
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {t: {} for t in ENDPOINTS})
    order: dict[str, list[str]] = field(default_factory=lambda: {t: [] for t in ENDPOINTS})
    deleted: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {t: {} for t in ENDPOINTS})
    events: list[dict[str, Any]] = field(default_factory=list)
    api_keys: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    buckets: dict[str, list[float]] = field(default_factory=dict)
    rate_limit: int = 25
    clock: float | None = None
    monotonic: Any = time.monotonic
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> int:
        return int(self.clock if self.clock is not None else time.time())


def _error(status: int, code: str, message: str, kind: str = "invalid_request_error") -> tuple[int, Any]:
    return status, {"error": {"type": kind, "code": code, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, keep-alive requests stall ~40 ms each.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        state = self.server.state
        received = Received(parts.path, query, dict(self.headers.items()))
        with state.lock:
            state.received.append(received)
            status, answer = _answer(state, parts.path, query, self.headers.get("Authorization", ""))
        received.status = status
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State


def _answer(state: _State, path: str, query: dict[str, list[str]], authorization: str) -> tuple[int, Any]:
    scheme, _, key = authorization.partition(" ")
    if scheme != "Bearer" or key not in state.api_keys:
        return _error(401, "api_key_invalid", "Invalid API Key provided.")
    segments = path.strip("/").split("/")
    if not segments or segments[0] != "v1" or len(segments) not in (2, 3):
        return _error(404, "resource_missing", f"Unrecognized request URL (GET: {path}).")
    endpoint = "/".join(segments[:2])
    if not _allowed(state, endpoint):
        return _error(429, "rate_limit", "Too many requests hit the API too quickly.")
    expand = query.get("expand[]", [])
    if segments[1] == "events":
        if len(segments) == 3:
            found = next((e for e in state.events if e["id"] == segments[2]), None)
            return (200, found) if found else _error(404, "resource_missing", f"No such event: '{segments[2]}'")
        return _list(state, path, query, _events(state, query), [])
    object_type = next((t for t, name in ENDPOINTS.items() if name == segments[1]), None)
    if object_type is None:
        return _error(404, "resource_missing", f"Unrecognized request URL (GET: {path}).")
    if len(segments) == 3:
        oid = segments[2]
        if oid in state.objects[object_type]:
            return 200, _expanded(state, state.objects[object_type][oid], expand)
        if oid in state.deleted[object_type]:
            return 200, state.deleted[object_type][oid]
        return _error(404, "resource_missing", f"No such {object_type}: '{oid}'")
    items = [state.objects[object_type][oid] for oid in reversed(state.order[object_type]) if oid in state.objects[object_type]]
    lists = [name[len("data."):] for name in expand if name.startswith("data.")]
    return _list(state, path, query, items, lists)


def _allowed(state: _State, endpoint: str) -> bool:
    now = state.monotonic()
    bucket = state.buckets.setdefault(endpoint, [float(state.rate_limit), now])  # [tokens, last refill]
    bucket[0] = min(float(state.rate_limit), bucket[0] + (now - bucket[1]) * state.rate_limit)
    bucket[1] = now
    if bucket[0] < 1.0:
        return False
    bucket[0] -= 1.0
    return True


def _list(state: _State, path: str, query: dict[str, list[str]], items: list[dict[str, Any]], expand: list[str]) -> tuple[int, Any]:
    try:
        limit = int(query.get("limit", ["10"])[0])
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        return _error(400, "parameter_invalid_integer", "This value must be between 1 and 100 (limit).")
    start = 0
    after = query.get("starting_after", [None])[0]
    if after is not None:
        index = next((i for i, item in enumerate(items) if item["id"] == after), None)
        if index is None:
            return _error(400, "resource_missing", f"No such object: '{after}'")
        start = index + 1
    page = items[start : start + limit]
    return 200, {
        "object": "list",
        "url": path,
        "has_more": start + limit < len(items),
        "data": [_expanded(state, item, expand) for item in page],
    }


def _expanded(state: _State, item: dict[str, Any], expand: list[str]) -> dict[str, Any]:
    if not expand:
        return item
    copy = dict(item)
    for name in expand:
        value = copy.get(name)
        if name in _EXPANDABLE and isinstance(value, str):
            copy[name] = state.objects[name].get(value) or state.deleted[name].get(value) or value
    return copy


def _events(state: _State, query: dict[str, list[str]]) -> list[dict[str, Any]]:
    oldest = state.now() - EVENTS_KEPT
    found = [e for e in reversed(state.events) if e["created"] >= oldest]
    bounds = {"gte": lambda c, v: c >= v, "gt": lambda c, v: c > v, "lte": lambda c, v: c <= v, "lt": lambda c, v: c < v}
    for op, test in bounds.items():
        if f"created[{op}]" in query:
            value = int(query[f"created[{op}]"][0])
            found = [e for e in found if test(e["created"], value)]
    patterns = query.get("types[]", []) + query.get("type", [])
    if patterns:
        found = [e for e in found if any(fnmatch.fnmatchcase(e["type"], p) for p in patterns)]
    return found


class StripeServer:
    """The local Stripe API, serving on a free port of 127.0.0.1 until `close()`."""

    def __init__(self, *, rate_limit: int = 25, monotonic: Any = time.monotonic) -> None:
        """Serve with `rate_limit` requests a second per endpoint; `monotonic` is the rate limiter's clock
        (seconds; tests pass a fake one)."""
        self.state = _State(rate_limit=rate_limit, monotonic=monotonic)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, name="stripe-server", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`; a datasource's `base_url` is this plus `/v1`."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_keys(self) -> set[str]:
        """The secret keys accepted."""
        return self.state.api_keys

    def set_clock(self, now: float | None) -> None:
        """Stamp new objects and events with `now` (Unix seconds); `None`: the real time."""
        self.state.clock = now

    def add(self, object_type: str, data: dict[str, Any], *, event: bool = True) -> dict[str, Any]:
        """Create an object (the newest of its type), with an `<type>.created` event unless `event` is false."""
        with self.state.lock:
            obj = {"object": object_type, "created": self.state.now(), "livemode": False, "metadata": {}, **data}
            self.state.objects[object_type][obj["id"]] = obj
            self.state.order[object_type].append(obj["id"])
            if event:
                self._event(object_type, "created", obj)
            return obj

    def update(self, object_type: str, oid: str, **changes: Any) -> dict[str, Any]:
        """Change an object, with an `<type>.updated` event."""
        with self.state.lock:
            obj = self.state.objects[object_type][oid]
            obj.update(changes)
            self._event(object_type, "updated", obj)
            return obj

    def delete(self, object_type: str, oid: str) -> None:
        """Delete an object, with a `<type>.deleted` event; a customer or product leaves its stub."""
        with self.state.lock:
            obj = self.state.objects[object_type].pop(oid)
            if object_type in _STUBBED:
                self.state.deleted[object_type][oid] = {"id": oid, "object": object_type, "deleted": True}
            self._event(object_type, "deleted", obj)

    def _event(self, object_type: str, action: str, obj: dict[str, Any]) -> None:
        number = next(self.state.ids)
        self.state.events.append({
            "id": f"evt_{number:08d}",
            "object": "event",
            "type": f"{EVENT_PREFIXES.get(object_type, object_type)}.{action}",
            "created": self.state.now(),
            "livemode": False,
            "data": {"object": json.loads(json.dumps(obj))},
        })

    def requests_to(self, path: str) -> list[Received]:
        """The requests received whose path starts with `path` (`"/v1/customers"`), in order."""
        with self.state.lock:
            return [r for r in self.state.received if r.path.startswith(path)]

    def reset_counts(self) -> None:
        """Forget the requests received so far."""
        with self.state.lock:
            self.state.received.clear()

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StripeServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
