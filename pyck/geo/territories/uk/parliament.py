"""UK Parliament: current MPs, constituencies and parties, from the Members API.

Three ready-made datasources read the public [Members API](https://members-api.parliament.uk/) (no key
needed):

```python
from pyck.geo.territories.uk import parliament

parliament.members.get(172).name            # "Ms Diane Abbott"
parliament.constituencies.get(4483).current_mp.latest_party.name   # "Liberal Democrat"
[p.name for p in parliament.parties.list()]
```

- `constituencies`: every constituency the API knows (`Location/Constituency/Search`), including
  abolished ones (their `end_date` is set and they have no current MP). `list()` takes
  the API's `searchText` filter.
- `members`: the current members of the House of Commons (`Members/Search?House=1&IsCurrentMember=true`).
  `list()` takes the API's other `Members/Search` filters by their API names (`PartyId=15`,
  `Name="Abbott"`…); pass `House=2` for the Lords or `IsCurrentMember="false"` for former members.
- `parties`: the parties active in the House of Commons (`Parties/GetActive/Commons`). The API has no
  single-party endpoint, so `get(id)` is served from the listing, fetched once and kept for
  `PartiesDatasource.cache_seconds`.

The records are the dataclasses below, with the API's camelCase fields in snake_case. Where the tutorial's
models use another name, the record carries that name too: `Member.name` (the API's `nameDisplayAs`)
and `Constituency.current_mp` (the member of its `currentRepresentation`).

The API's conventions, handled once in `ParliamentDatasource`: pages of at most 20 records walked with
`skip`/`take`; every record wrapped as `{"value": {...}, "links": [...]}` (list items, single items, and
the member inside a constituency); camelCase keys. Dates carry no time zone (`2024-07-04T00:00:00`); they are
returned as naive `datetime` objects, as sent. The API root is the `UK_PARLIAMENT_BASE_URL` setting, read
on every request, so a proxy or the replay server (`pyck.geo.territories.uk.replay`) can stand in for it.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pyck.core.base import ResourceT
from pyck.core.conf import pyck_settings
from pyck.core.exceptions import NotFoundError
from pyck.core.pagination import NoPaginator, OffsetPaginator, Paginator
from pyck.core.rest import RestDatasource

__all__ = [
    "Constituency",
    "House",
    "HouseMembership",
    "Link",
    "Member",
    "MembershipStatus",
    "ParliamentDatasource",
    "PartiesDatasource",
    "Party",
    "Representation",
    "constituencies",
    "members",
    "parties",
]

MAX_PAGE_SIZE = 20
"""The Members API's largest page ("take ... Maximum is 20" in its OpenAPI description)."""


class House(enum.IntEnum):
    """A House of Parliament, as the API numbers them."""

    COMMONS = 1
    LORDS = 2


@dataclass(kw_only=True)
class Link:
    """A hypermedia link the API attaches to records (`{"rel": "self", "href": "/Members/172"}`)."""

    rel: str | None = None
    href: str | None = None
    method: str | None = None


@dataclass(kw_only=True)
class Party:
    """A political party (the API's `Party`).

    Colours are hex without `#`, in either case (`"faa01a"`, `"FFFFFF"`); the Speaker's "party" has
    none.
    """

    id: int
    """The party's id in the Members API."""
    name: str | None = None
    abbreviation: str | None = None
    background_colour: str | None = None
    """Hex colour without `#`; `None` for the Speaker."""
    foreground_colour: str | None = None
    is_lords_main_party: bool = False
    is_lords_spiritual_party: bool = False
    """As recorded by the API (Labour, the DUP and the UUP have it set); treat as opaque."""
    government_type: int | None = None
    """The API's `GovernmentType` code (0 to 3), or `None`."""
    is_independent_party: bool = False


@dataclass(kw_only=True)
class MembershipStatus:
    """The status of a house membership (the API's `HouseMembershipStatus`)."""

    status_is_active: bool = False
    status_description: str | None = None
    """"Current Member", "Leave of Absence"…"""
    status_notes: str | None = None
    status_id: int | None = None
    status: int | None = None
    """The API's `MemberStatus` code (0 to 3), or `None`."""
    status_start_date: datetime | None = None


