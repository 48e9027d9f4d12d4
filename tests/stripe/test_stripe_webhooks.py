"""Stripe's webhooks through the inbox: `Stripe-Signature` checked by the `stripe` package, events routed to the
models by object type, deletions applied, and neither the secret nor the signature stored."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from benchmarks.stripe_server import StripeServer
from pyck.contrib.stripe.webhooks import StripeWebhookReceiver, event_changes
from pyck.core.exceptions import ConfigurationError
from pyck.core.models import WebhookEvent
from pyck.core.webhooks import register_receiver, unregister_receiver
from pyck.core.webhooks.processing import process_inbox
from tests.stripe_support.models import Customer, Subscription

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/webhooks/stripe/"


def event(eid: str, type_: str, obj: dict[str, Any], created: int = 1_700_000_000) -> bytes:
    return json.dumps({"id": eid, "object": "event", "type": type_, "created": created, "data": {"object": obj}}).encode()


def signed(body: bytes, *, secret: str | None = None, at: int | None = None) -> dict[str, str]:
    """The header Stripe sends (https://docs.stripe.com/webhooks#verify-events): t=<timestamp>,v1=<HMAC-SHA256>."""
    t = int(time.time()) if at is None else at
    key = (secret or settings.STRIPE_WEBHOOK_SECRET).encode()
    v1 = hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={v1}"}


def post(client: Client, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def test_a_signed_event_is_stored_without_its_signature_and_applied(client: Client) -> None:
    body = event("evt_1", "customer.created", {"id": "cus_1", "object": "customer", "email": "a@example.org", "metadata": {"k": "v"}})
    headers = signed(body)
    assert post(client, body, headers).status_code == 200
    stored = WebhookEvent.objects.get()
    assert (stored.source, stored.event_id, stored.headers) == ("stripe", "evt_1", {})
    assert headers["Stripe-Signature"] not in json.dumps(stored.headers) and settings.STRIPE_WEBHOOK_SECRET not in bytes(stored.body).decode()
    process_inbox()
    customer = Customer.objects.get()
    assert (customer.external_id, customer.email, customer.metadata) == ("cus_1", "a@example.org", {"k": "v"})


@pytest.mark.parametrize("spoil", ["secret", "body", "old", "missing", "garbled"])
def test_a_request_that_does_not_verify_is_refused_and_not_stored(client: Client, spoil: str) -> None:
    body = event("evt_1", "customer.created", {"id": "cus_1", "object": "customer"})
    headers = {
        "secret": signed(body, secret="whsec_other"),
        "body": signed(body + b" "),
        "old": signed(body, at=int(time.time()) - 301),
        "missing": {},
        "garbled": {"Stripe-Signature": "nonsense"},
    }[spoil]
    response = post(client, body, headers)
    assert response.status_code == (400 if spoil == "missing" else 401)
    assert not WebhookEvent.objects.exists()
    assert settings.STRIPE_WEBHOOK_SECRET not in response.content.decode()


def test_events_are_routed_by_object_type_and_a_deleted_customer_is_deleted(client: Client) -> None:
    for i, (type_, obj) in enumerate([
        ("customer.created", {"id": "cus_1", "object": "customer", "email": "a@example.org"}),
        ("customer.subscription.created", {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active"}),
        ("invoice.created", {"id": "in_1", "object": "invoice", "customer": {"id": "cus_1", "object": "customer"}, "currency": "gbp"}),
        ("coupon.created", {"id": "co_1", "object": "coupon"}),  # no model reads coupons: nothing to do
    ]):
        body = event(f"evt_{i}", type_, obj)
        post(client, body, signed(body))
    process_inbox()
    assert Subscription.objects.get().customer.external_id == "cus_1"
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"applied"}
    body = event("evt_9", "customer.subscription.deleted", {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "canceled"})
    post(client, body, signed(body))
    process_inbox()
    body = event("evt_10", "customer.deleted", {"id": "cus_1", "object": "customer", "email": "a@example.org"})
    post(client, body, signed(body))
    process_inbox()
    # A subscription's "deleted" event says it ended: it is kept, canceled; the customer is deleted.
    assert Subscription.objects.get().status == "canceled"
    assert not Customer.objects.exists()
    assert Subscription.objects.get().customer is None


def test_event_changes_reads_the_event_and_refuses_what_is_not_one() -> None:
    (change,) = event_changes(json.loads(event("evt_1", "customer.updated", {"id": "cus_1", "object": "customer"})), {"customer": Customer})
    assert (change.model, change.external_id, change.deleted, change.version) == (Customer, "cus_1", False, 1_700_000_000)
    with pytest.raises(ValueError, match="no data.object"):
        event_changes({"id": "evt_1", "type": "customer.updated"}, {"customer": Customer})


def test_the_receiver_needs_its_models_and_one_model_per_object_type() -> None:
    with pytest.raises(ConfigurationError, match="models"):
        StripeWebhookReceiver()
    with pytest.raises(ConfigurationError, match="both"):
        StripeWebhookReceiver(name="twice", models=["stripe_support.Customer", "stripe_support.Customer"]).routes()


def test_fetch_writes_the_object_as_stripe_has_it_now(client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Imported here: the datasources are pointed at this test's server.
    from tests.stripe_support import datasources

    with StripeServer(rate_limit=1000) as server:
        server.api_keys.add("sk_test_fetch")
        settings.STRIPE_API_KEY = "sk_test_fetch"
        monkeypatch.setattr(datasources.customers, "base_url", f"{server.url}/v1")
        server.add("customer", {"id": "cus_1", "email": "new@example.org"})
        register_receiver(StripeWebhookReceiver(name="stripe-fetch", models=["stripe_support.Customer"], fetch=True))
        try:
            body = event("evt_1", "customer.updated", {"id": "cus_1", "object": "customer", "email": "old@example.org"})
            response = client.post("/webhooks/stripe-fetch/", data=body, content_type="application/json", headers=signed(body))
            assert response.status_code == 200
            process_inbox()
        finally:
            unregister_receiver("stripe-fetch")
        assert [r.path for r in server.requests_to("/v1/customers")] == ["/v1/customers/cus_1"]
    assert Customer.objects.get().email == "new@example.org"
