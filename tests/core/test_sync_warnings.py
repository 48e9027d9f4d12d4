"""Data a run changes, or leaves as it was, without failing a record is reported as a warning, with counts, in
the `SyncResult`, the log and the `SyncRun` (issue 17, item 8): a nullable reference that cannot be resolved is
stored as null, unknown many-to-many ids are left out, a field absent from the records leaves its column alone
(where it used to empty it), and rows kept though missing from a listing are counted."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest

from pyck.core.datasources import MockDatasource, OnDelete, SyncRun, apply_records
from pyck.core.records import deserializer_for
from pyck.core.sync import SyncWarning, sync_model
from tests.testapp import resources as r
from tests.testapp.models import MP, Author, Book, Party
from tests.testapp.testing import use

pytestmark = pytest.mark.django_db


@dataclass
class Member:
    id: int
    name: str
    thumbnail_url: str | None = None
    latest_party: int | None = None


@dataclass
class PartyRecord:
    id: int
    name: str
    background_colour: str = ""


to_member = deserializer_for(Member)


def _members(monkeypatch: pytest.MonkeyPatch, items: list[dict[str, Any]]) -> MockDatasource[Any]:
    """The MP listing: `items` as pyck's deserialiser reads them from the API's JSON."""
    return use(monkeypatch, MP, [to_member(item) for item in items], Member)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING and record.name == "pyck.sync"]


def _stored(model: str) -> list[dict[str, Any]]:
    return SyncRun.objects.filter(model=model).latest("started").warnings


def test_a_nullable_reference_that_is_not_found_is_stored_as_null_and_reported(monkeypatch, caplog):
    use(monkeypatch, Party, [PartyRecord(1, "Labour")], PartyRecord)  # party 2 is not found (404)
    _members(monkeypatch, [
        {"id": i, "name": f"MP {i}", "thumbnail_url": None, "latest_party": 1 if i == 1 else 2} for i in (1, 2, 3)
    ])

    result = sync_model(MP)

    assert result.ok
    assert dict(MP.objects.values_list("external_id", "latest_party__external_id")) == {1: 1, 2: None, 3: None}
    assert result.warnings == [SyncWarning("nulled", "testapp.MP", "latest_party", 2)]
    message = "testapp.MP.latest_party: 2 references to records that could not be resolved were stored as null"
    assert str(result.warnings[0]) == message
    assert message in _warnings(caplog)
    assert _stored("testapp.MP") == [
        {"kind": "nulled", "model": "testapp.MP", "field": "latest_party", "count": 2, "message": message}
    ]


def test_a_batch_redone_row_by_row_reports_its_warnings_once(monkeypatch):
    from django.db import DatabaseError

    from pyck.core.sync import upsert as upsert_module

    use(monkeypatch, Party, [PartyRecord(1, "Labour")], PartyRecord)
    _members(monkeypatch, [
        {"id": i, "name": f"MP {i}", "thumbnail_url": None, "latest_party": 1 if i == 1 else 2} for i in (1, 2, 3)
    ])
    real, failures = upsert_module._write_rows, iter([True])

    def flaky(ctx: Any, plan: Any, rows: Any, outcome: Any, *, stamp: Any) -> None:
        real(ctx, plan, rows, outcome, stamp=stamp)
        if plan.model is MP and next(failures, False):
            raise DatabaseError("deadlock detected (simulated)")

    monkeypatch.setattr(upsert_module, "_write_rows", flaky)

    result = sync_model(MP)

    assert result.ok and result.created == 3
    assert result.warnings == [SyncWarning("nulled", "testapp.MP", "latest_party", 2)]


def test_unknown_many_to_many_ids_are_left_out_and_reported(monkeypatch, caplog):
    use(monkeypatch, Author, [r.AuthorResource(id="a1", name="A1")])  # "zz" and "yy" are not found
    use(monkeypatch, Book, [
        r.BookResource(id="b1", title="B1", authors=["a1", "zz"]),
        r.BookResource(id="b2", title="B2", authors=["zz", "yy"]),
    ])

    result = sync_model(Book)

    assert result.ok
    assert [a.external_id for a in Book.objects.get(external_id="b1").authors.all()] == ["a1"]
    assert not Book.objects.get(external_id="b2").authors.exists()
    assert result.warnings == [SyncWarning("dropped", "testapp.Book", "authors", 3)]
    assert "testapp.Book.authors: 3 links to records that could not be resolved were left out" in _warnings(caplog)
    assert [w["count"] for w in _stored("testapp.Book")] == [3]


def test_a_field_absent_from_the_records_leaves_its_column_alone_and_is_reported(monkeypatch, caplog):
    use(monkeypatch, Party, [PartyRecord(1, "Labour")], PartyRecord)
    _members(monkeypatch, [
        {"id": i, "name": f"MP {i}", "thumbnail_url": f"https://example.com/{i}.jpg", "latest_party": 1} for i in (1, 2)
    ])
    assert sync_model(MP).ok
    before = list(MP.objects.order_by("external_id").values_list("name", "thumbnail_url", "latest_party__external_id"))
    # Upstream renamed thumbnail_url and dropped latest_party: their keys are absent from every record now.
    source = _members(monkeypatch, [{"id": i, "name": f"MP {i}", "thumbnailURL": "x"} for i in (1, 2)])

    result = sync_model(MP)

    assert result.ok and (result.updated, result.unchanged) == (0, 2)
    assert list(MP.objects.order_by("external_id").values_list("name", "thumbnail_url", "latest_party__external_id")) == before
    assert sorted(result.warnings, key=lambda w: w.field or "") == [
        SyncWarning("absent", "testapp.MP", "latest_party", 2),
        SyncWarning("absent", "testapp.MP", "thumbnail_url", 2),
    ]
    assert any(m.startswith("testapp.MP.thumbnail_url: 2 records carried no value for it") for m in _warnings(caplog))
    assert sorted(w["field"] for w in _stored("testapp.MP")) == ["latest_party", "thumbnail_url"]

    # A key present with null is a value: it empties the column.
    source.data = [to_member({"id": 1, "name": "MP 1", "thumbnail_url": None, "latest_party": None})]
    again = sync_model(MP)
    assert again.updated == 1 and not again.warnings
    assert MP.objects.filter(external_id=1, thumbnail_url=None, latest_party=None).exists()


def test_a_new_row_gets_the_resources_defaults_for_the_fields_it_lacks(monkeypatch):
    _members(monkeypatch, [{"id": 1, "name": "MP 1"}])

    result = sync_model(MP)

    assert result.created == 1 and MP.objects.get(external_id=1).thumbnail_url is None
    assert {(w.kind, w.field, w.count) for w in result.warnings} == {("absent", "thumbnail_url", 1), ("absent", "latest_party", 1)}


def test_rows_kept_though_missing_from_a_shorter_listing_are_counted_stored_and_reported(monkeypatch, caplog):
    authors = [r.AuthorResource(id=f"a{i}", name=f"A{i}") for i in range(1, 6)]
    source = use(monkeypatch, Author, authors)
    assert sync_model(Author).ok

    class Shorter(type(source)):  # type: ignore[misc]
        def list(self, **filter: Any) -> Any:
            return iter(self.data[:3])  # the listing lost two records; get() still finds them

    monkeypatch.setattr(Author.sync_config, "datasource", Shorter(authors, resource_type=r.AuthorResource))

    result = sync_model(Author, on_delete=OnDelete.DELETE, max_delete_fraction=1.0)

    assert result.ok and (result.kept, result.deleted) == (2, 0) and Author.objects.count() == 5
    assert result.warnings == [SyncWarning("kept", "testapp.Author", None, 2)]
    run = SyncRun.objects.filter(model="testapp.Author").latest("started")
    assert run.kept == 2 and [w["kind"] for w in run.warnings] == ["kept"]
    assert any(m.startswith("testapp.Author: 2 rows missing from the listing still exist remotely") for m in _warnings(caplog))


def test_a_push_reports_its_warnings_too(monkeypatch):
    use(monkeypatch, Party, [], PartyRecord)
    use(monkeypatch, MP, [], Member)

    result = apply_records(MP, [Member(1, "MP 1", latest_party=9)])

    assert result.ok and result.warnings == [SyncWarning("nulled", "testapp.MP", "latest_party", 1)]
    assert [w["count"] for w in _stored("testapp.MP")] == [1]


def test_a_run_without_warnings_stores_none(monkeypatch):
    use(monkeypatch, Author, [r.AuthorResource(id="a1", name="A1")])

    result = sync_model(Author)

    assert result.warnings == [] and _stored("testapp.Author") == [] and SyncRun.objects.get().kept == 0
