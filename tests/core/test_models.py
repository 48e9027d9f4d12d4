"""SyncedModel's fields and sync() entry point, and the SyncRun model."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from pyck.core.datasources import SyncedModel, SyncResult, SyncRun
from tests.testapp import resources as r
from tests.testapp.models import Team

from tests.testapp.testing import use


def test_synced_model_is_abstract_with_a_uuid_key_and_sync_time():
    assert SyncedModel._meta.abstract
    pk = Team._meta.pk
    assert pk.name == "id" and pk.get_internal_type() == "UUIDField" and not pk.editable
    assert Team._meta.get_field("last_sync_time").null
    # The key exists before the row is saved, so references can point at it.
    assert isinstance(Team(name="x").pk, uuid.UUID)


def test_datasources_facade_resolves_the_model_names_lazily():
    import pyck.core.datasources as facade

    assert facade.SyncedModel is SyncedModel and facade.SyncRun is SyncRun and facade.SyncResult is SyncResult


@pytest.mark.django_db
def test_sync_classmethod_syncs_and_records_a_run(monkeypatch):
    use(monkeypatch, Team, [r.TeamResource(id=1, name="Reds")])

    result = Team.sync(batch_size=10)

    assert isinstance(result, SyncResult) and result.ok and result.created == 1
    assert Team.objects.get().name == "Reds"
    run = SyncRun.objects.get()
    assert (run.model, run.status, run.created, run.errors) == ("testapp.Team", "succeeded", 1, [])


@pytest.mark.django_db
def test_sync_runs_are_newest_first_and_readable():
    now = timezone.now()
    old = SyncRun.objects.create(model="testapp.Team", started=now - timedelta(hours=1), status="failed")
    new = SyncRun.objects.create(model="testapp.Team", started=now, status="succeeded")

    assert list(SyncRun.objects.all()) == [new, old]
    assert str(old).startswith("testapp.Team failed at ")