@dataclass(kw_only=True)
class HouseMembership:
    """A membership of one House (the API's `HouseMembership`), from a member's seat to its end, if any."""

    membership_from: str | None = None
    """The constituency name (Commons), or the kind of peerage ("Life peer", "Hereditary") in the Lords."""
    membership_from_id: int | None = None
    """The constituency's id for a Commons membership."""
    house: House | None = None
    membership_start_date: datetime | None = None
    membership_end_date: datetime | None = None
    membership_end_reason: str | None = None
    membership_end_reason_notes: str | None = None
    membership_end_reason_id: int | None = None
    membership_status: MembershipStatus | None = None
    """`None` when the membership has ended, and on a constituency's current representation."""


@dataclass(kw_only=True)
class Member:
    """A member of either House (the API's `Member`).

    `name` is the API's `nameDisplayAs` ("Ms Diane Abbott"), also available as
    `name_display_as`.
    """

    id: int
    """The member's id in the Members API."""
    name_list_as: str | None = None
    """"Abbott, Ms Diane\""""
    name_display_as: str | None = None
    """"Ms Diane Abbott\""""
    name: str | None = field(default=None, metadata={"json_key": "nameDisplayAs"})
    """The display name again (`nameDisplayAs`), under the name the tutorial's `MP` model uses."""
    name_full_title: str | None = None
    """"Rt Hon Diane Abbott MP\""""
    name_address_as: str | None = None
    """"Ms Abbott\""""
    latest_party: Party | None = None
    gender: str | None = None
    latest_house_membership: HouseMembership | None = None
    thumbnail_url: str | None = None
    """The URL of a small portrait (`…/Members/172/Thumbnail`)."""


@dataclass(kw_only=True)
class Representation:
    """Who represents a constituency now (the API's `ConstituencyRepresentation`)."""

    member: Member | None = None
    """The member, unwrapped from the API's `{"value": ..., "links": ...}`."""
    representation: HouseMembership | None = None
    """The member's membership for this seat."""


@dataclass(kw_only=True)
class Constituency:
    """A House of Commons constituency (the API's `Constituency`).

    The API carries no ONS/GSS code for constituencies.
    """

    id: int
    """The constituency's id in the Members API."""
    name: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    """Set for abolished constituencies."""
    current_representation: Representation | None = None
    current_mp: Member | None = None
    """The member of `current_representation` (its current MP), or `None`; filled in from it."""

    def __post_init__(self) -> None:
        if self.current_mp is None and self.current_representation is not None:
            self.current_mp = self.current_representation.member


def unwrap(data: Any) -> Any:
    """Return `data` with every `{"value": x, "links": [...]}` wrapper replaced by `x`, at any depth.

    A wrapper is an object whose keys are `value` and, optionally, `links`; no record of the API has
    only those fields.

    The Members API wraps each record this way: list items, single items, and records embedded in others
    (the member in a constituency's `currentRepresentation`).
    """
    if isinstance(data, dict):
        if "value" in data and data.keys() <= {"value", "links"}:
            return unwrap(data["value"])
        return {key: unwrap(value) for key, value in data.items()}
    if isinstance(data, list):
        return [unwrap(value) for value in data]
    return data


