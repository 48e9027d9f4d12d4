"""The webhook view: verify, store once, answer (issue 20 items 1, 2 and 8)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from django.test import Client, override_settings

from pyck.core.models import WebhookEvent
from pyck.core.webhooks import Rejected, StandardWebhooksReceiver, get_receiver
from pyck.core.exceptions import ConfigurationError
from tests.webhook_support.signing import SECRET, payload, sign, ticket

pytestmark = pytest.mark.django_db

URL = "/webhooks/helpdesk/"


def post(client: Client, body: bytes, headers: dict[str, str], url: str = URL):
    return client.post(url, data=body, content_type="application/json", headers=headers)


def test_a_signed_event_is_stored_once_with_its_body_and_no_signature(client: Client, django_assert_num_queries) -> None:
    body = payload(ticket(1, "Printer"))
    headers = sign("evt_1", body)
    with django_assert_num_queries(1):  # the INSERT, and nothing else
        response = post(client, body, headers)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.source, event.event_id, bytes(event.body), event.status) == ("helpdesk", "evt_1", body, "pending")
    assert event.headers == {"webhook-timestamp": headers["webhook-timestamp"]}


def test_a_redelivered_event_is_answered_2xx_and_not_stored_again(client: Client) -> None:
    body = payload(ticket(1))
    assert post(client, body, sign("evt_1", body)).status_code == 200
    WebhookEvent.objects.update(status="applied")
    assert post(client, body, sign("evt_1", body)).status_code == 200
    assert list(WebhookEvent.objects.values_list("event_id", "status")) == [("evt_1", "applied")]


def test_a_redelivered_failed_event_stays_failed_and_due_for_its_retry(client: Client) -> None:
    body = payload(ticket(1))
    post(client, body, sign("evt_1", body))
    due = datetime(2030, 1, 1, tzinfo=timezone.utc)
    WebhookEvent.objects.update(status="failed", attempts=2, next_attempt=due, error="API down")
    assert post(client, body, sign("evt_1", body)).status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts, event.next_attempt, event.error) == ("failed", 2, due, "API down")


def test_the_same_event_id_from_two_sources_is_two_events(client: Client) -> None:
    body = payload(ticket(1))
    post(client, body, sign("evt_1", body))
    post(client, body, sign("evt_1", body), url="/webhooks/helpdesk-fetch/")
    assert WebhookEvent.objects.count() == 2


@pytest.mark.parametrize(
    ("spoil", "status"),
    [
        ("signature", 401),
        ("secret", 401),
        ("expired", 401),
        ("future", 401),
        ("no-signature", 400),
        ("no-id", 400),
        ("no-timestamp", 400),
    ],
)
def test_a_request_that_does_not_verify_is_refused_and_not_stored(
    client: Client, spoil: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    body = payload(ticket(1))
    headers = sign("evt_1", body)
    if spoil == "signature":
        headers["webhook-signature"] = sign("evt_1", body + b" ")["webhook-signature"]
    elif spoil == "secret":
        headers = sign("evt_1", body, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
    elif spoil == "expired":
        headers = sign("evt_1", body, at=datetime.now(timezone.utc) - timedelta(minutes=6))
    elif spoil == "future":
        headers = sign("evt_1", body, at=datetime.now(timezone.utc) + timedelta(minutes=6))
    else:
        del headers["webhook-" + spoil.removeprefix("no-")]
    with caplog.at_level(logging.DEBUG, logger="pyck"):
        response = post(client, body, headers)
    assert response.status_code == status
    assert not WebhookEvent.objects.exists()
    assert SECRET.removeprefix("whsec_") not in caplog.text
    if "webhook-signature" in headers:
        assert headers["webhook-signature"].split(",")[1] not in caplog.text + response.content.decode()


def test_a_signed_body_that_is_not_json_is_refused_and_not_stored(client: Client) -> None:
    body = b"<xml>no</xml>"
    response = post(client, body, sign("evt_1", body))
    assert (response.status_code, response.content) == (400, b"the body is not JSON")
    assert not WebhookEvent.objects.exists()


def test_a_body_over_the_limit_is_refused_413_before_it_is_verified(client: Client) -> None:
    body = payload(ticket(1, "x" * 200))
    with override_settings(PYCK={"WEBHOOK_MAX_BODY_SIZE": len(body) - 1}):
        assert post(client, body, sign("evt_1", body)).status_code == 413
    with override_settings(PYCK={"WEBHOOK_MAX_BODY_SIZE": len(body)}):
        assert post(client, body, sign("evt_2", body)).status_code == 200
    assert list(WebhookEvent.objects.values_list("event_id", flat=True)) == ["evt_2"]


def test_a_body_over_the_limit_without_a_content_length_is_refused_413(rf) -> None:
    # A chunked request has no Content-Length: the view stops reading one byte past the limit.
    from pyck.core.webhooks.views import receive_webhook  # noqa: PLC0415 - the view itself, without the URLconf

    body = payload(ticket(1, "x" * 200))
    request = rf.post(URL, data=body, content_type="application/json", headers=sign("evt_1", body))
    del request.META["CONTENT_LENGTH"]
    with override_settings(PYCK={"WEBHOOK_MAX_BODY_SIZE": 100}):
        assert receive_webhook(request, "helpdesk").status_code == 413
    assert not WebhookEvent.objects.exists()


def test_only_post_and_known_sources(client: Client) -> None:
    assert client.get(URL).status_code == 405
    body = payload(ticket(1))
    assert post(client, body, sign("evt_1", body), url="/webhooks/nobody/").status_code == 404
    assert not WebhookEvent.objects.exists()


def test_a_missing_secret_setting_answers_500_and_stores_nothing(client: Client, settings, caplog) -> None:
    del settings.HELPDESK_WEBHOOK_SECRET
    body = payload(ticket(1))
    with caplog.at_level(logging.ERROR, logger="pyck.webhooks"):
        assert post(client, body, sign("evt_1", body)).status_code == 500
    assert "HELPDESK_WEBHOOK_SECRET" in caplog.text
    assert not WebhookEvent.objects.exists()


def test_a_secret_that_is_not_base64_answers_500_without_showing_it(client: Client, settings, caplog) -> None:
    settings.HELPDESK_WEBHOOK_SECRET = "whsec_not*base64!"
    body = payload(ticket(1))
    with caplog.at_level(logging.ERROR, logger="pyck.webhooks"):
        assert post(client, body, sign("evt_1", body)).status_code == 500
    assert "is not a Standard Webhooks secret" in caplog.text and "not*base64" not in caplog.text
    assert not WebhookEvent.objects.exists()


def test_the_generic_payload_parses_into_changes() -> None:
    from tests.webhook_support.models import Ticket  # noqa: PLC0415 - the app's models, once Django is set up

    receiver = get_receiver("helpdesk")
    changes = receiver.parse(
        {"changes": [ticket(1, version=3), {"model": "webhook_support.Ticket", "id": 2, "deleted": True}]}, {}
    )
    assert [(c.model, c.external_id, c.version, c.deleted, c.record is None) for c in changes] == [
        (Ticket, 1, 3, False, False),
        (Ticket, 2, None, True, True),
    ]
    assert [c.external_id for c in receiver.parse({"model": "webhook_support.Ticket", "id": 5}, {})] == [5]
    with pytest.raises(ValueError, match="may not change webhook_support.Team"):
        get_receiver("helpdesk-fetch").parse({"model": "webhook_support.Team", "id": 5}, {})
    with pytest.raises(ValueError, match="not a concrete SyncedModel"):
        receiver.parse({"model": "auth.User", "id": 5}, {})


def test_receiver_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="models"):
        StandardWebhooksReceiver(name="x", secret_setting="X")
    with pytest.raises(ConfigurationError, match="name"):
        StandardWebhooksReceiver(name="a/b", secret_setting="X", models=["webhook_support.Ticket"])
    with pytest.raises(ConfigurationError, match="unknown option 'secret'"):
        StandardWebhooksReceiver(name="x", secret="whsec_...", secret_setting="X", models=["webhook_support.Ticket"])
    assert Rejected("bad").status == 401
