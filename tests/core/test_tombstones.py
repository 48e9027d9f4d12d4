"""Records that say they are deleted, synced: Stripe answers `get()` of a deleted object with 200
`{"id": ..., "deleted": true}` and embeds the same stub where an expanded object would be. With the datasources'
`tombstone = {"deleted": True}` (see `tests.tombstone_support.api`), the stub counts as not found: the row of a
deleted record is deleted, and a reference to it resolves to null (or is left out of a many-to-many), unless the
foreign key is required, when the referencing record fails saying why."""

from __future__ import annotations

import logging

import pytest
import responses

from pyck.core.sync import sync_model
from tests.tombstone_support.api import API
from tests.tombstone_support.models import Customer, Invoice, Subscription, Team

pytestmark = pytest.mark.django_db

ADA = {"id": "cus_ada", "email": "ada@example.test"}
BO = {"id": "cus_bo", "email": "bo@example.test"}
GONE = {"id": "cus_gone", "deleted": True}


def _customers(*records: dict[str, object]) -> None:
    for record in records:
        Customer.objects.create(external_id=record["id"], email=record["email"])


def test_the_stripe_style_tombstone_deletes_the_row(mock_api: responses.RequestsMock) -> None:
    _customers(ADA, BO)
    mock_api.get(f"{API}/customers", json={"data": [ADA]})
    mock_api.get(f"{API}/customers/cus_bo", json={"id": "cus_bo", "deleted": True})

    result = sync_model(Customer)

    assert (result.status, result.deleted, result.kept, result.failed) == ("succeeded", 1, 0, 0)
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["cus_ada"]


def test_a_tombstone_in_the_listing_is_absent_from_it_and_its_row_deleted(mock_api: responses.RequestsMock) -> None:
    _customers(ADA, BO)
    mock_api.get(f"{API}/customers", json={"data": [ADA, {"id": "cus_bo", "deleted": True}]})
    mock_api.get(f"{API}/customers/cus_bo", json={"id": "cus_bo", "deleted": True})

    result = sync_model(Customer)

    assert (result.status, result.unchanged, result.deleted, result.failed) == ("succeeded", 1, 1, 0)
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["cus_ada"]


def test_a_subscription_whose_customer_is_an_expanded_deleted_stub_syncs_with_no_customer(
    mock_api: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mock_api.get(f"{API}/subscriptions", json={"data": [
        {"id": "sub_1", "status": "active", "customer": ADA},
        {"id": "sub_2", "status": "canceled", "customer": GONE},
    ]})

    with caplog.at_level(logging.WARNING, logger="pyck.sync"):
        result = sync_model(Subscription)

    assert (result.status, result.created, result.failed) == ("succeeded", 2, 0)
    assert Subscription.objects.get(external_id="sub_1").customer.external_id == "cus_ada"  # type: ignore[union-attr]
    assert Subscription.objects.get(external_id="sub_2").customer is None
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["cus_ada"]  # no row for the stub
    assert [(w.kind, w.field, w.count) for w in result.warnings] == [("nulled", "customer", 1)]
    assert any("'cus_gone' is deleted" in r.getMessage() for r in caplog.records)


def test_a_stub_referenced_by_id_and_fetched_resolves_to_null(
    mock_api: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mock_api.get(f"{API}/subscriptions", json={"data": [{"id": "sub_3", "status": "canceled", "customer": "cus_gone"}]})
    mock_api.get(f"{API}/customers/cus_gone", json=GONE)

    with caplog.at_level(logging.WARNING, logger="pyck.sync"):
        result = sync_model(Subscription)

    (line,) = [r.getMessage() for r in caplog.records if "left null" in r.getMessage()]
    assert "'cus_gone' could not be resolved: The API says the record is deleted" in line

    assert (result.status, result.created, result.failed) == ("succeeded", 1, 0)
    assert Subscription.objects.get(external_id="sub_3").customer is None
    assert not Customer.objects.exists()


def test_a_required_reference_to_a_deleted_record_fails_the_referencing_record_saying_so(
    mock_api: responses.RequestsMock,
) -> None:
    mock_api.get(f"{API}/invoices", json={"data": [
        {"id": "in_1", "total": 500, "customer": ADA},
        {"id": "in_2", "total": 900, "customer": GONE},
    ]})

    result = sync_model(Invoice)

    assert (result.status, result.created, result.failed) == ("partial", 1, 1)
    (error,) = result.errors
    assert error.record_id == "in_2"
    assert error.message.startswith(
        "field 'customer' is required but tombstone_support.Customer 'cus_gone' is deleted "
        "(the record embeds a tombstone for it) (model tombstone_support.Invoice, datasource stripe.invoices"
    )
    assert list(Invoice.objects.values_list("external_id", flat=True)) == ["in_1"]


def test_a_deleted_stub_among_expanded_many_to_many_records_is_left_out(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/teams", json={"data": [{"id": "team_1", "name": "Ops", "members": [ADA, GONE, BO]}]})

    result = sync_model(Team)

    assert (result.status, result.created, result.failed) == ("succeeded", 1, 0)
    members = Team.objects.get(external_id="team_1").members.order_by("external_id")
    assert list(members.values_list("external_id", flat=True)) == ["cus_ada", "cus_bo"]
    assert [(w.kind, w.field, w.count) for w in result.warnings] == [("dropped", "members", 1)]
