"""The local Stripe server, with the test app's datasources pointed at it and the key in the settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.stripe_server import StripeServer
from tests.stripe_support import datasources

KEY = "sk_test_51LocalSecretKey0123456789abcdef"

ALL = [
    datasources.customers,
    datasources.products,
    datasources.prices,
    datasources.subscriptions,
    datasources.invoices,
    datasources.payment_intents,
    datasources.charges,
]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[StripeServer]:
    # A high limit: these tests count requests; the rate limit has its own tests.
    with StripeServer(rate_limit=1000) as server:
        server.api_keys.add(KEY)
        settings.STRIPE_API_KEY = KEY
        for datasource in ALL:
            monkeypatch.setattr(datasource, "base_url", f"{server.url}/v1")
            monkeypatch.setattr(datasource, "rate_limit", None)
        yield server
