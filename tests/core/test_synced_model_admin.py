"""SyncedModelAdmin: synced fields read-only, local fields editable, the "Sync now" action, pages that render."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib import admin, messages
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import path, reverse
from django.utils import timezone

from pyck.core.admin import SyncedModelAdmin
from pyck.core.datasources import MockDatasource, ResponseError, SyncRun
from tests.testapp.models import MP, Article, Constituency, Party, Team
from tests.testapp.resources import ArticleResource, ByLine

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

# An admin site of its own, so these registrations stay out of the project's admin.site.
site = admin.AdminSite(name="synced")


@admin.register(Article, site=site)
class ArticleAdmin(SyncedModelAdmin):
    list_display = ["title", "starred"]


@admin.register(Constituency, site=site)
class ConstituencyAdmin(SyncedModelAdmin):
    list_display = ["name", "current_mp__name"]
    search_fields = ["name"]


site.register([MP, Party, Team], SyncedModelAdmin)

urlpatterns = [path("admin/", site.urls)]

SYNCED = {"title", "author_name", "published", "price", "word_count"}
LOCAL = {"notes", "starred", "extra"}  # extra has a counterpart on the resource but field_map excludes it


def _article(id: int, headline: str, words: int = 10) -> ArticleResource:
    return ArticleResource(id=id, headline=headline, author=ByLine(name="Ann Author"), words=words)


@pytest.fixture
def article() -> Article:
    return Article.objects.create(external_id=1, title="Old title", word_count=3, last_sync_time=timezone.now())


@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch) -> MockDatasource[ArticleResource]:
    """The articles' datasource, swapped for one the test fills."""
    datasource = MockDatasource[ArticleResource](resource_type=ArticleResource, name="mock.articles")
    monkeypatch.setattr(Article.sync_config, "datasource", datasource)
    return datasource


def _admin(model: type[Any]) -> SyncedModelAdmin:
    model_admin = site._registry[model]
    assert isinstance(model_admin, SyncedModelAdmin)
    return model_admin


def _run_action(client: Client, *pks: Any) -> tuple[Any, list[messages.storage.base.Message]]:
    response = client.post(
        reverse("synced:testapp_article_changelist"),
        {"action": "sync_now", admin.helpers.ACTION_CHECKBOX_NAME: [str(pk) for pk in pks]},
        follow=True,
    )
    assert response.status_code == 200
    return response, list(response.context["messages"])


# --- Read-only and editable fields ----------------------------------------------------------------------------


def test_synced_fields_external_id_and_last_sync_time_are_read_only(rf, admin_user):
    request = rf.get("/")
    request.user = admin_user

    readonly = set(_admin(Article).get_readonly_fields(request))

    assert readonly == SYNCED | {"external_id", "last_sync_time"}
    assert not readonly & LOCAL


def test_the_change_form_edits_local_fields_only(admin_client, article):
    url = reverse("synced:testapp_article_change", args=[article.pk])

    form = admin_client.get(url).context["adminform"].form
    assert set(form.fields) == LOCAL

    response = admin_client.post(
        url, {"notes": "call back", "starred": "on", "extra": '{"tag": 1}', "title": "Hacked", "external_id": "99"}
    )
    assert response.status_code == 302, response.content
    article.refresh_from_db()
    assert (article.notes, article.starred, article.extra) == ("call back", True, {"tag": 1})
    assert (article.title, article.external_id) == ("Old title", 1)


def test_the_read_only_fields_follow_the_sync_config(rf, admin_user, monkeypatch):
    request = rf.get("/")
    request.user = admin_user
    monkeypatch.setattr(Article.sync_config, "field_map", {"title": None, "extra": "extra"})

    readonly = set(_admin(Article).get_readonly_fields(request))

    # title is no longer synced; extra now is; author_name and word_count lost their field_map source.
    assert "title" not in readonly and "extra" in readonly
    assert {"published", "price", "external_id", "last_sync_time"} <= readonly


def test_inverse_relations_are_synced_but_not_form_fields(rf, admin_user):
    request = rf.get("/")
    request.user = admin_user

    assert set(_admin(Team).get_readonly_fields(request)) == {"name", "external_id", "last_sync_time"}


def test_list_display_gains_external_id_and_last_sync_time(rf, admin_user):
    request = rf.get("/")
    request.user = admin_user

    assert _admin(Article).get_list_display(request) == ["title", "starred", "external_id", "last_sync_time"]
    assert _admin(Party).get_list_display(request) == ["__str__", "external_id", "last_sync_time"]


def test_it_mixes_in_front_of_another_model_admin(rf, admin_user):
    class HouseStyleAdmin(admin.ModelAdmin):
        readonly_fields = ["starred"]
        list_display = ["title"]
        list_per_page = 7

    class MixedAdmin(SyncedModelAdmin, HouseStyleAdmin):
        pass

    request = rf.get("/")
    request.user = admin_user
    mixed = MixedAdmin(Article, site)

    assert set(mixed.get_readonly_fields(request)) == SYNCED | {"external_id", "last_sync_time", "starred"}
    assert mixed.get_list_display(request) == ["title", "external_id", "last_sync_time"]
    assert mixed.list_per_page == 7 and "sync_now" in mixed.get_actions(request)


