"""Datasources for an Action Network-like API (OSDI/HAL): ``/tags`` and each tag's ``/tags/{id}/taggings``.

Items sit under ``_embedded["osdi:…"]``, the next page at ``_links.next.href``; ids only in ``identifiers``
(``"action_network:…"``), as https://actionnetwork.org/docs/v2/taggings describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyck.core.datasources import NextUrlPaginator, RestDatasource

BASE_URL = "https://actionnetwork.test/api/v2"


@dataclass
class TagRecord:
    """A tag: its id and name."""

    id: str
    name: str


@dataclass
class TaggingRecord:
    """A tagging: its id and the person tagged (the tag is the listing's parent, not in the record)."""

    id: str
    person: str


def an_id(item: dict[str, Any]) -> str:
    """The Action Network id among an item's ``identifiers``."""
    return next(i.split(":", 1)[1] for i in item["identifiers"] if i.startswith("action_network:"))


class ActionNetwork(RestDatasource[Any]):
    """An Action Network endpoint: HAL pages, ids read from ``identifiers``."""

    base_url = BASE_URL
    retries = 0

    def get_raw_id(self, data: Any) -> Any:
        """The record's id, for error messages."""
        return an_id(data) if isinstance(data, dict) and "identifiers" in data else None


class Tags(ActionNetwork):
    """``/tags``."""

    path = "/tags"
    resource_type = TagRecord
    paginator = NextUrlPaginator(next_url_path="_links.next.href", items_path="_embedded.osdi:tags")

    def deserialize(self, data: Any) -> TagRecord:
        """A tag from its HAL item."""
        return TagRecord(id=an_id(data), name=data["name"])


class Taggings(ActionNetwork):
    """``/tags/{tag_id}/taggings``: listed once per tag."""

    path = "/tags/{tag_id}/taggings"
    resource_type = TaggingRecord
    paginator = NextUrlPaginator(next_url_path="_links.next.href", items_path="_embedded.osdi:taggings")

    def deserialize(self, data: Any) -> TaggingRecord:
        """A tagging from its HAL item: the person is the last segment of its ``osdi:person`` link."""
        return TaggingRecord(id=an_id(data), person=data["_links"]["osdi:person"]["href"].rsplit("/", 1)[1])


tags = Tags(name="an.tags")
taggings = Taggings(name="an.taggings")
