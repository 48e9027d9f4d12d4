"""The SyncRun's outcome is written in the last batch's transaction when nothing can change it afterwards."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection

from pyck.core.sync import run as sync_module
from pyck.core.datasources import OnDelete
from pyck.core.models import SyncRun
from pyck.core.sync import sync_model
from tests.testapp import resources as r
from tests.testapp.models import Author, Team
from tests.testapp.testing import use

# Real transactions: whether a statement runs inside one is what these tests look at.
pytestmark = pytest.mark.django_db(transaction=True)


class _RunUpdates:
    """Records, for each UPDATE of pyck_syncrun, whether it ran inside a transaction."""

    def __init__(self) -> None:
        self.in_transaction: list[bool] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith("UPDATE") and "pyck_syncrun" in sql:
            self.in_transaction.append(connection.in_atomic_block)
        return execute(sql, params, many, context)


def _authors(n: int) -> list[Any]:
    return [r.AuthorResource(id=f"a{i}", name=f"A{i}") for i in range(n)]


def _assert_recorded(result: Any) -> None:
    run = SyncRun.objects.get(model=result.model)
    assert (run.status, run.created, run.updated, run.unchanged, run.deleted, run.failed) == (
        result.status, result.created, result.updated, result.unchanged, result.deleted, result.failed
    )
    assert (run.finished, run.duration) == (result.finished, result.duration)
    assert [e["message"] for e in run.errors] == [e.message for e in result.errors]


def test_a_run_that_keeps_rows_records_its_outcome_with_its_last_batch(monkeypatch):
    use(monkeypatch, Author, _authors(5))
    updates = _RunUpdates()
    with connection.execute_wrapper(updates):
        result = sync_model(Author, batch_size=2)

    assert updates.in_transaction == [True]
    assert (result.status, result.created) == ("succeeded", 5)
    _assert_recorded(result)


def test_a_partial_run_records_the_same_errors_it_returns(monkeypatch):
    # Two ids the integer external_id column cannot hold.
    use(monkeypatch, Team, [r.TeamResource(id="bad" if i in (1, 4) else i, name=f"T{i}") for i in range(5)])
    updates = _RunUpdates()
    with connection.execute_wrapper(updates):
        result = sync_model(Team, batch_size=2, max_errors=1)

    assert updates.in_transaction == [True]
    assert (result.status, result.created, result.failed, len(result.errors)) == ("partial", 3, 2, 1)
    _assert_recorded(result)


def test_a_run_that_deletes_records_its_outcome_after_deleting(monkeypatch):
    Author.objects.create(external_id="gone", name="Gone")
    use(monkeypatch, Author, _authors(3))
    updates = _RunUpdates()
    with connection.execute_wrapper(updates):
        result = sync_model(Author, on_delete=OnDelete.DELETE, max_delete_fraction=1.0)

    assert updates.in_transaction == [False]
    assert (result.status, result.created, result.deleted) == ("succeeded", 3, 1)
    _assert_recorded(result)


def test_when_the_outcome_cannot_be_written_with_the_batch_it_is_written_afterwards(monkeypatch):
    use(monkeypatch, Author, _authors(3))
    original = SyncRun.objects.filter

    def locked(*args: Any, **kwargs: Any) -> Any:
        if connection.in_atomic_block and "pk" in kwargs:  # the write inside the last batch's transaction
            raise DatabaseError("database table is locked: pyck_syncrun")
        return original(*args, **kwargs)

    monkeypatch.setattr(SyncRun.objects, "filter", locked)
    updates = _RunUpdates()
    with connection.execute_wrapper(updates):
        result = sync_model(Author)

    assert updates.in_transaction == [False]
    assert (result.status, result.created) == ("succeeded", 3)
    monkeypatch.undo()
    _assert_recorded(result)


def test_a_crash_after_the_last_batch_replaces_the_outcome_written_with_it(monkeypatch):
    use(monkeypatch, Author, _authors(3))
    real = sync_module._settle
    calls: list[int] = []

    def second_call_crashes(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:  # the first settles the outcome written with the batch, the second the run's own
            raise RuntimeError("crashed while settling")
        real(*args, **kwargs)

    monkeypatch.setattr(sync_module, "_settle", second_call_crashes)

    with pytest.raises(RuntimeError, match="crashed while settling"):
        sync_model(Author)

    run = SyncRun.objects.get(model="testapp.Author")
    assert run.status == "failed" and "crashed while settling" in run.errors[0]["message"]
    assert Author.objects.count() == 3  # the batch itself stays written
