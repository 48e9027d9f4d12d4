"""A local HTTP API serving generated records, for the sync benchmark.

Three resources form a chain of foreign keys: every *member* belongs to one of M *parties*, every party to one
of K *regions*. All values are derived from the record's id, so the same arguments always serve the same data,
and pages are generated on request: the server holds no records in memory, whatever N is.

Endpoints (ids are integers from 1)::

    GET /members?page=1&page_size=100   {"items": [...], "total_pages": 100, "total": 10000}
    GET /parties?page=..&page_size=..   same shape
    GET /regions?page=..&page_size=..   same shape
    GET /members/<id>/                  one record (also /parties/<id>/ and /regions/<id>/), 404 if unknown
    GET /_stats                         {"requests": 12, "connections": 1, "by_endpoint": {"members:list": 10, ...}}

``/_stats`` is not itself counted. From Python::

    with BenchServer(records=10_000) as server:
        requests.get(f"{server.url}/members?page=1")
        server.requests  # 1

From a shell: ``python -m benchmarks.server --records 10000`` prints the URL and serves until interrupted.

The handler speaks HTTP/1.1 with keep-alive and disables Nagle's algorithm: without that, a client that reuses
its connection waits ~40 ms per request for a delayed ACK, and the benchmark would penalise exactly the
well-behaved client (see PITFALLS.md).
"""

from __future__ import annotations

import argparse
import json
import re
import threading
from collections import Counter
from datetime import date, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["BenchData", "BenchServer", "DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE"]

#: Records per listing page when the client does not ask for a size.
DEFAULT_PAGE_SIZE = 100

#: The largest ``page_size`` the server accepts; larger requests get 400, as many real APIs answer.
MAX_PAGE_SIZE = 1000

_FIRST_NAMES = ("Alex", "Bea", "Chidi", "Dana", "Eilidh", "Farah", "Gwen", "Hamid", "Iona", "Jun", "Kofi", "Lena")
_SURNAMES = ("Smith", "Jones", "Okafor", "Patel", "Evans", "Murray", "Nowak", "Khan", "Davies", "Byrne", "Wu")
_COLOURS = ("E4003B", "0087DC", "FAA61A", "12B6CF", "528D6B", "FDF38E", "6AB023", "D50000")
_EPOCH = date(2000, 1, 1)


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


_LISTING = re.compile(r"^/(members|parties|regions)/?$")
_ITEM = re.compile(r"^/(members|parties|regions)/(\d+)/?$")


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
        data = self.server.data
        if match := _LISTING.match(parts.path):
            kind = match.group(1)
            self.server.count(f"{kind}:list")
            try:
                page = int(query.get("page", "1"))
                page_size = int(query.get("page_size", str(DEFAULT_PAGE_SIZE)))
            except ValueError:
                self._send(HTTPStatus.BAD_REQUEST, {"error": "page and page_size must be integers"})
                return
            if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
                self._send(HTTPStatus.BAD_REQUEST, {"error": f"page >= 1 and 1 <= page_size <= {MAX_PAGE_SIZE}"})
                return
            self._send(HTTPStatus.OK, data.page(kind, page, page_size))
        elif match := _ITEM.match(parts.path):
            kind = match.group(1)
            self.server.count(f"{kind}:get")
            item = data.item(kind, int(match.group(2)))
            if item is None:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no {kind} with id {match.group(2)}"})
            else:
                self._send(HTTPStatus.OK, item)
        else:
            self.server.count("other")
            self._send(HTTPStatus.NOT_FOUND, {"error": f"unknown path {parts.path}"})

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

    def __init__(self, address: tuple[str, int], data: BenchData) -> None:
        super().__init__(address, _Handler)
        self.data = data
        self._counts: Counter[str] = Counter()
        self._connections = 0
        self._lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._connections += 1
        super().process_request(request, client_address)

    def count(self, endpoint: str) -> None:
        with self._lock:
            self._counts[endpoint] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": sum(self._counts.values()),
                "connections": self._connections,
                "by_endpoint": dict(self._counts),
            }


class BenchServer:
    """The benchmark API on 127.0.0.1, served from a background thread while used as a context manager.

    Args:
        records: how many members to serve.
        parties: how many parties (default: one per 100 members).
        regions: how many regions (default: one per 10 parties).
        port: the port to listen on; 0 picks a free one (read it back from :attr:`url`).
    """

    def __init__(self, records: int, parties: int | None = None, regions: int | None = None, port: int = 0) -> None:
        self.data = BenchData(records, parties, regions)
        self._server = _Server(("127.0.0.1", port), self.data)
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
        """The counts so far: ``{"requests": n, "connections": n, "by_endpoint": {"members:list": n, ...}}``.

        ``connections`` counts TCP connections accepted, so ``requests / connections`` shows keep-alive at work.
        """
        return self._server.stats()

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
    parser.add_argument("--records", type=int, default=10_000, help="how many members to serve")
    parser.add_argument("--parties", type=int, default=None, help="how many parties (default: records / 100)")
    parser.add_argument("--regions", type=int, default=None, help="how many regions (default: parties / 10)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    server = BenchServer(args.records, args.parties, args.regions, port=args.port)
    data = server.data
    print(f"Serving {data.records} members, {data.parties} parties, {data.regions} regions at {server.url}", flush=True)
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._server.server_close()


if __name__ == "__main__":
    main()
