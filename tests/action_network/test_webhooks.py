"""Action Network's webhooks through the inbox: the URL token (constant time, never stored or logged), arrays of
OSDI items, a stable id per request, items applied to their models, and a redelivery applied once."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.forms.models import model_to_dict

from pyck.contrib.action_network.webhooks import ActionNetworkReceiver, item_id
from pyck.core.models.webhooks import WebhookEvent
from pyck.core.webhooks import Rejected
from pyck.core.webhooks.processing import process_inbox
from tests.action_network_support.models import Donation, Person

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.action_network_support.urls")]

TOKEN = "an-hook-6f1d2c9a8b7e4d3c"
URL = "/webhooks/action-network/"
API = "https://actionnetwork.org/api/v2"


@pytest.fixture(autouse=True)
def _token(settings: Any) -> None:
    settings.ACTION_NETWORK_WEBHOOK_TOKEN = TOKEN


def donation(did: str, person: str | None = None, **fields: Any) -> dict[str, Any]:
    links = {"self": {"href": f"{API}/fundraising_pages/f1/donations/{did}"}}
    if person:
        links["osdi:person"] = {"href": f"{API}/people/{person}"}
    return {"osdi:donation": {"identifiers": [f"action_network:{did}"], "created_date": "2024-03-01T10:00:00Z",
                              "amount": "20.00", "currency": "usd", **fields, "_links": links}}


def post(client: Any, payload: Any, token: str | None = TOKEN) -> Any:
    url = URL if token is None else f"{URL}?token={token}"
    return client.post(url, data=json.dumps(payload), content_type="application/json")


def test_a_wrong_or_missing_token_is_refused_and_nothing_is_stored(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert post(client, [donation("d1")], token="guess").status_code == 401
    assert post(client, [donation("d1")], token=None).status_code == 401
    # A token in the header without the URL's is not taken either: the view overwrites it.
    response = client.post(URL, data="[]", content_type="application/json", HTTP_X_PYCK_ACTION_NETWORK_TOKEN=TOKEN)
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()
    assert TOKEN not in caplog.text


def test_donations_are_applied_with_their_person_and_a_redelivery_once(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ann = Person.objects.create(external_id="p1", given_name="Ann")
    payload = [donation("d1", person="p1"), {"osdi:signature": {"identifiers": ["action_network:s1"]}}, donation("d2")]
    assert post(client, payload).status_code == 200
    assert post(client, payload).status_code == 200  # Action Network retries: the same request, stored once
    (event,) = WebhookEvent.objects.all()
    assert event.headers == {} and TOKEN not in json.dumps(model_to_dict(event), default=str)
    outcome = process_inbox()
    assert outcome.claimed == 1
    event.refresh_from_db()
    assert event.status == "applied", event.last_error
    first, second = Donation.objects.get(external_id="d1"), Donation.objects.get(external_id="d2")
    assert (first.person, str(first.amount), second.person) == (ann, "20.00", None)
    assert TOKEN not in caplog.text

    # A later payload without the person link leaves the donation's person as it was.
    assert post(client, [donation("d1", amount="25.00")]).status_code == 200
    process_inbox()
    first.refresh_from_db()
    assert (first.person, str(first.amount)) == (ann, "25.00")


def test_items_are_named_by_idempotency_key_else_by_type_and_id_else_by_content() -> None:
    assert item_id({"idempotency_key": "k1", "osdi:donation": {}}) == "key:k1"
    assert item_id(donation("d9")) == "osdi:donation:d9"
    assert item_id({"action_network:action": {"person": {}}}).startswith("sha256:")
    assert item_id({"a": [1]}) == item_id({"a": [1]})


def test_a_body_that_is_not_an_array_of_objects_is_refused(settings: Any) -> None:
    receiver = ActionNetworkReceiver()
    headers = {"x-pyck-action-network-token": TOKEN}
    for body in (b"{}", b"not json", b"[1]"):
        with pytest.raises(Rejected) as raised:
            receiver.verify(body, headers)
        assert raised.value.status == 400
    assert receiver.verify(b"[]", headers).startswith("batch:")
