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
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from requests.utils import parse_header_links

from .conf import pyck_settings
from .exceptions import ConfigurationError, ResponseError
from .lookahead import Lookahead
from .redaction import redact_url

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
]

logger = logging.getLogger("pyck.pagination")

_MISSING: Any = object()

# While a sync reads a listing: where paginators note that they stopped early (see truncation_notes).
_truncations: ContextVar[list[str] | None] = ContextVar("pyck_listing_truncations", default=None)


@contextlib.contextmanager
def truncation_notes() -> Iterator[list[str]]:
    """Collect a note for every listing a paginator cuts short because of its `max_pages`, while active.

    The sync engine reads its listing inside this, so that a listing stopped early never counts as complete
    (nothing is deleted after it). Paginators keep no state, so the notes go to the caller's context instead.
    """
    notes: list[str] = []
    token = _truncations.set(notes)
    try:
        yield notes
    finally:
        _truncations.reset(token)


@dataclass(frozen=True, slots=True)
class Page:
    """One response of a list endpoint, as a paginator sees it."""

    data: Any
    """The parsed JSON body."""
    url: str
    """The URL that was requested, with its query string (used to resolve relative next links)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """The response headers (case-insensitive when they come from `requests`)."""


# ``fetch(url, query) -> Page``: sends a GET with the datasource's headers, retries and error handling.
# It may be called from several threads at once (see "Pages in flight at once" above).
Fetch = Callable[[str, Mapping[str, Any]], Page]


# A RestDatasource's fetch carries two private attributes for paginators that request pages ahead:
# ``taken(page)``, called as a page fetched on another thread is read, so that errors about it (and records
# read from it) name that page's URL rather than the last one requested; and ``stop``, the position before
# which a page-range partition ends (no page there or later is requested ahead; None: the end of the listing).


def _taken(fetch: Fetch, page: Page) -> None:
    taken = getattr(fetch, "taken", None)
    if taken is not None:
        taken(page)


def _stop(fetch: Fetch, end: int) -> int:
    stop = getattr(fetch, "stop", None)
    return end if stop is None else min(end, int(stop))


def lookup(data: Any, path: str | None, default: Any = _MISSING) -> Any:
    """Read the dotted `path` from `data` (`"meta.total"`); `None` or `""` returns `data` itself.

    Returns `default` when a key is missing; raises `KeyError` when there is no default.
    """
    if not path:
        return data
    current = data
    for key in path.split("."):
        if isinstance(current, Mapping) and key in current:
            current = current[key]
        elif isinstance(current, list) and key.lstrip("-").isdigit() and -len(current) <= int(key) < len(current):
            current = current[int(key)]
        else:
            if default is _MISSING:
                raise KeyError(path)
            return default
    return current


class Paginator:
    """Base class of the paginators. Subclass it and implement `pages` to support another scheme.

    Args:
        items_path: the dotted path of the list of items in each body; `None` when the body is the list.
        max_pages: stop after this many pages (`None`: no limit). A safety net, and handy while developing.
    """

    items_path: str | None = None
    """The dotted path of the list of items in each body; `None` when the body is the list."""
    max_pages: int | None = None
    """Stop after this many pages; `None` for no limit."""

    def __init__(self, *, items_path: str | None = None, max_pages: int | None = None) -> None:
        if max_pages is not None and max_pages < 1:
            raise ValueError(f"max_pages must be at least 1 or None, got {max_pages!r}")
        self.items_path = items_path
        self.max_pages = max_pages

    def paginate(self, fetch: Fetch, url: str, query: Mapping[str, Any]) -> Iterator[Any]:
        """Yield every item of every page, fetching each page only when the previous one is used up.

        Stops after an empty page and after `max_pages` pages (a listing stopped that way is reported to
        the sync engine as truncated, so it deletes nothing after it); raises
        `ResponseError` when a page repeats the one before, and when
        `max_pages` is not set and the listing runs past the `LIST_MAX_PAGES` setting (a listing cut
        short must not pass for a complete one). Override `pages`, not this.
        """
        for _, items in self.walk(fetch, url, query):
            yield from items

    @property
    def resumable(self) -> bool:
        """Whether `walk` can start part way through (the paginator implements `positioned_pages`)."""
        # A subclass of a built-in paginator that overrides pages() means its pages(), which has no positions.
        pages_owner = _owner(type(self), "pages")
        positioned_owner = _owner(type(self), "positioned_pages")
        return positioned_owner is not Paginator and not (
            pages_owner is not positioned_owner and issubclass(pages_owner, positioned_owner)
        )

    def walk(self, fetch: Fetch, url: str, query: Mapping[str, Any], *, start: Any = None) -> Iterator[tuple[Any, list[Any]]]:
        """Yield `(position, items)` for each page, with the checks of `paginate`.

        `position` is a JSON value that, given back as `start`, fetches that same page again (`None` for
        a paginator that is not `resumable`). `start=None` begins at the first page; counting towards
        `max_pages` and `LIST_MAX_PAGES` begins at `start`.
        """
        if start is not None and not self.resumable:
            raise ValueError(f"{self} cannot start part way through a listing: it does not implement positioned_pages()")
        safety_limit = int(pyck_settings.LIST_MAX_PAGES) if self.max_pages is None else None
        if self.resumable:
            pages = self.positioned_pages(fetch, url, dict(query), start)
        else:
            pages = ((None, items) for items in self.pages(fetch, url, dict(query)))
        previous: list[Any] | None = None
        try:
            for number, (position, items) in enumerate(pages, start=1):
                if not items:
                    return
                if safety_limit is not None and number > safety_limit:
                    raise ResponseError(
                        f"{self}: the listing has more than {safety_limit} pages (LIST_MAX_PAGES); raise that "
                        "setting, or set max_pages on the paginator to read only the first pages on purpose"
                    )
                if items == previous:
                    # An API that ignores the paging parameters sends the first page forever.
                    raise ResponseError(
                        f"{self}: page {number} is the same as page {number - 1}; the API seems to ignore the "
                        "paging parameters (use NoPaginator if it returns everything at once)"
                    )
                previous = items
                yield position, items
                if self.max_pages is not None and number >= self.max_pages:
                    logger.warning("%s: stopped after max_pages=%d pages at %s", self, self.max_pages, url)
                    notes = _truncations.get()
                    if notes is not None:
                        notes.append(f"{self} stopped after max_pages={self.max_pages} pages at {redact_url(url)}")
                    return
        finally:
            pages.close()

    def pages(self, fetch: Fetch, url: str, query: dict[str, Any]) -> Iterator[list[Any]]:
        """Yield the list of items of each page in turn. Implement this to support a new pagination scheme.

        Call `fetch(url, query)` for each page and `get_items` to read its items. Keep the position
        (page number, cursor) in local variables: the same paginator may be walking several lists at once.
        You need not stop on an empty page, count pages or compare pages; `paginate` does that.
        """
        for _, items in self.positioned_pages(fetch, url, query, None):
            yield items

    def positioned_pages(self, fetch: Fetch, url: str, query: dict[str, Any], start: Any) -> Iterator[tuple[Any, list[Any]]]:
        """Yield `(position, items)` for each page from `start` on (`None`: the first page).

        Implement this instead of `pages` to make the paginator `resumable`: `position` must be a
        JSON value (number, string, list or dict) from which the same page can be fetched again. The default
        wraps `pages` and yields `None` positions.
        """
        if type(self).pages is Paginator.pages:
            raise NotImplementedError(f"{type(self).__name__}: pages() must be implemented (or positioned_pages()).")
        for items in self.pages(fetch, url, query):
            yield None, items

    def get_items(self, page: Page) -> list[Any]:
        """Return the list of items in `page` (at `items_path`). Override for unusual bodies."""
        items = lookup(page.data, self.items_path, None)
        if isinstance(items, list):
            return items
        if items is None and self.items_path and isinstance(page.data, Mapping):
            raise ResponseError(
                f"{self}: expected a list at {self.items_path!r}, but the body has no such key "
                f"(keys: {', '.join(map(str, list(page.data)[:10]))})"
            )
        where = f"at {self.items_path!r}" if self.items_path else "as the body"
        hint = "; set items_path to where the list is" if isinstance(page.data, Mapping) and not self.items_path else ""
        raise ResponseError(f"{self}: expected a JSON list {where}, got {_describe(items)}{hint}")

    def __str__(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if v is not None)
        return f"{type(self).__name__}({settings})"


class NoPaginator(Paginator):
    """One request: the body is the whole list, or holds it at `items_path`."""

    def positioned_pages(self, fetch: Fetch, url: str, query: dict[str, Any], start: Any) -> Iterator[tuple[Any, list[Any]]]:
        """Fetch the one page (position 0)."""
        yield 0, self.get_items(fetch(url, query))


class _CountedPaginator(Paginator):
    """Shared by the paginators whose pages are numbered or offset, so that several can be requested at once
    once the first page has told how long the listing is."""

    # How many pages may be in flight at once after the first one; ``None``: the ``SYNC_CONCURRENT_PAGES``
    # setting. 1 fetches one page at a time.
    concurrency: int | None = None

    def get_concurrency(self) -> int:
        """How many pages may be in flight at once: `concurrency`, else `SYNC_CONCURRENT_PAGES`."""
        value = self.concurrency if self.concurrency is not None else pyck_settings.SYNC_CONCURRENT_PAGES
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            where = f"{self}(concurrency=...)" if self.concurrency is not None else "the SYNC_CONCURRENT_PAGES setting"
            raise ConfigurationError(f"{where} must be a whole number of at least 1 (1: one page at a time), got {value!r}")
        return value

    def _walk_counted(
        self,
        fetch: Fetch,
        url: str,
        params: Callable[[int], dict[str, Any]],
        position: int,
        follow: Callable[[int, Page, list[Any]], tuple[int, int, int] | None],
    ) -> Iterator[tuple[int, list[Any]]]:
        """Read pages from `position` one at a time until the listing tells enough about what is left to
        request several at once (see `_pages_ahead`)."""
        concurrency = self.get_concurrency()
        while True:
            page = fetch(url, params(position))
            items = self.get_items(page)
            yield position, items
            after = follow(position, page, items)
            if after is None:
                return
            if concurrency > 1 and _several_left(*after):
                yield from self._pages_ahead(fetch, url, params, *after, follow)
                return
            position = after[0]

    def _pages_ahead(
        self,
        fetch: Fetch,
        url: str,
        params: Callable[[int], dict[str, Any]],
        position: int,
        step: int,
        end: int,
        follow: Callable[[int, Page, list[Any]], tuple[int, int, int] | None],
    ) -> Iterator[tuple[int, list[Any]]]:
        """Yield `(position, items)` from `position` on (the first page is read already), with up to
        `get_concurrency` requests in flight, in order.

        Requests go to the predicted positions `position`, `position + step`… below `end`.
        `follow(position, page, items)` reads a page once it is taken and returns where the listing goes on,
        as `(next position, step, end)`, or `None` at its end. When the next position is not the one
        predicted (a page shorter than the first), the requests made ahead are dropped and predicted again.
        """
        # The walk reads at most max_pages pages, or raises on page LIST_MAX_PAGES + 1: never request more.
        limit = self.max_pages if self.max_pages is not None else int(pyck_settings.LIST_MAX_PAGES) + 1
        read = 1
        with Lookahead[int, Page](fetch, self.get_concurrency()) as ahead:
            sent = position
            while True:
                while len(ahead) < ahead.workers and sent < _stop(fetch, end) and read + len(ahead) < limit:
                    ahead.send(sent, url, params(sent))
                    sent += step
                if ahead:
                    taken, page = ahead.take()
                    _taken(fetch, page)
                else:  # only when the walk reads past its own limit, which it does not
                    taken, page = position, fetch(url, params(position))
                items = self.get_items(page)
                yield taken, items
                read += 1
                after = follow(taken, page, items)
                if after is None:
                    return
                position, next_step, end = after
                if position != taken + step or next_step != step:
                    ahead.drop()
                    sent, step = position, max(next_step, 1)


class PageNumberPaginator(_CountedPaginator):
    """Pages numbered `?page=1`, `?page=2`…, until an empty page or the last page.

    With `total_pages_path`, the pages after the first are requested up to `concurrency` at a time
    (see the module's documentation).

    Args:
        page_param: the query parameter holding the page number.
        start: the number of the first page (some APIs count from 0).
        page_size: the page size to ask for; `None` leaves it to the API.
        page_size_param: the query parameter for `page_size` (needed when `page_size` is set).
        items_path: the dotted path of the items in the body.
        total_pages_path: the dotted path of the number of pages, if the API says; otherwise paging stops at
            the first empty page.
        max_pages: stop after this many pages.
        concurrency: how many pages may be in flight at once when `total_pages_path` is known; `None`:
            the `SYNC_CONCURRENT_PAGES` setting.
    """

    def __init__(
        self,
        page_param: str = "page",
        start: int = 1,
        page_size: int | None = None,
        page_size_param: str | None = None,
        *,
        items_path: str | None = None,
        total_pages_path: str | None = None,
        max_pages: int | None = None,
        concurrency: int | None = None,
    ) -> None:
        super().__init__(items_path=items_path, max_pages=max_pages)
        if page_size is not None and not page_size_param:
            raise ValueError("PageNumberPaginator: page_size needs page_size_param, the query parameter to send it in")
        self.page_param = page_param
        self.start = start
        self.page_size = page_size
        self.page_size_param = page_size_param
        self.total_pages_path = total_pages_path
        self.concurrency = concurrency

    def positioned_pages(self, fetch: Fetch, url: str, query: dict[str, Any], start: Any) -> Iterator[tuple[Any, list[Any]]]:
        """Fetch page `start`, `start + 1`… until an empty page or the last one; the position is the page number."""

        def params(number: int) -> dict[str, Any]:
            sent = {**query, self.page_param: number}
            if self.page_size is not None and self.page_size_param:
                sent[self.page_size_param] = self.page_size
            return sent

        def follow(number: int, page: Page, items: list[Any]) -> tuple[int, int, int] | None:
            total_pages = _read_int(self, page, self.total_pages_path, "total_pages_path")
            if total_pages is not None and number - self.start + 1 >= total_pages:
                return None
            # Without a total (any more), only the next page is known to be worth asking for.
            return number + 1, 1, self.start + total_pages if total_pages is not None else number + 2

        yield from self._walk_counted(fetch, url, params, self.start if start is None else int(start), follow)


class OffsetPaginator(_CountedPaginator):
    """Pages by offset and limit: `?offset=0&limit=20`, `?offset=20&limit=20`…

    The offset moves on by the number of items actually received, so an API that caps the page size below
    `limit` loses nothing. With `total_path`, the pages after the first are requested up to
    `concurrency` at a time, at the offsets the first page's size predicts (see the module's
    documentation); a page shorter than that before the end makes the next ones be asked for again.

    Args:
        offset_param: the query parameter holding the offset (`"skip"` for the UK Parliament API).
        limit_param: the query parameter holding the page size (`"take"`).
        limit: the page size to ask for.
        offset: the offset of the first page.
        items_path: the dotted path of the items in the body.
        total_path: the dotted path of the total number of items, if the API says; otherwise paging stops
            at the first empty page.
        max_pages: stop after this many pages.
        concurrency: how many pages may be in flight at once when `total_path` is known; `None`: the
            `SYNC_CONCURRENT_PAGES` setting.
    """

    def __init__(
        self,
        offset_param: str = "offset",
        limit_param: str = "limit",
        limit: int = 100,
        *,
        offset: int = 0,
        items_path: str | None = None,
        total_path: str | None = None,
        max_pages: int | None = None,
        concurrency: int | None = None,
    ) -> None:
        super().__init__(items_path=items_path, max_pages=max_pages)
        if limit < 1:
            raise ValueError(f"OffsetPaginator: limit must be at least 1, got {limit!r}")
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.limit = limit
        self.offset = offset
        self.total_path = total_path
        self.concurrency = concurrency

    def positioned_pages(self, fetch: Fetch, url: str, query: dict[str, Any], start: Any) -> Iterator[tuple[Any, list[Any]]]:
        """Fetch from `offset` on, `limit` at a time, until an empty page or `total` items; the position is
        the offset."""

        def params(offset: int) -> dict[str, Any]:
            return {**query, self.offset_param: offset, self.limit_param: self.limit}

        def follow(offset: int, page: Page, items: list[Any]) -> tuple[int, int, int] | None:
            after = offset + len(items)
            total = _read_int(self, page, self.total_path, "total_path")
            if total is not None and after >= total:
                return None
            # Pages as long as this one from here on, up to the total; without one, only the next page.
            return after, len(items), total if total is not None else after + 1

        yield from self._walk_counted(fetch, url, params, self.offset if start is None else int(start), follow)


class CursorPaginator(Paginator):
    """The body carries a token for the next page, sent back in a query parameter; no token ends the list.

    Args:
        cursor_param: the query parameter to send the token in.
        cursor_path: the dotted path of the next page's token in the body.
        items_path: the dotted path of the items in the body.
        max_pages: stop after this many pages.
    """

    def __init__(
        self,
        cursor_param: str = "cursor",
        cursor_path: str = "next_cursor",
        *,
        items_path: str | None = None,
        max_pages: int | None = None,
    ) -> None:
        super().__init__(items_path=items_path, max_pages=max_pages)
        self.cursor_param = cursor_param
        self.cursor_path = cursor_path

    def positioned_pages(self, fetch: Fetch, url: str, query: dict[str, Any], start: Any) -> Iterator[tuple[Any, list[Any]]]:
        """Fetch the first page, then follow the cursors until there is none; the position is the cursor sent
        (`None` for the first page)."""
        seen: set[str] = set()
        params = query if start is None else {**query, self.cursor_param: start}
        position = start
        while True:
            page = fetch(url, params)
            yield position, self.get_items(page)
            cursor = lookup(page.data, self.cursor_path, None)
            if cursor in (None, ""):
                return
            if str(cursor) in seen:
                raise ResponseError(f"{self}: the API returned cursor {cursor!r} twice; stopping instead of looping")
            seen.add(str(cursor))
            position = cursor if isinstance(cursor, (str, int)) and not isinstance(cursor, bool) else str(cursor)
            params = {**query, self.cursor_param: cursor}


class _NextLinkPaginator(Paginator):
    """Shared by the paginators that follow a URL given by the API."""

    def next_url(self, page: Page) -> str | None:
        """Return the next page's URL as the API gives it (maybe relative), or `None` on the last page."""
        raise NotImplementedError("next_url() must be implemented.")

    def positioned_pages(self, fetch: Fetch, url: str, query: dict[str, Any], start: Any) -> Iterator[tuple[Any, list[Any]]]:
        """Fetch the first page, then follow the next links (which carry their own query) to the end; the
        position is the URL of a followed link (`None` for the first page)."""
        seen = {url}
        if start is None:
            page = fetch(url, query)
        else:
            _check_same_host(self, url, str(start))
            page = fetch(str(start), {})
        position = start
        while True:
            yield position, self.get_items(page)
            link = self.next_url(page)
            if not link:
                return
            target = urljoin(page.url, link)
            _check_same_host(self, page.url, target)
            if target in seen or target == page.url:
                raise ResponseError(
                    f"{self}: the API pointed at next page {redact_url(target)} twice; stopping instead of looping"
                )
            seen.add(target)
            position = target
            page = fetch(target, {})


