"""Incremental and resumable syncs: cursors, checkpoints, partitions, reconcile runs (issue #7).

The remote side is the fake helpdesk API of ``tests/core/helpdesk.py`` served with ``responses``; the
checkpointed runs that are killed for real, with ``SIGKILL``, are in ``tests/faults/``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from pyck.core.sync import batches
from pyck.core.sync.checkpoint import RunState
from pyck.core.datasources import Deleted, Incremental, MockDatasource, OnDelete, RestDatasource
from pyck.core.exceptions import ConfigurationError, ResponseError
from pyck.core.models import SyncRun, SyncState
from pyck.core.sync import sync_model
from tests.testapp.models import Ticket
from tests.testapp.resources import TicketResource

from .helpdesk import T0, FakeHelpdesk

pytestmark = pytest.mark.django_db


def _state(partition: str = "") -> SyncState:
    return SyncState.objects.get(model="testapp.Ticket", partition=partition)


def _rows() -> dict[int, tuple[str, str, datetime]]:
    return {t.external_id: (t.subject, t.status, t.updated_at) for t in Ticket.objects.all()}


def _remote(api: FakeHelpdesk) -> dict[int, tuple[str, str, datetime]]:
    return {
        id: (t["subject"], t["status"], datetime.fromisoformat(t["updated_at"])) for id, t in api.tickets.items()
    }


def test_first_run_is_a_full_listing_and_sets_the_cursor_to_the_largest_value(helpdesk):
    result = sync_model(Ticket)

    assert result.ok and result.mode == "full" and result.created == 35
    assert all("updated_since" not in q for q in helpdesk.requests)
    assert result.cursor == T0 + timedelta(minutes=35)
    state = _state()
    assert state.cursor == {"datetime": (T0 + timedelta(minutes=35)).isoformat()}
    assert state.checkpoint is None and state.last_full_sync is not None


def test_incremental_run_requests_only_records_from_the_cursor_on(helpdesk):
    sync_model(Ticket)
    helpdesk.requests.clear()
    helpdesk.put(7, subject="Printer on fire", updated_at=T0 + timedelta(hours=2))
    helpdesk.put(50, subject="New", updated_at=T0 + timedelta(hours=3))

    result = sync_model(Ticket)

    assert result.ok and result.mode == "incremental"
    # Every request asked for changes since the cursor (inclusive: ticket 35 comes back, harmlessly).
    assert [q["updated_since"] for q in helpdesk.requests] == [(T0 + timedelta(minutes=35)).isoformat()]
    assert (result.created, result.updated, result.unchanged) == (1, 1, 1)
    assert _rows() == _remote(helpdesk)
    assert result.cursor == T0 + timedelta(hours=3)
    assert SyncRun.objects.filter(model="testapp.Ticket").first().mode == "incremental"


def test_lookback_starts_before_the_cursor(helpdesk, monkeypatch):
    config = replace(Ticket.sync_config.incremental, lookback=timedelta(minutes=5))
    monkeypatch.setattr(Ticket.sync_config, "incremental", config)
    sync_model(Ticket)
    helpdesk.requests.clear()

    result = sync_model(Ticket)

    assert helpdesk.requests[0]["updated_since"] == (T0 + timedelta(minutes=30)).isoformat()
    assert result.unchanged == 6 and result.cursor == T0 + timedelta(minutes=35)


def test_a_failed_run_never_advances_the_cursor(helpdesk):
    sync_model(Ticket)
    cursor = _state().cursor
    for id in range(1, 36):
        helpdesk.put(id, status="closed", updated_at=T0 + timedelta(days=1, minutes=id))
    helpdesk.fail_from = len(helpdesk.requests) + 3  # pages 1 and 2 answer, page 3 fails with every retry

    result = sync_model(Ticket)

    assert result.status == "failed" and "500" in result.errors[0].message
    assert result.updated == 20  # the two pages read were written...
    assert _state().cursor == cursor  # ...but the cursor did not move past the tickets not read yet
    assert _state().checkpoint["position"] == {"page": 10, "index": 10}


def test_a_run_with_a_failed_record_does_not_advance_the_cursor(helpdesk):
    sync_model(Ticket)
    cursor = _state().cursor
    helpdesk.put(3, updated_at=T0 + timedelta(days=1))
    helpdesk.tickets[40] = {"id": 40, "subject": None, "status": "open", "updated_at": (T0 + timedelta(days=2)).isoformat()}

    result = sync_model(Ticket)

    assert result.status == "partial" and result.failed == 1 and result.errors[0].record_id == 40
    assert _state().cursor == cursor and _state().checkpoint is None
    assert Ticket.objects.get(external_id=3).updated_at == T0 + timedelta(days=1)


def test_an_interrupted_run_resumes_from_its_checkpoint(helpdesk):
    helpdesk.fail_from = 3  # the first run reads two pages, then page 3 fails with every retry
    first = sync_model(Ticket)
    assert first.status == "failed" and Ticket.objects.count() == 20
    Ticket.objects.filter(external_id=5).update(triage_note="mine")
    helpdesk.fail_from = None
    helpdesk.requests.clear()

    second = sync_model(Ticket)

    assert second.ok and second.resumed and second.mode == "full"
    # Not from 0 again: from the page of the checkpoint (re-read, its 10 items skipped), then on.
    assert [q["offset"] for q in helpdesk.requests] == ["10", "20", "30"]
    assert second.created == 15 and second.listing_started == first.started
    assert _rows() == _remote(helpdesk) and Ticket.objects.count() == 35
    assert Ticket.objects.get(external_id=5).triage_note == "mine"
    assert _state().checkpoint is None and _state().cursor == {"datetime": (T0 + timedelta(minutes=35)).isoformat()}
    assert SyncRun.objects.filter(model="testapp.Ticket").first().resumed


def test_a_resumed_incremental_run_keeps_asking_from_the_same_cursor(helpdesk):
    sync_model(Ticket)
    for id in range(1, 36):
        helpdesk.put(id, status="closed", updated_at=T0 + timedelta(days=1, minutes=id))
    helpdesk.requests.clear()
    helpdesk.fail_from = 3
    assert sync_model(Ticket).status == "failed"
    helpdesk.fail_from = None
    helpdesk.requests.clear()

    result = sync_model(Ticket)

    assert result.resumed and result.mode == "incremental"
    since = (T0 + timedelta(minutes=35)).isoformat()
    assert helpdesk.requests == [
        {"updated_since": since, "offset": "10", "limit": "10"},
        {"updated_since": since, "offset": "20", "limit": "10"},
        {"updated_since": since, "offset": "30", "limit": "10"},
    ]
    assert _rows() == _remote(helpdesk)
    assert result.cursor == T0 + timedelta(days=1, minutes=35)


@pytest.mark.parametrize("where", ["after the rows", "after the checkpoint"])
def test_the_checkpoint_commits_with_its_batch_and_a_crash_loses_neither(helpdesk, monkeypatch, where):
    real_upsert, real_checkpoint = batches.upsert, RunState.checkpoint
    calls = []

    def crash_on_third_batch(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        outcome = real_upsert(*args, **kwargs)
        if len(calls) == 3:
            raise RuntimeError("the process died here")  # the rows are written, the checkpoint is not
        return outcome

    def crash_on_third_checkpoint(self: Any, *args: Any) -> Any:
        calls.append(1)
        real_checkpoint(self, *args)
        if len(calls) == 3:
            raise RuntimeError("the process died here")  # the rows and the checkpoint are written
        return None

    if where == "after the rows":
        monkeypatch.setattr(batches, "upsert", crash_on_third_batch)
    else:
        monkeypatch.setattr(RunState, "checkpoint", crash_on_third_checkpoint)
    with pytest.raises(RuntimeError):
        sync_model(Ticket)
    monkeypatch.setattr(RunState, "checkpoint", real_checkpoint)

    # The third batch rolled back with its checkpoint: the state says two batches, and so does the table.
    assert Ticket.objects.count() == 20
    assert _state().checkpoint["position"] == {"page": 10, "index": 10}
    assert _state().cursor is None

    monkeypatch.setattr(batches, "upsert", real_upsert)
    helpdesk.requests.clear()
    result = sync_model(Ticket)
    assert result.ok and result.resumed and [q["offset"] for q in helpdesk.requests] == ["10", "20", "30"]
    assert _rows() == _remote(helpdesk)


def test_a_checkpoint_part_way_through_a_page_skips_only_what_was_written(helpdesk, monkeypatch):
    monkeypatch.setattr(Ticket.sync_config, "batch_size", 4)
    helpdesk.fail_from = 3  # pages at offset 0 and 10 answer: 20 records, 5 batches of 4
    sync_model(Ticket)
    assert _state().checkpoint["position"] == {"page": 10, "index": 10}
    helpdesk.fail_from = None

    # Make the checkpoint fall inside a page: batch size 4 over pages of 10 leaves the 3rd batch mid-page.
    SyncState.objects.filter(model="testapp.Ticket").update(
        checkpoint={**_state().checkpoint, "position": {"page": 10, "index": 2}}
    )
    Ticket.objects.filter(external_id__gt=12).delete()
    helpdesk.requests.clear()

    result = sync_model(Ticket)

    assert result.resumed and result.created == 35 - 12
    assert _rows() == _remote(helpdesk)


def test_partitions_keep_separate_cursors(helpdesk, monkeypatch):
    monkeypatch.setattr(Ticket.sync_config, "partitions", {"open": {"status": "open"}, "closed": {"status": "closed"}})
    for id in range(1, 36):
        helpdesk.put(id, status="open" if id <= 20 else "closed", updated_at=T0 + timedelta(minutes=id))

    # The fake API ignores `status`, so both partitions see everything; what matters is what each asks for.
    result = sync_model(Ticket)
    assert [r.partition for r in result.partitions] == ["open", "closed"]
    assert _state("open").cursor == _state("closed").cursor

    sync_model(Ticket, partition="open")  # ...and the open partition alone moves on
    helpdesk.put(1, updated_at=T0 + timedelta(days=3))
    sync_model(Ticket, partition="open")
    assert _state("open").cursor == {"datetime": (T0 + timedelta(days=3)).isoformat()}
    assert _state("closed").cursor == {"datetime": (T0 + timedelta(minutes=35)).isoformat()}
    helpdesk.requests.clear()
    sync_model(Ticket, partition="closed")
    assert helpdesk.requests[0] == {"status": "closed", "updated_since": (T0 + timedelta(minutes=35)).isoformat(), "offset": "0", "limit": "10"}


def test_a_reconcile_run_is_full_when_due(helpdesk, monkeypatch):
    config = replace(Ticket.sync_config.incremental, reconcile_interval=timedelta(hours=1))
    monkeypatch.setattr(Ticket.sync_config, "incremental", config)
    assert sync_model(Ticket).mode == "full"
    assert sync_model(Ticket).mode == "incremental"
    SyncState.objects.filter(model="testapp.Ticket").update(last_full_sync=timezone.now() - timedelta(hours=2))
    assert sync_model(Ticket).mode == "full"
    assert sync_model(Ticket, mode="full").mode == "full"


def test_incremental_runs_never_delete_and_full_runs_do(helpdesk, monkeypatch):
    monkeypatch.setattr(Ticket.sync_config, "on_delete", OnDelete.DELETE)
    monkeypatch.setattr(Ticket.sync_config, "confirm_delete", False)
    sync_model(Ticket)
    del helpdesk.tickets[2]

    assert sync_model(Ticket).deleted == 0 and Ticket.objects.filter(external_id=2).exists()
    full = sync_model(Ticket, mode="full")
    assert full.deleted == 1 and not Ticket.objects.filter(external_id=2).exists()


def test_a_resumed_full_run_deletes_only_rows_missing_from_both_parts(helpdesk, monkeypatch):
    monkeypatch.setattr(Ticket.sync_config, "on_delete", OnDelete.DELETE)
    monkeypatch.setattr(Ticket.sync_config, "confirm_delete", False)
    sync_model(Ticket)
    del helpdesk.tickets[30]
    helpdesk.requests.clear()
    helpdesk.fail_from = 3
    sync_model(Ticket, mode="full")  # rows 1-20 re-stamped, then the listing fails
    helpdesk.fail_from = None

    result = sync_model(Ticket)  # goes on from offset 20: rows 21-35 bar 30

    assert result.resumed and result.deleted == 1
    assert sorted(_rows()) == sorted(helpdesk.tickets)


def test_a_listing_that_cannot_resume_starts_over_and_says_so(helpdesk, monkeypatch):
    helpdesk.fail_from = 3
    sync_model(Ticket)
    helpdesk.fail_from = None

    class Unresumable(RestDatasource[TicketResource]):
        def paginate(self, **query: Any) -> Any:  # an override: the engine cannot know where pages start
            return super().paginate(**query)

    source = Ticket.sync_config.datasource
    monkeypatch.setattr(Ticket.sync_config, "datasource", Unresumable(
        base_url=source.base_url, path=source.path, resource_type=TicketResource, paginator=source.paginator
    ))
    helpdesk.requests.clear()

    result = sync_model(Ticket)

    assert result.ok and not result.resumed
    assert helpdesk.requests[0]["offset"] == "0"
    assert "starts over" in result.notes[0] and "cannot start part way through" in result.notes[0]
    assert _state().checkpoint is None


def test_a_changed_filter_starts_over(helpdesk):
    helpdesk.fail_from = 3
    sync_model(Ticket)
    helpdesk.fail_from = None

    result = sync_model(Ticket, filter={"status": "open"})

    assert not result.resumed and "filter" in result.notes[0]


def test_list_changed_hook_is_used_without_param(monkeypatch):
    class Changes(MockDatasource[TicketResource]):
        def list_changed(self, since: Any, **filter: Any) -> Any:
            self.asked.append(since)
            return [t for t in self.list(**filter) if t.updated_at >= since]

    tickets = [TicketResource(id=i, subject="s", status="open", updated_at=T0 + timedelta(minutes=i)) for i in range(1, 6)]
    source = Changes(tickets, resource_type=TicketResource)
    source.asked = []
    monkeypatch.setattr(Ticket.sync_config, "datasource", source)
    monkeypatch.setattr(Ticket.sync_config, "incremental", Incremental(field="updated_at"))

    assert sync_model(Ticket).mode == "full" and source.asked == []
    result = sync_model(Ticket)
    assert result.mode == "incremental" and source.asked == [T0 + timedelta(minutes=5)] and result.unchanged == 1


class _ChangesWithDeletions(MockDatasource[TicketResource]):
    """Reports the deletion of ticket 2 as a change, as Stripe's Events API does (`Deleted`)."""

    fail = False

    def list_changed(self, since: Any, **filter: Any) -> Any:
        yield from (t for t in self.list(**filter) if t.updated_at >= since)
        yield Deleted(2)
        if self.fail:
            raise ResponseError("the changes' second page failed", datasource=self)