def test_rows_cannot_be_added_by_hand(admin_client):
    assert admin_client.get(reverse("synced:testapp_article_add")).status_code == 403


# --- Pages ----------------------------------------------------------------------------------------------------


def test_changelist_pages_render(admin_client, article):
    party = Party.objects.create(external_id=17, name="Liberal Democrat", background_colour="FAA01A")
    mp = MP.objects.create(external_id=4786, name="Mr Angus MacDonald", latest_party=party)
    Constituency.objects.create(
        external_id=4520, name="Inverness, Skye and West Ross-shire", current_mp=mp, last_sync_time=timezone.now()
    )
    Team.objects.create(external_id=1, name="Reds")

    for model in (Constituency, MP, Party, Article, Team):
        url = reverse(f"synced:testapp_{model._meta.model_name}_changelist")
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert b"Sync now" in response.content
        assert b"column-external_id" in response.content and b"column-last_sync_time" in response.content

    page = admin_client.get(reverse("synced:testapp_constituency_changelist"), {"q": "Skye"}).content.decode()
    assert "Inverness, Skye and West Ross-shire" in page and "Mr Angus MacDonald" in page and "4520" in page


def test_the_changelist_says_last_changed_by_a_sync_and_when_the_data_was_last_checked(admin_client, article):
    from datetime import timedelta

    from pyck.core.overview import when

    url = reverse("synced:testapp_article_changelist")
    page = admin_client.get(url).content.decode()
    assert "Last changed by a sync" in page and "Last sync time" not in page
    assert "Data last checked: never (no sync of it has succeeded yet)." in page
    assert admin_client.get(url, {"o": "4"}).context["cl"].get_ordering_field_columns() == {4: "asc"}

    checked = timezone.now() - timedelta(minutes=3)
    for status, finished in (("succeeded", checked - timedelta(hours=1)), ("succeeded", checked), ("failed", None)):
        SyncRun.objects.create(model="testapp.Article", status=status, started=checked, finished=finished)
    SyncRun.objects.create(model="testapp.Party", status="succeeded", started=checked, finished=timezone.now())
    page = admin_client.get(url).content.decode()
    assert f"Data last checked: {when(checked)} (the last successful sync)." in page
    assert "field-last_sync_time" in page  # the cell of the one row


# --- The "Sync now" action ------------------------------------------------------------------------------------


def test_sync_now_syncs_the_model_and_reports_success(admin_client, article, remote):
    remote.data = [_article(1, "New title"), _article(2, "Second")]

    response, [message] = _run_action(admin_client, article.pk)

    assert message.level == messages.SUCCESS
    assert "testapp.Article succeeded: 1 created, 1 updated" in message.message
    assert message.message in response.content.decode()
    assert sorted(Article.objects.values_list("external_id", "title")) == [(1, "New title"), (2, "Second")]
    assert SyncRun.objects.get(model="testapp.Article").status == "succeeded"


def test_sync_now_warns_when_records_failed(admin_client, article, remote):
    remote.data = [_article(1, "Fine"), _article(5, "Negative words", words=-1)]

    _, [message] = _run_action(admin_client, article.pk)

    assert message.level == messages.WARNING
    assert "partial" in message.message and "1 failed" in message.message
    assert "record id 5" in message.message
    assert Article.objects.get(external_id=1).title == "Fine"


class _FailingDatasource(MockDatasource[ArticleResource]):
    def __init__(self, error: BaseException) -> None:
        super().__init__(resource_type=ArticleResource, name="mock.failing")
        self.error = error

    def list(self, **filter: Any) -> Iterator[ArticleResource]:
        raise self.error


def test_sync_now_reports_a_failed_listing_as_an_error(admin_client, article, monkeypatch):
    error = ResponseError("The API answered 503", url="https://api.example/articles", status_code=503)
    monkeypatch.setattr(Article.sync_config, "datasource", _FailingDatasource(error))

    _, [message] = _run_action(admin_client, article.pk)

    assert message.level == messages.ERROR
    assert "failed" in message.message and "503" in message.message and "mock.failing" in message.message
    assert Article.objects.get().title == "Old title"


def test_sync_now_survives_a_crash_and_logs_it(admin_client, article, monkeypatch, caplog):
    monkeypatch.setattr(Article.sync_config, "datasource", _FailingDatasource(RuntimeError("boom")))

    _, [message] = _run_action(admin_client, article.pk)

    assert message.level == messages.ERROR
    assert "testapp.Article" in message.message and "mock.failing" in message.message and "boom" in message.message
    assert any(r.name == "pyck.admin" and r.exc_info for r in caplog.records)
    assert SyncRun.objects.get(model="testapp.Article").status == "failed"


