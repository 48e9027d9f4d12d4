"""Pages in flight at once (``OffsetPaginator`` / ``PageNumberPaginator`` with a total) and the sync's prefetch.

Everything runs against :class:`PagedAPI`, a real HTTP server on 127.0.0.1 that counts the requests it is
answering at the same moment. No timed assertions: to prove that requests overlap, the server holds each one
until the expected number are in flight (a bounded wait, only so that a broken client fails instead of
hanging); to prove that the fetching side stays within its bound, the test waits for it to block.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings

from pyck.core import http
from pyck.core.lookahead import prefetch
from pyck.core.budget import RequestBudget
from pyck.core.datasources import OffsetPaginator, PageNumberPaginator, RestDatasource
from pyck.core.exceptions import ConfigurationError, InvalidResourceError, RateLimitError, ResponseError
from pyck.core.models import SyncState
from pyck.core.sync import sync_model
from tests.testapp import resources
from tests.testapp.models import Ticket

#: Only for liveness (a broken client fails instead of hanging the suite), never asserted.
_PATIENCE = 5.0
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)

Answer = int | dict[str, Any]


class PagedAPI:
    """``GET /pages?page=&size=`` (``{"items", "total_pages"}``, pages numbered from 1) and
    ``GET /tickets?offset=&limit=`` (``{"items", "total"}``) over ``records`` generated tickets.

    ``script[(path, position)]`` lists answers for that page, used up one per request: a status code (sent
    with an error body) or a body to send instead of the real one. ``hold`` makes every page but the first wait
    until that many requests are in flight at once (or every page not answered yet is).
    """

    def __init__(self, records: int, page_size: int = 10) -> None:
        self.records = records
        self.page_size = page_size
        self.script: dict[tuple[str, int], list[Answer]] = {}
        self.hold: int | None = None
        self.log: list[tuple[str, int]] = []
        self.in_flight = 0
        self.peak = 0
        self._answered: set[tuple[str, int]] = set()
        self._released = 0
        self._condition = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.api = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def pages(self) -> int:
        return -(-self.records // self.page_size)

    def ticket(self, id: int) -> dict[str, Any]:
        return {"id": id, "subject": f"Ticket {id}", "status": "open", "updated_at": (T0 + timedelta(minutes=id)).isoformat()}

    def requested(self, path: str) -> list[int]:
        """The positions requested at ``path``, in the order they arrived."""
        with self._condition:
            return [position for p, position in self.log if p == path]

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if path == "/pages":
            position = int(query["page"])
            size = int(query.get("size", self.page_size))
            first = (position - 1) * size
            body: dict[str, Any] = {
                "items": [{"id": i} for i in range(first + 1, min(first + size, self.records) + 1)],
                "total_pages": -(-self.records // size),
            }
        else:
            position = int(query["offset"])
            limit = min(int(query["limit"]), self.page_size)  # the API caps the page size
            ids = range(position + 1, min(position + limit, self.records) + 1)
            body = {"items": [self.ticket(i) for i in ids], "total": self.records}
        key = (path, position)
        with self._condition:
            self.log.append(key)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self._condition.notify_all()
            if self.hold is not None and position not in (1, 0):
                unanswered = self.pages - len(self._answered)
                if self.in_flight >= min(self.hold, unanswered):
                    self._released += 1  # lets every request waiting now go
                    self._condition.notify_all()
                else:
                    released = self._released
                    self._condition.wait_for(lambda: self._released != released, timeout=_PATIENCE)
            script = self.script.get(key)
            planned = script.pop(0) if script else None
            self.in_flight -= 1
            self._answered.add(key)
        if isinstance(planned, int):
            return planned, {"error": f"scripted {planned}"}
        return 200, planned if planned is not None else body

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # see PITFALLS.md: keep-alive requests stall ~40 ms without it

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        status, body = self.server.api.answer(parts.path, query)  # type: ignore[attr-defined]
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Item:
    id: int


def _pool_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("pyck-pages", "pyck-prefetch"))]


@pytest.fixture(autouse=True)
def _no_thread_left() -> Iterator[None]:
    yield
    assert _pool_threads() == [], "a pipeline thread outlived its listing"


@pytest.fixture
def api() -> Iterator[PagedAPI]:
    server = PagedAPI(records=90)
    yield server
    server.close()


def _numbered(api: PagedAPI, concurrency: int, **options: Any) -> RestDatasource[Any]:
    paginator = PageNumberPaginator(
        page_size=api.page_size,
        page_size_param="size",
        items_path="items",
        total_pages_path="total_pages",
        concurrency=concurrency,
        **options,
    )
    return RestDatasource(base_url=api.url, path="/pages", resource_type=Item, paginator=paginator, name="test.numbered")


def _offsets(api: PagedAPI, concurrency: int, limit: int = 10, **options: Any) -> RestDatasource[Any]:
    paginator = OffsetPaginator(limit=limit, items_path="items", total_path="total", concurrency=concurrency, **options)
    return RestDatasource(
        base_url=api.url, path="/tickets", resource_type=resources.TicketResource, paginator=paginator, name="test.offsets"
    )


def _ids(pages: list[tuple[Any, list[Any]]]) -> list[int]:
    return [item["id"] for _, items in pages for item in items]


# --- Overlap, order, memory ---------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [2, 3])
@pytest.mark.parametrize("paged", [_numbered, _offsets])
def test_pages_overlap_up_to_the_concurrency_and_never_more(api, paged, concurrency):
    api.records = api.page_size * (1 + 3 * concurrency)  # page 1, then whole rounds of `concurrency`
    api.hold = concurrency

    pages = list(paged(api, concurrency).walk())

    assert _ids(pages) == list(range(1, api.records + 1))
    assert api.peak == concurrency
    assert len(api.log) == api.pages


@pytest.mark.parametrize("paged", [_numbered, _offsets])
def test_one_page_at_a_time_when_concurrency_is_one(api, paged):
    pages = list(paged(api, 1).walk())

    assert _ids(pages) == list(range(1, 91)) and api.peak == 1


@pytest.mark.parametrize("records", [1, 10, 11, 89, 90, 91])
@pytest.mark.parametrize("paged", [_numbered, _offsets])
def test_positions_and_items_are_those_of_a_sequential_walk(api, paged, records):
    api.records = records
    sequential = list(paged(api, 1).walk())

    concurrent = list(paged(api, 3).walk())

    assert concurrent == sequential
    assert [position for position, _ in concurrent] == sorted({position for position, _ in concurrent})


def test_an_api_capping_the_page_size_loses_nothing(api):
    # limit=25 asked, 10 served: the offsets after the first page are predicted from what it held.
    pages = list(_offsets(api, 3, limit=25).walk())

    assert [offset for offset, _ in pages] == list(range(0, 90, 10))
    assert _ids(pages) == list(range(1, 91))


def test_a_short_page_part_way_makes_the_next_offsets_be_predicted_again(api):
    api.script[("/tickets", 30)] = [{"items": [api.ticket(i) for i in range(31, 36)], "total": 90}]

    pages = list(_offsets(api, 3).walk())

    assert [offset for offset, _ in pages] == [0, 10, 20, 30, 35, 45, 55, 65, 75, 85]
    assert _ids(pages) == list(range(1, 91))


def test_a_resumed_walk_goes_on_concurrently_from_its_start(api):
    pages = list(_numbered(api, 3).walk(start=4))

    assert [number for number, _ in pages] == [4, 5, 6, 7, 8, 9]
    assert sorted(api.requested("/pages")) == [4, 5, 6, 7, 8, 9]


def test_the_fetching_side_holds_at_most_depth_plus_concurrency_pages(api, monkeypatch):
    depth, concurrency = 2, 3
    consumed = 0
    started: list[int] = []  # pages requested ahead of the consumer, at each request
    lock = threading.Lock()
    original = RestDatasource._fetch_page

    def counting(self: Any, url: str, query: Any) -> Any:
        with lock:
            started.append(len(started) + 1 - consumed)
        return original(self, url, query)

    monkeypatch.setattr(RestDatasource, "_fetch_page", counting)
    pages = prefetch(_numbered(api, concurrency).walk(), depth, name="pyck-prefetch test")

    for number, _ in pages:
        with lock:
            consumed += 1
        producer = next((t for t in threading.enumerate() if t.name == "pyck-prefetch test"), None)
        # Wait for the fetching side to fill up: `depth` pages handed over, `concurrency - 1` more requested.
        expected = min(api.pages, consumed + depth + concurrency - 1)
        deadline = time.monotonic() + _PATIENCE
        while time.monotonic() < deadline and (len(started) < expected or not _blocked(producer)):
            time.sleep(0.001)
        assert len(started) == expected, f"after page {number}"

    assert max(started) == depth + concurrency - 1


def _blocked(thread: threading.Thread | None) -> bool:
    """Whether ``thread`` is gone, or waits for room in the prefetch queue (a semaphore with none left)."""
    if thread is None or not thread.is_alive():
        return True
    frame = sys._current_frames().get(thread.ident or 0)
    while frame is not None:
        if frame.f_code.co_name == "acquire" and frame.f_code.co_filename.endswith("threading.py"):
            semaphore = frame.f_locals.get("self")
            if isinstance(semaphore, threading.Semaphore) and semaphore._value == 0:
                return True
        frame = frame.f_back
    return False


# --- Where the listing stops ---------------------------------------------------------------------------------


def test_max_pages_requests_no_page_past_it(api):
    pages = list(_numbered(api, 3, max_pages=4).walk())

    assert [number for number, _ in pages] == [1, 2, 3, 4]
    assert sorted(api.requested("/pages")) == [1, 2, 3, 4]


@pytest.mark.parametrize(("paged", "bounds", "expected"), [(_numbered, [2, 5], [2, 3, 4]), (_offsets, [10, 40], [10, 20, 30])])
def test_a_page_range_requests_no_page_past_its_end(api, paged, bounds, expected):
    from pyck.core.page_ranges import PAGE_RANGE

    pages = list(paged(api, 3).walk(**{PAGE_RANGE: bounds}))

    assert [position for position, _ in pages] == expected
    assert sorted(api.log) == sorted((paged(api, 1).path, position) for position in expected)


def test_list_max_pages_raises_after_the_last_page_allowed(api):
    received = []
    with override_settings(PYCK={"LIST_MAX_PAGES": 3}), pytest.raises(ResponseError, match="more than 3 pages"):
        for number, _ in _numbered(api, 3).walk():
            received.append(number)

    assert received == [1, 2, 3]
    assert sorted(api.requested("/pages")) == [1, 2, 3, 4]


def test_an_empty_page_ends_the_listing_before_the_total(api):
    api.script[("/pages", 4)] = [{"items": [], "total_pages": 9}]

    pages = list(_numbered(api, 3).walk())

    assert [number for number, _ in pages] == [1, 2, 3]


def test_a_page_identical_to_the_one_before_is_refused(api):
    api.script[("/pages", 3)] = [{"items": [{"id": i} for i in range(11, 21)], "total_pages": 9}]

    with pytest.raises(ResponseError, match="page 3 is the same as page 2"):
        list(_numbered(api, 3).walk())


def test_a_total_that_shrinks_ends_the_listing_there(api):
    api.script[("/pages", 3)] = [{"items": [{"id": i} for i in range(21, 31)], "total_pages": 3}]

    pages = list(_numbered(api, 3).walk())

    assert [number for number, _ in pages] == [1, 2, 3]


def test_a_total_that_grows_is_read_to_its_new_end(api):
    api.script[("/pages", 2)] = [{"items": [{"id": i} for i in range(11, 21)], "total_pages": 11}]
    api.records = 110  # pages 10 and 11 exist too; the first page still said 9 (it was answered before)
    api.script[("/pages", 1)] = [{"items": [{"id": i} for i in range(1, 11)], "total_pages": 9}]

    pages = list(_numbered(api, 3).walk())

    assert [number for number, _ in pages] == list(range(1, 12))


# --- Errors, in order, naming the right page -------------------------------------------------------------------


def test_a_failed_page_surfaces_after_the_pages_before_it(api):
    api.records = 70  # page 1, then pages 2-4 answered together, then 5-7
    api.script[("/pages", 7)] = [400]
    api.hold = 3
    received = []

    with pytest.raises(ResponseError) as raised:
        for number, _ in _numbered(api, 3).walk():
            received.append(number)

    assert received == [1, 2, 3, 4, 5, 6]
    assert raised.value.status_code == 400 and "page=7" in raised.value.url
    assert api.peak == 3


def test_an_unreadable_page_is_named_by_its_own_url(api):
    api.script[("/pages", 5)] = [{"items": "not a list", "total_pages": 9}]
    api.hold = 3  # page 5 is answered only once pages 6 and 7 have been requested too

    with pytest.raises(ResponseError, match="expected a JSON list") as raised:
        list(_numbered(api, 3).walk())

    assert "page=5" in raised.value.url
    assert {6, 7} <= set(api.requested("/pages"))  # requested later, yet not the page named


def test_a_bad_record_from_list_names_its_page(api):
    api.script[("/pages", 5)] = [{"items": [{"id": "forty-one"}], "total_pages": 9}]

    with pytest.raises(InvalidResourceError) as raised:
        list(_numbered(api, 3).list())

    assert "page=5" in raised.value.url and raised.value.record_id == "forty-one"


def test_a_500_on_one_page_is_retried_and_the_listing_completes(api):
    api.script[("/pages", 4)] = [500, 503]

    pages = list(_numbered(api, 3).walk())

    assert _ids(pages) == list(range(1, 91))
    assert api.requested("/pages").count(4) == 3


def test_the_session_keeps_a_connection_for_every_page_in_flight(api):
    adapter = _numbered(api, 16).get_session().get_adapter(api.url)

    assert adapter._pool_maxsize >= 16  # type: ignore[attr-defined]


def test_a_bad_concurrency_is_a_configuration_error(api):
    with pytest.raises(ConfigurationError, match="concurrency"):
        list(_numbered(api, 0).walk())
    with override_settings(PYCK={"SYNC_CONCURRENT_PAGES": "many"}), pytest.raises(ConfigurationError, match="SYNC_CONCURRENT_PAGES"):
        list(_numbered(api, None).walk())  # type: ignore[arg-type]
    assert api.log == []


# --- Rate limit and request budget, shared by the threads -------------------------------------------------------


def test_the_rate_limit_gives_every_concurrent_request_its_own_slot(api, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(http, "_sleep", waits.append)
    datasource = _numbered(api, 3)
    datasource.rate_limit = 4.0
    # A clock that never moves: each request must wait for its own slot, one quarter second after the last.
    datasource._limiter = http.RateLimiter(4.0, clock=lambda: 100.0)

    pages = list(datasource.walk())

    assert len(pages) == 9 and len(api.log) == 9
    assert sorted(waits) == [k / 4.0 for k in range(1, 9)]


def test_the_request_budget_holds_across_the_threads(api):
    budget = RequestBudget(requests=4, per=60, key=f"test-{uuid.uuid4()}", max_wait=0, clock=lambda: 600.0)
    datasource = _numbered(api, 3)
    datasource.request_budget = budget
    received = []

    with pytest.raises(RateLimitError, match="request budget"):
        for number, _ in datasource.walk():
            received.append(number)

    assert len(api.log) == 4  # the threads' requests past the budget were never sent
    # In order, up to the first page whose request found the budget spent (a page requested ahead may have
    # taken the last request of the window before an earlier one).
    assert received == list(range(1, len(received) + 1)) and 2 <= len(received) <= 4


# --- The sync engine: prefetch and concurrency together, checkpoints included ----------------------------------


@pytest.fixture
def tickets_api(api: PagedAPI, monkeypatch: pytest.MonkeyPatch) -> PagedAPI:
    """The test app's ``Ticket`` datasource pointed at the local server, 3 pages in flight."""
    api.records = 35
    paginator = OffsetPaginator(limit=10, items_path="items", total_path="total", concurrency=3)
    monkeypatch.setattr(resources.tickets, "base_url", api.url)
    monkeypatch.setattr(resources.tickets, "paginator", paginator)
    return api


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("depth", [0, 2])
def test_a_sync_with_prefetch_and_concurrency_writes_every_record(tickets_api, depth):
    with override_settings(PYCK={"SYNC_PREFETCH_PAGES": depth}):
        result = sync_model(Ticket)

    assert result.ok and result.created == 35
    assert sorted(Ticket.objects.values_list("external_id", flat=True)) == list(range(1, 36))
    assert SyncState.objects.get(model="testapp.Ticket").checkpoint is None


@pytest.mark.django_db(transaction=True)
def test_a_sync_that_failed_part_way_resumes_from_its_checkpoint(tickets_api):
    tickets_api.script[("/tickets", 20)] = [400]

    first = sync_model(Ticket)

    assert first.status == "failed" and "offset=20" in first.errors[0].message
    assert Ticket.objects.count() == 20  # the pages before the failed one, in order: nothing after it
    assert SyncState.objects.get(model="testapp.Ticket").checkpoint["position"] == {"page": 10, "index": 10}
    tickets_api.log.clear()

    second = sync_model(Ticket)

    assert second.ok and second.resumed and second.created == 15
    assert sorted(tickets_api.requested("/tickets")) == [10, 20, 30]
    assert sorted(Ticket.objects.values_list("external_id", flat=True)) == list(range(1, 36))


@pytest.mark.django_db(transaction=True)
def test_a_bad_prefetch_setting_is_a_configuration_error(tickets_api):
    with override_settings(PYCK={"SYNC_PREFETCH_PAGES": -1}), pytest.raises(ConfigurationError, match="SYNC_PREFETCH_PAGES"):
        sync_model(Ticket)
