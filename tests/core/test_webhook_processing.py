"""Processing the webhook inbox: events applied off the request path through ``apply_records``, mapped through
the model's ``SyncConfig``, failed and retried with backoff (issue 20 items 3, 4 and 6)."""

from __future__ import annotations

import json
from datetime import timedelta
from importlib.util import find_spec

import pytest
import responses
from django.test import Client, override_settings
from django.utils import timezone

from pyck.core.models import SyncRun, WebhookEvent
from pyck.core.options import OnDelete
from pyck.core.webhooks.processing import drain_inbox, process_inbox, retry_delay
from tests.webhook_support.api import BASE_URL
from tests.webhook_support.models import Team, Ticket
from tests.webhook_support.signing import payload, sign, ticket

pytestmark = pytest.mark.django_db

URL = "/webhooks/helpdesk/"


def deliver(client: Client, event_id: str, *changes: dict, url: str = URL) -> None:
    body = payload(*changes)
    response = client.post(url, data=body, content_type="application/json", headers=sign(event_id, body))
    assert response.status_code == 200, response.content


def tickets() -> list[tuple[int, str, int, int | None, str]]:
    return [
        (t.external_id, t.title, t.version, t.team.external_id if t.team else None, t.note)
        for t in Ticket.objects.select_related("team").order_by("external_id")
    ]


def statuses() -> dict[str, str]:
    return dict(WebhookEvent.objects.values_list("event_id", "status"))


def test_a_burst_is_applied_off_the_request_with_one_write_for_all_its_events(client: Client) -> None:
    Team.objects.create(external_id=1, name="Support")
    for n in range(1, 51):
        deliver(client, f"evt_{n}", ticket(n, team=1))
    assert not Ticket.objects.exists()  # nothing is written in the request
    outcome = process_inbox()
    assert (outcome.claimed, outcome.applied, outcome.failed) == (50, 50, 0)
    assert tickets() == [(n, f"ticket {n}", 0, 1, "") for n in range(1, 51)]
    assert SyncRun.objects.filter(model="webhook_support.Ticket", mode="push").count() == 1
    event = WebhookEvent.objects.get(event_id="evt_7")
    assert (event.status, event.attempts, event.model, event.record_ids) == ("applied", 1, "webhook_support.Ticket", "7")
    assert event.applied is not None and event.lag is not None and event.lag >= 0
    assert event.outcome == "1 change(s) applied"
    assert process_inbox().claimed == 0  # applied events are not claimed again


def test_a_redelivered_applied_event_is_not_processed_again(client: Client) -> None:
    deliver(client, "evt_1", ticket(1, "first"))
    process_inbox()
    Ticket.objects.update(title="changed here")
    deliver(client, "evt_1", ticket(1, "first"))
    assert process_inbox().claimed == 0
    assert tickets() == [(1, "changed here", 0, None, "")]


def test_records_are_mapped_through_the_sync_config_and_local_columns_are_untouched(
    client: Client, mock_api: responses.RequestsMock
) -> None:
    Ticket.objects.create(external_id=1, title="old", note="keep me")
    # Team 3 is not stored: fetched once with the Teams datasource's get(), as a sync would.
    mock_api.get(f"{BASE_URL}/teams/3", json={"id": 3, "name": "Billing"})
    deliver(client, "evt_1", ticket(1, "new", team=3), ticket(2, team=3))
    process_inbox()
    assert tickets() == [(1, "new", 0, 3, "keep me"), (2, "ticket 2", 0, 3, "")]
    assert list(Team.objects.values_list("external_id", "name")) == [(3, "Billing")]


