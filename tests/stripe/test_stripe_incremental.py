"""Incremental runs through Stripe's Events API, against the local server: updates found (which `created[gte]` on
the list would miss), one write per changed object as its latest event says, the cursor at the latest event,
and a cursor older than the 30 days of events refused."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from benchmarks.stripe_server import StripeServer
from pyck.contrib.stripe import stripe_incremental
from pyck.core.exceptions import ConfigurationError
from pyck.core.models import SyncState
from pyck.core.sync import sync_model
from tests.stripe_support import datasources
from tests.stripe_support.models import Customer, Subscription

pytestmark = pytest.mark.django_db(transaction=True)

NOW = 1_800_000_000


def customers(server: StripeServer, n: int) -> None:
    for i in range(n):
        server.add("customer", {"id": f"cus_{i:05d}", "email": f"c{i}@example.org"})


def test_an_incremental_run_reads_the_events_since_the_full_run_and_applies_updates(server: StripeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: NOW)
    server.set_clock(NOW - 1000)  # created long before the full run (and its lookback)
    customers(server, 300)
    assert sync_model(Customer).created == 300
    server.set_clock(NOW + 10)
    server.update("customer", "cus_00003", email="first@example.org")
    server.update("customer", "cus_00003", email="latest@example.org")  # two events: the latest wins
    server.update("customer", "cus_00200", name="Renamed")
    server.add("customer", {"id": "cus_new", "email": "new@example.org"})
    server.reset_counts()
    result = sync_model(Customer)
    assert (result.mode, result.created, result.updated) == ("incremental", 1, 2), result
    events = server.requests_to("/v1/events")
    assert len(events) == 1 and not server.requests_to("/v1/customers")
    # From the full run's start (its records' seen_at) minus the 300 s lookback, for the customer's events.
    assert events[0].query["created[gte]"] == [str(NOW - 300)]
    assert events[0].query["types[]"] == ["customer.created", "customer.updated", "customer.deleted"]
    assert Customer.objects.get(external_id="cus_00003").email == "latest@example.org"
    assert Customer.objects.get(external_id="cus_00200").name == "Renamed"
    assert SyncState.objects.get(model=Customer._meta.label, partition="").cursor == {"int": NOW + 10}


def test_a_subscription_reads_the_customer_subscription_events(server: StripeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: NOW)
    server.set_clock(NOW - 1000)
    customers(server, 1)
    sync_model(Customer)
    server.add("subscription", {"id": "sub_1", "customer": "cus_00000", "status": "active"})
    sync_model(Subscription)
    server.set_clock(NOW + 5)
    server.update("subscription", "sub_1", status="canceled")
    server.reset_counts()
    result = sync_model(Subscription)
    assert (result.mode, result.updated) == ("incremental", 1)
    assert server.requests_to("/v1/events")[0].query["types[]"][0] == "customer.subscription.created"
    assert Subscription.objects.get().status == "canceled"


def test_a_deleted_object_is_deleted_by_the_incremental_run(server: StripeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Its latest event is customer.deleted: the run deletes the row (OnDelete.DELETE) without a get().
    monkeypatch.setattr(time, "time", lambda: NOW)
    server.set_clock(NOW - 1000)
    customers(server, 2)
    sync_model(Customer)
    server.set_clock(NOW + 1)
    server.update("customer", "cus_00001", email="changed@example.org")
    server.delete("customer", "cus_00001")
    server.reset_counts()
    result = sync_model(Customer)
    assert (result.mode, result.updated, result.deleted) == ("incremental", 0, 1)
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["cus_00000"]
    assert not server.requests_to("/v1/customers/cus_00001")
    assert sync_model(Customer, mode="full").deleted == 0


def test_a_cursor_older_than_the_events_kept_is_refused_with_a_full_sync_as_the_way_out(server: StripeServer) -> None:
    customers(server, 1)
    with pytest.raises(ConfigurationError, match="30 days of events"):
        list(datasources.customers.list_changed(int(time.time()) - 31 * 24 * 3600))
    with pytest.raises(ConfigurationError, match="filter"):
        datasources.customers.list_changed(0, email="x")


def test_the_reconcile_interval_is_under_the_30_days_of_events() -> None:
    assert stripe_incremental(reconcile_interval=timedelta(days=29) - timedelta(seconds=1)).field == "seen_at"
    with pytest.raises(ConfigurationError, match="30 days"):
        stripe_incremental(reconcile_interval=timedelta(days=30))


def test_the_events_api_query_is_what_stripe_documents(server: StripeServer, settings: Any) -> None:
    server.set_clock(int(time.time()))
    customers(server, 3)
    records = list(datasources.customers.list_changed(int(time.time()) - 60))
    assert [r.id for r in records] == ["cus_00000", "cus_00001", "cus_00002"]  # oldest change first
    assert all(r.seen_at is not None for r in records)
