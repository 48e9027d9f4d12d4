"""Resource types and (empty) in-memory datasources for the test models; tests fill or swap them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pyck.core.datasources import MockDatasource, OffsetPaginator, RestDatasource


@dataclass
class AuthorResource:
    id: str
    name: str


@dataclass
class BookResource:
    id: str
    title: str
    # Ids (str) or embedded AuthorResource, mixed.
    authors: list[Any] | None = None


@dataclass
class PlayerResource:
    id: int
    name: str


@dataclass
class TeamResource:
    id: int
    name: str
    # The inverse relation: the team lists its players, by id or embedded.
    players: list[Any] | None = None


@dataclass
class EmployeeResource:
    id: int
    name: str
    manager: Any = None


@dataclass
class CountryResource:
    id: str
    name: str
    capital: Any = None


@dataclass
class CityResource:
    id: str
    name: str
    country: Any = None


@dataclass
class ByLine:
    name: str | None = None


@dataclass
class ArticleResource:
    id: int
    headline: str | None
    author: ByLine | None = None
    published: datetime | None = None
    price: Any = None
    words: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class MembershipResource:
    id: int
    party: Any = None


authors = MockDatasource(resource_type=AuthorResource, name="test.authors")
books = MockDatasource(resource_type=BookResource, name="test.books")
players = MockDatasource(resource_type=PlayerResource, name="test.players")
teams = MockDatasource(resource_type=TeamResource, name="test.teams")
employees = MockDatasource(resource_type=EmployeeResource, name="test.employees")
countries = MockDatasource(resource_type=CountryResource, name="test.countries")
cities = MockDatasource(resource_type=CityResource, name="test.cities")
@dataclass
class TicketResource:
    id: int
    subject: str
    status: str
    updated_at: datetime


articles = MockDatasource(resource_type=ArticleResource, name="test.articles")
memberships = MockDatasource(resource_type=MembershipResource, name="test.memberships")
# A helpdesk API read incrementally: ?updated_since=...&offset=...&limit=10 (tests fake it with `responses`).
tickets = RestDatasource(
    base_url="https://helpdesk.example.com/api",
    path="/tickets",
    resource_type=TicketResource,
    # The helpdesk and resume tests check requests in the order sent: one page at a time.
    paginator=OffsetPaginator(limit=10, items_path="items", total_path="total", concurrency=1),
    name="test.tickets",
)

__all__ = [name for name in dir() if not name.startswith("_")] + ["Decimal"]
