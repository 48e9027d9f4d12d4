"""``PageRanges``: one paged listing split into partitions of consecutive pages, each read alone.

The listing is a real local HTTP server (:class:`tests.partition_support.api.ListingServer`, pages of 20 by
offset with a total), so every request a partition sends is counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pyck.core.datasources import (
    ConfigurationError,
    CursorPaginator,
    MockDatasource,
    OffsetPaginator,
    OnDelete,
    PageNumberPaginator,
    PageRanges,
    RestDatasource,
)
from pyck.core.page_ranges import PAGE_RANGE
from pyck.core.sync import sync_model
from tests.partition_support.api import ItemResource, ListingServer, items
from tests.testapp.models import Ticket
from tests.testapp.resources import TicketResource


def records(count: int) -> dict[int, dict[str, Any]]:
    return {n: {"id": n, "name": f"item {n}"} for n in range(1, count + 1)}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[ListingServer]:
    """250 records: 13 pages of 20 (the last one of 10); ``items`` points at the server."""
    server = ListingServer(records(250))
    monkeypatch.setattr(items, "base_url", server.url)
    yield server
    server.close()


def ids(datasource: RestDatasource[Any], **query: Any) -> list[int]:
    return [record.id for record in datasource.list(**query)]


# --- Splitting ---


def test_count_splits_the_pages_evenly_and_the_last_partition_reads_to_the_end(api: ListingServer) -> None:
    partitions = PageRanges(items, count=4)()
    # 13 pages, 4 per partition: positions are offsets (20 per page).
    assert partitions == {
        "pages-00-03": {PAGE_RANGE: [0, 80]},
        "pages-04-07": {PAGE_RANGE: [80, 160]},
        "pages-08-11": {PAGE_RANGE: [160, 240]},
        "pages-12-end": {PAGE_RANGE: [240, None]},
    }
    assert api.offsets() == [0], "one request: the first page, for the total"


def test_pages_per_partition_and_the_model_filter(api: ListingServer) -> None:
    partitions = PageRanges(items, pages_per_partition=5, filter={"colour": "red"})()
    assert partitions == {
        "pages-00-04": {"colour": "red", PAGE_RANGE: [0, 100]},
        "pages-05-09": {"colour": "red", PAGE_RANGE: [100, 200]},
        "pages-10-end": {"colour": "red", PAGE_RANGE: [200, None]},
    }


def test_the_page_size_the_api_really_sends_sets_the_ranges(
    api: ListingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The paginator asks for 50; the server caps pages at 20: positions still land on page starts.
    monkeypatch.setattr(items, "paginator", OffsetPaginator(limit=50, items_path="items", total_path="total"))
    api.cap = 20
    assert PageRanges(items, count=2)() == {
        "pages-0-6": {PAGE_RANGE: [0, 140]},
        "pages-7-end": {PAGE_RANGE: [140, None]},
    }


def test_an_empty_listing_is_one_partition_reading_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    server = ListingServer({})
    monkeypatch.setattr(items, "base_url", server.url)
    try:
        assert PageRanges(items, count=4)() == {"pages-0-end": {PAGE_RANGE: [0, None]}}
    finally:
        server.close()


def test_page_numbers_are_positions_for_a_page_number_paginator() -> None:
    source = RestDatasource(
        base_url="http://127.0.0.1:9",
        paginator=PageNumberPaginator(items_path="items", total_pages_path="pages"),
        resource_type=ItemResource,
    )
    assert PageRanges(source, count=3).split(7, 1, 1) == {
        "pages-0-2": {PAGE_RANGE: [1, 4]},
        "pages-3-5": {PAGE_RANGE: [4, 7]},
        "pages-6-end": {PAGE_RANGE: [7, None]},
    }


def test_the_split_is_reused_for_cache_seconds(api: ListingServer) -> None:
    cached = PageRanges(items, count=4)
    assert cached() == cached()
    assert api.offsets() == [0]
    fresh = PageRanges(items, count=4, cache_seconds=0)
    fresh()
    fresh()
    assert api.offsets() == [0, 0, 0]


@pytest.mark.parametrize(
    ("datasource", "kwargs", "message"),
    [
        (items, {}, "give exactly one of count"),
        (items, {"count": 2, "pages_per_partition": 3}, "give exactly one of count"),
        (items, {"count": 0}, "count must be a positive int"),
        (MockDatasource([]), {"count": 2}, "need a RestDatasource"),
        (
            RestDatasource(base_url="http://x", paginator=OffsetPaginator(items_path="items")),
            {"count": 2},
            "OffsetPaginator with total_path",
        ),
        (RestDatasource(base_url="http://x", paginator=CursorPaginator()), {"count": 2}, "OffsetPaginator with total_path"),
    ],
)
def test_what_cannot_be_split_is_refused_when_defined(datasource: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        PageRanges(datasource, **kwargs)


# --- Reading one range ---


def test_a_range_reads_only_its_pages_and_sends_no_reserved_parameter(api: ListingServer) -> None:
    assert ids(items, **{PAGE_RANGE: [80, 160]}) == list(range(81, 161))
    assert sorted(api.offsets()) == [80, 100, 120, 140], "no request past the range"
    assert all("pyck" not in key for query in api.queries() for key in query)


def test_the_last_range_reads_on_to_the_end_of_a_listing_that_grew(api: ListingServer) -> None:
    partitions = PageRanges(items, count=4)()
    api.records.update({n: {"id": n, "name": f"item {n}"} for n in range(251, 281)})
    assert ids(items, **partitions["pages-12-end"]) == list(range(241, 281))


def test_the_ranges_together_read_every_record_once(api: ListingServer) -> None:
    read = [i for args in PageRanges(items, count=3)().values() for i in ids(items, **args)]
    assert read == list(range(1, 251))


def test_a_page_reaching_past_the_range_is_cut_at_its_end(api: ListingServer) -> None:
    # A range not aligned on the pages the API sends: the records past its end belong to the next range.
    assert ids(items, **{PAGE_RANGE: [10, 45]}) == list(range(11, 46))
    assert sorted(api.offsets()) == [10, 30]


def test_a_checkpoint_inside_the_range_is_where_a_resumed_walk_starts(api: ListingServer) -> None:
    pages = list(items.walk(100, **{PAGE_RANGE: [80, 160]}))
    assert [position for position, _ in pages] == [100, 120, 140]


def test_a_bad_range_is_a_configuration_error(api: ListingServer) -> None:
    with pytest.raises(ConfigurationError, match="expected \\[first position"):
        ids(items, **{PAGE_RANGE: "0-80"})


# --- Through the sync engine, one process ---


@pytest.fixture
def tickets(monkeypatch: pytest.MonkeyPatch) -> Iterator[ListingServer]:
    """``Ticket`` (unique external_id) as a full, page-range partitioned model over a local server of 95."""
    server = ListingServer(
        {n: {"id": n, "subject": f"t{n}", "status": "open", "updated_at": "2026-01-01T00:00:00Z"} for n in range(1, 96)},
        path="/tickets",
    )
    source = RestDatasource(
        base_url=server.url,
        path="/tickets",
        resource_type=TicketResource,
        paginator=OffsetPaginator(limit=10, items_path="items", total_path="total"),
        retries=0,
    )
    config = Ticket.sync_config
    monkeypatch.setattr(config, "datasource", source)
    monkeypatch.setattr(config, "incremental", None)
    monkeypatch.setattr(config, "partitions", PageRanges(source, count=3))
    monkeypatch.setattr(config, "on_delete", OnDelete.DELETE)
    yield server
    server.close()


@pytest.mark.django_db
def test_sync_model_of_one_page_range_partition_writes_only_its_records(tickets: ListingServer) -> None:
    result = sync_model(Ticket, partition="pages-4-7")
    assert (result.status, result.created) == ("succeeded", 40)
    assert sorted(Ticket.objects.values_list("external_id", flat=True)) == list(range(41, 81))


@pytest.mark.django_db
def test_a_whole_sync_reads_every_range_then_deletes_what_is_gone(tickets: ListingServer) -> None:
    Ticket.objects.create(external_id=500, subject="gone", status="x", updated_at="2020-01-01T00:00:00Z")
    result = sync_model(Ticket)
    assert [p.partition for p in result.partitions] == ["pages-0-3", "pages-4-7", "pages-8-end"]
    assert (result.status, result.created, result.deleted) == ("succeeded", 95, 1)
    assert sorted(Ticket.objects.values_list("external_id", flat=True)) == list(range(1, 96))
