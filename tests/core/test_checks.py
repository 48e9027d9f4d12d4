"""System checks (``manage.py check``) for synced models' configs."""

from __future__ import annotations

import io
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.checks.registry import registry as check_registry
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import models
from django.test.utils import isolate_apps

from pyck.core.models import registry
from pyck.core import checks as checks_module
from pyck.core.checks import check_external_id_indexes, check_settings, check_sqlite_writers, check_synced_models
from pyck.core.datasources import MockDatasource, SyncConfig, SyncedModel


@dataclass
class Resource:
    id: int
    name: str
    owner: Any = None
    tags: Any = None


def _source() -> MockDatasource[Resource]:
    return MockDatasource(resource_type=Resource)


@pytest.fixture
def isolated():
    """Define throwaway models in an isolated app registry; unregister them afterwards."""
    before = set(registry.synced_models())
    with isolate_apps("tests.testapp"):
        yield
    for model in set(registry.synced_models()) - before:
        registry.unregister(model)


def _ids(model: type[models.Model]) -> list[str]:
    return sorted(message.id for message in check_synced_models() if message.obj is model)


def test_the_test_models_are_clean():
    from tests.testapp.models import MP, Article, Book, Constituency, Party, Team

    messages = check_synced_models()
    assert not [m for m in messages if m.obj in (Article, Book, Team, Constituency, MP, Party)]
    # The tutorial models declare external_id without an index: a deployment warning with the fix.
    tutorial = [m for m in check_external_id_indexes() if m.obj in (Constituency, MP, Party)]
    assert [m.id for m in tutorial] == ["pyck.W010"] * 3
    assert "db_index=True" in tutorial[0].hint


@pytest.mark.django_db
def test_manage_py_check_on_the_guide_models_prints_no_warning():
    """The guide's models (tests.testapp's Constituency, MP and Party are the same, verbatim) pass `check`
    cleanly; the advice about the external id's index is for `check --deploy`."""
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("check", stdout=stdout, stderr=stderr)
    assert stderr.getvalue() == ""
    assert stdout.getvalue().strip() == "System check identified no issues (0 silenced)."

    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("check", deploy=True, stdout=stdout, stderr=stderr)
    shown = stdout.getvalue() + stderr.getvalue()
    for name in ("Constituency", "MP", "Party"):
        assert f"testapp.{name}: (pyck.W010) testapp.{name}.external_id (the external id) has no index" in shown


def test_existing_settings_check_still_runs(settings):
    settings.PYCK = {"HTTP_TIMOUT": 3}
    assert [m.id for m in check_settings()] == ["pyck.W001"]


def test_datasource_that_is_not_a_datasource(isolated):
    class Broken(SyncedModel):
        sync_config = SyncConfig(datasource=_source())
        external_id = models.IntegerField(db_index=True)

        class Meta:
            app_label = "testapp"

    Broken.sync_config.datasource = "parliament.members"  # type: ignore[assignment]
    assert _ids(Broken) == ["pyck.E010"]


def test_external_id_and_field_map_naming_missing_fields(isolated):
    class Broken(SyncedModel):
        sync_config = SyncConfig(datasource=_source(), external_id="remote_id", field_map={"title": "name"})
        name = models.CharField(max_length=10)

        class Meta:
            app_label = "testapp"

    messages = {m.id: m for m in check_synced_models() if m.obj is Broken}
    assert sorted(messages) == ["pyck.E011", "pyck.E012"]
    assert "'remote_id'" in messages["pyck.E011"].msg and "db_index=True" in messages["pyck.E011"].hint
    assert "'title'" in messages["pyck.E012"].msg and "name" in messages["pyck.E012"].hint


def test_relation_to_a_model_that_is_not_synced(isolated):
    class Owner(models.Model):
        class Meta:
            app_label = "testapp"

    class Broken(SyncedModel):
        sync_config = SyncConfig(datasource=_source())
        external_id = models.IntegerField(db_index=True)
        owner = models.ForeignKey(Owner, null=True, on_delete=models.SET_NULL)

        class Meta:
            app_label = "testapp"

    class Excluded(SyncedModel):
        sync_config = SyncConfig(datasource=_source(), field_map={"owner": None})
        external_id = models.IntegerField(db_index=True)
        owner = models.ForeignKey(Owner, null=True, on_delete=models.SET_NULL, related_name="+")

        class Meta:
            app_label = "testapp"

    [message] = [m for m in check_synced_models() if m.obj is Broken]
    assert message.id == "pyck.E013" and "Owner" in message.msg and "field_map={'owner': None}" in message.hint
    assert _ids(Excluded) == []


