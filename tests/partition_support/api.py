"""The remote side of the partitioned-run tests: a real HTTP server on 127.0.0.1 serving a paged listing.

:class:`ListingServer` serves ``GET <path>?offset=&limit=`` (``{"items": [...], "total": n}``, records in id
order) and ``GET <path>/<id>`` (404 once a record is gone) from a dict the test changes at will, records every
listing request's offset, and can stall the first request for one offset until released (the worker reading it
is then killed). ``items`` is the ``Item`` datasource (``PYCK_PARTITION_API`` when imported in a child).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from pyck.core.datasources import OffsetPaginator, RestDatasource
from tests.faults.server import STALL_LIMIT, Answer, FaultServer, Handler, Received, dynamic_answer, json_answer

#: Records per page (and per batch in ``Item``'s config).
PAGE = 20


@dataclass
class ItemResource:
    """One record of ``/items``."""

    id: int
    name: str
    parent: int | None = None


items = RestDatasource(
    base_url=os.environ.get("PYCK_PARTITION_API", "http://127.0.0.1:9"),
    path="/items",
    resource_type=ItemResource,
    paginator=OffsetPaginator(limit=PAGE, items_path="items", total_path="total"),
    retries=0,
    name="test.items",
)


class ListingServer:
    """``/items`` (or ``path``) over ``records`` (id -> JSON record), on a real local HTTP server."""

    def __init__(self, records: dict[int, dict[str, Any]], path: str = "/items") -> None:
        self.records = records
        self.path = path
        self.stall_offset: int | None = None
        #: The largest page the server sends, whatever ``limit`` asks for (``None``: no cap).
        self.cap: int | None = None
        #: Set when the stalled request arrived; set :attr:`release` to let it go (unanswered).
        self.stalled = threading.Event()
        self.release = threading.Event()
        self._server = FaultServer()
        self._server.route(path, dynamic_answer(self._page))
        self._known: set[int] = set()
        self.sync_routes()

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self._server.url

    def sync_routes(self) -> None:
        """Answer ``GET <path>/<id>`` for every current record, 404 for the others (call after changing them)."""
        for record_id in self._known - set(self.records):
            self._server.route(f"{self.path}/{record_id}", json_answer({"error": "gone"}, status=404))
        for record_id, record in self.records.items():
            self._server.route(f"{self.path}/{record_id}", json_answer(record))
        self._known |= set(self.records)

    def offsets(self) -> list[int]:
        """The offsets of the listing requests received, in order."""
        return [int(r.query.get("offset", ["0"])[0]) for r in self._server.requests_to(self.path)]

    def queries(self) -> list[dict[str, list[str]]]:
        """The query strings of the listing requests received, parsed, in order."""
        return [r.query for r in self._server.requests_to(self.path)]

    def gets(self) -> list[str]:
        """The paths of the single-record requests received."""
        prefix = f"{self.path}/"
        return [r.path for r in self._server.received if r.path.startswith(prefix)]

    def _page(self, received: Received) -> Answer:
        offset = int(received.query.get("offset", ["0"])[0])
        limit = int(received.query.get("limit", [str(PAGE)])[0])
        limit = limit if self.cap is None else min(limit, self.cap)
        if offset == self.stall_offset and not self.stalled.is_set():
            self.stalled.set()
            return self._stall
        ordered = [self.records[key] for key in sorted(self.records)]
        return json_answer({"items": ordered[offset : offset + limit], "total": len(ordered)})

    def _stall(self, handler: Handler) -> None:
        self.release.wait(STALL_LIMIT)
        handler.close_connection = True

    def close(self) -> None:
        """Release any stalled request and stop the server."""
        self.release.set()
        self._server.close()
