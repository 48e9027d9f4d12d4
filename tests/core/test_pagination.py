"""Paginators: each one page by page through a fake API, their stopping rules, loop guards and reuse."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import responses
from responses import matchers

from pyck.core.pagination import (
    CursorPaginator,
    Fetch,
    LinkHeaderPaginator,
    NextUrlPaginator,
    NoPaginator,
    OffsetPaginator,
    Page,
    PageNumberPaginator,
    Paginator,
    lookup,
)
from pyck.core.datasources import ResponseError, RestDatasource

API = "https://api.example.com"
URL = f"{API}/items"


def source(paginator: Paginator | None, **kwargs: Any) -> RestDatasource[dict[str, Any]]:
    return RestDatasource(base_url=API, path="/items", resource_type=dict, paginator=paginator, name="items", **kwargs)


def items(*ids: int) -> list[dict[str, int]]:
    return [{"id": i} for i in ids]


def ids(records: Iterator[dict[str, Any]]) -> list[int]:
    return [r["id"] for r in records]


def page(mock_api: responses.RequestsMock, query: dict[str, Any], body: Any = None, url: str = URL, **kwargs: Any) -> Any:
    """Register one page, answered only to exactly this query string."""
    return mock_api.get(url, json=body, match=[matchers.query_param_matcher({k: str(v) for k, v in query.items()})], **kwargs)


# --- NoPaginator -------------------------------------------------------------------------------------------


def test_no_paginator_is_the_default_and_reads_a_plain_list(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {"q": "x"}, items(1, 2))
    assert ids(source(None).list(q="x")) == [1, 2]


def test_no_paginator_with_items_path(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {}, {"data": {"rows": items(1, 2, 3)}})
    assert ids(source(NoPaginator(items_path="data.rows")).list()) == [1, 2, 3]


def test_an_object_where_a_list_was_expected_says_to_set_items_path(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {}, {"results": items(1), "count": 1})
    with pytest.raises(ResponseError) as caught:
        list(source(None).list())
    message = str(caught.value)
    assert "NoPaginator: expected a JSON list as the body, got an object with keys results, count" in message
    assert "set items_path to where the list is" in message
    assert f"(datasource items, url {URL})" in message


def test_a_missing_items_path_names_the_keys_there_are(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {"page": 1}, {"results": items(1)})
    with pytest.raises(ResponseError, match=r"expected a list at 'items', but the body has no such key \(keys: results\)"):
        list(source(PageNumberPaginator(items_path="items")).list())


# --- PageNumberPaginator -----------------------------------------------------------------------------------


def test_page_numbers_until_total_pages(mock_api: responses.RequestsMock) -> None:
    for number, chunk in enumerate([items(1, 2), items(3, 4), items(5)], start=1):
        page(mock_api, {"page": number, "per_page": 2, "q": "x"}, {"items": chunk, "meta": {"total_pages": 3}})
    paginator = PageNumberPaginator(page_size=2, page_size_param="per_page", items_path="items", total_pages_path="meta.total_pages")
    assert ids(source(paginator).list(q="x")) == [1, 2, 3, 4, 5]
    assert len(mock_api.calls) == 3


def test_page_numbers_until_an_empty_page(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {"page": 0}, items(1, 2))
    page(mock_api, {"page": 1}, items(3))
    page(mock_api, {"page": 2}, [])
    assert ids(source(PageNumberPaginator(start=0)).list()) == [1, 2, 3]


def test_page_number_total_pages_counts_from_start(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {"p": 0}, {"rows": items(1), "pages": 2})
    page(mock_api, {"p": 1}, {"rows": items(2), "pages": 2})
    paginator = PageNumberPaginator(page_param="p", start=0, items_path="rows", total_pages_path="pages")
    assert ids(source(paginator).list()) == [1, 2]


def test_page_size_needs_a_parameter_name() -> None:
    with pytest.raises(ValueError, match="page_size needs page_size_param"):
        PageNumberPaginator(page_size=10)


def test_a_total_that_is_not_a_number_is_reported(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {"page": 1}, {"items": items(1), "total_pages": "many"})
    paginator = PageNumberPaginator(items_path="items", total_pages_path="total_pages")
    with pytest.raises(ResponseError, match=r"PageNumberPaginator: expected a whole number at total_pages_path='total_pages', got str 'many'"):
        list(source(paginator).list())


# --- OffsetPaginator ---------------------------------------------------------------------------------------

UK = dict(offset_param="skip", limit_param="take", limit=20, items_path="items", total_path="totalResults")


def test_offset_uk_parliament_style_stops_at_total(mock_api: responses.RequestsMock) -> None:
    # Members/Search: 45 results, 20 a page (take is at most 20), paged with skip.
    for skip, chunk in [(0, range(0, 20)), (20, range(20, 40)), (40, range(40, 45))]:
        page(mock_api, {"skip": skip, "take": 20, "House": 1}, {"items": items(*chunk), "totalResults": 45})
    assert ids(source(OffsetPaginator(**UK)).list(House=1)) == list(range(45))
    assert len(mock_api.calls) == 3


def test_offset_uk_parliament_real_payload(mock_api: responses.RequestsMock) -> None:
    from tests.conftest import load_fixture

    body = load_fixture("uk/parliament_members_search_page.json")
    got = len(body["items"])
    page(mock_api, {"skip": 0, "take": 20}, {**body, "totalResults": got})
    records = list(source(OffsetPaginator(**UK)).list())
    assert len(records) == got > 0
    assert records[0] == body["items"][0]


def test_offset_advances_by_what_arrived_when_the_api_caps_the_page(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {"offset": 0, "limit": 50}, items(1, 2))
    page(mock_api, {"offset": 2, "limit": 50}, items(3, 4))
    page(mock_api, {"offset": 4, "limit": 50}, [])
    assert ids(source(OffsetPaginator(limit=50)).list()) == [1, 2, 3, 4]


def test_offset_stops_on_an_empty_page_even_below_total(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {"skip": 0, "take": 20}, {"items": items(1), "totalResults": 100})
    page(mock_api, {"skip": 1, "take": 20}, {"items": [], "totalResults": 100})
    assert ids(source(OffsetPaginator(**UK)).list()) == [1]


def test_offset_rejects_a_zero_limit() -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        OffsetPaginator(limit=0)


# --- CursorPaginator ---------------------------------------------------------------------------------------


def test_cursor_follows_tokens_until_there_is_none(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {"q": "x"}, {"data": items(1, 2), "meta": {"next": "c2"}})
    page(mock_api, {"q": "x", "after": "c2"}, {"data": items(3), "meta": {"next": "c3"}})
    page(mock_api, {"q": "x", "after": "c3"}, {"data": items(4), "meta": {"next": None}})
    paginator = CursorPaginator(cursor_param="after", cursor_path="meta.next", items_path="data")
    assert ids(source(paginator).list(q="x")) == [1, 2, 3, 4]


def test_cursor_that_repeats_is_an_error_not_a_loop(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {"api_key": "k"}, {"data": items(1), "next_cursor": "c2"})
    page(mock_api, {"api_key": "k", "cursor": "c2"}, {"data": items(2), "next_cursor": "c3"})
    page(mock_api, {"api_key": "k", "cursor": "c3"}, {"data": items(3), "next_cursor": "c2"})
    records = source(CursorPaginator(items_path="data")).list(api_key="k")
    with pytest.raises(ResponseError) as caught:
        list(records)
    assert "CursorPaginator: the API returned cursor 'c2' twice; stopping instead of looping" in str(caught.value)
    assert f"url {URL}?api_key=***&cursor=c3" in str(caught.value)


# --- NextUrlPaginator --------------------------------------------------------------------------------------


def test_next_url_drf_style(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {"q": "x"}, {"results": items(1), "next": f"{URL}?q=x&page=2"})
    page(mock_api, {"q": "x", "page": 2}, {"results": items(2), "next": "/items?q=x&page=3"})
    page(mock_api, {"q": "x", "page": 3}, {"results": items(3), "next": None})
    assert ids(source(NextUrlPaginator()).list(q="x")) == [1, 2, 3]


def test_next_url_to_another_host_is_refused(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {}, {"results": items(1), "next": "https://evil.example.net/items?page=2"})
    with pytest.raises(ResponseError) as caught:
        list(source(NextUrlPaginator()).list())
    assert "refusing to follow next page link to https://evil.example.net from https://api.example.com" in str(caught.value)
    assert len(mock_api.calls) == 1


def test_next_url_downgrade_to_http_is_refused(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {}, {"results": items(1), "next": "http://api.example.com/items?page=2"})
    with pytest.raises(ResponseError, match="refusing to follow next page link to http://api.example.com"):
        list(source(NextUrlPaginator()).list())


def test_next_url_that_repeats_is_an_error(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {}, {"results": items(1), "next": f"{URL}?page=2"})
    page(mock_api, {"page": 2}, {"results": items(2), "next": f"{URL}?page=2"})
    with pytest.raises(ResponseError, match=r"pointed at next page https://api.example.com/items\?page=2 twice"):
        list(source(NextUrlPaginator()).list())


def test_next_url_that_is_not_a_string_is_reported(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {}, {"results": items(1), "next": {"href": "x"}})
    with pytest.raises(ResponseError, match="expected a URL at 'next', got an object with keys href"):
        list(source(NextUrlPaginator()).list())


# --- LinkHeaderPaginator -----------------------------------------------------------------------------------


def test_link_header_github_style(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {"per_page": 2}, items(1, 2), headers={"Link": f'<{URL}?per_page=2&page=2>; rel="next", <{URL}?per_page=2&page=3>; rel="last"'})
    page(mock_api, {"per_page": 2, "page": 2}, items(3, 4), headers={"Link": '</items?per_page=2&page=3>; rel="next last"'})
    page(mock_api, {"per_page": 2, "page": 3}, items(5), headers={"Link": f'<{URL}?per_page=2&page=1>; rel="first"'})
    assert ids(source(LinkHeaderPaginator()).list(per_page=2)) == [1, 2, 3, 4, 5]


def test_link_header_to_another_host_is_refused(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {}, {"items": items(1)}, headers={"Link": '<https://cdn.example.org/items?page=2>; rel="next"'})
    with pytest.raises(ResponseError, match="refusing to follow next page link to https://cdn.example.org"):
        list(source(LinkHeaderPaginator(items_path="items")).list())


# --- max_pages, laziness -----------------------------------------------------------------------------------


def test_max_pages_stops_without_fetching_more(mock_api: responses.RequestsMock, caplog: pytest.LogCaptureFixture) -> None:
    page(mock_api, {"page": 1}, items(1))
    page(mock_api, {"page": 2}, items(2))
    assert ids(source(PageNumberPaginator(max_pages=2)).list()) == [1, 2]
    assert len(mock_api.calls) == 2
    assert "stopped after max_pages=2 pages" in caplog.text


def test_max_pages_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_pages must be at least 1"):
        NoPaginator(max_pages=0)


def test_pages_are_fetched_only_when_needed(mock_api: responses.RequestsMock) -> None:
    page(mock_api, {"page": 1}, items(1, 2))
    page(mock_api, {"page": 2}, items(3))
    records = source(PageNumberPaginator()).paginate()
    assert next(records) == {"id": 1} and next(records) == {"id": 2}
    assert len(mock_api.calls) == 1
    assert next(records) == {"id": 3}
    assert len(mock_api.calls) == 2
    records.close()


# --- Paginators on their own: reuse, threads, writing your own ---------------------------------------------


class FakeApi:
    """``fetch`` for paginators without HTTP: numbered items, ``size`` a page, offset/limit parameters."""

    def __init__(self, total: int, size: int = 3) -> None:
        self.total, self.size = total, size
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, url: str, query: Mapping[str, Any]) -> Page:
        with self.lock:
            self.calls.append((url, dict(query)))
        start = int(query.get("offset", 0))
        stop = min(self.total, start + min(self.size, int(query.get("limit", self.size))))
        return Page(data={"items": [f"{url}#{i}" for i in range(start, stop)], "total": self.total}, url=url)


def test_one_paginator_walks_several_lists_at_once() -> None:
    paginator = OffsetPaginator(limit=3, items_path="items", total_path="total")
    a = paginator.paginate(FakeApi(7), "a", {})
    b = paginator.paginate(FakeApi(4), "b", {})
    interleaved = []
    for _ in range(4):
        interleaved += [next(a), next(b)]
    interleaved += list(a) + list(b)
    assert [x for x in interleaved if x.startswith("a")] == [f"a#{i}" for i in range(7)]
    assert [x for x in interleaved if x.startswith("b")] == [f"b#{i}" for i in range(4)]


def test_one_paginator_in_many_threads() -> None:
    paginator = OffsetPaginator(limit=2, items_path="items", total_path="total")
    api = FakeApi(25, size=2)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: list(paginator.paginate(api, f"u{n}", {})), range(16)))
    assert results == [[f"u{n}#{i}" for i in range(25)] for n in range(16)]
    assert len(api.calls) == 16 * 13


def test_query_is_not_changed_by_paginating() -> None:
    query = {"q": "x"}
    api = FakeApi(4)
    list(OffsetPaginator(limit=3, items_path="items").paginate(api, "u", query))
    assert query == {"q": "x"}
    assert api.calls == [("u", {"q": "x", "offset": 0, "limit": 3}), ("u", {"q": "x", "offset": 3, "limit": 3}), ("u", {"q": "x", "offset": 4, "limit": 3})]


def test_an_api_that_ignores_the_paging_parameters_is_an_error_not_a_loop(mock_api: responses.RequestsMock) -> None:
    # UK Parliament's Parties/GetActive returns every party whatever skip says, and has no totalResults.
    everything = {"items": items(8, 4, 15)}
    page(mock_api, {"skip": 0, "take": 20}, everything)
    page(mock_api, {"skip": 3, "take": 20}, everything)
    paginator = OffsetPaginator(offset_param="skip", limit_param="take", limit=20, items_path="items")
    with pytest.raises(ResponseError) as caught:
        list(source(paginator).list())
    assert "page 2 is the same as page 1; the API seems to ignore the paging parameters" in str(caught.value)
    assert f"url {URL}?skip=3&take=20" in str(caught.value)


def test_the_documented_custom_paginator() -> None:
    class SincePaginator(Paginator):
        """Pages by the id of the last item: ?since_id=123."""

        def pages(self, fetch, url, query):  # type: ignore[no-untyped-def]
            since = None
            while True:
                page = fetch(url, query if since is None else {**query, "since_id": since})
                items = self.get_items(page)
                yield items
                since = items[-1]["id"] if items else None

    data = items(1, 2, 3, 4, 5)

    def fetch(url: str, query: Mapping[str, Any]) -> Page:
        since = query.get("since_id", 0)
        return Page(data=[d for d in data if d["id"] > since][:2], url=url)

    assert ids(SincePaginator().paginate(fetch, "u", {})) == [1, 2, 3, 4, 5]


def test_the_base_paginator_must_be_subclassed() -> None:
    with pytest.raises(NotImplementedError, match=r"pages\(\) must be implemented"):
        list(Paginator().paginate(FakeApi(1), "u", {}))


@pytest.mark.parametrize(
    ("path", "expected"),
    [(None, {"a": {"b": [10, 20]}}), ("a", {"b": [10, 20]}), ("a.b", [10, 20]), ("a.b.1", 20), ("a.b.-1", 20), ("a.c", "missing"), ("a.b.5", "missing")],
)
def test_lookup_dotted_paths(path: str | None, expected: Any) -> None:
    assert lookup({"a": {"b": [10, 20]}}, path, "missing") == expected


class _EveryScheme:
    """``fetch`` serving 10 items, 3 a page, in every paging scheme at once (``?page``, ``?offset``, ``?cursor``,
    a ``next`` URL in the body and a ``Link`` header)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, url: str, query: Mapping[str, Any]) -> Page:
        parts = urlsplit(url)
        params = {**dict(parse_qsl(parts.query)), **{k: str(v) for k, v in query.items()}}
        self.calls.append(urlunsplit(parts._replace(query=urlencode(params))))
        if "page" in params:
            start = (int(params["page"]) - 1) * 3
        else:
            start = int(params.get("offset", params.get("cursor", params.get("from", 0))))
        stop = min(10, start + 3)
        following = f"http://api.test/list?from={stop}" if stop < 10 else None
        return Page(
            data={"items": list(range(start, stop)), "total": 10, "next_cursor": str(stop) if stop < 10 else None, "next": following},
            url=url,
            headers={"Link": f'<{following}>; rel="next"'} if following else {},
        )


