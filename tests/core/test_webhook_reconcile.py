"""Reconciliation: the model's incremental poll repairs an event that never reached the inbox (issue 20 item 7).

The incremental guide's ``Ticket`` (``?updated_since=``) receives pushes from a Standard Webhooks receiver; one
event is applied, another is lost on the way; the next incremental sync stores the record it was about.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.test import Client

from pyck.core.sync import sync_model
from pyck.core.webhooks import StandardWebhooksReceiver, register_receiver, unregister_receiver
from pyck.core.webhooks.processing import process_inbox
from tests.testapp.models import Ticket
from tests.webhook_support.signing import payload, sign

pytestmark = pytest.mark.django_db

API = "https://helpdesk.example.com/api/tickets"


@pytest.fixture
def receiver() -> Iterator[None]:
    register_receiver(
        StandardWebhooksReceiver(name="tickets", secret_setting="HELPDESK_WEBHOOK_SECRET", models=["testapp.Ticket"])
    )
    yield
    unregister_receiver("tickets")


def record(id: int, status: str, updated_at: str) -> dict:
    return {"id": id, "subject": f"ticket {id}", "status": status, "updated_at": updated_at}


def test_an_event_dropped_before_it_reached_us_is_repaired_by_the_next_incremental_sync(
    client: Client, mock_api: responses.RequestsMock, receiver: None
) -> None:
    seven = record(7, "open", "2026-11-27T10:00:00+00:00")
    mock_api.get(API, json={"items": [seven], "total": 1})
    sync_model(Ticket)  # the first, full listing

    closed = record(7, "closed", "2026-11-27T10:05:00+00:00")
    body = payload({"model": "testapp.Ticket", "id": 7, "record": closed})
    assert client.post("/webhooks/tickets/", data=body, content_type="application/json", headers=sign("evt_1", body)).status_code == 200
    process_inbox()
    assert list(Ticket.objects.values_list("external_id", "status")) == [(7, "closed")]
    # Ticket 8 is created remotely; its event never arrives (the provider gave up, the network dropped it).
    eight = record(8, "open", "2026-11-27T10:06:00+00:00")

    mock_api.get(API, json={"items": [closed, eight], "total": 2})
    result = sync_model(Ticket)
    assert result.mode == "incremental"
    assert parse_qs(urlsplit(mock_api.calls[-1].request.url).query)["updated_since"] == ["2026-11-27T10:00:00+00:00"]
    assert list(Ticket.objects.order_by("external_id").values_list("external_id", "status")) == [(7, "closed"), (8, "open")]
