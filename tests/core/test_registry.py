"""The synced model registry and the class-definition checks of SyncedModel."""

from __future__ import annotations

import pytest
from django.db import models
from django.test.utils import isolate_apps

from pyck.core.models import registry
from pyck.core.datasources import ConfigurationError, MockDatasource, SyncConfig, SyncedModel
from tests.testapp.models import MP, Article, Constituency, Party


def test_concrete_models_register_themselves_in_definition_order():
    found = registry.synced_models()

    assert found.index(Constituency) < found.index(MP) < found.index(Party) < found.index(Article)
    assert SyncedModel not in found


def test_get_model_is_case_insensitive():
    assert registry.get_model("testapp.MP") is MP
    assert registry.get_model("TESTAPP.constituency") is Constituency


def test_get_model_lists_the_known_models():
    with pytest.raises(ConfigurationError, match=r"No synced model is labelled 'testapp.Nope'.*testapp\.Constituency"):
        registry.get_model("testapp.Nope")


@isolate_apps("tests.testapp")
def test_missing_sync_config_is_an_error_at_class_definition():
    with pytest.raises(ConfigurationError, match=r"(?s)Orphan is a SyncedModel without a SyncConfig.*sync_config = SyncConfig\(datasource=\.\.\.\)"):

        class Orphan(SyncedModel):
            external_id = models.IntegerField()

            class Meta:
                app_label = "testapp"


@isolate_apps("tests.testapp")
def test_abstract_subclasses_need_no_config_and_register_and_unregister_work():
    class Base(SyncedModel):
        class Meta:
            abstract = True
            app_label = "testapp"

    class Thing(Base):
        sync_config = SyncConfig(datasource=MockDatasource())
        external_id = models.IntegerField()

        class Meta:
            app_label = "testapp"

    try:
        assert Thing in registry.synced_models() and Base not in registry.synced_models()
        registry.unregister(Thing)
        assert Thing not in registry.synced_models()
        assert registry.register(Thing) is Thing
        assert registry.get_model("testapp.thing") is Thing
    finally:
        registry.unregister(Thing)


def test_register_rejects_what_is_not_a_concrete_synced_model():
    with pytest.raises(ConfigurationError, match="expected a SyncedModel subclass"):
        registry.register(object)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="abstract or a proxy"):
        registry.register(SyncedModel)