@pytest.mark.parametrize(
    "paginator",
    [
        PageNumberPaginator(items_path="items", total_pages_path=None),
        OffsetPaginator(limit=3, items_path="items", total_path="total"),
        CursorPaginator(items_path="items"),
        NextUrlPaginator(items_path="items"),
        LinkHeaderPaginator(items_path="items"),
        NoPaginator(items_path="items"),
    ],
    ids=str,
)
def test_every_built_in_paginator_resumes_from_any_page_position(paginator: Paginator) -> None:
    assert paginator.resumable
    api = _EveryScheme()
    whole = list(paginator.walk(api, "http://api.test/list", {}))
    whole_calls = api.calls
    assert [item for _, items in whole for item in items] == (list(range(10)) if not isinstance(paginator, NoPaginator) else [0, 1, 2])
    for number, (position, _) in enumerate(whole):
        api = _EveryScheme()
        resumed = list(paginator.walk(api, "http://api.test/list", {}, start=position))
        assert resumed == whole[number:], f"resuming at {position!r}"
        assert api.calls[0] == whole_calls[number], "the first request of a resumed walk fetches the page at its position"


def test_positions_are_json_values() -> None:
    positions = [p for p, _ in CursorPaginator(items_path="items").walk(_EveryScheme(), "http://api.test/list", {})]
    assert positions == [None, "3", "6", "9"]
    assert json.loads(json.dumps(positions)) == positions


def test_a_paginator_implementing_only_pages_is_not_resumable() -> None:
    class Since(Paginator):
        def pages(self, fetch: Fetch, url: str, query: dict[str, Any]) -> Any:
            yield self.get_items(fetch(url, {**query, "offset": 0}))

    class OffsetWithOwnPages(OffsetPaginator):
        def pages(self, fetch: Fetch, url: str, query: dict[str, Any]) -> Any:
            yield ["mine"]

    assert not Since(items_path="items").resumable
    assert [p for p, _ in Since(items_path="items").walk(_EveryScheme(), "u", {})] == [None]
    with pytest.raises(ValueError, match="cannot start part way"):
        list(Since(items_path="items").walk(_EveryScheme(), "u", {}, start=3))
    # A subclass overriding pages() is used as written, and is not resumable.
    assert not OffsetWithOwnPages().resumable
    assert list(OffsetWithOwnPages().paginate(_EveryScheme(), "u", {})) == ["mine"]


def test_resuming_a_next_url_listing_refuses_another_host() -> None:
    with pytest.raises(ResponseError, match="refusing to follow"):
        list(NextUrlPaginator(items_path="items").walk(_EveryScheme(), "http://api.test/list", {}, start="http://evil.test/list?from=3"))
