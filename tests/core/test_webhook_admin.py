"""The admin's Events list of the webhook inbox: columns, filters, reprocess and discard (issue 20 item 6)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from pyck.core.models import WebhookEvent
from pyck.core.webhooks.processing import process_inbox
from tests.webhook_support.models import Ticket
from tests.webhook_support.signing import SECRET, payload, sign, ticket

pytestmark = pytest.mark.django_db

LIST = "/admin/pyck/webhookevent/"


def deliver(client: Client, event_id: str, *changes: dict) -> dict[str, str]:
    body = payload(*changes)
    headers = sign(event_id, body)
    assert client.post("/webhooks/helpdesk/", data=body, content_type="application/json", headers=headers).status_code == 200
    return headers


def test_the_events_list_shows_status_source_model_record_times_lag_and_error(admin_client: Client) -> None:
    deliver(admin_client, "evt_ok", ticket(1))
    deliver(admin_client, "evt_bad", {"model": "webhook_support.Ticket", "id": 2, "record": {"id": 2, "title": None}})
    process_inbox()
    page = admin_client.get(LIST).content.decode()
    for text in ["evt_ok", "evt_bad", "applied", "failed", "webhook_support.Ticket", "helpdesk", "lag"]:
        assert text in page
    assert "webhook_support.Ticket record 2 (Tickets" in page
    failed = admin_client.get(LIST, {"status__exact": "failed"}).content.decode()
    assert "evt_bad" in failed and "evt_ok" not in failed
    assert "evt_ok" in admin_client.get(LIST, {"source__exact": "helpdesk"}).content.decode()
    assert "evt_ok" not in admin_client.get(LIST, {"source__exact": "other"}).content.decode()


def test_an_event_page_shows_its_body_and_no_signature_or_secret(admin_client: Client) -> None:
    headers = deliver(admin_client, "evt_1", ticket(1, "Printer"))
    event = WebhookEvent.objects.get()
    page = admin_client.get(f"{LIST}{event.pk}/change/").content.decode()
    assert "Printer" in page
    assert headers["webhook-signature"].split(",")[1] not in page
    assert SECRET.removeprefix("whsec_") not in page


def test_reprocess_makes_events_due_now_with_all_their_attempts(admin_client: Client) -> None:
    deliver(admin_client, "evt_1", ticket(1))
    process_inbox()
    Ticket.objects.update(title="changed here")
    WebhookEvent.objects.update(status="failed", attempts=10, next_attempt=timezone.now() + timedelta(days=1))
    assert process_inbox().claimed == 0
    event = WebhookEvent.objects.get()
    admin_client.post(LIST, {"action": "reprocess", "_selected_action": [event.pk]})
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("pending", 0)
    assert process_inbox().applied == 1
    assert Ticket.objects.get().title == "ticket 1"


def test_discard_keeps_an_event_from_ever_being_processed(admin_client: Client) -> None:
    deliver(admin_client, "evt_1", ticket(1))
    deliver(admin_client, "evt_2", ticket(2))
    process_inbox(limit=1)
    pks = list(WebhookEvent.objects.values_list("pk", flat=True))
    admin_client.post(LIST, {"action": "discard", "_selected_action": pks})
    assert dict(WebhookEvent.objects.values_list("event_id", "status")) == {"evt_1": "applied", "evt_2": "discarded"}
    assert process_inbox().claimed == 0
    assert list(Ticket.objects.values_list("external_id", flat=True)) == [1]


def test_a_user_who_may_only_view_events_has_no_actions(client: Client, django_user_model) -> None:
    from django.contrib.auth.models import Permission  # noqa: PLC0415 - auth's models, once Django is set up

    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_webhookevent"))
    client.force_login(user)
    deliver(client, "evt_1", ticket(1))
    page = client.get(LIST).content.decode()
    assert "evt_1" in page and "Reprocess the selected events" not in page
