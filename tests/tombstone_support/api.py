"""A Stripe-like API, as ``responses`` fakes it in the tombstone tests.

Stripe answers ``GET /v1/customers/{id}`` of a deleted customer with 200 ``{"id": ..., "deleted": true}``, and
embeds the same stub where an expanded customer would be (``expand[]=customer``): the resource types say so
with ``DeletedCustomer``, tried before ``Customer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pyck.core.datasources import NoPaginator, RestDatasource

API = "https://api.stripe.test/v1"


@dataclass
class Customer:
    """A live customer."""

    id: str
    email: str


@dataclass
class DeletedCustomer:
    """What Stripe sends for a customer that was deleted."""

    id: str
    deleted: Literal[True]


@dataclass
class Subscription:
    """A subscription; its customer is an id, or the customer expanded (live or deleted)."""

    id: str
    status: str
    customer: str | DeletedCustomer | Customer | None = None


@dataclass
class Invoice:
    """An invoice, which cannot exist without its customer (the model's foreign key is required)."""

    id: str
    total: int
    customer: str | DeletedCustomer | Customer


@dataclass
class Team:
    """A set of customers, expanded."""

    id: str
    name: str
    members: list[DeletedCustomer | Customer] = field(default_factory=list)


class StripeDatasource(RestDatasource):
    """Stripe's conventions: lists under ``data``, deleted objects as ``{"id": ..., "deleted": true}``."""

    base_url = API
    paginator = NoPaginator(items_path="data")
    tombstone = {"deleted": True}
    retries = 0


customers = StripeDatasource(path="/customers", resource_type=Customer, name="stripe.customers")
subscriptions = StripeDatasource(path="/subscriptions", resource_type=Subscription, name="stripe.subscriptions")
invoices = StripeDatasource(path="/invoices", resource_type=Invoice, name="stripe.invoices")
teams = StripeDatasource(path="/teams", resource_type=Team, name="stripe.teams")