class ParliamentDatasource(RestDatasource[ResourceT]):
    """A Members API endpoint: the API's paging, record wrappers and camelCase handled once.

    Configure instances with `path` (the search endpoint), `item_path` (the single-record endpoint, with
    `{id}`), `resource_type` and `list_query`; subclass it for endpoints of the same API that this
    module does not cover:

    ```python
    lords = ParliamentDatasource(
        path="/Members/Search", item_path="/Members/{id}", resource_type=Member,
        list_query={"House": 2, "IsCurrentMember": "true"},
    )
    ```
    """

    camel_case = True
    paginator: Paginator | None = OffsetPaginator(
        offset_param="skip", limit_param="take", limit=MAX_PAGE_SIZE, items_path="items", total_path="totalResults"
    )
    """skip/take, 20 at a time (the API's maximum), until totalResults."""
    item_path: str | None = None
    """The single-record endpoint under the API root, with an {id} placeholder ("/Members/{id}"); None: get() raises
    NotImplementedError."""
    # An explicit API root; None (the default) reads the UK_PARLIAMENT_BASE_URL setting on every request.
    _base_url: str | None = None

    @property
    def base_url(self) -> str:
        """The API root: the `UK_PARLIAMENT_BASE_URL` setting unless one was given to the constructor."""
        return self._base_url or str(pyck_settings.UK_PARLIAMENT_BASE_URL)

    @base_url.setter
    def base_url(self, value: str | None) -> None:
        self._base_url = value

    def deserialize(self, data: Any) -> ResourceT:
        """Unwrap the API's `{"value": ..., "links": ...}` wrappers, then build the record.

        Override to reshape a record further; call `super().deserialize(data)` at the end.
        """
        return super().deserialize(unwrap(data))

    def get_raw_id(self, data: Any) -> Any:
        """The record id inside a wrapped item, for error messages."""
        return super().get_raw_id(unwrap(data) if isinstance(data, Mapping) else data)


class PartiesDatasource(ParliamentDatasource[Party]):
    """The parties active in one House (`Parties/GetActive/{house}`).

    The endpoint returns every party in one answer and ignores `skip`, so it is fetched in one request,
    never paged. There is no single-party endpoint: `get` looks the id up in the listing, fetched once
    per instance and reused for `cache_seconds`.
    """

    resource_type = Party
    paginator = NoPaginator(items_path="items")
    house: str = "Commons"
    """The House whose parties are listed, as the API names it in the path."""
    cache_seconds: float = 3600.0
    """How long get() reuses the listing before fetching it again."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cache_lock = threading.Lock()
        self._cached: dict[Any, Party] | None = None
        self._cached_at = 0.0

    @property
    def path(self) -> str:  # type: ignore[override]
        """`/Parties/GetActive/{house}`."""
        return f"/Parties/GetActive/{self.house}"

    def get(self, id: Any, **query: Any) -> Party:
        """Return the active party `id` from the (cached) listing.

        Raises:
            NotFoundError: no active party has this id.
            TypeError: query parameters were given; the endpoint takes none.
        """
        if query:
            raise TypeError(f"{self}.get() takes no query parameters (got {', '.join(query)}): the listing has none")
        with self._cache_lock:
            fresh = self._cached is not None and time.monotonic() - self._cached_at < self.cache_seconds
            cached = self._cached if fresh else None
        if cached is None:
            cached = self._remember(list(self.list()))
        for key in (id, str(id)):
            if key in cached:
                return cached[key]
        raise NotFoundError(
            f"No party with this id is active in the House of {self.house}",
            datasource=self,
            url=self.redact(self.url),
            record_id=id,
        )

    def _remember(self, parties: list[Party]) -> dict[Any, Party]:
        by_id: dict[Any, Party] = {}
        for party in parties:
            by_id[party.id] = party
            by_id[str(party.id)] = party
        with self._cache_lock:
            self._cached, self._cached_at = by_id, time.monotonic()
        return by_id


constituencies: ParliamentDatasource[Constituency] = ParliamentDatasource(
    name="uk.parliament.constituencies",
    path="/Location/Constituency/Search",
    item_path="/Location/Constituency/{id}",
    resource_type=Constituency,
)
"""Every constituency the API knows, current and abolished (`Location/Constituency/Search`)."""

members: ParliamentDatasource[Member] = ParliamentDatasource(
    name="uk.parliament.members",
    path="/Members/Search",
    item_path="/Members/{id}",
    resource_type=Member,
    list_query={"House": int(House.COMMONS), "IsCurrentMember": "true"},
)
"""The current members of the House of Commons (`Members/Search?House=1&IsCurrentMember=true`)."""

parties: PartiesDatasource = PartiesDatasource(name="uk.parliament.parties")
"""The parties active in the House of Commons (`Parties/GetActive/Commons`)."""
