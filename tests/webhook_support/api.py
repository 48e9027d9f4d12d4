"""The helpdesk API the test models sync from: ``https://helpdesk.test/api`` (mocked with ``responses``), and
its records."""

from __future__ import annotations

from dataclasses import dataclass

from pyck.core.datasources import OffsetPaginator, RestDatasource

BASE_URL = "https://helpdesk.test/api"


@dataclass
class TeamResource:
    """A team of the helpdesk."""

    id: int
    name: str


@dataclass
class TicketResource:
    """A ticket; ``version`` grows with every change, ``team`` is a team's id."""

    id: int
    title: str
    version: int = 0
    team: int | None = None


class Teams(RestDatasource[TeamResource]):
    """``/teams``."""

    resource_type = TeamResource
    base_url = BASE_URL
    path = "/teams"
    paginator = OffsetPaginator(limit=100, items_path="items", total_path="total")


class Tickets(RestDatasource[TicketResource]):
    """``/tickets``, with ``?updated_since=`` for incremental runs."""

    resource_type = TicketResource
    base_url = BASE_URL
    path = "/tickets"
    paginator = OffsetPaginator(limit=100, items_path="items", total_path="total")
