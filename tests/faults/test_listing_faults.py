"""Listings against a misbehaving server: a failed page fails the listing, rate limits are honoured within a cap,
listings are bounded in length, and what holds when the remote list changes while it is read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings

from pyck.core.datasources import CursorPaginator, RateLimitError, ResponseError

from .server import (
    Answer,
    FaultServer,
    Received,
    dynamic_answer,
    json_answer,
    status_answer,
)
from .sources import MEMBER, members, page


def offset_pages(rows: Callable[[int], list[dict[str, Any]]]) -> Answer:
    """An offset/limit endpoint over ``rows(offset)``: the rows as they stand when that page is read."""

    def answer(received: Received) -> Answer:
        offset = int(received.query["offset"][0])
        limit = int(received.query["limit"][0])
        return json_answer({"items": rows(offset)[offset : offset + limit]})

    return dynamic_answer(answer)


def row(id: int) -> dict[str, Any]:
    return {**MEMBER, "id": id, "name": f"Member {id}"}


def test_listing_with_a_failing_page_raises_after_bounded_retries(server: FaultServer, waits: list[float]) -> None:
    def answer(received: Received) -> Answer:
        offset = received.query["offset"][0]
        return json_answer(page(1, 2)) if offset == "0" else status_answer(500, {"error": "boom"})

    server.route("/members", dynamic_answer(answer))
    source = members(server.url)
    seen: list[int] = []
    with pytest.raises(ResponseError, match="GET answered HTTP 500") as caught:
        for member in source.list():
            seen.append(member.id)
    # The first page was yielded, but the iterator raised: nobody can take the listing for complete.
    assert seen == [1, 2]
    error = caught.value
    assert (error.status_code, error.body) == (500, {"error": "boom"})
    assert f"datasource faults.members, url {server.url}/members?offset=2&limit=2" in str(error)
    failing = [r for r in server.requests_to("/members") if r.query["offset"] == ["2"]]
    assert len(failing) == source.retries + 1
    assert len(waits) == source.retries


def test_rate_limit_storm_without_retry_after_raises_after_bounded_retries(
    server: FaultServer, waits: list[float]
) -> None:
    server.route("/members", status_answer(429))
    source = members(server.url, retries=3, backoff_factor=0.5)
    with pytest.raises(RateLimitError, match="still rate limited after the retries") as caught:
        list(source.list())
    assert caught.value.retry_after is None
    assert len(server.requests_to("/members")) == 4
    # Exponential backoff with jitter: 0.5-1, 1-1.5, 2-2.5 seconds.
    assert [int(w) for w in waits] == [0, 1, 2]
    assert all(w <= 2.5 for w in waits)


def test_rate_limit_storm_with_retry_after_waits_as_asked_then_raises(server: FaultServer, waits: list[float]) -> None:
    server.route("/members", status_answer(429, headers={"Retry-After": "7"}))
    with pytest.raises(RateLimitError) as caught:
        list(members(server.url).list())
    assert caught.value.retry_after == 7
    assert waits == [7, 7]
    assert len(server.requests_to("/members")) == 3


def test_rate_limit_with_retry_after_then_success_is_transparent(server: FaultServer, waits: list[float]) -> None:
    server.route(
        "/members", status_answer(429, headers={"Retry-After": "5"}), json_answer(page(1)), json_answer(page())
    )
    assert [m.id for m in members(server.url).list()] == [1]
    assert waits == [5]


@pytest.mark.parametrize("retry_after", ["86400", "Fri, 01 Jan 2100 00:00:00 GMT"])
def test_absurd_retry_after_is_capped_raising_at_once_without_waiting(
    server: FaultServer, waits: list[float], retry_after: str
) -> None:
    server.route("/members", status_answer(429, headers={"Retry-After": retry_after}))
    with pytest.raises(RateLimitError, match="more than HTTP_MAX_RETRY_AFTER=120s") as caught:
        list(members(server.url).list())
    assert caught.value.retry_after is not None and caught.value.retry_after > 120
    assert waits == []
    assert len(server.requests_to("/members")) == 1


def test_listing_longer_than_list_max_pages_raises(server: FaultServer) -> None:
    server.route("/members", offset_pages(lambda offset: [row(i) for i in range(offset + 2)]))  # never ends
    with override_settings(PYCK={"LIST_MAX_PAGES": 3}):
        with pytest.raises(ResponseError, match=r"more than 3 pages \(LIST_MAX_PAGES\)") as caught:
            list(members(server.url).list())
    assert "datasource faults.members" in str(caught.value)
    assert len(server.requests_to("/members")) == 4


def test_listing_of_exactly_list_max_pages_completes(server: FaultServer) -> None:
    server.route("/members", offset_pages(lambda offset: [row(i) for i in range(1, 7)]))
    with override_settings(PYCK={"LIST_MAX_PAGES": 3}):
        assert [m.id for m in members(server.url).list()] == [1, 2, 3, 4, 5, 6]


# --- A listing that changes while it is read ---------------------------------------------------------------
#
# Offset paging reads positions, not records. What pyck guarantees (docs/guarantees.md):
# - inserts upstream during the read: every record present throughout is seen at least once (some twice);
# - deletes upstream during the read: records present throughout can be skipped, so offset listings of a
#   changing list are only eventually complete; a later run sees them;
# - a cursor that names the last record read (keyset paging) sees every record present throughout once.


def test_offset_listing_with_insert_mid_read_sees_every_record_at_least_once(server: FaultServer) -> None:
    rows = [row(i) for i in (10, 20, 30, 40, 50)]

    def current(offset: int) -> list[dict[str, Any]]:
        if offset == 2 and rows[0]["id"] != 5:
            rows.insert(0, row(5))  # a record inserted upstream between page 1 and page 2
        return rows

    server.route("/members", offset_pages(current))
    seen = [m.id for m in members(server.url).list()]
    assert set(seen) >= {10, 20, 30, 40, 50}
    assert seen == [10, 20, 20, 30, 40, 50]  # 20 moved to position 2 and was read again


def test_offset_listing_with_delete_mid_read_can_skip_a_record(server: FaultServer) -> None:
    rows = [row(i) for i in (10, 20, 30, 40, 50)]

    def current(offset: int) -> list[dict[str, Any]]:
        if offset == 2 and rows[0]["id"] == 10:
            del rows[0]  # deleted upstream between page 1 and page 2
        return rows

    server.route("/members", offset_pages(current))
    seen = [m.id for m in members(server.url).list()]
    assert seen == [10, 20, 40, 50]  # 30 was present throughout and was skipped: documented, not hidden


def test_cursor_listing_with_insert_and_delete_mid_read_sees_every_record_present_throughout(
    server: FaultServer,
) -> None:
    rows = [row(i) for i in (10, 20, 30, 40, 50)]

    def answer(received: Received) -> Answer:
        after = int(received.query.get("after", ["0"])[0])
        if after == 20:
            rows.insert(0, row(5))
            del rows[1]  # 10 goes away
        items = [r for r in rows if r["id"] > after][:2]
        return json_answer({"items": items, "next": items[-1]["id"] if items else None})

    server.route("/members", dynamic_answer(answer))
    source = members(server.url, paginator=CursorPaginator("after", "next", items_path="items"))
    assert [m.id for m in source.list()] == [10, 20, 30, 40, 50]
