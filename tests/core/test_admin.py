"""The SyncRun admin: listed, searchable, and read-only."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from pyck.core.datasources import SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def run() -> SyncRun:
    return SyncRun.objects.create(model="testapp.Team", started=timezone.now(), status="partial", failed=2,
                                  errors=[{"record_id": 7, "message": "bad"}])


def test_sync_runs_are_listed_for_staff(admin_client, run):
    response = admin_client.get(reverse("admin:pyck_syncrun_changelist"))

    assert response.status_code == 200
    assert b"testapp.Team" in response.content


def test_sync_runs_are_read_only(admin_client, rf, admin_user, run):
    model_admin = admin.site._registry[SyncRun]
    request = rf.get("/")
    request.user = admin_user

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, run)
    assert not model_admin.has_delete_permission(request, run)
    assert model_admin.has_view_permission(request, run)
    assert admin_client.get(reverse("admin:pyck_syncrun_add")).status_code == 403
    detail = admin_client.get(reverse("admin:pyck_syncrun_change", args=[run.pk]))
    assert detail.status_code == 200 and b"bad" in detail.content
    assert admin_client.post(reverse("admin:pyck_syncrun_delete", args=[run.pk]), {"post": "yes"}).status_code == 403
    assert SyncRun.objects.filter(pk=run.pk).exists()
