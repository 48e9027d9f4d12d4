"""Paginators: how a `RestDatasource` walks through the pages of a list endpoint.

Pick the one that matches the API and pass it as the datasource's `paginator`:

```python
class Members(RestDatasource[Member]):
    base_url = "https://members-api.parliament.uk/api"
    path = "/Members/Search"
    paginator = OffsetPaginator(
        offset_param="skip", limit_param="take", limit=20, items_path="items", total_path="totalResults"
    )
```

- `NoPaginator`: one request; the body is the list (or holds it at `items_path`).
- `PageNumberPaginator`: `?page=1`, `?page=2`… until an empty page or `total_pages_path`.
- `OffsetPaginator`: `?offset=0&limit=20`, `?offset=20&limit=20`… until an empty page or
  `total_path`.
- `CursorPaginator`: the body carries the next page's token (`cursor_path`), sent back as
  `cursor_param`.
- `NextUrlPaginator`: the body carries the next page's URL (`next_url_path`).
- `LinkHeaderPaginator`: the `Link: <…>; rel="next"` header (RFC 8288) carries the next page's URL.

Paths into the body are dotted: `"meta.total"` reads `body["meta"]["total"]`.

Every paginator stops at the first empty page, honours an optional `max_pages` (without it, a listing longer
than the `LIST_MAX_PAGES` setting raises `ResponseError`), and refuses to loop: a
page identical to the one before (an API that ignores the paging parameters), or a cursor or next URL seen
before, raises `ResponseError`, as does a next URL that points at another host
(the datasource's credentials must not follow it there).

Paginators keep no state between calls: one instance can serve many datasources and threads at once.

**Pages in flight at once.** `OffsetPaginator` with `total_path` and `PageNumberPaginator` with
`total_pages_path` learn from the first page where the listing ends, so they request the following pages
up to `concurrency` at a time (the `SYNC_CONCURRENT_PAGES` setting, 2, unless set on the paginator), on
worker threads, and still yield them strictly in order. `fetch` is then called from those threads: the
datasource's rate limit and request budget hold for all of them together. Memory stays bounded: at most
`concurrency` pages are fetched ahead of the one being read. Pages requested ahead and then not needed (the
listing ended earlier than the first page said, a page failed, the caller stopped) are dropped.

**Resuming.** The built-in paginators can start a listing part way through: `Paginator.walk` yields each
page with its *position* (the page number, the offset, the cursor token, or the page's URL: a JSON value that
fetches that page again) and takes a `start` position. The sync engine keeps the position of the last page
it wrote as a checkpoint, so a run that died goes on from there (see the "Incremental and resumable syncs" guide). A custom
paginator that only implements `Paginator.pages` works everywhere, but a run that dies starts over.

**Page ranges.** A partition of `pyck.core.page_ranges.PageRanges` reads one run of consecutive pages: its
`list()` arguments carry `PAGE_RANGE` (`[first, stop]`, positions). `take_range` takes it out of the query and
says where to start; `clip_pages` ends the walk before `stop`, and no page at or after `stop` is requested ahead.

**Writing your own.** Subclass `Paginator` and implement `Paginator.pages`, a generator that
fetches a page with `fetch(url, query)`, yields its items, and works out the next request from the
`Page` it got back. Keep the position in local variables, never on `self`:

```python
class SincePaginator(Paginator):
    \"\"\"Pages by the id of the last item: ?since_id=123.\"\"\"

    def pages(self, fetch, url, query):
        since = None
        while True:
            page = fetch(url, query if since is None else {**query, "since_id": since})
            items = self.get_items(page)
            yield items
            since = items[-1]["id"] if items else None
```

The base class stops after an empty page or `max_pages` pages, and raises if a page repeats the one
before, so the loop above need not check.

The paginators live in the modules of this package, by kind: `pyck.core.pagination.paginator` (the base
class, `Page`, `lookup`, `NoPaginator`), `pyck.core.pagination.numbered` (pages by number or offset),
`pyck.core.pagination.followed` (the next page is the one the API points at: cursor, next URL, `Link`
header) and `pyck.core.pagination.ranges` (reading a page range); import them from here.
"""

from __future__ import annotations

from .followed import CursorPaginator, LinkHeaderPaginator, NextUrlPaginator
from .numbered import OffsetPaginator, PageNumberPaginator
from .paginator import Fetch, NoPaginator, Page, Paginator, lookup, truncation_notes
from .ranges import PAGE_RANGE, clip_pages, take_range

__all__ = [
    "PAGE_RANGE",
    "CursorPaginator",
    "Fetch",
    "LinkHeaderPaginator",
    "NextUrlPaginator",
    "NoPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "Paginator",
    "clip_pages",
    "lookup",
    "take_range",
    "truncation_notes",
]
