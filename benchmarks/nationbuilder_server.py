"""A local NationBuilder API v2 (JSON:API) and OAuth token endpoint on 127.0.0.1, for the tests and
`benchmarks/bench_nationbuilder.py`. Built from NationBuilder's public documentation; each behaviour cites its
page, and where the pages are silent this server says what it chose.

- `GET /api/v2/{type}` lists resources: `{"data": [...], "links": {"self", "prev", "next"}}`, 20 a page by
  default; "The next link will always be provided when resources are returned, even if the next page is empty.
  The last page has been reached once the results returned are empty"
  (https://support.nationbuilder.com/en/articles/9757369-nationbuilder-v2-api-core-concepts). `page[size]`
  sets the page size (JSON:API's page family, https://jsonapi.org/format/#fetching-pagination). The pages
  consulted state neither a largest page size nor the form of the `next` link: this server accepts any size
  and numbers its pages with `page[number]` (clients follow the link as given).
- `GET /api/v2/{type}/{id}` answers `{"data": {...}}` (`GET /api/v2/signups/18`,
  https://support.nationbuilder.com/en/articles/9899245-api-v2-walkthrough), 404 with JSON:API `errors`
  for an unknown id (https://jsonapi.org/format/#errors).
- A resource object is `{"id": "18", "type": "signups", "attributes": {...}, "relationships": {...}}` with
  string ids (same walkthrough). A relationship carries `data` (its resource linkage) only when sideloaded with
  `include=`; otherwise it is `{"meta": {"included": false}}`, as NationBuilder's own example answer shows
  (https://support.nationbuilder.com/en/articles/9757369-nationbuilder-v2-api-core-concepts). With `include=`,
  the related resources are also sent in `included` (https://jsonapi.org/format/#document-compound-documents).
- `filter[<attribute>][gte]=<value>` keeps the resources whose attribute is at least the value; `updated_at`
  compares as a time (same core-concepts page, "Greater than or equal to").
- `Authorization: Bearer <token>` (https://support.nationbuilder.com/en/articles/9559128-generating-api-tokens);
  an unknown or expired token is answered 401 (tokens "expire after 24 hours", after which applications
  "will encounter 401s", https://support.nationbuilder.com/en/articles/9869235-access-token-migration-guide).
- `POST /oauth/token` with `{"grant_type": "refresh_token", "refresh_token", "client_id", "client_secret"}`
  (JSON, as https://support.nationbuilder.com/en/articles/9559128-generating-api-tokens shows) answers a new
  access token and a new refresh token ("The new tokens you receive ... will not have the same access token and
  refresh token value", the migration guide above): the answer's fields are OAuth 2's
  (`access_token`, `token_type`, `expires_in`, `refresh_token`; https://www.rfc-editor.org/rfc/rfc6749#section-5.1);
  the old refresh token stops working (the pages consulted do not say whether it does; this server chooses the
  stricter behaviour). A bad grant is answered 400 `invalid_grant` (RFC 6749 section 5.2).
- Rate limit: "250 requests every 10 seconds", a 429 with `retry-after` in seconds
  (https://nationbuilder.com/rate_limit_policy). This server counts every API request (the token endpoint
  aside) in fixed 10-second intervals starting at the first request, as the policy's "per-interval basis"
  reads.

From Python::

    with NationBuilderServer() as server:
        server.tokens["secret-token"] = time.time() + 3600
        server.add("signup_tags", "1", {"name": "volunteer"})
        server.add("signups", "18", {"first_name": "Grace"}, relationships={"signup_tags": [("signup_tags", "1")]})
        server.requests_to("signups")  # the requests received for /api/v2/signups...
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["NationBuilderServer", "Received", "Resource"]

DEFAULT_PAGE_SIZE = 20
RATE_LIMIT_REQUESTS = 250
RATE_LIMIT_SECONDS = 10.0
TOKEN_LIFETIME = 24 * 3600


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Resource:
    """One stored resource: its attributes, and each relationship's linkage as `(type, id)` pairs (a list for a
    to-many relationship, one pair or `None` for a to-one)."""

    type: str
    id: str
    attributes: dict[str, Any]
    relationships: dict[str, Any] = field(default_factory=dict)

    def document(self, include: set[str]) -> dict[str, Any]:
        """The JSON:API resource object, with the linkage of the relationships in `include`."""
        relationships: dict[str, Any] = {}
        for name, linkage in self.relationships.items():
            if name not in include:
                relationships[name] = {"meta": {"included": False}}
            elif isinstance(linkage, list):
                relationships[name] = {"data": [{"type": t, "id": i} for t, i in linkage]}
            else:
                relationships[name] = {"data": None if linkage is None else {"type": linkage[0], "id": linkage[1]}}
        body: dict[str, Any] = {"id": self.id, "type": self.type, "attributes": dict(self.attributes)}
        if relationships:
            body["relationships"] = relationships
        return body


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0


class NationBuilderServer:
    """The server; a context manager that serves in a thread on 127.0.0.1 and a free port."""

    def __init__(self, *, rate_limit: int = RATE_LIMIT_REQUESTS, interval: float = RATE_LIMIT_SECONDS) -> None:
        self.resources: dict[str, dict[str, Resource]] = {}
        self.tokens: dict[str, float] = {}
        """Access tokens accepted, with when each expires (`time.time()`)."""
        self.refresh_tokens: set[str] = set()
        self.clients: dict[str, str] = {}
        """OAuth clients: client id -> client secret."""
        self.received: list[Received] = []
        self.rate_limit = rate_limit
        self.interval = interval
        self.limited = 0
        """429s answered."""
        self._window_start: float | None = None
        self._window_count = 0
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- Data ------------------------------------------------------------------------------------------

    def add(self, type: str, id: str, attributes: dict[str, Any], *, relationships: dict[str, Any] | None = None) -> Resource:
        """Store (or replace) a resource; `created_at`/`updated_at` default to now."""
        now = _now_text()
        attributes = {"created_at": now, "updated_at": now, **attributes}
        resource = Resource(type, str(id), attributes, dict(relationships or {}))
        with self.lock:
            self.resources.setdefault(type, {})[str(id)] = resource
        return resource

    def change(self, type: str, id: str, **attributes: Any) -> None:
        """Change attributes of a stored resource, moving its `updated_at` to now."""
        with self.lock:
            resource = self.resources[type][str(id)]
            resource.attributes.update(attributes, updated_at=_now_text())

    def delete(self, type: str, id: str) -> None:
        """Remove a resource."""
        with self.lock:
            del self.resources[type][str(id)]

    def requests_to(self, type: str) -> list[Received]:
        """The requests received for `/api/v2/{type}` and its resources."""
        prefix = f"/api/v2/{type}"
        return [r for r in self.received if r.path == prefix or r.path.startswith(prefix + "/")]

    def issue_token(self, lifetime: float = TOKEN_LIFETIME) -> str:
        """A new access token accepted for `lifetime` seconds."""
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.time() + lifetime
        return token

    # --- Serving ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> NationBuilderServer:
        server = self

        class Handler(_Handler):
            state = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._httpd is not None and self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def _over_limit(self) -> float | None:
        """Count one request; the seconds until the interval resets when it is over the limit."""
        with self.lock:
            now = time.monotonic()
            if self._window_start is None or now - self._window_start >= self.interval:
                self._window_start, self._window_count = now, 0
            self._window_count += 1
            if self._window_count > self.rate_limit:
                self.limited += 1
                return self.interval - (now - self._window_start)
            return None


class _Handler(BaseHTTPRequestHandler):
    state: NationBuilderServer
    protocol_version = "HTTP/1.1"
    # See PITFALLS.md: without it, keep-alive requests stall ~40 ms each.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.api+json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self._received.status = status

    def _error(self, status: int, title: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"errors": [{"status": str(status), "title": title}]}, headers)

    def _record(self, method: str) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = parse_qs(parts.query, keep_blank_values=True)
        self._received = Received(method, parts.path, query, {k.lower(): v for k, v in self.headers.items()}, body)
        with self.state.lock:
            self.state.received.append(self._received)
        return parts.path, query

    def do_POST(self) -> None:
        path, _ = self._record("POST")
        if path != "/oauth/token":
            self._error(404, "Not found")
            return
        try:
            grant = json.loads(self._received.body or b"{}")
        except ValueError:
            self._send(400, {"error": "invalid_request"})
            return
        state = self.state
        with state.lock:
            client_ok = state.clients.get(str(grant.get("client_id"))) == grant.get("client_secret")
            known = grant.get("refresh_token") in state.refresh_tokens
            if grant.get("grant_type") != "refresh_token" or not client_ok or not known:
                self._send(400, {"error": "invalid_grant"})
                return
            state.refresh_tokens.discard(grant["refresh_token"])
            refresh = secrets.token_urlsafe(24)
            state.refresh_tokens.add(refresh)
        access = state.issue_token()
        self._send(200, {"access_token": access, "token_type": "bearer", "expires_in": TOKEN_LIFETIME, "refresh_token": refresh})

    def do_GET(self) -> None:
        path, query = self._record("GET")
        state = self.state
        wait = state._over_limit()
        if wait is not None:
            self._error(429, "Too many requests", {"Retry-After": str(max(1, int(wait + 0.999)))})
            return
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if not token or state.tokens.get(token, 0) < time.time():
            self._error(401, "Unauthorized")
            return
        parts = path.strip("/").split("/")
        if len(parts) < 3 or parts[:2] != ["api", "v2"] or len(parts) > 4:
            self._error(404, "Not found")
            return
        type_ = parts[2]
        include = {name for value in query.get("include", []) for name in value.split(",") if name}
        with state.lock:
            table = dict(state.resources.get(type_, {}))
        if len(parts) == 4:
            resource = table.get(parts[3])
            if resource is None:
                self._error(404, "Not found")
                return
            self._send(200, {"data": resource.document(include), **self._included([resource], include)})
            return
        self._list(path, query, table, include)

    def _included(self, resources: list[Resource], include: set[str]) -> dict[str, Any]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        with self.state.lock:
            for resource in resources:
                for name in include:
                    linkage = resource.relationships.get(name)
                    pairs = linkage if isinstance(linkage, list) else [linkage] if linkage else []
                    for type_, id_ in pairs:
                        related = self.state.resources.get(type_, {}).get(id_)
                        if related is not None:
                            found[(type_, id_)] = related.document(set())
        return {"included": list(found.values())} if include else {}

    def _list(self, path: str, query: dict[str, list[str]], table: dict[str, Resource], include: set[str]) -> None:
        try:
            size = int(query.get("page[size]", [DEFAULT_PAGE_SIZE])[0])
            number = int(query.get("page[number]", ["1"])[0])
        except ValueError:
            self._error(400, "Bad page parameter")
            return
        resources = sorted(table.values(), key=lambda r: int(r.id) if r.id.isdigit() else r.id)
        for name, values in query.items():
            if name.startswith("filter[") and name.endswith("][gte]"):
                attribute = name[len("filter[") : -len("][gte]")]
                bound = values[0]
                if attribute.endswith("_at"):
                    resources = [r for r in resources if r.attributes.get(attribute) and _time(r.attributes[attribute]) >= _time(bound)]
                else:
                    resources = [r for r in resources if r.attributes.get(attribute) is not None and r.attributes[attribute] >= type(r.attributes[attribute])(bound)]
        page = resources[(number - 1) * size : number * size]
        flat = {k: v[0] for k, v in query.items()}

        def link(n: int) -> str:
            return f"{path}?{urlencode({**flat, 'page[number]': n, 'page[size]': size})}"

        links: dict[str, Any] = {"self": link(number), "prev": link(number - 1) if number > 1 else None}
        links["next"] = link(number + 1) if page else None
        body = {"data": [r.document(include) for r in page], "links": links, **self._included(page, include)}
        self._send(200, body)
