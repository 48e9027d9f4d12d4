"""JSON:API documents as NationBuilder's API v2 sends them: a resource object flattened into one mapping
(`flatten`), and the paginator of its listings (`JsonApiPaginator`).

NationBuilder's v2 API "follows the JSON:API specification"
(https://support.nationbuilder.com/en/articles/9899245-api-v2-walkthrough): a resource object is
`{"id": "18", "type": "signups", "attributes": {...}, "relationships": {...}}`, a listing's resources are the
list at `data`, and a single GET answers `{"data": {...}}`.

A relationship's *resource linkage* is its `data`: `{"type": ..., "id": ...}` for a to-one relationship, a list
of them for a to-many one, `null` or `[]` for an empty one (https://jsonapi.org/format/#document-resource-object-linkage).
The JSON:API specification lets a relationship object carry only `links` or `meta`, without `data`
(https://jsonapi.org/format/#document-resource-object-relationships), and NationBuilder sends the ids of
related resources only when they are sideloaded with `include=`
(https://support.nationbuilder.com/en/articles/9757369-nationbuilder-v2-api-core-concepts): without it, a signup's
`signup_tags` relationship is `{"meta": {"included": false}}`, with no `data`. `flatten` therefore
tells three cases apart, so that a relation is never cleared because the answer did not carry it:

- `data` is a list: the related ids, in order (`[]` clears the relation);
- `data` is an object or `null`: the related id, or `None` (clears it);
- the relationship, or its `data`, is absent: the key is left out of the flat mapping, so the resource's field
  is *absent* (`pyck.core.records.absent_fields`) and the sync engine leaves the column or the links alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyck.core.exceptions import InvalidResourceError
from pyck.core.pagination import NextUrlPaginator
from pyck.core.pagination.paginator import Page

__all__ = ["JsonApiPaginator", "flatten", "linkage_ids", "resource_id"]


def resource_id(item: Any) -> Any:
    """The `id` of a JSON:API resource object, or `None` when `item` is not an object or has none."""
    if isinstance(item, Mapping):
        return item.get("id")
    return None


def linkage_ids(name: str, linkage: Any) -> Any:
    """The id (`str`), the ids (`list[str]`) or `None` that a relationship's resource linkage (its `data`) names.

    Raises:
        InvalidResourceError: the linkage is neither `null`, a resource identifier nor a list of them, naming
            the relationship (`field`).
    """
    if linkage is None:
        return None
    if isinstance(linkage, list):
        ids = []
        for index, identifier in enumerate(linkage):
            if not isinstance(identifier, Mapping) or identifier.get("id") is None:
                raise InvalidResourceError(
                    f"relationships.{name}.data[{index}] is not a resource identifier ({{type, id}})",
                    field=f"relationships.{name}.data[{index}]",
                )
            ids.append(str(identifier["id"]))
        return ids
    if isinstance(linkage, Mapping) and linkage.get("id") is not None:
        return str(linkage["id"])
    raise InvalidResourceError(
        f"relationships.{name}.data is not null, a resource identifier ({{type, id}}) or a list of them",
        field=f"relationships.{name}.data",
    )


def flatten(item: Any) -> dict[str, Any]:
    """One JSON:API resource object as a flat mapping: `id`, then its `attributes`, then, for each relationship
    that carries `data`, the related id(s) under the relationship's name (see the module docstring). A
    relationship without `data` is left out: its field stays absent.

    Raises:
        InvalidResourceError: `item` is not a resource object (an object with an `id`), or its `attributes` or
            `relationships` are not objects.
    """
    if not isinstance(item, Mapping) or item.get("id") is None:
        raise InvalidResourceError("expected a JSON:API resource object with an id", field="id")
    attributes = item.get("attributes") or {}
    relationships = item.get("relationships") or {}
    if not isinstance(attributes, Mapping):
        raise InvalidResourceError("attributes is not an object", field="attributes")
    if not isinstance(relationships, Mapping):
        raise InvalidResourceError("relationships is not an object", field="relationships")
    flat: dict[str, Any] = dict(attributes)
    flat["id"] = str(item["id"])
    for name, relationship in relationships.items():
        if isinstance(relationship, Mapping) and "data" in relationship:
            flat[name] = linkage_ids(name, relationship["data"])
    return flat


class JsonApiPaginator(NextUrlPaginator):
    """NationBuilder's listings: the resources at `data`, the next page's URL at `links.next`.

    "The next link will always be provided when resources are returned, even if the next page is empty. The
    last page has been reached once the results returned are empty"
    (https://support.nationbuilder.com/en/articles/9757369-nationbuilder-v2-api-core-concepts): a page with no
    resources ends the listing, whatever its links say. A listing of N resources in pages of S therefore takes
    `N // S + 1` requests.

    Args:
        max_pages: stop after this many pages.
    """

    def __init__(self, *, max_pages: int | None = None) -> None:
        super().__init__(next_url_path="links.next", items_path="data", max_pages=max_pages)

    def next_url(self, page: Page) -> str | None:
        """`links.next`, or `None` when the page has no resources."""
        if not self.get_items(page):
            return None
        return super().next_url(page)
