"""Resource types and datasources the fault tests point at the misbehaving server."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pyck.core.datasources import OffsetPaginator, RestDatasource

#: Credentials the tests plant, then look for in every output.
QUERY_SECRET = "q-key-7f3a9c1e55d0"
BEARER_SECRET = "bearer-tok-0b8e2d4c91aa"
HEADER_SECRET = "hdr-apikey-5c6e7f80d2b3"
SECRETS = (QUERY_SECRET, BEARER_SECRET, HEADER_SECRET)


@dataclass
class Address:
    street: str
    postcode: str | None = None


@dataclass
class Party:
    id: int
    name: str
    colour: str | None = None


@dataclass
class Member:
    """A realistic nested record: nested and optional dataclasses, lists, dicts, dates, decimals."""

    id: int
    name: str
    joined: date
    party: Party | None = None
    addresses: list[Address] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    salary: Decimal | None = None


MEMBER = {
    "id": 172,
    "name": "Ms Diane Abbott",
    "joined": "1987-06-11",
    "party": {"id": 15, "name": "Labour", "colour": "d50000"},
    "addresses": [{"street": "House of Commons", "postcode": "SW1A 0AA"}],
    "tags": {"house": "commons"},
    "salary": "91346.00",
}


class Members(RestDatasource[Member]):
    """A plain REST datasource: offset paging, no credentials."""

    resource_type = Member
    path = "/members"
    paginator = OffsetPaginator(limit=2, items_path="items")
    # Fail fast: the tests count requests and never wait for real.
    timeout = 2.0
    retries = 2


class KeyedMembers(Members):
    """The same, authenticated three ways: a bearer token, a custom header, and (per call) a query key."""

    def get_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {BEARER_SECRET}", "X-Api-Key": HEADER_SECRET}


def members(base_url: str, **kwargs: Any) -> Members:
    return Members(base_url=base_url, name="faults.members", **kwargs)


def keyed_members(base_url: str, **kwargs: Any) -> KeyedMembers:
    return KeyedMembers(base_url=base_url, name="faults.keyed", **kwargs)


def page(*ids: int) -> dict[str, Any]:
    """An offset page holding members with these ids."""
    return {"items": [{**MEMBER, "id": i, "name": f"Member {i}"} for i in ids]}
