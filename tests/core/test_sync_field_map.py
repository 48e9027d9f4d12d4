"""`field_map` paths the records cannot carry: refused when the resource type says so (check and sync), reported
when it cannot say (dict records); computed values (`@property`) mapped like any attribute."""

from __future__ import annotations

import functools
import io
import logging
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from pyck.core.checks import check_synced_models
from pyck.core.datasources import ConfigurationError, SyncRun
from pyck.core.sync import sync_model
from pyck.core.sync.attributes import resource_attributes, undeclared_step
from tests.testapp import resources as r
from tests.testapp.models import Article, Team
from tests.testapp.testing import use

FIELD_MAP = {"title": "headline", "author_name": "author.name", "word_count": "words", "extra": None}


def _articles() -> list[r.ArticleResource]:
    return [r.ArticleResource(id=i, headline=f"H{i}", author=r.ByLine(name="Ann"), words=i) for i in (1, 2, 3)]


def _errors(model: Any) -> dict[str, Any]:
    return {m.id: m for m in check_synced_models() if m.obj is model}


# --- A resource type that declares its attributes: check and sync refuse a path it does not declare ----------


@pytest.mark.django_db
def test_a_mistyped_source_is_a_check_error_with_the_close_matches(monkeypatch):
    monkeypatch.setattr(Article.sync_config, "field_map", {**FIELD_MAP, "title": "headlin"})
    error = _errors(Article)["pyck.E018"]
    assert error.is_serious()
    assert error.msg.startswith("testapp.Article: SyncConfig(field_map={'title': 'headlin'}) reads 'headlin', which the "
                                "resource type ArticleResource does not declare")
    assert error.hint.startswith("Did you mean 'headline'? ArticleResource declares: author, extra, headline, id,")
    with pytest.raises(Exception, match=r"pyck\.E018"):
        call_command("check")


def test_a_mistyped_step_of_a_dotted_path_is_found_through_the_annotations(monkeypatch):
    monkeypatch.setattr(Article.sync_config, "field_map", {**FIELD_MAP, "author_name": "author.nmae"})
    error = _errors(Article)["pyck.E018"]
    assert "reads 'nmae' of author, which the resource type ByLine does not declare" in error.msg
    assert error.hint.startswith("Did you mean 'name'? ByLine declares: name.")


@pytest.mark.django_db
def test_the_sync_refuses_a_mistyped_source_before_reading_or_writing_anything(monkeypatch):
    datasource = use(monkeypatch, Article, _articles())
    monkeypatch.setattr(Article.sync_config, "field_map", {**FIELD_MAP, "title": "headlin"})

    with pytest.raises(ConfigurationError) as refused:
        sync_model(Article)

    message = str(refused.value)
    assert message.startswith(
        "testapp.Article: SyncConfig(field_map={'title': 'headlin'}) reads 'headlin', which the resource type "
        "ArticleResource does not declare, so title would be left empty in every row: the sync refuses to run. "
        "Did you mean 'headline'?"
    )
    assert datasource.lists == 0 and not Article.objects.exists()
    run = SyncRun.objects.get(model="testapp.Article")
    assert run.status == SyncRun.Status.FAILED and message in run.errors[0]["message"]


@pytest.mark.django_db
def test_run_cron_tasks_once_reports_the_refused_sync_as_failed_and_runs_the_others(monkeypatch):
    use(monkeypatch, Article, _articles())
    use(monkeypatch, Team, [r.TeamResource(id=1, name="Reds")])
    monkeypatch.setattr(Article.sync_config, "field_map", {**FIELD_MAP, "title": "headlin"})
    stdout = io.StringIO()

    with pytest.raises(CommandError, match=r"1 of 2 cron task\(s\) failed: sync:testapp.Article"):
        call_command("run_cron_tasks", "--once", "testapp.Article", "testapp.Team", stdout=stdout)

    (line,) = [line for line in stdout.getvalue().splitlines() if "failed      sync:testapp.Article" in line]
    assert "ConfigurationError: testapp.Article: SyncConfig(field_map={'title': 'headlin'}) reads 'headlin'" in line
    assert not Article.objects.exists() and Team.objects.get().name == "Reds"
    assert SyncRun.objects.get(model="testapp.Article").status == SyncRun.Status.FAILED


# --- Computed values ----------------------------------------------------------------------------------------


