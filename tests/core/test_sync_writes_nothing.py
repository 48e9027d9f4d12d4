"""An unchanged re-sync writes nothing to the synced tables, and deletion detection stays exact without stamps.

Rows a full listing finds unchanged are remembered in memory (``SeenRows``), not stamped; the statements of a
re-sync are captured and every one that writes is named. Where memory is not enough (a run resumed after its
predecessor died, a single partition whose deletions another process decides) the tests below show what the
engine does instead.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pyck.core.sync import batches, checkpoint
from pyck.core.datasources import OnDelete
from pyck.core.models import SyncRun, SyncState
from pyck.core.sync import sync_model
from pyck.geo.territories.uk import parliament as P
from tests.testapp import resources as r
from tests.testapp.models import MP, Article, Author, Book, Constituency, Party, Player, Team, Ticket
from tests.testapp.testing import use

from .helpdesk import FakeHelpdesk

pytestmark = pytest.mark.django_db

_WRITE = re.compile(r'^(?:\d+ times: )?(?:INSERT INTO|UPDATE|DELETE FROM|COPY|CREATE|DROP|ANALYZE)\s+"?(\w+)', re.I)


def _writes(queries: CaptureQueriesContext) -> list[tuple[str, str]]:
    """``(table, statement)`` of every captured statement that writes."""
    found = []
    for query in queries.captured_queries:
        match = _WRITE.match(query["sql"].lstrip())
        if match:
            found.append((match.group(1), query["sql"][:200]))
    return found


def _data_writes(queries: CaptureQueriesContext) -> list[tuple[str, str]]:
    """The writes other than the run's own bookkeeping (its SyncRun row, its model's SyncState row, and the
    model's sync lease on its CronTask row, taken and released: issue 17)."""
    bookkeeping = ("pyck_syncrun", "pyck_syncstate", "pyck_crontask")
    return [(table, sql) for table, sql in _writes(queries) if table not in bookkeeping]


def _stamps() -> dict[int, Any]:
    return dict(Ticket.objects.values_list("external_id", "last_sync_time"))


def _state() -> SyncState:
    return SyncState.objects.get(model="testapp.Ticket", partition="")


@pytest.mark.parametrize("on_delete", [OnDelete.KEEP, OnDelete.DELETE])
def test_an_unchanged_resync_writes_nothing_but_its_run_record(helpdesk, monkeypatch, on_delete):
    monkeypatch.setattr(Ticket.sync_config, "on_delete", on_delete)
    assert sync_model(Ticket, mode="full").created == 35
    before = _stamps()

    with CaptureQueriesContext(connection) as queries:
        result = sync_model(Ticket, mode="full")

    assert result.ok and result.unchanged == 35 and result.deleted == 0
    assert _data_writes(queries) == []
    state_writes = [sql for table, sql in _writes(queries) if table == "pyck_syncstate"]
    assert len(state_writes) == 1, state_writes  # the end of the run (cursor, last full sync); no checkpoints
    assert _stamps() == before


def test_batches_that_write_nothing_still_checkpoint_every_interval(helpdesk, monkeypatch):
    sync_model(Ticket, mode="full")
    monkeypatch.setattr(checkpoint, "CHECKPOINT_INTERVAL", 0.0)

    with CaptureQueriesContext(connection) as queries:
        assert sync_model(Ticket, mode="full").unchanged == 35

    state_writes = [sql for table, sql in _writes(queries) if table == "pyck_syncstate"]
    assert len(state_writes) == 3 + 1, state_writes  # the first three batches, then the end of the run
    assert _data_writes(queries) == []


def _synced_then_ticket_30_deleted_remotely(helpdesk: FakeHelpdesk, monkeypatch: pytest.MonkeyPatch) -> dict[int, Any]:
    """Sync every ticket (deleting what is gone, unconfirmed), delete ticket 30 remotely; the rows' stamps."""
    monkeypatch.setattr(Ticket.sync_config, "on_delete", OnDelete.DELETE)
    monkeypatch.setattr(Ticket.sync_config, "confirm_delete", False)
    sync_model(Ticket)
    before = _stamps()
    del helpdesk.tickets[30]
    return before


def test_rows_found_unchanged_are_not_deleted_and_rows_left_out_are(helpdesk, monkeypatch):
    before = _synced_then_ticket_30_deleted_remotely(helpdesk, monkeypatch)
    helpdesk.put(7, subject="changed")

    with CaptureQueriesContext(connection) as queries:
        result = sync_model(Ticket, mode="full")

    assert (result.updated, result.unchanged, result.deleted) == (1, 33, 1)
    assert sorted(_stamps()) == sorted(set(before) - {30})
    assert [id for id, stamp in _stamps().items() if stamp != before[id]] == [7]
    assert sorted(table for table, _ in _data_writes(queries)) == ["testapp_ticket", "testapp_ticket"]  # UPDATE 7, DELETE 30