def test_an_event_with_only_the_id_is_fetched_before_it_is_written(client: Client, mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{BASE_URL}/tickets/7", json={"id": 7, "title": "as the API has it", "version": 4, "team": None})
    deliver(client, "evt_1", {"model": "webhook_support.Ticket", "id": 7})
    process_inbox()
    assert tickets() == [(7, "as the API has it", 4, None, "")]


def test_an_always_fetch_receiver_writes_the_record_as_the_api_has_it_now(
    client: Client, mock_api: responses.RequestsMock
) -> None:
    mock_api.get(f"{BASE_URL}/tickets/7", json={"id": 7, "title": "now", "version": 9, "team": None})
    mock_api.get(f"{BASE_URL}/tickets/8", status=404, json={"error": "gone"})
    Ticket.objects.create(external_id=8, title="gone remotely")
    deliver(client, "evt_1", ticket(7, "stale copy", version=2), ticket(8, "stale copy"), url="/webhooks/helpdesk-fetch/")
    process_inbox()
    assert tickets() == [(7, "now", 9, None, "")]


def test_a_deletion_deletes_the_row_under_on_delete_delete(client: Client) -> None:
    Ticket.objects.create(external_id=1, title="a")
    Ticket.objects.create(external_id=2, title="b")
    deliver(client, "evt_1", {"model": "webhook_support.Ticket", "id": 1, "deleted": True})
    process_inbox()
    assert [t[0] for t in tickets()] == [2]
    assert statuses() == {"evt_1": "applied"}


def test_a_deletion_keeps_the_row_under_on_delete_keep(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Ticket.sync_config, "on_delete", OnDelete.KEEP)
    Ticket.objects.create(external_id=1, title="a")
    deliver(client, "evt_1", {"model": "webhook_support.Ticket", "id": 1, "deleted": True})
    process_inbox()
    assert [t[0] for t in tickets()] == [1]
    event = WebhookEvent.objects.get()
    assert (event.status, event.outcome) == ("applied", "0 change(s) applied; 1 deletion(s) kept (OnDelete.KEEP)")


def test_the_api_down_during_a_fetch_fails_that_event_only_and_it_is_retried_with_backoff(
    client: Client, mock_api: responses.RequestsMock
) -> None:
    mock_api.get(f"{BASE_URL}/tickets/7", status=503, json={"error": "down"})
    deliver(client, "evt_1", {"model": "webhook_support.Ticket", "id": 7})
    deliver(client, "evt_2", ticket(8))
    start = timezone.now()
    outcome = process_inbox(now=lambda: start)
    assert (outcome.applied, outcome.failed) == (1, 1)
    assert tickets() == [(8, "ticket 8", 0, None, "")]
    failed = WebhookEvent.objects.get(event_id="evt_1")
    assert failed.status == "failed" and failed.attempts == 1
    assert failed.next_attempt == start + timedelta(seconds=10)
    # The datasource, the URL and the record id.
    assert "webhook_support.Ticket record 7" in failed.error
    assert "Tickets" in failed.error and f"{BASE_URL}/tickets/7" in failed.error and "503" in failed.error
    assert process_inbox(now=lambda: start + timedelta(seconds=9)).claimed == 0  # not before its time
    mock_api.replace(responses.GET, f"{BASE_URL}/tickets/7", json={"id": 7, "title": "back", "version": 1, "team": None})
    assert process_inbox(now=lambda: start + timedelta(seconds=10)).applied == 1
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.error) == ("applied", 2, "")
    assert tickets() == [(7, "back", 1, None, ""), (8, "ticket 8", 0, None, "")]


def test_a_bad_record_fails_its_event_and_the_others_are_applied(client: Client) -> None:
    deliver(client, "evt_1", ticket(1))
    deliver(client, "evt_2", {"model": "webhook_support.Ticket", "id": 2, "record": {"id": 2, "title": {"not": "text"}}})
    deliver(client, "evt_3", ticket(3))
    process_inbox()
    assert statuses() == {"evt_1": "applied", "evt_2": "failed", "evt_3": "applied"}
    error = WebhookEvent.objects.get(event_id="evt_2").error
    assert error.startswith("webhook_support.Ticket record 2 (Tickets")
    assert [t[0] for t in tickets()] == [1, 3]


