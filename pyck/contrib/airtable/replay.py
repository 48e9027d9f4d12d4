"""A local server that answers like Airtable's Web API, for tests, demonstrations and benchmarks.

```python
from pyck.contrib.airtable.replay import AirtableServer

with AirtableServer(token="patTEST") as server:
    server.add_table("appA1b2C3d4E5f6G7", "Active Members", [{"Name": "Ada"}, {"Name": "Grace"}])
    people = AirtableDatasource(resource_type=Person, base_id="appA1b2C3d4E5f6G7",
                                table_name="Active Members", api_key="patTEST", base_url=server.base_url)
```

It serves only what Airtable documents, each behaviour from the page cited:

- `GET /v0/{base}/{table}` ([list records](https://airtable.com/developers/web/api/list-records)): the table by
  name or id; `pageSize` (default 100, at most 100: a larger one is refused with a 422, the server's choice, as
  the docs do not say what Airtable does); `offset`, the token the previous page returned, and absent from the
  last page; `returnFieldsByFieldId` (cells keyed by field id); `filterByFormula`, of which only the formula
  `AirtableDatasource.list_changed` sends is understood (`IS_AFTER(LAST_MODIFIED_TIME(), '<ISO 8601>')`; any other
  is answered 422 `INVALID_FILTER_BY_FORMULA`). Empty cells are left out of `fields`. An offset handed out
  before `expire_offsets()` is answered 422 `LIST_RECORDS_ITERATOR_NOT_AVAILABLE` ("Iteration may timeout due
  to client inactivity or server restarts"); one never handed out, 422 `INVALID_OFFSET_VALUE`.
- `GET /v0/{base}/{table}/{record id}` ([get record](https://airtable.com/developers/web/api/get-record)), also
  with `returnFieldsByFieldId`; 404 `{"error": "NOT_FOUND"}` for a record not in the table.
- Authentication ([authentication](https://airtable.com/developers/web/api/authentication)): every request must
  carry `Authorization: Bearer <token>`; otherwise 401 `AUTHENTICATION_REQUIRED`.
- Rate limit ([rate limits](https://airtable.com/developers/web/api/rate-limits)): "5 requests per second per
  base. If you exceed this rate, you will receive a 429 status code and will need to wait 30 seconds before
  subsequent requests will succeed." A request arriving when 5 requests to its base arrived in the second
  before it is answered 429 (no `Retry-After`), and so is every request to that base for the next 30 s.
  Every table of a base shares the count.

Webhooks (`add_webhook`), each behaviour from the page cited:

- A webhook watches one base; `put` and `delete` then record a payload per change
  ([webhooks payload](https://airtable.com/developers/web/api/model/webhooks-payload)): `timestamp`,
  `baseTransactionNumber`, `payloadFormat` `"v0"` and `changedTablesById`, whose table holds
  `createdRecordsById` (`createdTime`, `cellValuesByFieldId`), `changedRecordsById` (`current.cellValuesByFieldId`:
  the changed cells only) or `destroyedRecordIds`.
- `notification(webhook_id)` is the ping Airtable POSTs
  ([webhooks overview](https://airtable.com/developers/web/api/webhooks-overview)):
  `{"base": {"id": …}, "webhook": {"id": …}, "timestamp": …}`, with `X-Airtable-Content-MAC: hmac-sha256=<hex>`,
  the HMAC-SHA256 of the body under the base64-decoded `macSecretBase64` that `add_webhook` returns once
  ([create a webhook](https://airtable.com/developers/web/api/create-a-webhook)).
- `GET /v0/bases/{base}/webhooks/{id}/payloads` ([list webhook payloads](https://airtable.com/developers/web/api/list-webhook-payloads)):
  `cursor` (default 1: the transaction number to start from) and `limit` (at most 50); the answer is
  `{"payloads": [...], "cursor": <the number after the last payload>, "mightHaveMore": …}`, the same cursor
  when there is none. It extends the webhook's life to 7 days from the call.
- `GET /v0/meta/bases/{base}/tables` ([get base schema](https://airtable.com/developers/web/api/get-base-schema)):
  `{"tables": [{"id", "name", "fields": [{"id", "name"}], "views": []}]}` (no field types, no views: the
  server does not know them).
- `POST /v0/bases/{base}/webhooks/{id}/refresh` ([refresh a webhook](https://airtable.com/developers/web/api/refresh-a-webhook)):
  `{"expirationTime": <7 days from now>}`.

Every request is recorded (`requests`), with the 429s it answered (`rejected`), so that tests count rather
than time. It listens on the loopback interface only. `clock` (seconds, monotonic) can be a fake one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["AirtableServer", "Table", "Webhook", "field_id_for"]

RATE = 5
"""Requests per second per base."""
PENALTY = 30.0
"""Seconds of 429 answers after the rate was exceeded."""
MAX_PAGE_SIZE = 100
MAX_PAYLOADS = 50
"""The most payloads one listing returns (https://airtable.com/developers/web/api/list-webhook-payloads)."""
WEBHOOK_LIFE = timedelta(days=7)
"""A webhook expires 7 days after its creation, last refresh or payload listing."""

_MODIFIED_SINCE = re.compile(r"IS_AFTER\(LAST_MODIFIED_TIME\(\), '([^']+)'\)")
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


def field_id_for(table: str, column: str) -> str:
    """The field id the server gives `column` of `table` (unless `Table.field_ids` names one): `fld` and 14
    letters or digits derived from the names, stable across runs."""
    digest = hashlib.sha256(f"{table}\0{column}".encode()).hexdigest()
    return "fld" + "".join(c.upper() if i % 2 else c for i, c in enumerate(digest[:14]))


@dataclass
class Table:
    """One table: its records, in order, as Airtable stores them (`id`, `createdTime`, `fields`), and when each
    was last modified (for `LAST_MODIFIED_TIME()`)."""

    base_id: str
    name: str
    id: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    modified: dict[str, datetime] = field(default_factory=dict)
    field_ids: dict[str, str] = field(default_factory=dict)
    """Column name -> field id; a column not in it gets `field_id_for(name, column)`."""

    def field_id(self, column: str) -> str:
        """The field id of `column`."""
        return self.field_ids.get(column) or field_id_for(self.name, column)

    def shown(self, record: Mapping[str, Any], by_field_id: bool) -> dict[str, Any]:
        """`record` as the API sends it: empty cells left out, keyed by name or by field id."""
        cells = {
            (self.field_id(name) if by_field_id else name): value
            for name, value in record["fields"].items()
            if value not in ("", [], False, None, {})
        }
        return {"id": record["id"], "createdTime": record["createdTime"], "fields": cells}


@dataclass
class Webhook:
    """One webhook of a base: its MAC secret, its payloads (payload `n` has transaction number `n`, from 1),
    its expiration time and how often it was refreshed."""

    base_id: str
    id: str
    mac_secret_base64: str
    expiration: datetime
    payloads: list[dict[str, Any]] = field(default_factory=list)
    refreshed: int = 0


@dataclass
class _Iterator:
    table: Table
    ids: list[str]
    position: int
    generation: int


class AirtableServer:
    """The server, in a background thread. Use it as a context manager, or `start()` and `close()`.

    Args:
        token: the personal access token every request must carry as `Authorization: Bearer <token>`.
        port: the TCP port; 0 lets the system pick a free one (see `base_url`).
        host: the address to listen on: loopback only.
        rate: requests per second per base; `None` turns the rate limit off.
        penalty: seconds of 429 answers after the rate was exceeded.
        clock: monotonic seconds, for the rate limit (tests pass a fake one).
    """

    def __init__(
        self,
        token: str = "patREPLAY",
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        rate: int | None = RATE,
        penalty: float = PENALTY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if host != "localhost" and not ip_address(host).is_loopback:
            raise ValueError(f"AirtableServer listens on the loopback interface only, not {host!r}")
        self.token = token
        self.rate = rate
        self.penalty = penalty
        self.clock = clock
        self.tables: dict[tuple[str, str], Table] = {}
        self.requests: list[tuple[float, str, str, dict[str, str]]] = []
        """Every request: `(clock(), base id, path, query)`."""
        self.rejected: dict[str, int] = {}
        """The 429s answered, per base."""
        self._lock = threading.Lock()
        self._arrivals: dict[str, deque[float]] = {}
        self._penalised_until: dict[str, float] = {}
        self._iterators: dict[str, _Iterator] = {}
        self._failures: list[list[Any]] = []
        self._generation = 0
        self._next_id = 0
        self.webhooks: dict[str, Webhook] = {}
        handler = type("_BoundHandler", (_Handler,), {"server_state": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- Data ----------------------------------------------------------------------------------------------

    def add_table(
        self,
        base_id: str,
        name: str,
        rows: Iterable[Mapping[str, Any]] = (),
        *,
        table_id: str | None = None,
        field_ids: Mapping[str, str] | None = None,
    ) -> Table:
        """Create the table `name` in base `base_id` holding `rows` (each a mapping of column name to value;
        `"id"` in a row sets its record id, else one is made up). Returns the table."""
        table_id = table_id or "tbl" + field_id_for(base_id, name)[3:]
        table = Table(base_id=base_id, name=name, id=table_id, field_ids=dict(field_ids or {}))
        with self._lock:
            self.tables[(base_id, name)] = table
            self.tables[(base_id, table_id)] = table
        for row in rows:
            self.put(table, row)
        return table

    def put(self, table: Table, row: Mapping[str, Any], *, modified: datetime | None = None) -> str:
        """Create or replace a record of `table` from `row` (columns; `"id"` names the record); it counts as
        modified at `modified` (default: now, by the wall clock). Returns the record id."""
        cells = {k: v for k, v in row.items() if k != "id"}
        with self._lock:
            record_id = row.get("id")
            if record_id is None:
                self._next_id += 1
                record_id = f"rec{self._next_id:014d}"
            existing = table.records.get(record_id)
            created = existing["createdTime"] if existing else _iso(_EPOCH + timedelta(seconds=self._next_id))
            table.records[record_id] = {"id": record_id, "createdTime": created, "fields": cells}
            table.modified[record_id] = modified or datetime.now(timezone.utc)
            if existing is None:
                values = {table.field_id(k): v for k, v in cells.items()}
                self._record_payload(table, {"createdRecordsById": {
                    record_id: {"createdTime": created, "cellValuesByFieldId": values}}})
            else:
                values = {table.field_id(k): v for k, v in cells.items() if existing["fields"].get(k) != v}
                if values:
                    self._record_payload(table, {"changedRecordsById": {
                        record_id: {"current": {"cellValuesByFieldId": values}}}})
        return record_id

    def delete(self, table: Table, record_id: str) -> None:
        """Delete a record of `table`."""
        with self._lock:
            if table.records.pop(record_id, None) is not None:
                self._record_payload(table, {"destroyedRecordIds": [record_id]})
            table.modified.pop(record_id, None)

    def add_webhook(self, base_id: str, webhook_id: str | None = None) -> dict[str, Any]:
        """Create a webhook watching the records of base `base_id`; return what create-a-webhook answers:
        `{"id", "macSecretBase64", "expirationTime"}` (the only time the secret is shown)."""
        with self._lock:
            webhook_id = webhook_id or f"ach{len(self.webhooks) + 1:014d}"
            secret = base64.b64encode(secrets.token_bytes(32)).decode()
            hook = Webhook(base_id, webhook_id, secret, datetime.now(timezone.utc) + WEBHOOK_LIFE)
            self.webhooks[webhook_id] = hook
        return {"id": webhook_id, "macSecretBase64": secret, "expirationTime": _iso(hook.expiration)}

    def notification(self, webhook_id: str, *, secret: str | None = None) -> tuple[bytes, dict[str, str]]:
        """The ping Airtable POSTs for `webhook_id` now: its body and its `X-Airtable-Content-MAC` header, signed
        with the webhook's secret (or with `secret`, base64, to forge a bad one)."""
        hook = self.webhooks[webhook_id]
        body = json.dumps({"base": {"id": hook.base_id}, "webhook": {"id": hook.id},
                           "timestamp": _iso(datetime.now(timezone.utc))}).encode()
        key = base64.b64decode(secret or hook.mac_secret_base64)
        mac = hmac.new(key, body, hashlib.sha256).hexdigest()
        return body, {"X-Airtable-Content-MAC": f"hmac-sha256={mac}"}

    def _record_payload(self, table: Table, change: dict[str, Any]) -> None:
        for hook in self.webhooks.values():
            if hook.base_id == table.base_id:
                hook.payloads.append({
                    "timestamp": _iso(datetime.now(timezone.utc)),
                    "baseTransactionNumber": len(hook.payloads) + 1,
                    "payloadFormat": "v0",
                    "changedTablesById": {table.id: change},
                })

    def fail_next(self, status: int, *, path_suffix: str = "", after: int = 0) -> None:
        """Answer one coming request whose path ends with `path_suffix` with `status` (a 503, say: "The server
        could not process your request in time", https://airtable.com/developers/web/api/errors), after letting
        `after` such requests through. For tests of what a failed page leaves behind."""
        with self._lock:
            self._failures.append([path_suffix, after, status])

    def expire_offsets(self) -> None:
        """Forget every listing offset handed out so far: they are answered 422
        `LIST_RECORDS_ITERATOR_NOT_AVAILABLE`, as after Airtable's iterator timed out."""
        with self._lock:
            self._iterators.clear()
            self._generation += 1

    # --- Serving -------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The value for `AirtableDatasource(base_url=...)`: `http://127.0.0.1:<port>/v0`."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v0"

    def start(self) -> AirtableServer:
        """Serve in a daemon thread; return `self`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="airtable-replay", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> AirtableServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def answer(
        self, target: str, authorization: str | None, method: str = "GET"
    ) -> tuple[int, dict[str, Any] | None]:
        """The status and JSON body for `method target` (a path with its query)."""
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        segments = [unquote(s) for s in parts.path.split("/")[1:]]
        hooks = len(segments) == 6 and segments[1] == "bases" and segments[3] == "webhooks"
        schema = len(segments) == 5 and segments[1:3] == ["meta", "bases"] and segments[4] == "tables"
        base_id = segments[2] if hooks else segments[3] if schema else segments[1] if len(segments) > 1 else ""
        with self._lock:
            self.requests.append((self.clock(), base_id, parts.path, query))
        if authorization != f"Bearer {self.token}":
            return 401, {"error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}}
        if not self._admitted(base_id):
            return 429, {"errors": [{"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}]}
        failure = self._failure(parts.path)
        if failure:
            return failure, {"error": {"type": "SERVER_ERROR", "message": "Injected by AirtableServer.fail_next"}}
        if hooks:
            return self._webhook(method, base_id, segments[4], segments[5], query)
        if schema and method == "GET":
            return 200, self._schema(base_id)
        if method != "GET":
            return 404, {"error": "NOT_FOUND"}
        if len(segments) not in (3, 4) or segments[0] != "v0":
            return 404, {"error": "NOT_FOUND"}
        table = self.tables.get((base_id, segments[2]))
        if table is None:
            return 404, {"error": "NOT_FOUND"}
        by_field_id = query.get("returnFieldsByFieldId", "").lower() in ("true", "1")
        if len(segments) == 4:
            with self._lock:
                record = table.records.get(segments[3])
                return (200, table.shown(record, by_field_id)) if record else (404, {"error": "NOT_FOUND"})
        return self._page(table, query, by_field_id)

    def _webhook(
        self, method: str, base_id: str, webhook_id: str, action: str, query: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        hook = self.webhooks.get(webhook_id)
        if hook is None or hook.base_id != base_id or (method, action) not in (("GET", "payloads"), ("POST", "refresh")):
            return 404, {"error": "NOT_FOUND"}
        with self._lock:
            hook.expiration = datetime.now(timezone.utc) + WEBHOOK_LIFE
            if action == "refresh":
                hook.refreshed += 1
                return 200, {"expirationTime": _iso(hook.expiration)}
            try:
                cursor = int(query.get("cursor", 1))
                limit = int(query.get("limit", MAX_PAYLOADS))
            except ValueError:
                return 422, {"error": {"type": "INVALID_REQUEST_UNKNOWN", "message": "cursor and limit are numbers"}}
            if cursor < 1 or not 1 <= limit <= MAX_PAYLOADS:
                return 422, {"error": {"type": "INVALID_REQUEST_UNKNOWN", "message": "cursor >= 1, limit 1 to 50"}}
            chunk = hook.payloads[cursor - 1 : cursor - 1 + limit]
            following = cursor + len(chunk)
            return 200, {"payloads": chunk, "cursor": following, "mightHaveMore": following <= len(hook.payloads)}

    def _schema(self, base_id: str) -> dict[str, Any]:
        with self._lock:
            tables = {id(t): t for (base, _), t in self.tables.items() if base == base_id}.values()
            return {"tables": [
                {"id": t.id, "name": t.name, "views": [],
                 "fields": [{"id": t.field_id(c), "name": c} for c in dict.fromkeys(c for r in t.records.values() for c in r["fields"])]}
                for t in tables
            ]}

    def _failure(self, path: str) -> int | None:
        with self._lock:
            for failure in self._failures:
                if path.endswith(failure[0]):
                    if failure[1] > 0:
                        failure[1] -= 1
                        return None
                    self._failures.remove(failure)
                    return int(failure[2])
        return None

    def _admitted(self, base_id: str) -> bool:
        if self.rate is None:
            return True
        with self._lock:
            now = self.clock()
            if now < self._penalised_until.get(base_id, float("-inf")):
                self.rejected[base_id] = self.rejected.get(base_id, 0) + 1
                return False
            arrivals = self._arrivals.setdefault(base_id, deque())
            while arrivals and arrivals[0] <= now - 1.0:
                arrivals.popleft()
            if len(arrivals) >= self.rate:
                self._penalised_until[base_id] = now + self.penalty
                self.rejected[base_id] = self.rejected.get(base_id, 0) + 1
                return False
            arrivals.append(now)
            return True

    def _page(self, table: Table, query: Mapping[str, str], by_field_id: bool) -> tuple[int, dict[str, Any]]:
        try:
            size = int(query.get("pageSize", MAX_PAGE_SIZE))
        except ValueError:
            size = 0
        if not 1 <= size <= MAX_PAGE_SIZE:
            return 422, {"error": {"type": "INVALID_REQUEST_UNKNOWN", "message": "pageSize must be 1 to 100"}}
        with self._lock:
            offset = query.get("offset")
            if offset:
                iterator = self._iterators.get(offset)
                if iterator is None:
                    if re.fullmatch(r"itr\d+/rec\w+", offset):
                        return 422, {"error": {"type": "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
                                               "message": "The iterator is not available"}}
                    return 422, {"error": {"type": "INVALID_OFFSET_VALUE", "message": f"The value of offset {offset} is invalid"}}
            else:
                ids = list(table.records)
                formula = query.get("filterByFormula")
                if formula:
                    match = _MODIFIED_SINCE.fullmatch(formula.strip())
                    if match is None:
                        return 422, {"error": {"type": "INVALID_FILTER_BY_FORMULA",
                                               "message": "The replay server understands IS_AFTER(LAST_MODIFIED_TIME(), '...') only"}}
                    since = _parse(match.group(1))
                    if since is None:
                        return 422, {"error": {"type": "INVALID_FILTER_BY_FORMULA", "message": "Invalid date"}}
                    ids = [i for i in ids if table.modified[i] > since]
                iterator = _Iterator(table=table, ids=ids, position=0, generation=self._generation)
            chunk = [i for i in iterator.ids[iterator.position : iterator.position + size] if i in table.records]
            body: dict[str, Any] = {"records": [table.shown(table.records[i], by_field_id) for i in chunk]}
            following = iterator.position + size
            if following < len(iterator.ids):
                token = f"itr{iterator.generation}/{iterator.ids[following]}"
                self._iterators[token] = _Iterator(table, iterator.ids, following, iterator.generation)
                body["offset"] = token
            return 200, body


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class _Handler(BaseHTTPRequestHandler):
    server_state: AirtableServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, keep-alive stalls ~40 ms a request (Nagle).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._respond("GET")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._respond("POST")

    def _respond(self, method: str) -> None:
        status, body = self.server_state.answer(self.path, self.headers.get("Authorization"), method)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and benchmarks read `requests` instead
