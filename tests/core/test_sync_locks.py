"""The write lock (`pyck.core.sync.locks`): pushes always take it on PostgreSQL; a listing takes it only once
pushes write a model it writes (`SyncState.pushed`), so that the listing of a model never pushed to sends
exactly the statements it sent before `apply_records` existed.

Two processes racing are in `tests/faults/test_concurrent_push.py`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pyck.core.datasources import SyncRun, apply_records
from pyck.core.models import SyncState
from pyck.core.overview import partition_states, reset_sync_state
from pyck.core.sync.history import close_dead_runs
from pyck.core.sync.locks import load_state, writable_models
from pyck.geo.territories.uk import parliament as P
from tests.testapp import resources as r
from tests.testapp.models import MP, Article, Constituency, Membership, Party
from tests.testapp.testing import use

pytestmark = pytest.mark.django_db

LOCK = "pg_advisory_xact_lock"


def _party(id: int) -> P.Party:
    return P.Party(id=id, name=f"Party {id}", background_colour="abcdef")


def _member(id: int, party: Any) -> P.Member:
    member = P.Member(id=id, name=f"MP {id}")
    member.latest_party = party
    return member


def _locks(queries: CaptureQueriesContext) -> int:
    return sum(LOCK in query["sql"] for query in queries.captured_queries)


def _pushed() -> set[str]:
    return set(SyncState.objects.filter(partition="", pushed=True).values_list("model", flat=True))


def test_the_models_a_batch_may_write_are_those_its_plan_relates_it_to(monkeypatch) -> None:
    use(monkeypatch, MP, [], P.Member)
    use(monkeypatch, Party, [], P.Party)
    use(monkeypatch, Constituency, [], P.Constituency)
    assert writable_models(Constituency) == [Constituency, MP, Party]  # an embedded member, its party
    assert writable_models(MP) == [MP, Party]
    assert writable_models(Party) == [Party]
    # A resource type that does not name its attributes: every synced model related to it, whichever way.
    use(monkeypatch, Party, [], dict)
    assert set(writable_models(Party)) == {Party, MP, Membership}


def test_a_push_marks_every_model_it_may_write(monkeypatch) -> None:
    use(monkeypatch, Party, [_party(15)], P.Party)
    use(monkeypatch, MP, [], P.Member)

    apply_records(MP, [_member(1, 15)])

    assert _pushed() == {"testapp.MP", "testapp.Party"}
    with CaptureQueriesContext(connection) as queries:
        apply_records(MP, [_member(2, 15)])
    # Once marked: one read of the marks per push, and nothing written to SyncState.
    state_queries = [q["sql"] for q in queries.captured_queries if "pyck_syncstate" in q["sql"]]
    assert len(state_queries) == 1 and state_queries[0].lstrip().upper().startswith("SELECT")


def test_a_listing_takes_the_lock_only_once_pushes_write_its_models(monkeypatch) -> None:
    """The listing of a model never pushed to sends no lock; once a push wrote a model its batches may write
    (the model itself, or one it references), each of its batches takes the lock (PostgreSQL only)."""
    use(monkeypatch, Party, [_party(id) for id in range(1, 6)], P.Party)
    use(monkeypatch, MP, [_member(id, 1 + id % 5) for id in range(1, 8)], P.Member)
    monkeypatch.setattr(MP.sync_config, "batch_size", 3)
    use(monkeypatch, Article, [r.ArticleResource(id=1, headline="A", words=1)])

    with CaptureQueriesContext(connection) as before:
        assert MP.sync().created == 7
    assert _locks(before) == 0
    assert load_state(MP, "")[1] is False

    apply_records(Party, [_party(6)])  # MP references parties: its listing may write them

    with CaptureQueriesContext(connection) as after:
        assert MP.sync().unchanged == 7
    assert load_state(MP, "")[1] is True
    assert _locks(after) == (3 if connection.vendor == "postgresql" else 0)  # one per batch
    with CaptureQueriesContext(connection) as unrelated:
        assert Article.sync().created == 1
    assert _locks(unrelated) == 0 and load_state(Article, "")[1] is False


def test_a_listing_of_a_partition_reads_the_mark_of_the_whole_model(monkeypatch) -> None:
    use(monkeypatch, Party, [], P.Party)
    assert load_state(Party, "north")[1] is False
    apply_records(Party, [_party(1)])

    state, pushed = load_state(Party, "north")

    assert (state.partition, pushed) == ("north", True)
    assert SyncState.objects.filter(model="testapp.Party").count() == 2


def test_a_reset_forgets_the_mark_and_the_next_push_sets_it_again(monkeypatch) -> None:
    use(monkeypatch, Party, [], P.Party)
    apply_records(Party, [_party(1)])
    reset_sync_state(["testapp.Party"])
    assert _pushed() == set()

    apply_records(Party, [_party(2)])

    assert _pushed() == {"testapp.Party"}


def test_the_first_push_while_a_listing_runs_warns_that_it_does_not_take_turns(monkeypatch, caplog) -> None:
    use(monkeypatch, Party, [], P.Party)
    SyncRun.objects.create(model="testapp.Party", started=timezone.now(), mode="full")

    apply_records(Party, [_party(1)])
    apply_records(Party, [_party(2)])

    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1 and "may be stored twice" in warnings[0]


def test_a_resumed_listing_does_not_close_a_running_push() -> None:
    now = timezone.now()
    earlier = now - timedelta(minutes=5)
    listing = SyncRun.objects.create(model="testapp.Party", started=earlier, mode="full")
    push = SyncRun.objects.create(model="testapp.Party", started=earlier, mode="push")

    close_dead_runs("testapp.Party", "", now - timedelta(minutes=1), now)

    listing.refresh_from_db()
    push.refresh_from_db()
    assert (listing.status, push.status) == ("failed", "running")


def test_a_partitioned_models_overview_does_not_show_the_mark_as_a_partition(monkeypatch) -> None:
    use(monkeypatch, Article, [])
    monkeypatch.setattr(Article.sync_config, "partitions", {"short": {"words": 1}, "long": {"words": 2}})
    apply_records(Article, [r.ArticleResource(id=1, headline="A", words=1)])
    assert "testapp.Article" in _pushed()

    assert [state.partition for state in partition_states(Article)] == ["short", "long"]


def _running_sync(label: str, seconds: float, owner: str = "clock@elsewhere:1:abc") -> None:
    """Another process syncs `label` now, holding its lease for `seconds` more."""
    from pyck.core.models import CronTask

    now = timezone.now()
    CronTask.objects.create(
        name=f"sync:{label}", next_due=now, last_status="running", lease_owner=owner,
        lease_expires=now + timedelta(seconds=seconds),
    )


def test_the_first_push_waits_for_a_sync_running_since_before_that_writes_its_models(monkeypatch, caplog) -> None:
    import time

    use(monkeypatch, Party, [], P.Party)
    use(monkeypatch, MP, [], P.Member)
    _running_sync("testapp.MP", 0.6)  # MP's listing writes parties: it read the marks before this push

    start = time.monotonic()
    apply_records(Party, [_party(1)])
    assert time.monotonic() - start > 0.4, "it waited for the sync to end (here: its lease to run out)"
    [warning] = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert "the first push to testapp.Party waits for the sync of testapp.MP" in warning
    assert "the cron clock (clock@elsewhere:1:abc)" in warning

    _running_sync("testapp.Party", 60, owner="clock@elsewhere:2:def")
    start = time.monotonic()
    apply_records(Party, [_party(2)])
    assert time.monotonic() - start < 0.4, "once the mark is there, pushes take turns batch by batch: no waiting"


def test_a_push_from_inside_a_sync_of_the_model_does_not_wait_for_itself(monkeypatch) -> None:
    import time

    from pyck.core.models.leases import holding

    use(monkeypatch, Party, [], P.Party)
    owner = "sync@here:1:abc"
    _running_sync("testapp.Party", 60, owner=owner)

    start = time.monotonic()
    with holding("sync:testapp.Party", owner):
        apply_records(Party, [_party(1)])
    assert time.monotonic() - start < 5
