"""Page-range partitions: one long paged listing split into runs of consecutive pages.

`PageRanges` is a `SyncConfig(partitions=...)` callable for a
`RestDatasource` whose paginator numbers its pages and says how long the listing is (an
`OffsetPaginator` with `total_path`, a
`PageNumberPaginator` with `total_pages_path`). It reads the first page to learn
the length, then returns partitions such as `{"pages-0-49": {...}, "pages-50-99": {...}, "pages-100-end":
{...}}`, which workers can sync at the same time (see `pyck.core.cron.partitions`).

Each partition's `list()` arguments carry the reserved key `PAGE_RANGE`: `[first, stop]`, paginator
positions (offsets, or page numbers). `RestDatasource.walk` takes it
out of the query and reads from `first` (or from a checkpoint inside the range, when a run resumes) up to,
not including, `stop`; `stop` is `None` for the last partition, which reads on to the end of the listing,
so records added since the split are not missed. Together the ranges cover the listing from its first position
on, whatever its length by the time each is read. Reading a range is the paginators' part (`PAGE_RANGE`,
`take_range` and `clip_pages` are in `pyck.core.pagination`); this module only decides where the ranges fall.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from .exceptions import ConfigurationError, ResponseError
from .pagination import PAGE_RANGE, OffsetPaginator, Page, PageNumberPaginator, lookup
from .rest import RestDatasource

__all__ = ["PAGE_RANGE", "PageRanges"]


class PageRanges:
    """`SyncConfig(partitions=PageRanges(datasource, count=4))`: split the datasource's listing into partitions
    of consecutive pages.

    Called at the start of each sync (as any callable `partitions`), it fetches the listing's first page to
    learn its length. Give exactly one of `count` and `pages_per_partition`:

    ```python
    tickets = TicketSource(path="/tickets", resource_type=Ticket)  # OffsetPaginator(total_path="total")

    class Ticket(SyncedModel):
        sync_config = SyncConfig(
            datasource=tickets,
            partitions=PageRanges(tickets, count=8),
            on_delete=OnDelete.DELETE,
        )
        external_id = models.IntegerField(unique=True)
    ```

    Page ranges are positions in one listing, so they suit full listings: an incremental run of a partition
    asks for the records changed since *that partition's* cursor, a different listing whose positions do not
    line up with the others'. `pyck.core.cron.partitions.enqueue_partitioned_sync()` therefore runs page-range
    partitions as full listings; for incremental syncs, partition by the datasource's own criteria (date or id
    ranges, one partition per parent record) instead.

    Args:
        datasource: the model's datasource: a `RestDatasource` that does not override
            `list()` or `paginate()`, paged by an `OffsetPaginator` with `total_path` or a
            `PageNumberPaginator` with `total_pages_path`.
        count: how many partitions to make (fewer when the listing has fewer pages).
        pages_per_partition: how many pages each partition reads (the last one reads on to the end).
        filter: the `list()` arguments of the first-page request: the model's `SyncConfig.filter`, if any.
        cache_seconds: how long a split is reused before the first page is fetched again (the clock's
            `--list`, and each partition's task in a worker, ask for the partitions too).

    Raises:
        ConfigurationError: the datasource or its paginator cannot be split by position, or the counts are
            not positive whole numbers.
    """

    def __init__(
        self,
        datasource: Any,
        *,
        count: int | None = None,
        pages_per_partition: int | None = None,
        filter: dict[str, Any] | None = None,
        cache_seconds: float = 60.0,
    ) -> None:
        if (count is None) == (pages_per_partition is None):
            raise ConfigurationError(
                f"PageRanges({datasource}): give exactly one of count=... (how many partitions) and "
                f"pages_per_partition=..., got count={count!r}, pages_per_partition={pages_per_partition!r}."
            )
        for name, value in (("count", count), ("pages_per_partition", pages_per_partition)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigurationError(f"PageRanges({datasource}): {name} must be a positive int, got {value!r}.")
        if filter is not None and not isinstance(filter, dict):
            raise ConfigurationError(
                f"PageRanges({datasource}): filter must be a dict of list() arguments, got {filter!r}."
            )
        self.datasource = datasource
        self.count = count
        self.pages_per_partition = pages_per_partition
        self.filter = dict(filter or {})
        self.cache_seconds = float(cache_seconds)
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, dict[str, Any]]] | None = None
        self._paginator()  # fail now, when the model is defined, rather than at the first sync

    def __repr__(self) -> str:
        size = f"count={self.count}" if self.count is not None else f"pages_per_partition={self.pages_per_partition}"
        return f"PageRanges({self.datasource}, {size})"

    def _paginator(self) -> OffsetPaginator | PageNumberPaginator:
        datasource = self.datasource
        if not isinstance(datasource, RestDatasource) or not datasource.resumable:
            raise ConfigurationError(
                f"PageRanges({datasource}): page ranges need a RestDatasource that reads its listing through its "
                "paginator (list() and paginate() not overridden, a paginator that can start part way through)."
            )
        paginator = datasource.paginator
        if isinstance(paginator, OffsetPaginator) and paginator.total_path:
            return paginator
        if isinstance(paginator, PageNumberPaginator) and paginator.total_pages_path:
            return paginator
        raise ConfigurationError(
            f"PageRanges({datasource}): the paginator must number its pages and tell the listing's length: an "
            f"OffsetPaginator with total_path or a PageNumberPaginator with total_pages_path, got {paginator!r}."
        )

    def __call__(self) -> dict[str, dict[str, Any]]:
        """Return the partitions: name -> `list()` arguments (`{PAGE_RANGE: [first, stop], **filter}`)."""
        with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self.cache_seconds:
                return {name: dict(args) for name, args in self._cached[1].items()}
            partitions = self.split(*self._measure())
            self._cached = (now, partitions)
            return {name: dict(args) for name, args in partitions.items()}

    def _measure(self) -> tuple[int, int, int]:
        """Fetch the first page: return `(pages, first position, position step)`."""
        paginator = self._paginator()
        datasource = self.datasource
        fetched: list[Page] = []
        pages: Iterator[tuple[Any, list[Any]]] = paginator.positioned_pages(
            lambda url, params: _remember(_fetch(datasource, url, params), fetched),
            datasource.url,
            {**datasource.list_query, **self.filter},
            None,
        )
        try:
            _, items = next(pages)
        finally:
            pages.close()
        [page] = fetched
        if isinstance(paginator, OffsetPaginator):
            total = _whole_number(datasource, page, paginator.total_path)
            step = len(items) or paginator.limit  # the API may cap pages below the limit asked for
            return math.ceil(max(total - paginator.offset, 0) / step), paginator.offset, step
        total_pages = _whole_number(datasource, page, paginator.total_pages_path)
        return (total_pages if items else 0), paginator.start, 1

    def split(self, pages: int, first: int, step: int) -> dict[str, dict[str, Any]]:
        """Return the partitions of a listing of `pages` pages whose first page is at position `first` and
        whose pages are `step` positions apart (an offset paginator's page size; 1 for page numbers).

        Every partition but the last stops where the next one starts; the last reads on to the end. An empty
        listing gives one partition, which reads it all.
        """
        if self.pages_per_partition is not None:
            size = self.pages_per_partition
        else:
            size = max(1, math.ceil(pages / (self.count or 1)))
        starts = list(range(0, max(pages, 1), size))
        width = len(str(starts[-1]))
        partitions: dict[str, dict[str, Any]] = {}
        for number, start in enumerate(starts):
            last = number == len(starts) - 1
            name = f"pages-{start:0{width}d}-" + ("end" if last else f"{start + size - 1:0{width}d}")
            stop = None if last else first + (start + size) * step
            partitions[name] = {**self.filter, PAGE_RANGE: [first + start * step, stop]}
        return partitions


def _fetch(datasource: RestDatasource[Any], url: str, params: Mapping[str, Any]) -> Page:
    response = datasource.request("GET", url, params=params)
    return Page(data=datasource.parse_json(response), url=str(response.url or url), headers=response.headers)


def _remember(page: Page, into: list[Page]) -> Page:
    into.append(page)
    return page


def _whole_number(datasource: Any, page: Page, path: str | None) -> int:
    value = lookup(page.data, path, None)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise ResponseError(
            f"PageRanges: expected the listing's length as a whole number at {path!r} of the first page, got {value!r}",
            datasource=datasource,
            url=datasource.redact(page.url),
        )
    return int(value)
