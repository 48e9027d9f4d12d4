"""Stripe as a datasource: customers, products, prices, subscriptions, invoices, payment intents and charges.

```python
from pyck.contrib.stripe import Customer, StripeDatasource

customers = StripeDatasource(resource_type=Customer)
```

`StripeDatasource` reads a list endpoint with `limit=100`, `starting_after` and `has_more` (resumable), sends
`STRIPE_API_KEY` as a bearer token and `STRIPE_API_VERSION` as `Stripe-Version`, and treats the stub of a
deleted object as not found. The docs page "Stripe" has a complete example.
"""

from .datasources import (
    API_ROOT,
    DEFAULT_API_VERSION,
    OBJECT_TYPES,
    RATE_LIMIT,
    StripeDatasource,
    object_type_of,
    stripe_incremental,
)
from .events import EVENTS_KEPT, changed_since, event_types
from .pagination import MAX_LIMIT, StripePaginator
from .resources import (
    Charge,
    Customer,
    DeletedCustomer,
    DeletedProduct,
    Invoice,
    PaymentIntent,
    Price,
    Product,
    StripeObject,
    Subscription,
    from_unix,
)

__all__ = [
    "API_ROOT",
    "DEFAULT_API_VERSION",
    "EVENTS_KEPT",
    "MAX_LIMIT",
    "OBJECT_TYPES",
    "RATE_LIMIT",
    "Charge",
    "Customer",
    "DeletedCustomer",
    "DeletedProduct",
    "Invoice",
    "PaymentIntent",
    "Price",
    "Product",
    "StripeDatasource",
    "StripeObject",
    "StripePaginator",
    "Subscription",
    "changed_since",
    "event_types",
    "from_unix",
    "object_type_of",
    "stripe_incremental",
]
