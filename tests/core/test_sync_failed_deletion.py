"""A failed record blocks only the deletion of its own row (issue 18 item 5).

A complete listing in which records failed still says which rows are gone when every failed record is
accounted for: a failed record with an id keeps its row as it was, a record with no id at all (a Google
Sheets row with an empty key cell) names no row, and only a failure whose id cannot be read stops deletion.
"""

from __future__ import annotations

from typing import Any

import pytest

from pyck.core.datasources import MockDatasource, OnDelete, RestDatasource
from pyck.core.models import SyncRun
from pyck.core.sync import sync_model
from tests.testapp import resources as r
from tests.testapp.models import Article, Team

pytestmark = pytest.mark.django_db

API = "https://api.example.com"


@pytest.fixture
def articles(monkeypatch: pytest.MonkeyPatch) -> RestDatasource:
    source = RestDatasource(base_url=API, path="/articles", resource_type=r.ArticleResource, name="example/articles",
                            retries=0)
    monkeypatch.setattr(Article.sync_config, "datasource", source)
    monkeypatch.setattr(Article.sync_config, "on_delete", OnDelete.DELETE)
    return source


def _article(i: int, **changes: Any) -> dict[str, Any]:
    return {"id": i, "headline": f"A{i}", "words": i, **changes}


def _store(*ids: int) -> None:
    for i in ids:
        Article.objects.create(external_id=i, title=f"A{i}", word_count=i, notes=f"my notes on {i}", starred=True)


def _row(i: int) -> tuple[Any, ...]:
    return Article.objects.filter(external_id=i).values_list("title", "word_count", "notes", "starred", "last_sync_time").get()


def _ids() -> list[int]:
    return sorted(Article.objects.values_list("external_id", flat=True))


def _kinds(result: Any) -> dict[str, int]:
    return {w.kind: w.count for w in result.warnings if w.kind not in ("absent",)}


def test_a_record_failing_validation_keeps_its_row_untouched_while_a_row_really_gone_is_deleted(articles, mock_api):
    _store(1, 2, 3)  # 3 is gone remotely
    before = _row(2)
    # Record 2 breaks the model's check constraint (word_count >= 0): the database refuses it.
    mock_api.get(f"{API}/articles", json=[_article(1), _article(2, headline="A2 edited", words=-5)])
    mock_api.get(f"{API}/articles/3", status=404)  # confirm_delete: 3 is really gone; 2 is not asked about

    result = sync_model(Article)

    assert (result.status, result.failed, result.deleted) == ("partial", 1, 1)
    assert _ids() == [1, 2]
    assert _row(2) == before, "a failed record's row is neither deleted nor changed (local-only columns included)"
    assert result.errors[0].record_id == 2 and "word_count" in result.errors[0].message
    assert _kinds(result) == {"failed_kept": 1}
    run = SyncRun.objects.filter(model="testapp.Article").first()
    assert (run.status, run.deleted, run.failed) == ("partial", 1, 1)
    [kept] = [w for w in run.warnings if w["kind"] == "failed_kept"]
    assert "1 rows missing from the listing were kept as they were, because their records failed" in kept["message"]


def test_failed_rows_do_not_count_against_max_delete_fraction(articles, mock_api, monkeypatch):
    monkeypatch.setattr(Article.sync_config, "max_delete_fraction", 0.4)
    monkeypatch.setattr(Article.sync_config, "confirm_delete", False)
    _store(1, 2, 3)
    # 2 fails and 3 is gone: 1 row of 3 is missing (2 was listed), within 0.4.
    mock_api.get(f"{API}/articles", json=[_article(1), _article(2, words=-5)])

    result = sync_model(Article)

    assert (result.status, result.deleted) == ("partial", 1)
    assert _ids() == [1, 2]


