"""The hooks a datasource gives the sync engine: ``read_listing()``, ``resumable`` and ``includes()``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from pyck.core.datasources import InvalidResourceError, MockDatasource, OnDelete, TransportError
from pyck.core.sync import sync_model
from tests.testapp import resources as r
from tests.testapp.models import Team

pytestmark = pytest.mark.django_db


class _Export(MockDatasource[Any]):
    """Reads its listing from an "export" that can start at any record: positions are record numbers."""

    resumable = True

    def __init__(self, *args: Any, fail_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fail_after = fail_after
        self.starts: list[Any] = []

    def read_listing(self, filter: Mapping[str, Any], *, start: Any = None) -> Iterator[tuple[Any, Any]]:
        self.starts.append(start)
        first = start["n"] if start else 0
        for n, record in enumerate(self.data[first:], start=first + 1):
            if self.fail_after is not None and n > self.fail_after:
                raise TransportError("the export broke off", datasource=self)
            if record is None:
                yield InvalidResourceError("an unreadable record", datasource=self, record_id=n), {"n": n}
                continue
            yield record, {"n": n}


def _teams(count: int) -> list[r.TeamResource]:
    return [r.TeamResource(id=i, name=f"T{i}") for i in range(1, count + 1)]


def test_a_datasource_reading_its_own_listing_is_resumed_from_its_positions(monkeypatch):
    source = _Export(_teams(10), resource_type=r.TeamResource, fail_after=7)
    monkeypatch.setattr(Team.sync_config, "datasource", source)

    first = sync_model(Team, batch_size=3)
    source.fail_after = None
    second = sync_model(Team, batch_size=3)

    assert first.status == "failed" and first.created == 7
    assert second.ok and second.resumed and second.created == 3
    assert source.starts == [None, {"n": 7}]  # after the last record written, before the listing broke off
    assert Team.objects.count() == 10


def test_a_record_yielded_as_an_error_is_reported_and_the_listing_goes_on(monkeypatch):
    source = _Export([*_teams(2), None, *_teams(4)[2:]], resource_type=r.TeamResource)
    monkeypatch.setattr(Team.sync_config, "datasource", source)

    result = sync_model(Team)

    assert (result.created, result.failed) == (4, 1)
    assert result.errors[0].record_id == 3 and "an unreadable record" in result.errors[0].message


class _Archiving(MockDatasource[Any]):
    """``get()`` still returns archived teams, which ``list()`` leaves out."""

    def list(self, **filter: Any) -> Iterator[Any]:
        return (team for team in super().list(**filter) if not team.name.startswith("archived"))

    def includes(self, record: Any) -> bool:
        return not record.name.startswith("archived")


def test_a_record_get_returns_but_the_listing_leaves_out_is_deleted(monkeypatch):
    teams = [*_teams(3), r.TeamResource(id=4, name="archived 4")]
    monkeypatch.setattr(Team.sync_config, "datasource", _Archiving(teams, resource_type=r.TeamResource))
    monkeypatch.setattr(Team.sync_config, "on_delete", OnDelete.DELETE)
    for team in teams:
        Team.objects.create(external_id=team.id, name=team.name)

    result = sync_model(Team, max_delete_fraction=1.0)

    assert result.ok and (result.deleted, result.kept) == (1, 0)
    assert sorted(Team.objects.values_list("external_id", flat=True)) == [1, 2, 3]