class NextUrlPaginator(_NextLinkPaginator):
    """The body carries the URL of the next page (`{"next": "https://…?page=3", "results": […]}`, as Django
    REST framework does); a null or missing URL ends the list.

    Args:
        next_url_path: the dotted path of the next page's URL in the body.
        items_path: the dotted path of the items in the body.
        max_pages: stop after this many pages.
    """

    def __init__(
        self, next_url_path: str = "next", items_path: str | None = "results", *, max_pages: int | None = None
    ) -> None:
        super().__init__(items_path=items_path, max_pages=max_pages)
        self.next_url_path = next_url_path

    def next_url(self, page: Page) -> str | None:
        """Read the URL at `next_url_path`."""
        value = lookup(page.data, self.next_url_path, None)
        if value is not None and not isinstance(value, str):
            raise ResponseError(f"{self}: expected a URL at {self.next_url_path!r}, got {_describe(value)}")
        return value


class LinkHeaderPaginator(_NextLinkPaginator):
    """The `Link` header carries the next page's URL (RFC 8288: `Link: <https://…?page=3>; rel="next"`),
    as GitHub's API does; no `rel="next"` ends the list.

    Args:
        items_path: the dotted path of the items in the body; `None` when the body is the list.
        max_pages: stop after this many pages.
    """

    def __init__(self, items_path: str | None = None, *, max_pages: int | None = None) -> None:
        super().__init__(items_path=items_path, max_pages=max_pages)

    def next_url(self, page: Page) -> str | None:
        """Read the link with `rel="next"` from the `Link` header."""
        header = _header(page.headers, "Link")
        if not header:
            return None
        for link in parse_header_links(header):
            if "next" in link.get("rel", "").lower().split():
                return link.get("url") or None
        return None