def test_custom_through_model_passes_unless_a_required_column_cannot_be_filled(isolated):
    class Tag(SyncedModel):
        sync_config = SyncConfig(datasource=_source())
        external_id = models.IntegerField(db_index=True)

        class Meta:
            app_label = "testapp"

    class Tagging(models.Model):
        item = models.ForeignKey("Item", on_delete=models.CASCADE)
        tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
        added = models.DateTimeField(auto_now_add=True)
        note = models.CharField(max_length=10)

        class Meta:
            app_label = "testapp"

    class Item(SyncedModel):
        sync_config = SyncConfig(datasource=_source())
        external_id = models.IntegerField(db_index=True)
        tags = models.ManyToManyField(Tag, through=Tagging)

        class Meta:
            app_label = "testapp"

    class Ranking(models.Model):
        ranked = models.ForeignKey("Ranked", on_delete=models.CASCADE)
        tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
        rank = models.IntegerField()

        class Meta:
            app_label = "testapp"

    class Ranked(SyncedModel):
        sync_config = SyncConfig(datasource=_source(), field_map={"tags": "tags"})
        external_id = models.IntegerField(db_index=True)
        tags = models.ManyToManyField(Tag, through=Ranking)

        class Meta:
            app_label = "testapp"

    assert _ids(Item) == []
    assert _ids(Ranked) == ["pyck.E014"]
    Ranked.sync_config.through_map = {"tags": {"rank": "link.rank"}}
    assert _ids(Ranked) == []


def test_missing_index_is_a_deployment_warning(isolated):
    class Slow(SyncedModel):
        sync_config = SyncConfig(datasource=_source())
        external_id = models.IntegerField()

        class Meta:
            app_label = "testapp"

    class Indexed(SyncedModel):
        sync_config = SyncConfig(datasource=_source())
        external_id = models.IntegerField(unique=True)

        class Meta:
            app_label = "testapp"

    assert _ids(Slow) == [] and _ids(Indexed) == []
    assert [m.id for m in check_external_id_indexes() if m.obj in (Slow, Indexed)] == ["pyck.W010"]


@pytest.mark.django_db
def test_manage_py_check_reports_errors(isolated):
    class Broken(SyncedModel):
        sync_config = SyncConfig(datasource=_source(), external_id="remote_id")

        class Meta:
            app_label = "testapp"

    with pytest.raises(SystemCheckError, match="pyck.E011"):
        call_command("check")


def test_incremental_without_param_or_list_changed_and_unknown_cursor_field_are_errors(isolated):
    from pyck.core.datasources import Incremental

    class Feed(SyncedModel):
        sync_config = SyncConfig(datasource=_source(), incremental=Incremental(field="modified"))
        external_id = models.IntegerField(db_index=True)

        class Meta:
            app_label = "testapp"

    messages = {m.id: m for m in check_synced_models() if m.obj is Feed}
    assert sorted(messages) == ["pyck.E015", "pyck.E016"]
    assert "list_changed()" in messages["pyck.E015"].msg and "'modified'" in messages["pyck.E016"].msg

    class Changes(MockDatasource[Resource]):
        def list_changed(self, since: Any, **filter: Any) -> Any:
            return []

    class Fine(SyncedModel):
        sync_config = SyncConfig(datasource=Changes(resource_type=Resource), incremental=Incremental(field="name"))
        external_id = models.IntegerField(db_index=True)

        class Meta:
            app_label = "testapp"

    assert _ids(Fine) == []


@pytest.mark.parametrize(
    ("options", "warned"),
    [({}, True), ({"transaction_mode": "deferred"}, True), ({"transaction_mode": "IMMEDIATE", "timeout": 30}, False)],
)
def test_a_sqlite_database_whose_transactions_begin_without_the_write_lock_is_a_deploy_warning(monkeypatch, options, warned):
    databases = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3", "OPTIONS": options},
        "other": {"ENGINE": "django.db.backends.postgresql", "NAME": "pyck"},
    }
    monkeypatch.setattr(checks_module, "settings", SimpleNamespace(DATABASES=databases))
    found = checks_module.check_sqlite_writers()
    assert [(m.id, "'default'" in m.msg) for m in found] == ([("pyck.W020", True)] if warned else [])
    assert check_sqlite_writers in check_registry.get_checks(include_deployment_checks=True)
    assert check_sqlite_writers not in check_registry.get_checks()
