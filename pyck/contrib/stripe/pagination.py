"""`StripePaginator`: Stripe's list endpoints, paged with `limit`, `starting_after` and `has_more`.

From https://docs.stripe.com/api/pagination: a list answer is `{"object": "list", "data": [...],
"has_more": ..., "url": ...}`; `limit` ranges between 1 and 100 (default 10); `starting_after` is "an object
ID that defines your place in the list": after a page ending with `obj_foo`, the next call sends
`starting_after=obj_foo`; `has_more` says whether there are more objects after this page.

The position of a page (what the sync engine stores in a checkpoint) is the `starting_after` it was fetched
with (`None` for the first page): an object id, so a run that died goes on from the page after the last
object it had reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pyck.core.exceptions import ResponseError
from pyck.core.pagination import Fetch, Paginator, lookup

__all__ = ["MAX_LIMIT", "StripePaginator"]

MAX_LIMIT = 100
"""The largest `limit` a Stripe list endpoint accepts (https://docs.stripe.com/api/pagination)."""


class StripePaginator(Paginator):
    """Pages with `limit` and `starting_after` (the last object's id) until `has_more` is false.

    Args:
        limit: objects per page, 1 to 100 (`MAX_LIMIT`, the default: the fewest requests).
        max_pages: stop after this many pages.
    """

    def __init__(self, limit: int = MAX_LIMIT, *, max_pages: int | None = None) -> None:
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"StripePaginator(limit=...): Stripe accepts 1 to {MAX_LIMIT}, got {limit!r}")
        super().__init__(items_path="data", max_pages=max_pages)
        self.limit = limit

    def positioned_pages(self, fetch: Fetch, url: str, query: dict[str, Any], start: Any) -> Iterator[tuple[Any, list[Any]]]:
        """Fetch the page after `start` (an object id; `None`: the first page), then the page after each page's
        last object while `has_more` is true."""
        after = start
        seen: set[str] = set()
        while True:
            params = {**query, "limit": self.limit}
            if after is not None:
                params["starting_after"] = after
            page = fetch(url, params)
            items = self.get_items(page)
            yield after, items
            if lookup(page.data, "has_more", False) is not True or not items:
                return
            last = items[-1].get("id") if isinstance(items[-1], dict) else None
            if not isinstance(last, str) or not last:
                raise ResponseError(f"{self}: the last object of a page has no id to send as starting_after")
            if last in seen:
                raise ResponseError(f"{self}: the API returned {last!r} last on two pages; stopping instead of looping")
            seen.add(last)
            after = last
