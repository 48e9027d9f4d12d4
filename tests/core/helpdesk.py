"""A fake helpdesk API for the incremental sync tests: ``GET /api/tickets?updated_since=&offset=&limit=``.

Served with ``responses``. Tickets are listed in (updated_at, id) order, as such APIs do; ``updated_since``
is inclusive. Every request's query is kept in :attr:`FakeHelpdesk.requests`, and requests can be made to
fail on demand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

URL = "https://helpdesk.example.com/api/tickets"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


@dataclass
class FakeHelpdesk:
    """The remote side: ``tickets`` by id, each a dict as the API sends it."""

    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: The query of every request received, values as sent (strings).
    requests: list[dict[str, str]] = field(default_factory=list)
    #: Request numbers (1-based, counting every request, retries included) answered with a 500.
    fail_requests: set[int] = field(default_factory=set)
    #: From this request number on, every request is answered with a 500.
    fail_from: int | None = None

    def put(self, id: int, subject: str = "", status: str = "open", updated_at: datetime | None = None) -> None:
        """Create or change ticket ``id`` (its ``updated_at`` defaults to T0 + id minutes)."""
        when = updated_at or T0 + timedelta(minutes=id)
        self.tickets[id] = {"id": id, "subject": subject or f"Ticket {id}", "status": status, "updated_at": when.isoformat()}

    def install(self, mock: responses.RequestsMock) -> FakeHelpdesk:
        mock.add_callback(responses.GET, URL, callback=self.answer)
        return self

    def answer(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        self.requests.append(query)
        number = len(self.requests)
        if number in self.fail_requests or (self.fail_from is not None and number >= self.fail_from):
            return 500, {}, json.dumps({"error": "internal"})
        rows = sorted(self.tickets.values(), key=lambda t: (t["updated_at"], t["id"]))
        if "updated_since" in query:
            since = datetime.fromisoformat(query["updated_since"])
            rows = [t for t in rows if datetime.fromisoformat(t["updated_at"]) >= since]
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 10))
        body = {"items": rows[offset : offset + limit], "total": len(rows)}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def listing_requests(self) -> list[dict[str, str]]:
        return list(self.requests)