def _sync_with_deletions(monkeypatch: pytest.MonkeyPatch, on_delete: OnDelete) -> _ChangesWithDeletions:
    tickets = [TicketResource(id=i, subject="s", status="open", updated_at=T0 + timedelta(minutes=i)) for i in range(1, 4)]
    source = _ChangesWithDeletions(tickets, resource_type=TicketResource)
    monkeypatch.setattr(Ticket.sync_config, "datasource", source)
    monkeypatch.setattr(Ticket.sync_config, "incremental", Incremental(field="updated_at"))
    monkeypatch.setattr(Ticket.sync_config, "on_delete", on_delete)
    assert sync_model(Ticket).mode == "full"
    return source


def test_an_incremental_run_deletes_the_rows_its_changes_say_are_deleted(monkeypatch):
    _sync_with_deletions(monkeypatch, OnDelete.DELETE)
    result = sync_model(Ticket)
    assert (result.mode, result.deleted) == ("incremental", 1)
    assert sorted(Ticket.objects.values_list("external_id", flat=True)) == [1, 3]
    assert SyncRun.objects.filter(mode="incremental").get().deleted == 1


def test_deletions_reported_as_changes_keep_their_rows_under_keep_and_after_a_failed_listing(monkeypatch):
    source = _sync_with_deletions(monkeypatch, OnDelete.KEEP)
    result = sync_model(Ticket)
    assert (result.mode, result.deleted) == ("incremental", 0)
    assert "kept the rows of 1 records the API says are deleted (OnDelete.KEEP)" in " ".join(result.notes)
    monkeypatch.setattr(Ticket.sync_config, "on_delete", OnDelete.DELETE)
    source.fail = True
    result = sync_model(Ticket)
    assert result.status == "failed" and result.deleted == 0
    assert sorted(Ticket.objects.values_list("external_id", flat=True)) == [1, 2, 3]


def test_incremental_mode_needs_an_incremental_config(monkeypatch):
    monkeypatch.setattr(Ticket.sync_config, "incremental", None)
    with pytest.raises(ConfigurationError, match="no incremental"):
        sync_model(Ticket, mode="incremental")
    with pytest.raises(ConfigurationError, match="mode"):
        sync_model(Ticket, mode="sometimes")


def test_incremental_config_is_validated():
    with pytest.raises(ConfigurationError, match="field"):
        Incremental(field="")
    with pytest.raises(ConfigurationError, match="lookback"):
        Incremental(field="updated_at", lookback=timedelta(minutes=-1))
    with pytest.raises(ConfigurationError, match="reconcile_interval"):
        Incremental(field="updated_at", reconcile_interval=timedelta(0))
    assert Incremental(field="n", lookback=5).since(100) == 95
    assert Incremental(field="t", format=lambda d: int(d.timestamp())).format_value(T0) == int(T0.timestamp())