def test_a_run_resumed_after_its_predecessor_died_defers_deletion_to_the_next_full_listing(helpdesk, monkeypatch):
    """A killed run takes the rows it found unchanged with it: the run that resumes it cannot tell them from
    rows gone remotely, so it deletes nothing, says so, and does not count as a full listing."""
    _synced_then_ticket_30_deleted_remotely(helpdesk, monkeypatch)
    last_full = _state().last_full_sync
    monkeypatch.setattr(checkpoint, "CHECKPOINT_INTERVAL", 0.0)
    real_upsert, calls = batches.upsert, []

    def die_in_the_third_batch(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # not an error the engine handles: the process goes down
        return real_upsert(*args, **kwargs)

    monkeypatch.setattr(batches, "upsert", die_in_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        sync_model(Ticket, mode="full")
    monkeypatch.setattr(batches, "upsert", real_upsert)
    assert _state().checkpoint["confirmed"] is False
    # A KeyboardInterrupt still lets the run record its outcome; a SIGKILL would not: leave it "running".
    SyncRun.objects.filter(model="testapp.Ticket", status="failed").update(status="running", errors=[], finished=None)

    resumed = sync_model(Ticket)

    assert resumed.resumed and resumed.ok and resumed.deleted == 0
    dead = SyncRun.objects.filter(model="testapp.Ticket").order_by("started")[1]  # the killed run's record
    assert dead.status == "failed" and "stopped without recording its outcome" in dead.errors[0]["message"]
    assert not SyncRun.objects.filter(status="running").exists()
    assert any("nothing deleted" in note and "interrupted run" in note for note in resumed.notes)
    assert Ticket.objects.filter(external_id=30).exists()
    assert _state().last_full_sync == last_full

    following = sync_model(Ticket, mode="full")
    assert not following.resumed and following.deleted == 1
    assert not Ticket.objects.filter(external_id=30).exists()
    assert _state().last_full_sync > last_full


def test_a_listing_that_fails_stamps_the_rows_it_found_unchanged_so_its_resumption_can_delete(helpdesk, monkeypatch):
    before = _synced_then_ticket_30_deleted_remotely(helpdesk, monkeypatch)
    helpdesk.requests.clear()
    helpdesk.fail_from = 3  # two pages answer (tickets 1-20), then 500s

    failed = sync_model(Ticket, mode="full")

    assert failed.status == "failed"
    assert _state().checkpoint["confirmed"] is True
    assert _state().checkpoint["position"] == {"page": 10, "index": 10}
    assert sorted(id for id, stamp in _stamps().items() if stamp != before[id]) == list(range(1, 21))
    helpdesk.fail_from = None

    resumed = sync_model(Ticket)

    assert resumed.resumed and resumed.deleted == 1 and not resumed.notes
    assert sorted(_stamps()) == sorted(set(before) - {30})


def test_a_single_partition_stamps_what_it_found_unchanged(monkeypatch):
    """The run deciding a partitioned model's deletions is another process: it can only read stamps."""
    data = [r.ArticleResource(id=n, headline=f"article {n}", words=1 + n % 3) for n in range(1, 10)]
    use(monkeypatch, Article, data)
    monkeypatch.setattr(Article.sync_config, "partitions", {"w1": {"words": 1}, "w2": {"words": 2}, "w3": {"words": 3}})
    sync_model(Article, partition="w1")
    before = dict(Article.objects.values_list("external_id", "last_sync_time"))

    result = sync_model(Article, partition="w1")

    after = dict(Article.objects.values_list("external_id", "last_sync_time"))
    assert result.unchanged == 3 and all(after[id] > before[id] for id in after)


def test_a_partitioned_model_synced_in_one_process_writes_nothing_and_still_deletes(monkeypatch):
    data = [r.ArticleResource(id=n, headline=f"article {n}", words=1 + n % 3) for n in range(1, 10)]
    use(monkeypatch, Article, data)
    monkeypatch.setattr(Article.sync_config, "partitions", {"w1": {"words": 1}, "w2": {"words": 2}, "w3": {"words": 3}})
    monkeypatch.setattr(Article.sync_config, "on_delete", OnDelete.DELETE)
    monkeypatch.setattr(Article.sync_config, "confirm_delete", False)
    sync_model(Article)

    with CaptureQueriesContext(connection) as unchanged:
        assert sync_model(Article).unchanged == 9
    assert _data_writes(unchanged) == []

    use(monkeypatch, Article, [article for article in data if article.id != 5])
    result = sync_model(Article)
    assert (result.unchanged, result.deleted) == (8, 1)
    assert sorted(Article.objects.values_list("external_id", flat=True)) == [1, 2, 3, 4, 6, 7, 8, 9]


def test_an_unchanged_resync_of_related_models_writes_nothing(monkeypatch):
    """Embedded and referenced rows of other models, many-to-many links and inverse relations alike."""
    labour = P.Party(id=15, name="Labour", background_colour="d50000")
    abbott = P.Member(id=172, name="Ms Diane Abbott", thumbnail_url="https://x/172", latest_party=labour)
    use(monkeypatch, Party, [labour], P.Party)
    use(monkeypatch, MP, [abbott], P.Member)
    use(monkeypatch, Constituency, [P.Constituency(id=4000, name="Hackney North", current_mp=abbott)], P.Constituency)
    use(monkeypatch, Author, [r.AuthorResource(id="a1", name="Ann")])
    use(monkeypatch, Book, [r.BookResource(id="b1", title="One", authors=["a1", r.AuthorResource(id="a3", name="Cy")])])
    use(monkeypatch, Player, [r.PlayerResource(id=1, name="Ada")])
    use(monkeypatch, Team, [r.TeamResource(id=10, name="Reds", players=[1, r.PlayerResource(id=3, name="Cat")])])
    for model in (Constituency, Book, Team):
        monkeypatch.setattr(model.sync_config, "on_delete", OnDelete.DELETE)
        assert sync_model(model).ok

    for model in (Constituency, Book, Team):
        with CaptureQueriesContext(connection) as queries:
            result = sync_model(model)
        assert result.ok and result.unchanged == 1 and result.deleted == 0
        assert _data_writes(queries) == [], model
