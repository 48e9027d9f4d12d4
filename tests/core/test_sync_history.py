"""The `SyncRun` history (`pyck.core.sync.history`): a run whose process died is recorded as failed, saying why,
as soon as the next listing run of its model and partition starts (issue 17, item 3).

A process killed for real (on PostgreSQL) is in `tests/faults/test_resume_after_kill.py`; here a run's record
is left "running" as a killed process leaves it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pyck.core.datasources import SyncRun
from pyck.core.models import SyncState
from pyck.core.overview import reset_sync_state
from pyck.core.sync import sync_model
from tests.testapp import resources as r
from tests.testapp.models import Author
from tests.testapp.testing import use

pytestmark = pytest.mark.django_db

MESSAGE = "stopped without recording its outcome"


def _authors(n: int) -> list[Any]:
    return [r.AuthorResource(id=f"a{i}", name=f"A{i}") for i in range(n)]


def _left_running(partition: str = "", mode: str = "full", model: str = "testapp.Author") -> SyncRun:
    """A run's record as a process killed mid-run leaves it (it started after the runs before it ended)."""
    return SyncRun.objects.create(model=model, partition=partition, mode=mode, started=timezone.now())


def test_the_next_run_closes_a_run_that_died_before_its_first_checkpoint(monkeypatch):
    use(monkeypatch, Author, _authors(3))
    assert sync_model(Author).ok
    dead = _left_running()

    result = sync_model(Author)

    dead.refresh_from_db()
    assert result.ok and not result.resumed
    assert dead.status == "failed" and MESSAGE in dead.errors[0]["message"]
    assert dead.finished == dead.started  # no checkpoint since it started: nothing says it got further
    assert [note for note in result.notes if "still recorded as running" in note] == [
        "testapp.Author: 1 earlier run(s) still recorded as running were recorded as failed: the process running "
        "them stopped without recording an outcome (killed?)"
    ]
    assert not SyncRun.objects.filter(status="running").exists()


def test_a_dead_run_is_given_the_time_it_was_last_seen_making_progress(monkeypatch):
    use(monkeypatch, Author, _authors(3))
    assert sync_model(Author).ok
    dead = _left_running()
    # Its listing ended (the last checkpoint cleared) a minute after it started; it died confirming deletions.
    ended = dead.started + timedelta(minutes=1)
    SyncState.objects.filter(model="testapp.Author").update(checkpoint=None, checkpoint_updated=ended)

    sync_model(Author)

    dead.refresh_from_db()
    assert (dead.status, dead.finished) == ("failed", ended)


def test_the_first_run_after_a_reset_closes_runs_left_running_before_it(monkeypatch):
    use(monkeypatch, Author, _authors(3))
    assert sync_model(Author).ok
    dead = _left_running()
    reset_sync_state(["testapp.Author"])

    assert sync_model(Author).ok

    dead.refresh_from_db()
    assert dead.status == "failed"


def test_only_listing_runs_of_the_same_model_and_partition_are_closed(monkeypatch):
    use(monkeypatch, Author, _authors(3))
    assert sync_model(Author).ok
    push = _left_running(mode="push")  # pushes may run alongside a listing
    other_partition = _left_running(partition="north")
    other_model = _left_running(model="testapp.Team")
    dead = _left_running()

    sync_model(Author)

    statuses = {run.pk: run.status for run in SyncRun.objects.all()}
    assert statuses[dead.pk] == "failed"
    assert [statuses[run.pk] for run in (push, other_partition, other_model)] == ["running"] * 3


def test_a_run_with_no_run_left_running_writes_no_history_but_its_own(monkeypatch):
    use(monkeypatch, Author, _authors(3))
    assert sync_model(Author).ok
    with CaptureQueriesContext(connection) as queries:
        assert sync_model(Author).ok
    sql = [q["sql"] for q in queries.captured_queries]
    writes = [q.split(" ")[0] for q in sql if q.startswith(('INSERT INTO "pyck_syncrun"', 'UPDATE "pyck_syncrun"'))]
    assert writes == ["INSERT", "UPDATE"]  # its own record, and its outcome


def test_a_run_closed_while_it_was_in_fact_alive_records_its_own_outcome_when_it_ends(monkeypatch):
    """Listing runs of one model take turns; should two overlap all the same, the later one closes the earlier
    one's record, and the earlier one, when it ends, records its own outcome over it."""
    datasource = use(monkeypatch, Author, _authors(3))
    real_list = datasource.list
    nested: list[Any] = []

    def list_and_overlap(**filter: Any) -> Any:
        if not nested:
            nested.append(None)
            nested[0] = sync_model(Author)  # a second run of the model starts while this one lists
        return real_list(**filter)

    monkeypatch.setattr(datasource, "list", list_and_overlap)

    outer = sync_model(Author)

    assert outer.ok and nested[0].ok
    assert list(SyncRun.objects.order_by("started").values_list("status", flat=True)) == ["succeeded", "succeeded"]
