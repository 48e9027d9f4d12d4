"""A local HTTP API serving generated records, for the sync benchmarks.

Three resources form a chain of foreign keys: every *member* belongs to one of M *parties*, every party to one
of K *regions*. All values are derived from the record's id, so the same arguments always serve the same data,
and pages are generated on request: the server holds no records in memory, whatever N is.

A fourth resource, *tickets* (:class:`TicketData`), is a helpdesk listing that changes: N tickets listed in
``(updated_at, id)`` order, filtered with ``updated_since`` (inclusive), as incremental APIs do. Changing
tickets (``POST /_control``) gives them a new revision and an ``updated_at`` after every earlier one. The
server keeps the listing order and the changed tickets' revisions (integers), never the records.

Endpoints (ids are integers from 1)::

    GET /members?page=1&page_size=100   {"items": [...], "total_pages": 100, "total": 10000}
    GET /parties?page=..&page_size=..   same shape
    GET /regions?page=..&page_size=..   same shape
    GET /members/<id>                   one record (also /parties/<id>, /regions/<id>, /tickets/<id>; a trailing slash is accepted), or 404
    GET /tickets?updated_since=2026-01-01T00:00:00%2B00:00&offset=0&limit=100
                                        {"items": [...], "total": 1001}  (total: of the filtered listing)
    GET /_stats                         {"requests": 12, "connections": 1, "failed": 0, "by_endpoint": {...}}
    POST /_control                      {"reset": true, "change": 1000, "fail_after": 500, "delay": 0.1}

``/_stats`` and ``/_control`` are not themselves counted. ``/_control`` takes any of its keys and applies them
in that order: ``reset`` undoes every ticket change, ``change`` changes that many tickets spread evenly over
the listing (and answers their ids), ``fail_after`` lets that many more requests through and then answers
every request with 500 until it is set again (``null``: never fail), ``delay`` makes every listing page wait
that many seconds. From Python::

    with BenchServer(records=10_000) as server:
        requests.get(f"{server.url}/members?page=1")
        server.requests  # 1
        server.tickets.change(100)  # what POST /_control {"change": 100} does
        server.log()  # every counted request: endpoint, query, client address

From a shell: ``python -m benchmarks.server --records 10000`` prints the URL and serves until interrupted.

The handler speaks HTTP/1.1 with keep-alive and disables Nagle's algorithm: without that, a client that reuses
its connection waits ~40 ms per request for a delayed ACK, and the benchmark would penalise exactly the
well-behaved client (see PITFALLS.md).
"""

from __future__ import annotations

import argparse
import bisect
import json
import re
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "BenchData",
    "BenchServer",
    "DEFAULT_PAGE_SIZE",
    "LoggedRequest",
    "MAX_PAGE_SIZE",
    "TICKETS_EPOCH",
    "TicketData",
]

#: Records per listing page when the client does not ask for a size.
DEFAULT_PAGE_SIZE = 100

#: The largest ``page_size`` the server accepts; larger requests get 400, as many real APIs answer.
MAX_PAGE_SIZE = 1000

_FIRST_NAMES = ("Alex", "Bea", "Chidi", "Dana", "Eilidh", "Farah", "Gwen", "Hamid", "Iona", "Jun", "Kofi", "Lena")
_SURNAMES = ("Smith", "Jones", "Okafor", "Patel", "Evans", "Murray", "Nowak", "Khan", "Davies", "Byrne", "Wu")
_COLOURS = ("E4003B", "0087DC", "FAA61A", "12B6CF", "528D6B", "FDF38E", "6AB023", "D50000")
_EPOCH = date(2000, 1, 1)
_SUBJECTS = ("Cannot log in", "Invoice missing", "Printer on fire", "Refund request", "Slow dashboard", "Typo")
_STATUSES = ("new", "open", "pending", "solved")

#: Ticket ``i`` was last updated ``i`` seconds after this, until it is changed.
TICKETS_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_SECOND = 1_000_000  # microseconds: ticket times are kept as microseconds after TICKETS_EPOCH
_CHANGE_STEP = 1_000  # changed tickets are 1 ms apart