def test_the_sync_now_button_syncs_an_empty_list(admin_client, remote):
    remote.data = [_article(1, "First"), _article(2, "Second")]
    changelist = reverse("synced:testapp_article_changelist")
    sync_url = reverse("synced:testapp_article_sync")

    page = admin_client.get(changelist).content.decode()
    assert f'<form method="post" action="{sync_url}" id="pyck-sync-now">' in page
    assert 'name="_selected_action"' not in page  # nothing to select: the action cannot run

    response = admin_client.post(sync_url)
    assert response.status_code == 302 and response["Location"] == changelist
    [message] = list(admin_client.get(changelist).context["messages"])
    assert message.level == messages.SUCCESS and "2 created" in message.message
    assert Article.objects.count() == 2


def test_the_sync_now_button_only_posts(admin_client, remote):
    assert admin_client.get(reverse("synced:testapp_article_sync")).status_code == 405
    assert not SyncRun.objects.exists()


def test_sync_now_needs_the_change_permission(client, article, remote):
    remote.data = [_article(1, "New title")]
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_article"))
    client.force_login(viewer)

    page = client.get(reverse("synced:testapp_article_changelist"))
    assert page.status_code == 200 and b"Sync now" not in page.content

    client.post(
        reverse("synced:testapp_article_changelist"),
        {"action": "sync_now", admin.helpers.ACTION_CHECKBOX_NAME: [str(article.pk)]},
    )
    assert client.post(reverse("synced:testapp_article_sync")).status_code == 403
    assert Article.objects.get().title == "Old title"
    assert not SyncRun.objects.exists()


# --- Sync now and the cron clock ------------------------------------------------------------------------------


def test_sync_now_refuses_while_the_clock_holds_the_models_lease(admin_client, article, remote):
    from pyck.core.models import CronTask

    remote.data = [_article(1, "New title")]
    CronTask.objects.create(
        name="sync:testapp.Article", interval=timezone.timedelta(hours=1), next_due=timezone.now(),
        lease_owner="clock@elsewhere:1:abc", lease_expires=timezone.now() + timezone.timedelta(minutes=5),
    )

    _, sent = _run_action(admin_client, article.pk)

    assert "running already" in str(sent[0]) and sent[0].level == messages.WARNING
    assert not SyncRun.objects.exists() and Article.objects.get().title == "Old title"
    assert CronTask.objects.get().lease_owner == "clock@elsewhere:1:abc"  # not taken over


def test_sync_now_holds_the_lease_while_it_syncs_and_records_the_outcome(admin_client, article, remote, monkeypatch):
    from pyck.core.models import CronTask

    task = CronTask.objects.create(name="sync:testapp.Article", interval=timezone.timedelta(hours=1), next_due=timezone.now())
    seen: list[str] = []

    def listing(**filter: Any) -> Any:
        seen.append(CronTask.objects.get(pk=task.pk).lease_owner)  # while the sync runs
        return iter([_article(1, "New title")])

    monkeypatch.setattr(remote, "list", listing)

    _run_action(admin_client, article.pk)

    assert seen[0].startswith("admin@")
    task.refresh_from_db()
    assert (task.lease_owner, task.lease_expires, task.last_status) == ("", None, "succeeded")
    assert Article.objects.get().title == "New title"


def test_sync_now_moves_the_next_due_time_so_the_clock_does_not_sync_again_at_once(admin_client, article, remote):
    from pyck.core.cron import jobs as registry
    from pyck.core.cron.clock import Clock
    from pyck.core.models import CronTask

    remote.data = [_article(1, "New title")]
    task = CronTask.objects.create(name="sync:testapp.Article", interval=timezone.timedelta(days=1), next_due=timezone.now())

    _run_action(admin_client, article.pk)

    task.refresh_from_db()
    assert (task.last_status, task.run_count, task.lease_owner) == ("succeeded", 1, "")
    assert task.last_result.startswith("Sync of testapp.Article succeeded")
    assert task.next_due == task.last_finished + Article.sync_config.sync_interval
    saved = dict(registry._jobs)
    try:
        registry.autodiscover()
        assert Clock([registry.get_cron_job("sync:testapp.Article")]).run_due() == [], "not due: just synced"
    finally:
        registry._jobs.clear()
        registry._jobs.update(saved)
    assert SyncRun.objects.filter(model="testapp.Article").count() == 1


def test_sync_now_takes_the_lease_before_the_clock_has_made_the_models_row(admin_client, article, remote, monkeypatch):
    from pyck.core.models import CronTask

    seen: list[str] = []

    def listing(**filter: Any) -> Any:
        seen.append(CronTask.objects.get(name="sync:testapp.Article").lease_owner)  # while the sync runs
        return iter([_article(1, "New title")])

    monkeypatch.setattr(remote, "list", listing)

    _run_action(admin_client, article.pk)

    assert seen[0].startswith("admin@")
    task = CronTask.objects.get(name="sync:testapp.Article")
    assert (task.lease_owner, task.last_status) == ("", "succeeded")
    assert task.next_due == task.last_finished + Article.sync_config.sync_interval
