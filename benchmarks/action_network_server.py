"""A local Action Network API v2 on 127.0.0.1, for the tests and `benchmarks/bench_action_network.py`. Built
from Action Network's public documentation; each behaviour cites its page.

- The API is under `/api/v2/`, one collection per resource type, a resource at `/api/v2/{collection}/{id}`, its id
  being its `action_network:` identifier without the prefix (https://actionnetwork.org/docs/v2/aep,
  https://actionnetwork.org/docs/v2/people). Taggings, signatures, submissions and attendances live under their
  parent: `/tags/{tag_id}/taggings` (https://actionnetwork.org/docs/v2/taggings), `/petitions/{id}/signatures`
  (https://actionnetwork.org/docs/v2/signatures), `/forms/{id}/submissions`
  (https://actionnetwork.org/docs/v2/submissions), `/events/{id}/attendances`
  (https://actionnetwork.org/docs/v2/attendances); donations also at `/donations`
  (https://actionnetwork.org/docs/v2/donations).
- A resource has `identifiers`, `created_date`, `modified_date` and `_links` (`self`, and e.g. a tagging's
  `osdi:person` and `osdi:tag`, https://actionnetwork.org/docs/v2/taggings).
- The API key comes in the `OSDI-API-Token` header ("Authentication", https://actionnetwork.org/docs/v2/); a
  request without an accepted key is refused with 403 (the status is this server's choice: the page says a key
  "is required" but not how a refusal answers).
- A collection answers at most 25 resources a page (`max_page_size`, https://actionnetwork.org/docs/v2/aep)
  under `_embedded["osdi:{collection}"]`, with `page`, `per_page`, `total_pages` and `_links.next.href` pointing
  at `?page=N+1` ("Paging and Navigation", https://actionnetwork.org/docs/v2/). The people collection has no
  `total_pages` or `total_records`; a next link is present on the last page but not on a page past it, which
  answers no resources (the changes of September 2, 2016, https://actionnetwork.org/docs).
- `filter=modified_date gt '2014-03-25'` (also `lt`, `eq`, and `created_date`) filters a collection with OData
  ("Searching and filtering (OData)", https://actionnetwork.org/docs/v2/); a date without a time is midnight UTC.
- At most 4 requests a second per API key ("API calls are limited to 4 requests per second",
  https://actionnetwork.org/docs/v2/): a fifth request within one second answers 429 Too Many Requests
  (RFC 6585's status; the page does not say which status it uses).

From Python::

    with ActionNetworkServer() as server:
        server.api_keys.add("test-key")
        tag = server.add("tags", {"name": "volunteer"})
        person = server.add("people", {"given_name": "Ann"})
        server.add("taggings", {}, parent=("tags", tag), links={"osdi:person": ("people", person)})
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["ActionNetworkServer", "Received"]

PAGE_SIZE = 25
RATE = 4  # requests a second per key
_FILTER = re.compile(r"^\s*(modified_date|created_date)\s+(gt|lt|eq)\s+'([^']+)'\s*$")
# What each child collection's parent link is called (the pages cited in the module docstring).
_PARENT_LINK = {"tags": "osdi:tag", "events": "osdi:event", "forms": "osdi:form", "petitions": "osdi:petition",
                "fundraising_pages": "osdi:fundraising_page"}


@dataclass
class Received:
    """One request the server received."""

    path: str
    query: dict[str, list[str]]
    token: str | None
    status: int


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    api_keys: set[str] = field(default_factory=set)
    # (parent collection, parent id) or None -> collection -> id -> resource
    collections: dict[tuple[Any, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    windows: dict[str, deque[float]] = field(default_factory=dict)
    rate: int = RATE
    clock: Any = time.monotonic


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_date(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # see PITFALLS: keep-alive with Nagle stalls ~40 ms a request
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        token = self.headers.get("OSDI-API-Token")
        status, body = self._answer(state, parts.path, query, token)
        with state.lock:
            state.received.append(Received(parts.path, query, token, status))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/hal+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, state: _State, path: str, query: dict[str, list[str]], token: str | None) -> tuple[int, Any]:
        if token is None or token not in state.api_keys:
            return 403, {"error": "API Key invalid or not present"}
        with state.lock:
            window = state.windows.setdefault(token, deque())
            now = state.clock()
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= state.rate:
                return 429, {"error": "You have exceeded your rate limit"}
            window.append(now)
        segments = [s for s in path.split("/") if s]
        if segments[:2] != ["api", "v2"] or len(segments) < 3:
            return 404, {"error": "Not found"}
        rest = segments[2:]
        base = self.server.url + "/api/v2"
        with state.lock:
            if len(rest) in (1, 2):
                parent, collection = None, rest[0]
            else:
                parent, collection = (rest[0], rest[1]), rest[2]
            records = state.collections.get((parent, collection))
            if len(rest) in (2, 4):
                record = (records or {}).get(rest[-1])
                return (200, record) if record is not None else (404, {"error": "Not found"})
            if records is None and parent is not None:
                if rest[1] not in state.collections.get((None, rest[0]), {}):
                    return 404, {"error": "Not found"}
            items = list((records or {}).values())
        for expression in query.get("filter", []):
            match = _FILTER.match(expression)
            if not match:
                return 400, {"error": f"Unsupported filter: {expression}"}
            name, op, text = match.groups()
            bound = _parse_date(text)
            if bound is None:
                return 400, {"error": f"Not a date: {text}"}
            compare = {"gt": lambda v: v > bound, "lt": lambda v: v < bound, "eq": lambda v: v == bound}[op]
            items = [item for item in items if compare(_parse_date(item[name]))]
        try:
            page = max(1, int(query.get("page", ["1"])[0]))
        except ValueError:
            page = 1
        chunk = items[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        total_pages = max(1, -(-len(items) // PAGE_SIZE))
        listing = "/".join(rest)
        self_url = f"{base}/{listing}?page={page}"
        links: dict[str, Any] = {"self": {"href": self_url}}
        if chunk:
            nxt = [f"page={page + 1}"] + [f"filter={f}" for f in query.get("filter", [])]
            links["next"] = {"href": f"{base}/{listing}?{'&'.join(nxt)}"}
        body: dict[str, Any] = {"per_page": PAGE_SIZE, "page": page, "_links": links,
                                "_embedded": {f"osdi:{collection}": chunk}}
        if collection != "people":
            body["total_pages"] = total_pages
            body["total_records"] = len(items)
        return 200, body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State
    url: str


class ActionNetworkServer:
    """The local Action Network API, serving on a free port of 127.0.0.1 until `close()`."""

    def __init__(self, *, rate: int = RATE) -> None:
        self.state = _State(rate=rate)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._server.url = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, name="action-network-server", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`; the datasources' `base_url` is this plus `/api/v2`."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_keys(self) -> set[str]:
        """The API keys accepted."""
        return self.state.api_keys

    def href(self, collection: str, record_id: str, parent: tuple[str, str] | None = None) -> str:
        """The URL of a resource, as its links give it."""
        prefix = f"{parent[0]}/{parent[1]}/" if parent else ""
        return f"{self.url}/api/v2/{prefix}{collection}/{record_id}"

    def add(
        self,
        collection: str,
        fields: dict[str, Any],
        *,
        parent: tuple[str, str] | None = None,
        links: dict[str, tuple[str, str]] | None = None,
        record_id: str | None = None,
        identifiers: list[str] | None = None,
        modified: str | None = None,
    ) -> str:
        """Add a resource to `collection` (under `parent`, `(collection, id)`, for a child collection) and return
        its id. `links` maps link names to `(collection, id)`; the parent's link is added; `identifiers` are
        put before Action Network's own."""
        record_id = record_id or str(uuid.uuid4())
        stamp = modified or _now()
        resource: dict[str, Any] = {
            "identifiers": [*(identifiers or []), f"action_network:{record_id}"],
            "created_date": stamp,
            "modified_date": stamp,
            **fields,
            "_links": {"self": {"href": self.href(collection, record_id, parent)}},
        }
        if parent is not None and parent[0] in _PARENT_LINK:
            resource["_links"][_PARENT_LINK[parent[0]]] = {"href": self.href(parent[0], parent[1])}
        for name, (target, target_id) in (links or {}).items():
            resource["_links"][name] = {"href": self.href(target, target_id)}
        with self.state.lock:
            self.state.collections.setdefault((parent, collection), {})[record_id] = resource
        return record_id

    def update(self, collection: str, record_id: str, fields: dict[str, Any], *, parent: tuple[str, str] | None = None,
               modified: str | None = None) -> None:
        """Change a resource's fields; its `modified_date` becomes now (or `modified`)."""
        with self.state.lock:
            resource = self.state.collections[(parent, collection)][record_id]
            resource.update(fields)
            resource["modified_date"] = modified or _now()

    def remove(self, collection: str, record_id: str, *, parent: tuple[str, str] | None = None) -> None:
        """Delete a resource."""
        with self.state.lock:
            del self.state.collections[(parent, collection)][record_id]

    def received(self) -> list[Received]:
        """The requests received, in order."""
        with self.state.lock:
            return list(self.state.received)

    def reset_counts(self) -> None:
        """Forget the requests received so far."""
        with self.state.lock:
            self.state.received.clear()

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ActionNetworkServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