def test_a_database_error_fails_the_events_of_that_record_only(client: Client) -> None:
    deliver(client, "evt_1", ticket(1))
    deliver(client, "evt_2", ticket(2, version=-1))  # the table's check constraint refuses it
    process_inbox()
    assert statuses() == {"evt_1": "applied", "evt_2": "failed"}
    assert "webhook_support.Ticket record 2" in WebhookEvent.objects.get(event_id="evt_2").error


def test_an_event_that_cannot_be_read_fails_with_why(client: Client) -> None:
    deliver(client, "evt_1", {"model": "auth.User", "id": 1})
    WebhookEvent.objects.create(source="gone", event_id="evt_2", body=b"{}")
    process_inbox()
    errors = dict(WebhookEvent.objects.values_list("event_id", "error"))
    assert "helpdesk event evt_1: cannot read it" in errors["evt_1"] and "auth.User" in errors["evt_1"]
    assert "no webhook receiver is registered as 'gone'" in errors["evt_2"]


def test_an_event_is_tried_at_most_max_attempts_times(client: Client) -> None:
    deliver(client, "evt_1", {"model": "auth.User", "id": 1})
    now = timezone.now()
    with override_settings(PYCK={"WEBHOOK_MAX_ATTEMPTS": 3}):
        for attempt in range(1, 4):
            assert process_inbox(now=lambda: now).failed == 1
            now += retry_delay(attempt)
        assert process_inbox(now=lambda: now + timedelta(days=1)).claimed == 0
    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts, event.outcome) == ("failed", 3, "failed; gave up (reprocess it from the admin)")


def test_retry_delays_double_up_to_the_limit() -> None:
    with override_settings(PYCK={"WEBHOOK_RETRY_DELAY": 5, "WEBHOOK_MAX_RETRY_DELAY": 30}):
        assert [retry_delay(n).total_seconds() for n in range(1, 6)] == [5, 10, 20, 30, 30]


def test_drain_processes_batch_after_batch(client: Client) -> None:
    for n in range(1, 8):
        deliver(client, f"evt_{n}", ticket(n))
    with override_settings(PYCK={"WEBHOOK_BATCH_SIZE": 3}):
        assert drain_inbox() == 7
    assert SyncRun.objects.filter(model="webhook_support.Ticket", mode="push").count() == 3
    assert set(statuses().values()) == {"applied"}


def test_a_claimed_event_is_not_claimed_again_until_its_claim_expires(client: Client) -> None:
    from pyck.core.webhooks.claims import claim_events  # noqa: PLC0415 - a function of the module under test

    deliver(client, "evt_1", ticket(1))
    now = timezone.now()
    assert [e.event_id for e in claim_events("worker-a", limit=10, now=now)] == ["evt_1"]
    assert claim_events("worker-b", limit=10, now=now + timedelta(seconds=299)) == []
    taken = claim_events("worker-b", limit=10, now=now + timedelta(seconds=301))
    assert [(e.event_id, e.claimed_by, e.attempts) for e in taken] == [("evt_1", "worker-b", 2)]


@pytest.mark.skipif(find_spec("django_tasks") is None and find_spec("django.tasks") is None, reason="no Tasks framework")
def test_with_enqueue_the_view_enqueues_a_task_after_commit(client: Client, django_capture_on_commit_callbacks) -> None:
    backend = "django.tasks.backends.immediate.ImmediateBackend" if find_spec("django.tasks") else (
        "django_tasks.backends.immediate.ImmediateBackend"
    )
    with override_settings(TASKS={"default": {"BACKEND": backend}}, PYCK={"WEBHOOK_ENQUEUE": True}):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            deliver(client, "evt_1", ticket(1))
        assert len(callbacks) == 1 and not Ticket.objects.exists()
        callbacks[0]()  # the commit: the immediate backend runs the task there and then
    assert statuses() == {"evt_1": "applied"}
    assert tickets() == [(1, "ticket 1", 0, None, "")]


def test_without_enqueue_the_view_enqueues_nothing(client: Client, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        deliver(client, "evt_1", ticket(1))
    assert callbacks == []
    assert json.loads(bytes(WebhookEvent.objects.get().body)) == {"changes": [ticket(1)]}
