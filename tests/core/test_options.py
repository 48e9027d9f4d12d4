"""SyncConfig and OnDelete: defaults and validation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings

from pyck.core.datasources import ConfigurationError, MockDatasource, OnDelete, SyncConfig


def test_defaults():
    config = SyncConfig(datasource=MockDatasource())

    assert config.external_id == "external_id"
    assert config.field_map is None
    assert config.sync_interval == timedelta(days=1)
    assert config.filter == {}
    assert config.on_delete is OnDelete.KEEP
    assert config.fetch_missing is True


def test_batch_size_falls_back_to_the_setting_read_at_call_time():
    config = SyncConfig(datasource=MockDatasource())

    assert config.get_batch_size() == 1000
    with override_settings(PYCK={"SYNC_BATCH_SIZE": 42}):
        assert config.get_batch_size() == 42
    assert SyncConfig(datasource=MockDatasource(), batch_size=7).get_batch_size() == 7


def test_config_is_mutable_so_tests_can_swap_the_datasource():
    config = SyncConfig(datasource=MockDatasource())
    replacement = MockDatasource([1])
    config.datasource = replacement
    assert config.datasource is replacement


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"datasource": MockDatasource}, "expected a Datasource instance"),
        ({"datasource": "parliament.members"}, "expected a Datasource instance"),
        ({"external_id": ""}, "external_id"),
        ({"field_map": ["name"]}, "field_map"),
        ({"field_map": {"name": 3}}, "field_map"),
        ({"sync_interval": 3600}, "sync_interval"),
        ({"sync_interval": timedelta(0)}, "sync_interval"),
        ({"filter": "House=1"}, "filter"),
        ({"batch_size": 0}, "batch_size"),
        ({"on_delete": "delete"}, "OnDelete.KEEP or OnDelete.DELETE"),
        ({"max_errors": -1}, "max_errors"),
    ],
)
def test_invalid_options_are_configuration_errors(kwargs, message):
    kwargs = {"datasource": MockDatasource(), **kwargs}
    with pytest.raises(ConfigurationError, match=message):
        SyncConfig(**kwargs)


def test_none_interval_and_excluded_fields_are_allowed():
    config = SyncConfig(datasource=MockDatasource(), sync_interval=None, field_map={"name": None, "title": "a.b"})
    assert config.sync_interval is None
