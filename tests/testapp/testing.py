"""Helpers shared by the sync engine tests: swapping datasources and counting remote calls."""

from __future__ import annotations

from typing import Any

import pytest

from pyck.core.datasources import MockDatasource


class CountingDatasource(MockDatasource[Any]):
    """A MockDatasource that counts its ``get`` and ``list`` calls."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gets: list[Any] = []
        self.lists = 0

    def get(self, id: Any) -> Any:
        self.gets.append(id)
        return super().get(id)

    def list(self, **filter: Any) -> Any:
        self.lists += 1
        return super().list(**filter)


def use(monkeypatch: pytest.MonkeyPatch, model: Any, data: list[Any], resource_type: Any = None) -> CountingDatasource:
    """Point ``model``'s SyncConfig at a counting in-memory datasource holding ``data`` for this test."""
    current = model.sync_config.datasource
    datasource = CountingDatasource(data, resource_type=resource_type or current.resource_type, name=f"mock.{model.__name__}")
    monkeypatch.setattr(model.sync_config, "datasource", datasource)
    return datasource
