"""Syncing the docs page's Stripe models from the local Stripe server (`benchmarks/stripe_server.py`, built from
Stripe's documentation): listing with `starting_after`, expandable fields as foreign keys whether Stripe sends an
id, the object or a deleted stub, deleted objects confirmed with `get()`, and no secret in runs or logs."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from django.forms.models import model_to_dict

from benchmarks.stripe_server import StripeServer
from pyck.core.datasources import SyncRun
from pyck.core.exceptions import TransportError
from pyck.core.sync import sync_model
from tests.stripe.conftest import KEY
from tests.stripe_support import datasources
from tests.stripe_support.models import Charge, Customer, Invoice, PaymentIntent, Price, Product, Subscription

pytestmark = pytest.mark.django_db(transaction=True)


def customers(server: StripeServer, n: int) -> None:
    for i in range(n):
        server.add("customer", {"id": f"cus_{i:05d}", "email": f"c{i}@example.org", "name": f"C {i}", "metadata": {"n": str(i)}})


def test_a_listing_of_250_customers_reads_three_pages_with_starting_after(server: StripeServer) -> None:
    customers(server, 250)
    result = sync_model(Customer)
    assert result.created == 250
    pages = server.requests_to("/v1/customers")
    assert [r.query.get("limit") for r in pages] == [["100"]] * 3
    # Objects come newest first; each page starts after the last id of the one before.
    assert [r.query.get("starting_after") for r in pages] == [None, ["cus_00150"], ["cus_00050"]]
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in pages)
    assert {r.headers["Stripe-Version"] for r in pages} == {"2025-07-30.basil"}
    ann = Customer.objects.get(external_id="cus_00007")
    assert (ann.email, ann.name, ann.metadata) == ("c7@example.org", "C 7", {"n": "7"})
    assert ann.created_at is not None and ann.created_at.tzinfo is not None


def test_the_api_version_is_the_setting(server: StripeServer, settings: Any) -> None:
    settings.STRIPE_API_VERSION = "2024-06-20"
    customers(server, 1)
    sync_model(Customer)
    assert server.requests_to("/v1/customers")[0].headers["Stripe-Version"] == "2024-06-20"


@pytest.mark.parametrize("expand", [(), ("customer",)], ids=["ids", "expanded"])
def test_a_subscriptions_customer_is_a_foreign_key_as_an_id_an_object_or_a_deleted_stub(
    server: StripeServer, monkeypatch: pytest.MonkeyPatch, expand: tuple[str, ...]
) -> None:
    customers(server, 3)
    sync_model(Customer)
    server.add("subscription", {"id": "sub_live", "customer": "cus_00001", "status": "active"})
    server.add("subscription", {"id": "sub_gone", "customer": "cus_00002", "status": "canceled"})
    server.delete("customer", "cus_00002")
    monkeypatch.setattr(datasources.subscriptions, "expand", expand)
    monkeypatch.setattr(datasources.subscriptions, "list_query", {"expand[]": [f"data.{e}" for e in expand]} if expand else {})
    result = sync_model(Subscription)
    assert result.created == 2, result
    assert Subscription.objects.get(external_id="sub_live").customer.external_id == "cus_00001"
    # The customer's row is still there (not yet synced), but the listing says it is deleted when expanded.
    gone = Subscription.objects.get(external_id="sub_gone")
    assert (gone.customer is None) == bool(expand)
    if expand:
        assert server.requests_to("/v1/subscriptions")[0].query["expand[]"] == ["data.customer"]


def test_a_deleted_customer_is_deleted_once_get_confirms_the_stub(server: StripeServer) -> None:
    customers(server, 3)
    sync_model(Customer)
    server.delete("customer", "cus_00001")
    server.reset_counts()
    result = sync_model(Customer, mode="full")
    assert result.deleted == 1, result
    assert sorted(Customer.objects.values_list("external_id", flat=True)) == ["cus_00000", "cus_00002"]
    # The deletion was confirmed with a retrieve, which answered the stub {"deleted": true}.
    assert [r.path for r in server.requests_to("/v1/customers/")] == ["/v1/customers/cus_00001"]


def test_every_model_of_the_page_syncs(server: StripeServer) -> None:
    customers(server, 2)
    server.add("product", {"id": "prod_1", "name": "Membership"})
    server.add("price", {"id": "price_1", "product": "prod_1", "currency": "gbp", "unit_amount": 500, "type": "recurring",
                         "recurring": {"interval": "month"}})
    server.add("invoice", {"id": "in_1", "customer": "cus_00001", "status": "paid", "currency": "gbp", "total": 500,
                           "amount_paid": 500, "number": "A-1"})
    server.add("payment_intent", {"id": "pi_1", "customer": "cus_00001", "amount": 500, "currency": "gbp", "status": "succeeded"})
    server.add("charge", {"id": "ch_1", "customer": "cus_00001", "payment_intent": "pi_1", "amount": 500, "currency": "gbp",
                          "status": "succeeded", "paid": True})
    for model in (Customer, Product, Price, Invoice, PaymentIntent, Charge):
        result = sync_model(model)
        assert result.created >= 1 and not result.failed, result
    assert Price.objects.get().product.name == "Membership"
    assert Invoice.objects.get().customer.external_id == "cus_00001"
    charge = Charge.objects.get()
    assert (charge.payment_intent.external_id, charge.customer.external_id, charge.paid) == ("pi_1", "cus_00001", True)


def test_the_key_never_reaches_runs_logs_or_errors(server: StripeServer, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    customers(server, 2)
    sync_model(Customer)
    server.api_keys.clear()  # the key is refused now: the run fails with Stripe's 401
    result = sync_model(Customer, mode="full")
    assert result.errors and not result.deleted
    stored = json.dumps([model_to_dict(run) for run in SyncRun.objects.all()], default=str)
    assert "401" in stored and "Invalid API Key" in stored
    assert KEY not in stored
    assert KEY not in caplog.text
    assert KEY not in str(result)


def test_a_run_that_died_goes_on_after_the_last_object_it_wrote(server: StripeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    customers(server, 250)
    assert datasources.customers.resumable
    calls = {"n": 0}
    original = type(datasources.customers).request

    def failing(self: Any, method: str, url: str, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise TransportError("connection lost", datasource=self, url=url)
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(type(datasources.customers), "request", failing)
    first = sync_model(Customer)
    assert Customer.objects.count() == 200 and first.errors
    monkeypatch.setattr(type(datasources.customers), "request", original)
    server.reset_counts()
    second = sync_model(Customer)
    assert second.resumed and Customer.objects.count() == 250
    assert [r.query.get("starting_after") for r in server.requests_to("/v1/customers")] == [["cus_00150"], ["cus_00050"]]
