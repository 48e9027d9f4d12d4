"""Nobody gets in: the admin's "Sync now" (action and button) needs a staff user with the model's change
permission and a CSRF token; the sync history (SyncRun), the cron schedule (CronTask) and the sync state need
their view permission and cannot be edited by anyone; resetting a sync state needs its delete permission.

Every refused attempt is checked for its effect too: no request reached the datasource's API (a real
``RestDatasource``, its API mocked with ``responses``) and no ``SyncRun`` was written.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import responses
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import path, reverse
from django.utils import timezone

from pyck.core.admin import CronTaskAdmin, SyncedModelAdmin, SyncRunAdmin, SyncStateAdmin
from pyck.core.datasources import NoPaginator, RestDatasource, SyncRun
from pyck.core.models import CronTask, SyncState
from tests.testapp.models import Article
from tests.testapp.resources import ArticleResource

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

site = admin.AdminSite(name="guarded")
site.register(Article, SyncedModelAdmin)
site.register(SyncRun, SyncRunAdmin)
site.register(CronTask, CronTaskAdmin)
site.register(SyncState, SyncStateAdmin)
urlpatterns = [path("admin/", site.urls)]

API = "http://api.admin.test"
CHANGELIST = "guarded:testapp_article_changelist"
SYNC = "guarded:testapp_article_sync"


class Articles(RestDatasource[ArticleResource]):
    resource_type = ArticleResource
    path = "/articles"
    paginator = NoPaginator()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[responses.RequestsMock]:
    """Article's datasource is a REST API listing one article; ``api.calls`` are the requests it received."""
    monkeypatch.setattr(Article.sync_config, "datasource", Articles(base_url=API, name="guarded.articles"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{API}/articles", json=[{"id": 1, "headline": "Synced", "author": {"name": "Ann"}, "words": 3}])
        yield mock


@pytest.fixture
def article() -> Article:
    return Article.objects.create(external_id=1, title="Stored", word_count=1)


def _user(*permissions: str, staff: bool = True) -> User:
    user = User.objects.create_user(f"user{User.objects.count()}", password="pw", is_staff=staff)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def _client(user: User | None, **kwargs: object) -> Client:
    client = Client(**kwargs)  # type: ignore[arg-type]
    if user is not None:
        client.force_login(user)
    return client


def _try_every_way_to_sync(client: Client, article: Article) -> list[int]:
    """Post the button and the action; return the status codes."""
    button = client.post(reverse(SYNC))
    action = client.post(
        reverse(CHANGELIST), {"action": "sync_now", admin.helpers.ACTION_CHECKBOX_NAME: [str(article.pk)]}
    )
    return [button.status_code, action.status_code]


def _assert_nothing_synced(api: responses.RequestsMock) -> None:
    assert len(api.calls) == 0, "the datasource's API was called"
    assert not SyncRun.objects.exists()
    assert Article.objects.get(external_id=1).title == "Stored"


def test_anonymous_users_are_sent_to_the_login_page_and_nothing_syncs(api, article) -> None:
    client = _client(None)

    page = client.get(reverse(CHANGELIST))
    codes = _try_every_way_to_sync(client, article)

    assert page.status_code == 302 and "/login/" in page["Location"]
    assert codes == [302, 302]
    _assert_nothing_synced(api)


def test_users_who_are_not_staff_cannot_sync_whatever_their_permissions(api, article) -> None:
    client = _client(_user("testapp.view_article", "testapp.change_article", staff=False))

    assert _try_every_way_to_sync(client, article) == [302, 302]  # to the admin's login page
    _assert_nothing_synced(api)


def test_staff_without_a_permission_on_the_model_get_403_and_nothing_syncs(api, article) -> None:
    client = _client(_user("pyck.view_syncrun"))

    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert _try_every_way_to_sync(client, article) == [403, 403]
    _assert_nothing_synced(api)


def test_staff_who_may_only_view_the_model_are_not_offered_sync_now_and_nothing_syncs(api, article) -> None:
    client = _client(_user("testapp.view_article"))

    page = client.get(reverse(CHANGELIST))
    codes = _try_every_way_to_sync(client, article)

    assert page.status_code == 200 and b"pyck-sync-now" not in page.content and b'value="sync_now"' not in page.content
    assert codes[0] == 403  # the button's URL
    assert codes[1] == 200  # the change list again: the action is not one this user has
    _assert_nothing_synced(api)


def test_staff_who_may_change_the_model_can_sync_now(api, article) -> None:
    client = _client(_user("testapp.change_article"))

    page = client.get(reverse(CHANGELIST))
    button = client.post(reverse(SYNC))

    assert page.status_code == 200 and b"pyck-sync-now" in page.content and b'value="sync_now"' in page.content
    assert button.status_code == 302
    assert len(api.calls) == 1
    assert SyncRun.objects.get().status == "succeeded"
    assert Article.objects.get(external_id=1).title == "Synced"

    client.post(reverse(CHANGELIST), {"action": "sync_now", admin.helpers.ACTION_CHECKBOX_NAME: [str(article.pk)]})
    assert len(api.calls) == 2 and SyncRun.objects.count() == 2


def test_sync_now_refuses_a_post_without_the_csrf_token(api, article, admin_user) -> None:
    client = _client(admin_user, enforce_csrf_checks=True)

    assert _try_every_way_to_sync(client, article) == [403, 403]
    _assert_nothing_synced(api)


@pytest.fixture
def history() -> tuple[SyncRun, CronTask]:
    now = timezone.now()
    run = SyncRun.objects.create(model="testapp.Article", started=now, status="failed", errors=[{"message": "503"}])
    task = CronTask.objects.create(
        name="sync:testapp.Article", interval=timedelta(hours=1), next_due=now, last_status=CronTask.Status.FAILED
    )
    return run, task


@pytest.mark.parametrize("model", [SyncRun, CronTask, SyncState])
def test_sync_history_schedule_and_state_need_the_view_permission(model, history) -> None:
    SyncState.objects.create(model="testapp.Article", checkpoint={"position": 40})
    row = model.objects.get()
    name = f"guarded:pyck_{model._meta.model_name}"
    without = _client(_user("testapp.change_article"))
    viewer = _client(_user(f"pyck.view_{model._meta.model_name}"))

    assert without.get(reverse(f"{name}_changelist")).status_code == 403
    assert without.get(reverse(f"{name}_change", args=[row.pk])).status_code == 403
    assert viewer.get(reverse(f"{name}_changelist")).status_code == 200
    assert viewer.get(reverse(f"{name}_change", args=[row.pk])).status_code == 200


@pytest.mark.parametrize("model", [SyncRun, CronTask, SyncState])
def test_sync_history_schedule_and_state_cannot_be_edited_even_by_a_superuser(model, history, admin_client) -> None:
    SyncState.objects.create(model="testapp.Article", checkpoint={"position": 40})
    row = model.objects.get()
    before = model.objects.values().get()
    name = f"guarded:pyck_{model._meta.model_name}"
    forged = {field.name: "forged" for field in model._meta.concrete_fields if field.name != "id"}

    assert admin_client.get(reverse(f"{name}_add")).status_code == 403
    assert admin_client.post(reverse(f"{name}_add"), forged).status_code == 403
    assert admin_client.post(reverse(f"{name}_change", args=[row.pk]), forged).status_code == 403
    assert admin_client.post(reverse(f"{name}_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    assert model.objects.values().get() == before


def test_resetting_a_sync_state_needs_its_delete_permission(history) -> None:
    state = SyncState.objects.create(model="testapp.Article", checkpoint={"position": 40})
    changelist = reverse("guarded:pyck_syncstate_changelist")
    reset = {"action": "reset_sync_state", admin.helpers.ACTION_CHECKBOX_NAME: [str(state.pk)]}
    viewer = _client(_user("pyck.view_syncstate"))
    resetter = _client(_user("pyck.view_syncstate", "pyck.delete_syncstate"))

    assert b'value="reset_sync_state"' not in viewer.get(changelist).content
    viewer.post(changelist, reset)
    assert SyncState.objects.filter(pk=state.pk).exists()

    assert b'value="reset_sync_state"' in resetter.get(changelist).content
    assert resetter.post(changelist, reset).status_code == 302
    assert not SyncState.objects.filter(pk=state.pk).exists()