@dataclass
class ComputedArticle:
    id: int
    headline: str
    first_name: str
    last_name: str

    @property
    def author_name(self) -> str:
        """Filled by the default mapping: a model field of the same name."""
        return f"{self.first_name} {self.last_name}"

    @functools.cached_property
    def length(self) -> int:
        """Named in field_map."""
        return len(self.headline)


@pytest.mark.django_db
def test_properties_are_mapped_by_default_and_through_field_map(monkeypatch):
    use(monkeypatch, Article, [ComputedArticle(1, "Hello", "Ada", "Lovelace")], ComputedArticle)
    monkeypatch.setattr(Article.sync_config, "field_map", {"title": "headline", "word_count": "length"})

    assert _errors(Article) == {}
    assert sync_model(Article).created == 1
    article = Article.objects.get()
    assert (article.title, article.author_name, article.word_count) == ("Hello", "Ada Lovelace", 5)


# --- Records that cannot say (dicts): a path no record carried is reported ---------------------------------


@pytest.mark.django_db
def test_a_path_no_dict_record_carried_is_reported_in_the_result_the_log_and_the_sync_run(monkeypatch, caplog):
    records = [{"id": i, "headline": f"H{i}", "words": i} for i in (1, 2, 3)]
    use(monkeypatch, Article, records, dict)
    monkeypatch.setattr(Article.sync_config, "field_map", {"title": "headlin", "word_count": "words"})
    assert _errors(Article) == {}  # a dict cannot say what it holds

    with caplog.at_level(logging.WARNING, logger="pyck.sync"):
        result = sync_model(Article)

    assert result.ok and result.created == 3
    assert list(Article.objects.values_list("title", "word_count")) == [("", 1), ("", 2), ("", 3)]
    (warning,) = result.notes
    assert warning == (
        "testapp.Article: SyncConfig(field_map={'title': 'headlin'}) reads 'headlin', which none of the 3 records of "
        "this run carried: title was left as it was (empty in the rows created). Did you mean 'headline'? The first "
        "record carries: headline, id, words."
    )
    assert [(rec.levelname, rec.getMessage()) for rec in caplog.records if "headlin'" in rec.getMessage()] == [
        ("WARNING", warning)
    ]
    run = SyncRun.objects.get(model="testapp.Article")
    assert run.errors == []
    assert [(w["kind"], w["field"], w["count"]) for w in run.warnings] == [("absent", "title", 3)]


@pytest.mark.django_db
def test_a_path_some_dict_record_carried_or_an_empty_listing_says_nothing(monkeypatch):
    use(monkeypatch, Article, [{"id": 1, "headline": "a"}, {"id": 2, "headline": "b", "author": {"name": "Bo"}}], dict)
    monkeypatch.setattr(Article.sync_config, "field_map", {"title": "headline", "author_name": "author.name"})
    result = sync_model(Article)
    assert result.ok and result.notes == [] and result.errors == []
    assert dict(Article.objects.values_list("external_id", "author_name")) == {1: "", 2: "Bo"}

    use(monkeypatch, Article, [], dict)
    monkeypatch.setattr(Article.sync_config, "field_map", {"title": "headlin"})
    assert sync_model(Article).notes == []


# --- What a resource type declares --------------------------------------------------------------------------


@dataclass
class _Inner:
    name: str


class _Annotated:
    one: _Inner | None
    many: list[_Inner]
    either: _Inner | int
    anything: Any

    @property
    def computed(self) -> _Inner:
        return _Inner("x")


def test_resource_attributes_include_computed_values_and_follow_annotations():
    assert resource_attributes(_Annotated) == {"one", "many", "either", "anything", "computed"}
    assert resource_attributes(dict) is None and resource_attributes(None, {"a": 1}) == {"a"}
    assert resource_attributes(None, ComputedArticle(1, "h", "a", "b")) >= {"author_name", "length", "headline"}
    for declared in ("one.name", "computed.name", "many.anything", "either.nmae", "anything.x.y"):
        assert undeclared_step(_Annotated, declared) is None, declared  # declared, or a type that cannot say
    for path, step, before in (("nmae", "nmae", ""), ("one.nmae", "nmae", "one"), ("computed.nmae", "nmae", "computed")):
        found = undeclared_step(_Annotated, path)
        assert found is not None and (found.path, found.step, found.before) == (path, step, before)
    assert undeclared_step(dict, "anything") is None