def _mix(value: int) -> int:
    """A cheap deterministic integer hash (Knuth's multiplicative), so fields vary without a random generator."""
    return (value * 2654435761) % 4294967296


class BenchData:
    """The generated data set: ``records`` members, ``parties`` parties and ``regions`` regions.

    By default there is one party per 100 members and one region per 10 parties (at least one of each).
    Member ``i`` belongs to party ``(i * 7919) % parties + 1``, party ``j`` to region ``(j * 31) % regions + 1``.
    """

    def __init__(self, records: int, parties: int | None = None, regions: int | None = None) -> None:
        if records < 0:
            raise ValueError(f"records must be >= 0, got {records}")
        self.records = records
        self.parties = parties if parties is not None else max(1, records // 100)
        self.regions = regions if regions is not None else max(1, self.parties // 10)
        if self.parties < 1 or self.regions < 1:
            raise ValueError(f"parties and regions must be >= 1, got {self.parties} and {self.regions}")

    def count(self, kind: str) -> int:
        """How many records of ``kind`` (``"members"``, ``"parties"`` or ``"regions"``) exist."""
        return {"members": self.records, "parties": self.parties, "regions": self.regions}[kind]

    def party_of(self, member_id: int) -> int:
        """The id of the party member ``member_id`` belongs to."""
        return (member_id * 7919) % self.parties + 1

    def region_of(self, party_id: int) -> int:
        """The id of the region party ``party_id`` belongs to."""
        return (party_id * 31) % self.regions + 1

    def member(self, member_id: int) -> dict[str, Any]:
        """The JSON object of member ``member_id``: a FK to its party and six scalar fields."""
        h = _mix(member_id)
        return {
            "id": member_id,
            "name": f"{_FIRST_NAMES[h % len(_FIRST_NAMES)]} {_SURNAMES[(h >> 8) % len(_SURNAMES)]} {member_id}",
            "membership_number": 100_000 + member_id,
            "joined_on": (_EPOCH + timedelta(days=h % 9000)).isoformat(),
            "active": h % 5 != 0,
            "dues": f"{(h % 10_000) / 100:.2f}",
            "nickname": None if h % 3 else f"nick{member_id}",
            "party": self.party_of(member_id),
        }

    def party(self, party_id: int) -> dict[str, Any]:
        """The JSON object of party ``party_id``: a name, a colour and a FK to its region."""
        return {
            "id": party_id,
            "name": f"Party {party_id}",
            "colour": _COLOURS[_mix(party_id) % len(_COLOURS)],
            "region": self.region_of(party_id),
        }

    def region(self, region_id: int) -> dict[str, Any]:
        """The JSON object of region ``region_id``."""
        return {"id": region_id, "name": f"Region {region_id}", "code": f"R{region_id:05d}"}

    def item(self, kind: str, item_id: int) -> dict[str, Any] | None:
        """One record of ``kind`` by id, or ``None`` if there is none."""
        if not 1 <= item_id <= self.count(kind):
            return None
        return {"members": self.member, "parties": self.party, "regions": self.region}[kind](item_id)

    def page(self, kind: str, page: int, page_size: int) -> dict[str, Any]:
        """One page of the ``kind`` listing (pages count from 1; a page past the end has no items)."""
        total = self.count(kind)
        total_pages = -(-total // page_size)
        first = (page - 1) * page_size + 1
        last = min(total, page * page_size)
        build = {"members": self.member, "parties": self.party, "regions": self.region}[kind]
        return {"items": [build(i) for i in range(first, last + 1)], "total_pages": total_pages, "total": total}


class TicketData:
    """The ``/tickets`` resource: ``records`` helpdesk tickets that change, listed in ``(updated_at, id)`` order.

    Ticket ``i`` starts at revision 0, updated ``i`` seconds after :data:`TICKETS_EPOCH`, so the first listing
    is in id order. :meth:`change` edits tickets: each gets the next revision (its subject, status and priority
    change with it) and an ``updated_at`` 1 ms after the previous change, so changed tickets move to the end of
    the listing. :meth:`reset` undoes every change. The same calls in the same order give the same data, so a
    client can rebuild what the server holds with its own ``TicketData``. Thread-safe.
    """

    def __init__(self, records: int) -> None:
        if records < 0:
            raise ValueError(f"records must be >= 0, got {records}")
        self.records = records
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Undo every change: every ticket back at revision 0 (generation 0)."""
        with self._lock:
            #: How many times :meth:`change` has been called since the last reset.
            self.generation = 0
            self._clock = self.records * _SECOND
            self._revision: dict[int, int] = {}
            self._updated: dict[int, int] = {}
            # (listing order, updated_at of each, revisions, updated_at of changed tickets), built on first use.
            self._view: tuple[list[int], list[int], dict[int, int], dict[int, int]] | None = None

    def change(self, count: int) -> list[int]:
        """Change ``count`` tickets spread evenly over the ids (one new generation); return their ids in order.

        Each generation starts its spread at another offset, so successive changes touch other tickets.
        """
        if not 0 <= count <= self.records:
            raise ValueError(f"can change 0 to {self.records} tickets, not {count}")
        with self._lock:
            self.generation += 1
            if not count:
                return []
            stride = self.records // count
            offset = ((self.generation - 1) * 37) % stride
            ids = [1 + (j * self.records) // count + offset for j in range(count)]
            for ticket_id in ids:
                self._clock += _CHANGE_STEP
                self._revision[ticket_id] = self._revision.get(ticket_id, 0) + 1
                self._updated[ticket_id] = self._clock
            self._view = None
            return ids

    def _current(self) -> tuple[list[int], list[int], dict[int, int], dict[int, int]]:
        with self._lock:
            if self._view is None:
                changed = sorted(self._updated, key=lambda i: (self._updated[i], i))
                unchanged = [i for i in range(1, self.records + 1) if i not in self._updated]
                # Every change is later than every original time, so this is the (updated_at, id) order.
                order = unchanged + changed
                stamps = [i * _SECOND for i in unchanged] + [self._updated[i] for i in changed]
                self._view = (order, stamps, dict(self._revision), dict(self._updated))
            return self._view

    @staticmethod
    def _build(ticket_id: int, revision: int, stamp: int) -> dict[str, Any]:
        h = _mix(ticket_id)
        return {
            "id": ticket_id,
            "subject": f"{_SUBJECTS[h % len(_SUBJECTS)]} #{ticket_id}" + (f" (edit {revision})" if revision else ""),
            "status": _STATUSES[(h + revision) % len(_STATUSES)],
            "priority": ((h >> 4) + revision) % 5 + 1,
            "assignee": None if h % 4 == 0 else _FIRST_NAMES[(h >> 8) % len(_FIRST_NAMES)],
            "updated_at": (TICKETS_EPOCH + timedelta(microseconds=stamp)).isoformat(),
        }

    def ticket(self, ticket_id: int) -> dict[str, Any] | None:
        """The JSON object of ticket ``ticket_id`` as it is now, or ``None`` if there is none."""
        if not 1 <= ticket_id <= self.records:
            return None
        _, _, revisions, updated = self._current()
        return self._build(ticket_id, revisions.get(ticket_id, 0), updated.get(ticket_id, ticket_id * _SECOND))

    def page(self, offset: int, limit: int, since: datetime | None = None) -> dict[str, Any]:
        """``limit`` tickets from ``offset`` of the listing of those updated at or after ``since`` (all if
        ``None``), and that listing's length as ``total``."""
        order, stamps, revisions, updated = self._current()
        start = 0 if since is None else bisect.bisect_left(stamps, _micros(since))
        ids = order[start + offset : start + offset + limit]
        items = [self._build(i, revisions.get(i, 0), updated.get(i, i * _SECOND)) for i in ids]
        return {"items": items, "total": len(order) - start}

    def listing(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """The whole listing (of the tickets updated at or after ``since``), in order."""
        return self.page(0, self.records, since)["items"]

    def latest(self) -> datetime | None:
        """The largest ``updated_at`` of any ticket (``None`` when there are none)."""
        _, stamps, _, _ = self._current()
        return TICKETS_EPOCH + timedelta(microseconds=stamps[-1]) if stamps else None


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - TICKETS_EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class LoggedRequest:
    """One counted request, as :meth:`BenchServer.log` lists it."""

    #: ``"<kind>:list"`` or ``"<kind>:get"`` (``"other"`` for unknown paths).
    endpoint: str
    #: The query string's parameters (the last value of each).
    query: dict[str, str]
    #: The client's ``(host, port)``: requests over one keep-alive connection share it.
    client: tuple[str, int]
    #: False when the request was answered with an injected 500 (see ``fail_after``).
    served: bool


_LISTING = re.compile(r"^/(members|parties|regions|tickets)/?$")
_ITEM = re.compile(r"^/(members|parties|regions|tickets)/(\d+)/?$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, keep-alive clients stall ~40 ms per request.
    disable_nagle_algorithm = True
    # A keep-alive connection left open by a client that went away must not pin a thread forever.
    timeout = 60
    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/_stats":
            self._send(HTTPStatus.OK, self.server.stats())
            return
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if match := _LISTING.match(parts.path):
            kind = match.group(1)
            if self._admit(f"{kind}:list", query, page=True):
                self._list(kind, query)
        elif match := _ITEM.match(parts.path):
            kind = match.group(1)
            if not self._admit(f"{kind}:get", query):
                return
            item_id = int(match.group(2))
            item = self.server.tickets.ticket(item_id) if kind == "tickets" else self.server.data.item(kind, item_id)
            if item is None:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no {kind} with id {item_id}"})
            else:
                self._send(HTTPStatus.OK, item)
        elif self._admit("other", query):
            self._send(HTTPStatus.NOT_FOUND, {"error": f"unknown path {parts.path}"})

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/_control":
            self._send(HTTPStatus.NOT_FOUND, {"error": "only POST /_control"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            answer = self.server.control(body)
        except (ValueError, TypeError) as error:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            return
        self._send(HTTPStatus.OK, answer)

    def _admit(self, endpoint: str, query: dict[str, str], *, page: bool = False) -> bool:
        """Count and log the request; answer it with 500 (and return False) if failures are on."""
        served = self.server.admit(endpoint, query, self.client_address)
        if not served:
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "injected failure (fail_after)"})
            return False
        if page and self.server.delay:
            time.sleep(self.server.delay)
        return True

    def _list(self, kind: str, query: dict[str, str]) -> None:
        if kind == "tickets":
            try:
                offset = int(query.get("offset", "0"))
                limit = int(query.get("limit", str(DEFAULT_PAGE_SIZE)))
                since = datetime.fromisoformat(query["updated_since"]) if "updated_since" in query else None
            except ValueError:
                error = "offset and limit must be integers, updated_since an ISO 8601 time"
                self._send(HTTPStatus.BAD_REQUEST, {"error": error})
                return
            if offset < 0 or not 1 <= limit <= MAX_PAGE_SIZE:
                self._send(HTTPStatus.BAD_REQUEST, {"error": f"offset >= 0 and 1 <= limit <= {MAX_PAGE_SIZE}"})
                return
            self._send(HTTPStatus.OK, self.server.tickets.page(offset, limit, since))
            return
        try:
            page = int(query.get("page", "1"))
            page_size = int(query.get("page_size", str(DEFAULT_PAGE_SIZE)))
        except ValueError:
            self._send(HTTPStatus.BAD_REQUEST, {"error": "page and page_size must be integers"})
            return
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            self._send(HTTPStatus.BAD_REQUEST, {"error": f"page >= 1 and 1 <= page_size <= {MAX_PAGE_SIZE}"})
            return
        self._send(HTTPStatus.OK, self.server.data.page(kind, page, page_size))

    def _send(self, status: HTTPStatus, payload: Any) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # One line per request would drown the benchmark's output.


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    #: How many requests :meth:`BenchServer.log` keeps (the oldest go first).
    log_size = 200_000

    def __init__(self, address: tuple[str, int], data: BenchData, tickets: TicketData) -> None:
        super().__init__(address, _Handler)
        self.data = data
        self.tickets = tickets
        #: Seconds every listing page waits before it is answered.
        self.delay = 0.0
        self._counts: Counter[str] = Counter()
        self._connections = 0
        self._failed = 0
        self._fail_after: int | None = None
        self._log: deque[LoggedRequest] = deque(maxlen=self.log_size)
        self._lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._connections += 1
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed (or timed out) mid-answer is expected in the fault tests: no traceback for it.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def admit(self, endpoint: str, query: dict[str, str], client: tuple[str, int]) -> bool:
        """Count and log one request; return False when it must fail (``fail_after`` used up)."""
        with self._lock:
            self._counts[endpoint] += 1
            served = self._fail_after is None or self._fail_after > 0
            if self._fail_after is not None and self._fail_after > 0:
                self._fail_after -= 1
            if not served:
                self._failed += 1
            self._log.append(LoggedRequest(endpoint, dict(query), (str(client[0]), int(client[1])), served))
            return served

    def control(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or set(body) - {"reset", "change", "fail_after", "delay"}:
            raise ValueError("expected a JSON object with some of reset, change, fail_after, delay")
        changed: list[int] = []
        if body.get("reset"):
            self.tickets.reset()
        if "change" in body:
            changed = self.tickets.change(int(body["change"]))
        if "fail_after" in body:
            after = body["fail_after"]
            if after is not None and (not isinstance(after, int) or after < 0):
                raise ValueError(f"fail_after must be an int >= 0 or null, got {after!r}")
            with self._lock:
                self._fail_after = after
        if "delay" in body:
            delay = float(body["delay"])
            if delay < 0:
                raise ValueError(f"delay must be >= 0, got {delay!r}")
            self.delay = delay
        return {
            "generation": self.tickets.generation,
            "changed": changed,
            "fail_after": self._fail_after,
            "delay": self.delay,
        }

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": sum(self._counts.values()),
                "connections": self._connections,
                "failed": self._failed,
                "by_endpoint": dict(self._counts),
            }

    def log(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)


class BenchServer:
    """The benchmark API on 127.0.0.1, served from a background thread while used as a context manager.

    Args:
        records: how many members to serve, and how many tickets.
        parties: how many parties (default: one per 100 members).
        regions: how many regions (default: one per 10 parties).
        port: the port to listen on; 0 picks a free one (read it back from :attr:`url`).
    """

    def __init__(self, records: int, parties: int | None = None, regions: int | None = None, port: int = 0) -> None:
        self.data = BenchData(records, parties, regions)
        #: The ``/tickets`` resource; change it directly or with :meth:`control`.
        self.tickets = TicketData(records)
        self._server = _Server(("127.0.0.1", port), self.data, self.tickets)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash (``http://127.0.0.1:PORT``)."""
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def requests(self) -> int:
        """How many requests have been served so far, ``/_stats`` excluded."""
        return int(self._server.stats()["requests"])

    def stats(self) -> dict[str, Any]:
        """The counts so far: ``{"requests": n, "connections": n, "failed": n, "by_endpoint": {"members:list": n,
        ...}}``.

        ``connections`` counts TCP connections accepted, so ``requests / connections`` shows keep-alive at work;
        ``failed`` counts the requests answered with an injected 500 (they count in ``requests`` too).
        """
        return self._server.stats()

    def log(self) -> list[LoggedRequest]:
        """Every counted request so far (the last 200,000), oldest first."""
        return self._server.log()

    def control(self, **settings: Any) -> dict[str, Any]:
        """Do what ``POST /_control`` does with ``settings`` (``reset``, ``change``, ``fail_after``, ``delay``)
        and return its answer: ``{"generation": g, "changed": [ids], "fail_after": n, "delay": s}``."""
        return self._server.control(settings)

    def start(self) -> BenchServer:
        """Start serving in a daemon thread; returns ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="bench-server", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> BenchServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def main(argv: list[str] | None = None) -> None:
    """Serve the benchmark API until interrupted: ``python -m benchmarks.server --records 10000``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="how many members (and tickets) to serve")
    parser.add_argument("--parties", type=int, default=None, help="how many parties (default: records / 100)")
    parser.add_argument("--regions", type=int, default=None, help="how many regions (default: parties / 10)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    server = BenchServer(args.records, args.parties, args.regions, port=args.port)
    data = server.data
    print(
        f"Serving {data.records} members and tickets, {data.parties} parties, {data.regions} regions at {server.url}",
        flush=True,
    )
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._server.server_close()


if __name__ == "__main__":
    main()
