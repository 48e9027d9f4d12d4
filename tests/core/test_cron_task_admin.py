"""The cron task state in the admin: listed, searchable, and read-only (the cron clock writes it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from pyck.core.models import CronTask

pytestmark = pytest.mark.django_db


@pytest.fixture
def task() -> CronTask:
    now = timezone.now()
    return CronTask.objects.create(
        name="sync:testapp.Party",
        interval=timedelta(hours=1),
        next_due=now + timedelta(hours=1),
        last_started=now - timedelta(seconds=3),
        last_finished=now,
        last_status=CronTask.Status.FAILED,
        last_result="Sync of testapp.Party failed",
        last_error="Traceback: the listing failed (HTTP 503)",
        run_count=4,
    )


def test_cron_tasks_are_listed_for_staff(admin_client, task):
    response = admin_client.get(reverse("admin:pyck_crontask_changelist"), {"q": "Party"})

    assert response.status_code == 200
    assert b"sync:testapp.Party" in response.content and b"failed" in response.content


def test_cron_tasks_are_read_only(admin_client, rf, admin_user, task):
    model_admin = admin.site._registry[CronTask]
    request = rf.get("/")
    request.user = admin_user

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, task)
    assert not model_admin.has_delete_permission(request, task)
    assert model_admin.has_view_permission(request, task)
    detail = admin_client.get(reverse("admin:pyck_crontask_change", args=[task.pk]))
    assert detail.status_code == 200 and b"HTTP 503" in detail.content
    assert admin_client.post(reverse("admin:pyck_crontask_delete", args=[task.pk]), {"post": "yes"}).status_code == 403
    assert CronTask.objects.filter(pk=task.pk).exists()
