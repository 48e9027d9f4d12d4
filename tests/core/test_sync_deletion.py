"""OnDelete.DELETE never loses a live row: confirmation by get(), the mass-deletion guard, truncated listings."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from responses import matchers

from pyck.core.datasources import (
    ConfigurationError,
    MockDatasource,
    OffsetPaginator,
    OnDelete,
    PageNumberPaginator,
    RestDatasource,
    SyncConfig,
    TransportError,
)
from pyck.core.sync import sync_model
from tests.testapp import resources as r
from tests.testapp.models import Article, Team
from tests.testapp.testing import CountingDatasource, use

pytestmark = pytest.mark.django_db

API = "https://api.example.com"


def _articles(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> RestDatasource:
    source = RestDatasource(base_url=API, path="/articles", resource_type=r.ArticleResource, name="example/articles",
                            retries=0, **kwargs)
    monkeypatch.setattr(Article.sync_config, "datasource", source)
    return source


def _page(mock_api: Any, offset: int, items: list[dict[str, Any]]) -> None:
    query = {"offset": str(offset), "limit": "2"}
    mock_api.get(f"{API}/articles", json=items, match=[matchers.query_param_matcher(query)])


def _article(i: int, headline: str | None = None) -> dict[str, Any]:
    return {"id": i, "headline": headline or f"A{i}", "words": i}


def _store(*ids: int) -> None:
    for i in ids:
        Article.objects.create(external_id=i, title=f"A{i}", notes=f"my notes on {i}", starred=True)


def test_a_live_record_skipped_by_a_shifted_offset_listing_keeps_its_row(monkeypatch, mock_api):
    _articles(monkeypatch, paginator=OffsetPaginator(limit=2))
    _store(1, 2, 3, 4, 5, 6)
    # Remote: 1..5 (6 was deleted long ago). Record 1 is deleted upstream after page 1 was read, so 3 moves to
    # offset 1 and page 2 (offset 2) starts at 4: 3 is never listed although it exists throughout.
    _page(mock_api, 0, [_article(1), _article(2)])
    _page(mock_api, 2, [_article(4), _article(5)])
    _page(mock_api, 4, [])
    mock_api.get(f"{API}/articles/3", json=_article(3, "A3, edited remotely"))
    mock_api.get(f"{API}/articles/6", status=404, json={"detail": "Not found"})

    result = sync_model(Article, on_delete=OnDelete.DELETE)

    assert (result.status, result.deleted, result.kept, result.failed) == ("succeeded", 1, 1, 0)
    assert (result.created, result.updated + result.unchanged) == (0, 4)  # the counts are about the listing
    kept = Article.objects.get(external_id=3)
    assert (kept.title, kept.notes, kept.starred) == ("A3, edited remotely", "my notes on 3", True)  # refreshed
    assert kept.last_sync_time >= result.started
    assert sorted(Article.objects.values_list("external_id", flat=True)) == [1, 2, 3, 4, 5]
    asked = sorted(call.request.url for call in mock_api.calls if "offset" not in call.request.url)
    assert asked == [f"{API}/articles/3", f"{API}/articles/6"]  # only the missing rows were confirmed

    again = sync_model(Article, on_delete=OnDelete.DELETE)  # the same shifted listing: 3 is confirmed again
    assert (again.deleted, again.kept) == (0, 1)
    assert Article.objects.filter(external_id=3, notes="my notes on 3").exists()


def test_a_record_really_gone_is_deleted_after_get_confirms_it(monkeypatch):
    source = use(monkeypatch, Team, [r.TeamResource(id=i, name=f"T{i}") for i in range(1, 6)])
    Team.sync()
    source.data = [record for record in source.data if record.id != 4]

    result = sync_model(Team, on_delete=OnDelete.DELETE)

    assert (result.status, result.deleted, result.kept) == ("succeeded", 1, 0)
    assert source.gets == [4]
    assert sorted(Team.objects.values_list("external_id", flat=True)) == [1, 2, 3, 5]


def test_a_mass_disappearance_deletes_nothing_and_says_why(monkeypatch, mock_api):
    _articles(monkeypatch, paginator=OffsetPaginator(limit=2))
    _store(1, 2, 3)
    _page(mock_api, 0, [])  # an API answering an empty list with 200

    result = sync_model(Article, on_delete=OnDelete.DELETE)

    assert (result.status, result.ok, result.deleted) == ("partial", False, 0)
    assert Article.objects.count() == 3
    message = result.errors[0].message
    assert "3 of the 3 rows of testapp.Article are missing" in message and "max_delete_fraction=0.5" in message
    assert "sync_model(Article, max_delete_fraction=1.0)" in message and "example/articles" in message
    assert len(mock_api.calls) == 1  # refused before any get(): the guard bounds the confirmations too


def test_the_guard_is_overridden_per_run_and_by_the_setting(monkeypatch):
    source = use(monkeypatch, Team, [r.TeamResource(id=i, name=f"T{i}") for i in range(1, 5)])
    Team.sync()
    source.data = source.data[:1]  # 3 of 4 gone

    with override_settings(PYCK={"SYNC_MAX_DELETE_FRACTION": 0.7}):
        refused = sync_model(Team, on_delete=OnDelete.DELETE)
    assert (refused.status, refused.deleted, source.gets) == ("partial", 0, [])
    with override_settings(PYCK={"SYNC_MAX_DELETE_FRACTION": 0.75}):  # 3 of 4 is not more than 0.75
        allowed = sync_model(Team, on_delete=OnDelete.DELETE)
    assert (allowed.status, allowed.deleted, sorted(source.gets)) == ("succeeded", 3, [2, 3, 4])

    source.data = []
    assert sync_model(Team, on_delete=OnDelete.DELETE, max_delete_fraction=1.0).deleted == 1
    assert not Team.objects.exists()


def test_an_error_while_confirming_keeps_the_unconfirmed_rows(monkeypatch):
    class Unreachable(CountingDatasource):
        def get(self, id: Any) -> Any:
            self.gets.append(id)
            if int(id) == 2:
                return MockDatasource.get(self, id)  # 404: confirmed gone
            raise TransportError("Connection refused", datasource=self, url=f"{API}/teams/{id}")

    source = Unreachable([r.TeamResource(id=i, name=f"T{i}") for i in range(1, 9)], resource_type=r.TeamResource,
                         name="mock.Team")
    monkeypatch.setattr(Team.sync_config, "datasource", source)
    Team.sync()
    source.data = [t for t in source.data if t.id not in (2, 3, 4)]

    result = sync_model(Team, on_delete=OnDelete.DELETE)

    assert (result.status, result.deleted) == ("partial", 1)
    assert sorted(Team.objects.values_list("external_id", flat=True)) == [1, 3, 4, 5, 6, 7, 8]
    assert source.gets == [2, 3]  # in external id order; stopped asking at the first error
    error = result.errors[0]
    assert "rows of testapp.Team missing from the listing were kept" in error.message
    assert "Connection refused" in error.message and "mock.Team" in error.message and error.record_id == 3


def test_confirm_delete_off_deletes_without_asking(monkeypatch):
    source = use(monkeypatch, Team, [r.TeamResource(id=i, name=f"T{i}") for i in range(1, 5)])
    Team.sync()
    source.data = source.data[:3]

    result = sync_model(Team, on_delete=OnDelete.DELETE, confirm_delete=False)

    assert (result.deleted, source.gets) == (1, [])


def test_a_record_the_datasource_filter_rejects_counts_as_gone(monkeypatch, mock_api):
    _articles(monkeypatch, paginator=OffsetPaginator(limit=2), filter=lambda article: article.words != 0)
    _store(1, 2, 3)
    _page(mock_api, 0, [_article(1), _article(2)])
    _page(mock_api, 2, [])
    mock_api.get(f"{API}/articles/3", json={"id": 3, "headline": "A3", "words": 0})  # exists, but not listed

    result = sync_model(Article, on_delete=OnDelete.DELETE)

    assert (result.deleted, result.kept) == (1, 0)
    assert sorted(Article.objects.values_list("external_id", flat=True)) == [1, 2]


def test_a_listing_cut_short_by_max_pages_deletes_nothing_and_says_so(monkeypatch, mock_api):
    _articles(monkeypatch, paginator=PageNumberPaginator(max_pages=1))
    _store(1, 2, 3)
    mock_api.get(f"{API}/articles", json=[_article(1)], match=[matchers.query_param_matcher({"page": "1"})])

    result = sync_model(Article, on_delete=OnDelete.DELETE)

    assert (result.truncated, result.status, result.deleted, result.updated) == (True, "partial", 0, 1)
    assert Article.objects.count() == 3
    message = result.errors[0].message
    assert "cut short" in message and "max_pages=1" in message and f"{API}/articles" in message
    assert "nothing was deleted" in message
    assert len(mock_api.calls) == 1  # no get(): deletion was not even considered


def test_a_complete_listing_is_not_truncated(monkeypatch, mock_api):
    _articles(monkeypatch, paginator=PageNumberPaginator(max_pages=3))
    mock_api.get(f"{API}/articles", json=[_article(1)], match=[matchers.query_param_matcher({"page": "1"})])
    mock_api.get(f"{API}/articles", json=[], match=[matchers.query_param_matcher({"page": "2"})])

    result = sync_model(Article, on_delete=OnDelete.DELETE)

    assert (result.truncated, result.status, result.created) == (False, "succeeded", 1)


@pytest.mark.parametrize("value", [-0.1, 1.5, "half", True])
def test_max_delete_fraction_is_validated(value):
    with pytest.raises(ConfigurationError, match=r"max_delete_fraction=\.\.\.\): expected a number from 0"):
        SyncConfig(datasource=CountingDatasource([]), max_delete_fraction=value)
    with pytest.raises(ConfigurationError, match=r"sync_model\(max_delete_fraction=\.\.\.\)"):
        sync_model(Team, max_delete_fraction=value)
