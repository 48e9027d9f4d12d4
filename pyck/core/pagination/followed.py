"""The paginators that follow where each page says the next one is: `CursorPaginator` (a token in the
body), `NextUrlPaginator` (a URL in the body) and `LinkHeaderPaginator` (a URL in the `Link` header).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from requests.utils import parse_header_links

from ..exceptions import ResponseError
from ..redaction import redact_url
from .paginator import Fetch, Page, Paginator, describe_value, lookup

__all__ = ["CursorPaginator", "LinkHeaderPaginator", "NextUrlPaginator"]


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
            raise ResponseError(f"{self}: expected a URL at {self.next_url_path!r}, got {describe_value(value)}")
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

