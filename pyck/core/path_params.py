"""Path parameters: the `{name}` placeholders of a `RestDatasource`'s `path`, filled from `list()` arguments.

`fill_path("/tags/{tag_id}/taggings", {"tag_id": "71f8", "page": 2})` gives `("/tags/71f8/taggings", {"page": 2})`:
each value URL-quoted as one path segment, and taken out of the query; `RestDatasource.walk` reads its pages at
`list_url(...)`. How a child listing
(`SyncConfig(for_each=ForEach(..., param="tag_id"))`) reaches its parent's URL. Imports nothing else of pyck but
its errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .exceptions import ConfigurationError

__all__ = ["fill_path", "list_url", "placeholders"]

# A `{name}` placeholder: a Python identifier in braces.
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders(path: str) -> list[str]:
    """The names of the `{name}` placeholders of `path`, in order, each once."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(path or "")))


def fill_path(path: str, query: Mapping[str, Any], *, where: str) -> tuple[str, dict[str, Any]]:
    """Return `path` with each `{name}` replaced by `query[name]` (URL-quoted as one path segment), and the rest
    of `query`.

    Raises:
        ConfigurationError: naming `where` (the datasource), when a placeholder has no value in `query`, or its
            value is empty, `.` or `..` (which would leave the path).
    """
    rest = dict(query)
    for name in placeholders(path):
        if name not in rest:
            raise ConfigurationError(
                f"{where}: path {path!r} needs the list() argument {name!r} (list({name}=...), or "
                f"SyncConfig(for_each=ForEach(..., param={name!r})))"
            )
        segment = quote(str(rest.pop(name)), safe="")
        if segment in ("", ".", ".."):
            raise ConfigurationError(f"{where}: list({name}=...) cannot be empty, '.' or '..': it fills a URL path segment")
        path = path.replace(f"{{{name}}}", segment)
    return path, rest


def list_url(url: str, path: str, query: Mapping[str, Any], *, where: str) -> tuple[str, dict[str, Any]]:
    """Return the list endpoint's URL for `list(**query)`, and the query parameters left to send: `url` (a
    `RestDatasource`'s, ending with its `path`) with `path`'s placeholders filled (see `fill_path`)."""
    if not placeholders(path):
        return url, dict(query)
    filled, rest = fill_path(path, query, where=where)
    return url[: len(url) - len(path.lstrip("/"))] + filled.lstrip("/"), rest
