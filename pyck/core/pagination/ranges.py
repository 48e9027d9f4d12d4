"""Reading one page range of a listing: the reserved `PAGE_RANGE` query argument of a page-range partition
(see `pyck.core.page_ranges`), `take_range` to take it out of the query, `clip_pages` to end the walk there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..exceptions import ConfigurationError
from .numbered import OffsetPaginator
from .paginator import Paginator

__all__ = ["PAGE_RANGE", "clip_pages", "take_range"]


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
