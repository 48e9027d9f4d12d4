"""The benchmark API's resources and datasources (served by :mod:`benchmarks.server`).

The server's port is only known when it starts, so the datasources are created without a ``base_url``;
call :func:`point_at` before syncing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from benchmarks.server import DEFAULT_PAGE_SIZE
from pyck.core.datasources import OffsetPaginator, PageNumberPaginator, RestDatasource

__all__ = [
    "MemberResource",
    "PartyResource",
    "RegionResource",
    "TicketResource",
    "members",
    "parties",
    "point_at",
    "regions",
    "tickets",
]


@dataclass
class RegionResource:
    """A region as the API returns it."""

    id: int
    name: str
    code: str


@dataclass
class PartyResource:
    """A party as the API returns it; ``region`` is the region's id."""

    id: int
    name: str
    colour: str
    region: int


@dataclass
class MemberResource:
    """A member as the API returns it; ``party`` is the party's id."""

    id: int
    name: str
    membership_number: int
    joined_on: date
    active: bool
    dues: Decimal
    nickname: str | None
    party: int


@dataclass
class TicketResource:
    """A helpdesk ticket as the API returns it; ``updated_at`` is the incremental cursor."""

    id: int
    subject: str
    status: str
    priority: int
    assignee: str | None
    updated_at: datetime


def _paginator() -> PageNumberPaginator:
    return PageNumberPaginator(
        page_size=DEFAULT_PAGE_SIZE, page_size_param="page_size", items_path="items", total_pages_path="total_pages"
    )


regions: RestDatasource[RegionResource] = RestDatasource(
    path="/regions", resource_type=RegionResource, paginator=_paginator()
)
parties: RestDatasource[PartyResource] = RestDatasource(
    path="/parties", resource_type=PartyResource, paginator=_paginator()
)
members: RestDatasource[MemberResource] = RestDatasource(
    path="/members", resource_type=MemberResource, paginator=_paginator()
)
# Offset paging over a listing sorted by (updated_at, id), as helpdesk APIs do; ?updated_since= narrows it.
tickets: RestDatasource[TicketResource] = RestDatasource(
    path="/tickets",
    resource_type=TicketResource,
    paginator=OffsetPaginator(limit=DEFAULT_PAGE_SIZE, items_path="items", total_path="total"),
)


def point_at(base_url: str) -> None:
    """Send the datasources to the benchmark server at ``base_url`` (``http://127.0.0.1:PORT``)."""
    for datasource in (regions, parties, members, tickets):
        datasource.base_url = base_url