# --- Page ranges ---------------------------------------------------------------------------------------------

PAGE_RANGE = "pyck:page_range"
"""The reserved `list()` argument of a page-range partition: `[first, stop]`, paginator positions (`stop`
`None`: to the end). `pyck.core.page_ranges.PageRanges` sets it; `take_range` takes it out of the query."""


def take_range(query: dict[str, Any], start: Any) -> tuple[dict[str, Any], Any, int | None]:
    """Take `PAGE_RANGE` out of `query`: return the query to send, where to start reading (`start`, a
    checkpoint, when given; else the range's first position) and the position to stop before (`None`: the end).
    """
    if PAGE_RANGE not in query:
        return query, start, None
    query = dict(query)
    bounds = query.pop(PAGE_RANGE)
    if not (
        isinstance(bounds, (list, tuple))
        and len(bounds) == 2
        and all(b is None or (isinstance(b, int) and not isinstance(b, bool)) for b in bounds)
        and bounds[0] is not None
    ):
        raise ConfigurationError(
            f"list({PAGE_RANGE}=...): expected [first position, stop position or None], got {bounds!r}."
        )
    first, stop = bounds
    return query, first if start is None else start, stop


def clip_pages(
    paginator: Paginator, pages: Iterator[tuple[Any, list[Any]]], stop: int | None
) -> Iterator[tuple[Any, list[Any]]]:
    """Yield the pages of `pages` (`(position, items)`) that lie before position `stop`, and no further
    request: an offset page reaching past `stop` is cut there, and the walk ends on the page before `stop`."""
    if stop is None:
        yield from pages
        return
    offsets = isinstance(paginator, OffsetPaginator)
    try:
        for position, items in pages:
            if position is None or int(position) >= stop:
                return
            position = int(position)
            kept = items[: stop - position] if offsets else items
            yield position, kept
            following = position + len(items) if offsets else position + 1
            if following >= stop:
                return
    finally:
        close = getattr(pages, "close", None)
        if close is not None:
            close()


