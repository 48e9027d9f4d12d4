"""The ``records_changed`` signal: once per committed batch and model, after the commit, for syncs and pushes
alike (issue 20 item 9)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.db import transaction

from pyck.core.signals import records_changed
from pyck.core.sync import apply_records, sync_model
from tests.webhook_support.api import BASE_URL, TicketResource
from tests.webhook_support.models import Team, Ticket

# Real commits: the signal is sent once a transaction commits, which a test wrapped in one never does.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent() -> Iterator[list[tuple[str, list[Any], list[Any], list[Any], bool]]]:
    """What each ``records_changed`` said: model, created, updated and deleted pks, and whether it came while a
    transaction was open."""
    calls: list[tuple[str, list[Any], list[Any], list[Any], bool]] = []

    def receiver(sender: Any, created: list[Any], updated: list[Any], deleted: list[Any], **kwargs: Any) -> None:
        calls.append((sender._meta.label, sorted(created), sorted(updated), sorted(deleted), transaction.get_connection().in_atomic_block))

    records_changed.connect(receiver, dispatch_uid="test_records_changed")
    yield calls
    records_changed.disconnect(dispatch_uid="test_records_changed")


def pks(*ids: int) -> list[Any]:
    return sorted(Ticket.objects.filter(external_id__in=ids).values_list("pk", flat=True))


def test_a_push_sends_created_updated_and_deleted_pks_per_batch_after_commit(sent: list) -> None:
    Ticket.objects.create(external_id=1, title="old")
    Ticket.objects.create(external_id=2, title="same")
    Ticket.objects.create(external_id=3, title="going")
    gone = pks(3)
    sent.clear()
    apply_records(Ticket, [TicketResource(1, "new"), TicketResource(2, "same"), TicketResource(4, "fresh")], deleted=[3])
    assert sent == [
        ("webhook_support.Ticket", pks(4), pks(1), [], False),
        ("webhook_support.Ticket", [], [], gone, False),
    ]


def test_one_signal_per_batch(sent: list, monkeypatch) -> None:
    monkeypatch.setattr(Ticket.sync_config, "batch_size", 2)
    apply_records(Ticket, [TicketResource(n, f"t{n}") for n in range(1, 6)])
    assert [len(created) for _, created, _, _, _ in sent] == [2, 2, 1]


def test_inside_a_transaction_of_yours_it_is_sent_after_yours_commits(sent: list) -> None:
    with transaction.atomic():
        apply_records(Ticket, [TicketResource(1, "a")])
        assert sent == []
    assert sent == [("webhook_support.Ticket", pks(1), [], [], False)]


def test_nothing_is_sent_for_a_transaction_of_yours_rolled_back(sent: list) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        apply_records(Ticket, [TicketResource(1, "a")])
        raise RuntimeError("rolled back")
    assert sent == [] and not Ticket.objects.exists()


def test_a_record_the_database_refuses_is_not_announced_nor_the_reference_written_for_it(
    sent: list, mock_api: responses.RequestsMock
) -> None:
    # Team 5 is fetched and inserted for ticket 2, whose own insert then fails: both are rolled back.
    mock_api.get(f"{BASE_URL}/teams/5", json={"id": 5, "name": "Five"})
    result = apply_records(Ticket, [TicketResource(1, "ok"), TicketResource(2, "refused", version=-1, team=5)])
    assert result.failed == 1 and not Team.objects.exists()
    assert sent == [("webhook_support.Ticket", pks(1), [], [], False)]


def test_a_sync_sends_it_too_for_references_it_created_and_rows_it_deleted(sent: list, mock_api: responses.RequestsMock) -> None:
    Ticket.objects.create(external_id=9, title="gone remotely")
    gone = pks(9)
    mock_api.get(f"{BASE_URL}/tickets", json={"items": [{"id": 1, "title": "a", "team": 5}], "total": 1})
    mock_api.get(f"{BASE_URL}/tickets/9", status=404, json={})
    mock_api.get(f"{BASE_URL}/teams/5", json={"id": 5, "name": "Five"})
    sync_model(Ticket, max_delete_fraction=1.0)
    team = list(Team.objects.values_list("pk", flat=True))
    assert sorted(sent) == sorted(
        [
            ("webhook_support.Team", team, [], [], False),
            ("webhook_support.Ticket", pks(1), [], [], False),
            ("webhook_support.Ticket", [], [], gone, False),
        ]
    )
