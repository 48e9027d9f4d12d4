"""The Stripe objects `pyck.contrib.stripe` syncs, as dataclasses: the fields people use, and `metadata`.

Each class follows the object's reference page (https://docs.stripe.com/api/customers/object,
https://docs.stripe.com/api/products/object, https://docs.stripe.com/api/prices/object,
https://docs.stripe.com/api/subscriptions/object, https://docs.stripe.com/api/invoices/object,
https://docs.stripe.com/api/payment_intents/object, https://docs.stripe.com/api/charges/object). Fields a
Stripe object may leave out or send as `null` have a default.

- Timestamps are Unix seconds (`created`); each class has a `created_at` property, the same instant as an
  aware `datetime`, for a model's `DateTimeField` (`SyncConfig(field_map={"created_at": "created_at"})`).
- Amounts are integers in the currency's smallest unit (cents), as Stripe sends them.
- An expandable field (https://docs.stripe.com/api/expanding_objects) is typed "an id, or the expanded object,
  or the stub of a deleted one": `customer: str | DeletedCustomer | Customer | None`. A sync turns any of
  them into the foreign key (the id, or the object's `id`); the stub of a deleted object (see
  https://docs.stripe.com/api/customers/delete: `{"id": ..., "object": "customer", "deleted": true}`)
  resolves to null, because `StripeDatasource.tombstone` is `{"deleted": True}`.

Write your own dataclass (a subclass, or a new one) to keep more fields: keys a class does not declare are
ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "Charge",
    "Customer",
    "DeletedCustomer",
    "DeletedProduct",
    "Invoice",
    "PaymentIntent",
    "Price",
    "Product",
    "StripeObject",
    "Subscription",
    "from_unix",
]


def from_unix(seconds: int | None) -> datetime | None:
    """A Stripe timestamp (Unix seconds) as an aware UTC `datetime`; `None` stays `None`."""
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


@dataclass
class StripeObject:
    """What every Stripe object has: `id`, `object` (its type: `"customer"`), `created`, `livemode`, `metadata`;
    and `seen_at`, which pyck sets."""

    id: str
    object: str = ""
    created: int | None = None
    livemode: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    seen_at: int | None = None
    """Not Stripe's: when pyck knew this state (Unix seconds), the cursor of incremental runs (see
    `stripe_incremental`): the start of the full listing that read it, or the time of the event that carried it."""

    @property
    def created_at(self) -> datetime | None:
        """`created` as an aware UTC `datetime`."""
        return from_unix(self.created)


@dataclass
class DeletedCustomer:
    """The stub Stripe sends for a deleted customer (https://docs.stripe.com/api/customers/delete)."""

    id: str
    deleted: Literal[True]
    object: str = "customer"


@dataclass
class DeletedProduct:
    """The stub Stripe sends for a deleted product (https://docs.stripe.com/api/products/delete)."""

    id: str
    deleted: Literal[True]
    object: str = "product"


@dataclass
class Customer(StripeObject):
    """A customer (https://docs.stripe.com/api/customers/object)."""

    email: str | None = None
    name: str | None = None
    phone: str | None = None
    description: str | None = None
    currency: str | None = None
    balance: int = 0
    delinquent: bool | None = None
    address: dict[str, Any] | None = None


@dataclass
class Product(StripeObject):
    """A product (https://docs.stripe.com/api/products/object)."""

    name: str = ""
    active: bool = True
    description: str | None = None
    default_price: str | None = None
    updated: int | None = None


@dataclass
class Price(StripeObject):
    """A price (https://docs.stripe.com/api/prices/object)."""

    product: str | DeletedProduct | Product | None = None
    active: bool = True
    currency: str = ""
    unit_amount: int | None = None
    type: str = ""
    recurring: dict[str, Any] | None = None
    nickname: str | None = None
    lookup_key: str | None = None


@dataclass
class Subscription(StripeObject):
    """A subscription (https://docs.stripe.com/api/subscriptions/object)."""

    customer: str | DeletedCustomer | Customer | None = None
    status: str = ""
    currency: str | None = None
    cancel_at_period_end: bool = False
    canceled_at: int | None = None
    ended_at: int | None = None
    start_date: int | None = None
    trial_end: int | None = None


@dataclass
class Invoice(StripeObject):
    """An invoice (https://docs.stripe.com/api/invoices/object)."""

    customer: str | DeletedCustomer | Customer | None = None
    status: str | None = None
    currency: str = ""
    number: str | None = None
    total: int = 0
    amount_due: int = 0
    amount_paid: int = 0
    amount_remaining: int = 0
    customer_email: str | None = None
    hosted_invoice_url: str | None = None
    due_date: int | None = None


@dataclass
class PaymentIntent(StripeObject):
    """A payment intent (https://docs.stripe.com/api/payment_intents/object)."""

    customer: str | DeletedCustomer | Customer | None = None
    amount: int = 0
    amount_received: int = 0
    currency: str = ""
    status: str = ""
    description: str | None = None
    receipt_email: str | None = None
    latest_charge: str | None = None


@dataclass
class Charge(StripeObject):
    """A charge (https://docs.stripe.com/api/charges/object)."""

    customer: str | DeletedCustomer | Customer | None = None
    payment_intent: str | None = None
    amount: int = 0
    amount_refunded: int = 0
    currency: str = ""
    status: str = ""
    paid: bool = False
    refunded: bool = False
    description: str | None = None
    receipt_email: str | None = None