def _several_left(position: int, step: int, end: int) -> bool:
    """Whether the listing is known to go on for more than one page after this one (a total was given)."""
    return step >= 1 and end > position + step


def _owner(cls: type[Any], name: str) -> type[Any]:
    return next(klass for klass in cls.__mro__ if name in vars(klass))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def _check_same_host(paginator: Paginator, current: str, target: str) -> None:
    here, there = urlsplit(current), urlsplit(target)
    same_host = (here.hostname, here.port) == (there.hostname, there.port)
    downgrade = here.scheme == "https" and there.scheme != "https"
    if not same_host or downgrade or there.scheme not in ("http", "https"):
        raise ResponseError(
            f"{paginator}: refusing to follow next page link to {there.scheme}://{there.hostname} from "
            f"{here.scheme}://{here.hostname}: it leaves the API's host, and the credentials must not follow"
        )


def _read_int(paginator: Paginator, page: Page, path: str | None, option: str) -> int | None:
    if not path:
        return None
    value = lookup(page.data, path, None)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise ResponseError(f"{paginator}: expected a whole number at {option}={path!r}, got {_describe(value)}")
    return int(value)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null or missing)"
    if isinstance(value, Mapping):
        return f"an object with keys {', '.join(map(str, list(value)[:10]))}"
    text = repr(value)
    return f"{type(value).__name__} {text[:80]}{'…' if len(text) > 80 else ''}"