def test_a_record_without_an_id_does_not_stop_a_deletion_and_is_reported_with_its_position(articles, mock_api):
    _store(1, 2, 3)
    # A spreadsheet row whose key cell is empty: the id key is absent; another's is empty.
    mock_api.get(f"{API}/articles", json=[_article(1), {"headline": "no key", "words": 4}, _article(2), _article(5, id="")])
    mock_api.get(f"{API}/articles/3", status=404)

    result = sync_model(Article)

    assert (result.status, result.failed, result.deleted) == ("partial", 2, 1)
    assert _ids() == [1, 2]
    assert _kinds(result) == {"no_id": 2}
    [warning] = [w for w in result.warnings if w.kind == "no_id"]
    assert "record 2 of this run's listing" in warning.message and "record 4 of this run's listing" in warning.message
    assert "did not stop deletions" in warning.message
    assert "no_id" in [w["kind"] for w in SyncRun.objects.filter(model="testapp.Article").first().warnings]


@pytest.mark.parametrize("item", ["not an object", {"id": {"nested": 1}, "headline": "x"}], ids=["not-an-object", "id-a-dict"])
def test_a_failure_whose_id_cannot_be_read_stops_every_deletion_and_says_why(articles, mock_api, item):
    _store(1, 2, 3)
    mock_api.get(f"{API}/articles", json=[_article(1), _article(2), item])

    result = sync_model(Article)

    assert (result.status, result.failed, result.deleted) == ("partial", 1, 0)
    assert _ids() == [1, 2, 3], "3 may be the record that could not be read"
    message = result.errors[0].message
    assert message.startswith("testapp.Article: nothing deleted: 1 failed records could not be identified")
    run = SyncRun.objects.filter(model="testapp.Article").first()
    assert run.errors[0]["message"] == message


def test_a_record_read_without_an_id_by_a_plain_datasource_names_no_row(monkeypatch):
    monkeypatch.setattr(Team.sync_config, "on_delete", OnDelete.DELETE)
    monkeypatch.setattr(Team.sync_config, "confirm_delete", False)
    Team.objects.create(external_id=1, name="Reds")
    Team.objects.create(external_id=2, name="Gone")
    source = MockDatasource([r.TeamResource(id=1, name="Reds", players=[]), r.TeamResource(id=None, name="Blank", players=[])])
    monkeypatch.setattr(Team.sync_config, "datasource", source)

    result = sync_model(Team)

    assert (result.status, result.failed, result.deleted) == ("partial", 1, 1)
    assert sorted(Team.objects.values_list("external_id", flat=True)) == [1]
    assert _kinds(result) == {"no_id": 1}


def test_a_partitioned_model_deletes_after_its_partitions_listed_everything_even_with_a_failed_record(monkeypatch):
    data = [r.ArticleResource(id=n, headline=f"A{n}", words=1 + n % 3) for n in range(1, 10)]
    monkeypatch.setattr(Article.sync_config, "datasource", MockDatasource(data))
    monkeypatch.setattr(Article.sync_config, "partitions", {"w1": {"words": 1}, "w2": {"words": 2}, "w3": {"words": 3}})
    monkeypatch.setattr(Article.sync_config, "on_delete", OnDelete.DELETE)
    monkeypatch.setattr(Article.sync_config, "confirm_delete", False)
    assert sync_model(Article).ok
    Article.objects.filter(external_id=4).update(notes="mine", starred=True)
    before = _row(4)
    # 5 is gone; 4 (partition w2) now has a date its column refuses.
    data = [a for a in data if a.id != 5]
    data[3] = r.ArticleResource(id=4, headline="A4", words=2, published="not a date")
    monkeypatch.setattr(Article.sync_config, "datasource", MockDatasource(data))

    result = sync_model(Article)

    assert (result.status, result.failed, result.deleted) == ("partial", 1, 1)
    assert _ids() == [1, 2, 3, 4, 6, 7, 8, 9]
    assert _row(4) == before
    assert _kinds(result) == {"failed_kept": 1}
