"""The paginators whose positions are numbers the client counts: `PageNumberPaginator` (`?page=2`) and
`OffsetPaginator` (`?offset=20&limit=20`).

Once the first page has said how long the listing is, they request the following pages several at a time
(see "Pages in flight at once" in `pyck.core.pagination`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..conf import pyck_settings
from ..exceptions import ConfigurationError, ResponseError
from ..lookahead import Lookahead
from .paginator import Fetch, Page, Paginator, describe_value, lookup

__all__ = ["OffsetPaginator", "PageNumberPaginator"]


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


def _several_left(position: int, step: int, end: int) -> bool:
    """Whether the listing is known to go on for more than one page after this one (a total was given)."""
    return step >= 1 and end > position + step


def _read_int(paginator: Paginator, page: Page, path: str | None, option: str) -> int | None:
    if not path:
        return None
    value = lookup(page.data, path, None)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise ResponseError(f"{paginator}: expected a whole number at {option}={path!r}, got {describe_value(value)}")
    return int(value)

