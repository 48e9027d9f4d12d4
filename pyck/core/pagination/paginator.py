"""The paginators' base class and what every paginator works with: `Page`, `Fetch`, `lookup`; and
`NoPaginator`, for a list that comes in one response.

See `pyck.core.pagination` for how paginators are used and written.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ..conf import pyck_settings
from ..exceptions import ResponseError
from ..redaction import redact_url

__all__ = ["Fetch", "NoPaginator", "Page", "Paginator", "describe_value", "lookup", "truncation_notes"]

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
# It may be called from several threads at once (see "Pages in flight at once" in `pyck.core.pagination`).
Fetch = Callable[[str, Mapping[str, Any]], Page]


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
        raise ResponseError(f"{self}: expected a JSON list {where}, got {describe_value(items)}{hint}")

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


def _owner(cls: type[Any], name: str) -> type[Any]:
    return next(klass for klass in cls.__mro__ if name in vars(klass))


def describe_value(value: Any) -> str:
    """Describe a value read from a body for an error message: its type and the start of its text, or its keys."""
    if value is None:
        return "nothing (null or missing)"
    if isinstance(value, Mapping):
        return f"an object with keys {', '.join(map(str, list(value)[:10]))}"
    text = repr(value)
    return f"{type(value).__name__} {text[:80]}{'…' if len(text) > 80 else ''}"
