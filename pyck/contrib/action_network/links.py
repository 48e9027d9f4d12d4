"""How Action Network names records: ids only inside `identifiers`, references only as link hrefs.

- Every resource carries `identifiers`, "an array of identifiers in the format [system name]:[id]"; Action
  Network's own is the one with the `action_network:` prefix, and it is what a record's URL is built from
  ("use the identifier without the action_network: prefix to construct a URL",
  https://actionnetwork.org/docs/v2/people). Other systems may add their own identifiers, in any order, so the
  first one is not always Action Network's.
- A resource refers to another only by a link in `_links`: a tagging's person is
  `_links["osdi:person"]["href"]`, `https://actionnetwork.org/api/v2/people/{id}`
  (https://actionnetwork.org/docs/v2/taggings): the id is the link's last path segment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["PREFIX", "action_network_id", "id_from_href", "link_id"]

PREFIX = "action_network:"
"""The prefix of Action Network's own identifier in `identifiers`."""


def action_network_id(identifiers: Iterable[Any] | None) -> str | None:
    """The id in the `action_network:` identifier of `identifiers` (without the prefix), wherever it stands in the
    list; `None` when there is none.

    ```python
    action_network_id(["salesforce:9", "action_network:d91b4b2e"]) == "d91b4b2e"
    ```
    """
    if identifiers is None or isinstance(identifiers, (str, bytes, Mapping)):
        return None
    for identifier in identifiers:
        if isinstance(identifier, str) and identifier.startswith(PREFIX) and len(identifier) > len(PREFIX):
            return identifier[len(PREFIX):]
    return None


def id_from_href(href: Any) -> str | None:
    """The id a link's href ends in: `https://actionnetwork.org/api/v2/people/d91b4b2e` gives `"d91b4b2e"`
    (a trailing slash and a query are ignored); `None` for anything that is not such a URL."""
    if not isinstance(href, str) or not href:
        return None
    path = urlsplit(href).path.rstrip("/")
    segment = path.rsplit("/", 1)[-1]
    return unquote(segment) or None


def link_id(item: Mapping[str, Any], relation: str) -> str | None:
    """The id of the record that `item`'s link `relation` (`"osdi:person"`) points to; `None` when the item has
    no such link."""
    links = item.get("_links")
    if not isinstance(links, Mapping):
        return None
    link = links.get(relation)
    if isinstance(link, Mapping):
        return id_from_href(link.get("href"))
    return None
