"""The admin at a glance: humanised durations and intervals, the record counts in one column, "resumed" only
when it is true, and no Save buttons on a page where nothing can be edited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import path, reverse
from django.utils import timezone

from pyck.core.admin import SyncedModelAdmin
from pyck.core.models import CronTask, SyncRun
from pyck.core.overview import human_interval, human_seconds
from tests.testapp.models import Article, Team

# The project's own admin (SyncRun, CronTask) plus a site of its own for synced models.
site = admin.AdminSite(name="display")
site.register([Team, Article], SyncedModelAdmin)
urlpatterns = [path("admin/", admin.site.urls), path("synced/", site.urls)]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.014270890000261716, "14 ms"),
        (0, "0 ms"),
        (2.31, "2.3 s"),
        (12.4, "12 s"),
        (60, "1 min"),
        (65, "1 min 5 s"),
        (3720, "1 h 2 min"),
        (7200, "2 h"),
        (None, "-"),
    ],
)
def test_human_seconds(seconds, text):
    assert human_seconds(seconds) == text


@pytest.mark.parametrize(
    ("interval", "text"),
    [
        (timedelta(days=1), "1 day"),
        (timedelta(days=2, hours=6), "2 days 6 h"),
        (timedelta(minutes=15), "15 min"),
        (timedelta(hours=1, minutes=30), "1 h 30 min"),
        (timedelta(seconds=30), "30 s"),
        (None, "-"),
    ],
)
def test_human_interval(interval, text):
    assert human_interval(interval) == text


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_the_sync_run_list_humanises_and_compacts(admin_client):
    now = timezone.now()
    SyncRun.objects.create(model="testapp.Team", started=now, finished=now, status="succeeded", duration=0.014270890000261716,
                           created=3, updated=1, unchanged=5, mode="full")
    SyncRun.objects.create(model="testapp.Article", started=now, finished=now, status="succeeded", duration=65.2,
                           mode="incremental", resumed=True)

    page = admin_client.get(reverse("admin:pyck_syncrun_changelist")).content.decode()

    assert "14 ms" in page and "1 min 5 s" in page and "0.01427" not in page
    assert ">+3 ~1 =5<" in page  # the counts that are not 0
    assert 'title="3 created, 1 updated, 5 unchanged, 0 deleted, 0 failed"' in page
    # "resumed": a tick for the resumed run; the other's cross is hidden (the browser test checks it is not seen).
    assert '#result_list td.field-resumed img[src$="icon-no.svg"] { visibility: hidden; }' in page
    for column in ("column-created", "column-updated", "column-unchanged", "column-deleted", "column-failed", "column-partition"):
        assert column not in page


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_the_cron_task_list_humanises_the_interval(admin_client):
    now = timezone.now()
    CronTask.objects.create(name="sync:testapp.Team", interval=timedelta(days=1), next_due=now,
                            last_started=now, last_duration=timedelta(seconds=2.31))

    page = admin_client.get(reverse("admin:pyck_crontask_changelist")).content.decode()

    assert ">1 day<" in page and "1 day, 0:00:00" not in page
    assert ">2.3 s<" in page
    assert f'<span style="white-space: nowrap">{timezone.localtime(now):%Y-%m-%d %H:%M:%S}</span>' in page


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_read_only_change_pages_have_no_save_buttons(admin_client):
    run = SyncRun.objects.create(model="testapp.Team", started=timezone.now(), status="succeeded")
    team = Team.objects.create(external_id=1, name="Reds")  # every field of Team is synced: nothing to edit
    article = Article.objects.create(external_id=2, title="Hello", word_count=1)  # notes, starred: editable

    for url in (reverse("admin:pyck_syncrun_change", args=[run.pk]), reverse("display:testapp_team_change", args=[team.pk])):
        page = admin_client.get(url).content.decode()
        assert 'name="_save"' not in page and 'name="_continue"' not in page, url
    page = admin_client.get(reverse("display:testapp_article_change", args=[article.pk])).content.decode()
    assert 'name="_save"' in page
