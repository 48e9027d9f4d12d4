"""``RowUpdate``: the checkpoint's UPDATE compiled once per run, writing what ``filter(pk=).update()`` writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pyck.core.sync.statements import RowUpdate
from pyck.core.models import SyncState

pytestmark = pytest.mark.django_db

CHECKPOINT = {"mode": "full", "position": {"page": 3, "index": 100}, "filter": "{}", "note": "café ✓ \"quoted\"",
              "high": {"datetime": "2026-11-27T10:00:00+00:00"}, "failed": 0, "confirmed": True}


def _states() -> tuple[SyncState, SyncState]:
    return (SyncState.objects.create(model="testapp.A", partition=""), SyncState.objects.create(model="testapp.B", partition=""))


def _row(state: SyncState) -> tuple[object, object]:
    state.refresh_from_db()
    return state.checkpoint, state.checkpoint_updated


def test_it_writes_what_the_orm_update_writes_and_only_to_its_row() -> None:
    ours, theirs = _states()
    other = SyncState.objects.create(model="testapp.C", partition="")
    when = datetime(2026, 11, 27, 10, 30, 15, 123456, tzinfo=UTC)
    update = RowUpdate(SyncState, ours.pk, ("checkpoint", "checkpoint_updated"))

    update(CHECKPOINT, when)
    SyncState.objects.filter(pk=theirs.pk).update(checkpoint=CHECKPOINT, checkpoint_updated=when)

    assert _row(ours) == _row(theirs) == (CHECKPOINT, when)
    assert _row(other) == (None, None)


def test_later_calls_reuse_the_sql_with_new_values() -> None:
    ours, _ = _states()
    update = RowUpdate(SyncState, ours.pk, ("checkpoint", "checkpoint_updated"))
    start = datetime(2026, 11, 27, tzinfo=UTC)
    update({"position": 1}, start)
    sql = update._sql

    with CaptureQueriesContext(connection) as queries:
        for page in range(2, 5):
            update({"position": page}, start + timedelta(seconds=page))

    assert update._sql is sql
    assert len(queries) == 3
    assert _row(ours) == ({"position": 4}, start + timedelta(seconds=4))


def test_a_none_goes_through_the_orm_and_sets_null() -> None:
    ours, _ = _states()
    SyncState.objects.filter(pk=ours.pk).update(checkpoint={"position": 1}, checkpoint_updated=datetime(2026, 11, 27, tzinfo=UTC))
    update = RowUpdate(SyncState, ours.pk, ("checkpoint", "checkpoint_updated"))

    update(None, None)  # the ORM writes "= NULL" into the SQL itself: not SQL to send again with values

    assert _row(ours) == (None, None)
    update({"position": 2}, datetime(2026, 11, 28, tzinfo=UTC))  # and the compiled SQL still serves afterwards
    assert _row(ours) == ({"position": 2}, datetime(2026, 11, 28, tzinfo=UTC))
