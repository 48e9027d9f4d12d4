"""How the sync engine turns a RestDatasource's listed items into records (``RestDatasource.read_listing``).

A plain datasource's items go straight to the resource type's deserialiser; only an item that fails goes
through ``deserialize_record``, which names the datasource, the page and the record. Overridden
``deserialize`` and ``deserialize_record`` methods are still called, as documented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from pyck.core.datasources import RestDatasource
from pyck.core.exceptions import InvalidResourceError
from pyck.core.models import SyncState
from pyck.core.records import register_converter, unregister_converter
from tests.testapp import resources as r
from tests.testapp.models import Team

pytestmark = pytest.mark.django_db

API = "https://api.example.com"


def _teams(monkeypatch: pytest.MonkeyPatch, cls: type[RestDatasource] = RestDatasource, **kwargs: Any) -> RestDatasource:
    source = cls(base_url=API, path="/teams", resource_type=r.TeamResource, name="example/teams", retries=0, **kwargs)
    monkeypatch.setattr(Team.sync_config, "datasource", source)
    return source


def test_a_bad_item_fails_alone_with_an_error_naming_datasource_url_and_record(monkeypatch, mock_api):
    _teams(monkeypatch)
    mock_api.get(f"{API}/teams?api_key=s3cr3t", json=[
        {"id": 1, "name": "Reds"}, {"id": 2, "name": None}, {"id": 3, "name": "Blues"}, "not an object",
    ])
    monkeypatch.setattr(Team.sync_config, "filter", {"api_key": "s3cr3t"})

    result = Team.sync()

    assert (result.created, result.failed) == (2, 2)
    first, second = result.errors
    assert first.record_id == 2
    assert "example/teams" in first.message and f"url {API}/teams" in first.message
    assert "name" in first.message and "s3cr3t" not in first.message
    assert second.record_id is None and "expected an object" in second.message
    assert sorted(Team.objects.values_list("name", flat=True)) == ["Blues", "Reds"]


class _Enveloped(RestDatasource):
    """Items come as ``{"team": {...}}``: ``deserialize`` and ``get_raw_id`` unwrap them."""

    def deserialize(self, data: Any) -> Any:
        return super().deserialize(data["team"])

    def get_raw_id(self, data: Any) -> Any:
        return data.get("team", {}).get("id") if isinstance(data, dict) else None


def test_an_overridden_deserialize_is_called_and_its_key_errors_are_record_errors(monkeypatch, mock_api):
    _teams(monkeypatch, _Enveloped)
    # The envelope has an id and a name of its own, which a plain TeamResource would read.
    mock_api.get(f"{API}/teams", json=[
        {"id": 10, "name": "envelope", "team": {"id": 1, "name": "Reds"}}, {"club": {"id": 2}}, {"team": {"id": 3}},
    ])

    result = Team.sync()

    assert (result.created, result.failed) == (1, 2)
    assert [e.record_id for e in result.errors] == [None, 3]
    assert "KeyError" in result.errors[0].message and "example/teams" in result.errors[0].message
    assert "'name' is missing" in result.errors[1].message
    assert list(Team.objects.values_list("name", flat=True)) == ["Reds"]


class _Counting(RestDatasource):
    """Overrides ``deserialize_record`` (discouraged, but public): the engine calls it once per item."""

    calls: list[Any]

    def deserialize_record(self, data: Any, *, url: str, record_id: Any) -> Any:
        self.calls.append(record_id)
        if data.get("id") == 2:
            raise InvalidResourceError("team 2 is withdrawn", datasource=self, url=url, record_id=record_id)
        return super().deserialize_record(data, url=url, record_id=record_id)


def test_an_overridden_deserialize_record_is_called_once_per_item(monkeypatch, mock_api):
    source = _teams(monkeypatch, _Counting, calls=[])
    mock_api.get(f"{API}/teams", json=[{"id": 1, "name": "Reds"}, {"id": 2, "name": "Greys"}, {"id": 3, "name": 7}])

    result = Team.sync()

    assert source.calls == [1, 2, 3]
    assert (result.created, result.failed) == (1, 2)
    assert [e.record_id for e in result.errors] == [2, 3]
    assert "team 2 is withdrawn" in result.errors[0].message


@dataclass
class _Shouting:
    text: str


@dataclass
class _ShoutingTeam:
    id: int
    name: _Shouting


def test_a_converter_registered_between_syncs_is_used_by_the_next_one(monkeypatch, mock_api):
    source = _teams(monkeypatch)
    source.resource_type = _ShoutingTeam
    monkeypatch.setattr(Team.sync_config, "field_map", {"name": "name.text"})
    mock_api.get(f"{API}/teams", json=[{"id": 1, "name": "Reds"}])
    register_converter(_Shouting, lambda value: _Shouting(value.lower()))
    try:
        Team.sync()
        assert Team.objects.get().name == "reds"
        register_converter(_Shouting, lambda value: _Shouting(value.upper()))
        SyncState.objects.all().delete()
        Team.sync()
    finally:
        unregister_converter(_Shouting)
    assert Team.objects.get().name == "REDS"
