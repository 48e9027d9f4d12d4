"""Events delivered out of order never overwrite a newer row: ``SyncConfig(version_field=...)`` (issue 20 item 5)."""

from __future__ import annotations

import random

import pytest
from django.test import Client, override_settings

from pyck.core.models import WebhookEvent
from pyck.core.sync import apply_records
from pyck.core.webhooks.processing import drain_inbox, process_inbox
from tests.webhook_support.api import TicketResource
from tests.webhook_support.models import Ticket
from tests.webhook_support.signing import payload, sign, ticket

pytestmark = pytest.mark.django_db


def deliver(client: Client, event_id: str, *changes: dict) -> None:
    body = payload(*changes)
    response = client.post("/webhooks/helpdesk/", data=body, content_type="application/json", headers=sign(event_id, body))
    assert response.status_code == 200


def rows() -> dict[int, tuple[str, int]]:
    return {t.external_id: (t.title, t.version) for t in Ticket.objects.all()}


def test_an_older_event_arriving_later_is_skipped_and_counted(client: Client) -> None:
    deliver(client, "evt_3", ticket(1, "third", version=3))
    process_inbox()
    deliver(client, "evt_2", ticket(1, "second", version=2))
    outcome = process_inbox()
    assert (outcome.applied, outcome.stale) == (1, 1)
    assert rows() == {1: ("third", 3)}
    event = WebhookEvent.objects.get(event_id="evt_2")
    assert (event.status, event.stale) == ("applied", 1)
    assert event.outcome == "0 change(s) applied; 1 stale (a newer version was written)"


def test_within_one_batch_the_latest_version_wins_whatever_the_order(client: Client) -> None:
    deliver(client, "evt_1", ticket(1, "first", version=1))
    deliver(client, "evt_3", ticket(1, "third", version=3))
    deliver(client, "evt_2", ticket(1, "second", version=2))
    assert process_inbox().stale == 2
    assert rows() == {1: ("third", 3)}
    assert dict(WebhookEvent.objects.values_list("event_id", "stale")) == {"evt_1": 1, "evt_2": 1, "evt_3": 0}


def test_shuffled_deliveries_end_with_the_last_state_of_every_record(client: Client) -> None:
    shuffle = random.Random(20)
    versions = [(n, v) for n in range(1, 21) for v in range(1, 6)]
    shuffle.shuffle(versions)
    for n, v in versions:
        deliver(client, f"evt_{n}_{v}", ticket(n, f"ticket {n} v{v}", version=v))
    with override_settings(PYCK={"WEBHOOK_BATCH_SIZE": 7}):
        drain_inbox()
    assert rows() == {n: (f"ticket {n} v5", 5) for n in range(1, 21)}
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"applied"}
    # Skipped: in each batch of 7, all but the newest change of a record; then the newest too when the row was
    # newer already.
    row: dict[int, int] = {}
    expected = 0
    for start in range(0, len(versions), 7):
        newest: dict[int, int] = {}
        for n, v in versions[start : start + 7]:
            expected += n in newest
            newest[n] = max(v, newest.get(n, 0))
        for n, v in newest.items():
            if row.get(n, 0) > v:
                expected += 1
            else:
                row[n] = v
    assert sum(WebhookEvent.objects.values_list("stale", flat=True)) == expected > 20


def test_without_a_version_field_an_older_event_overwrites(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Ticket.sync_config, "version_field", None)
    deliver(client, "evt_3", ticket(1, "third", version=3))
    process_inbox()
    deliver(client, "evt_2", ticket(1, "second", version=2))
    assert process_inbox().stale == 0
    assert rows() == {1: ("second", 2)}


def test_a_listing_read_before_a_push_does_not_overwrite_it() -> None:
    apply_records(Ticket, [TicketResource(1, "pushed", version=5), TicketResource(2, "pushed", version=1)])
    result = apply_records(Ticket, [TicketResource(1, "listed earlier", version=4), TicketResource(2, "newer", version=2)])
    assert result.stale_ids == [1]
    assert (result.updated, result.unchanged) == (1, 0)
    assert rows() == {1: ("pushed", 5), 2: ("newer", 2)}


def test_a_version_field_that_is_not_a_field_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyck.core.exceptions import ConfigurationError  # noqa: PLC0415 - only this test needs it

    monkeypatch.setattr(Ticket.sync_config, "version_field", "revision")
    Ticket.objects.create(external_id=1, title="a")
    with pytest.raises(ConfigurationError, match=r"version_field='revision'\) names no field"):
        apply_records(Ticket, [TicketResource(1, "b")])


def test_the_admin_lists_events_with_stale_changes(admin_client: Client) -> None:
    deliver(admin_client, "evt_3", ticket(1, version=3))
    deliver(admin_client, "evt_2", ticket(1, version=2))
    process_inbox()
    page = admin_client.get("/admin/pyck/webhookevent/", {"stale": "yes"}).content.decode()
    assert "evt_2" in page and "evt_3" not in page
