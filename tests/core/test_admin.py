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


def test_partitioned_runs_are_listed_with_their_partitions_and_read_only(admin_client, rf, admin_user):
    from pyck.core.models import PartitionedRun, PartitionRun

    run = PartitionedRun.objects.create(model="testapp.Article", started=timezone.now(), status="partial", failed=1)
    PartitionRun.objects.create(run=run, name="words-1", order=0, status="succeeded", attempts=1, created=4)
    PartitionRun.objects.create(run=run, name="words-2", order=1, status="partial", attempts=3, failed=1)
    model_admin = admin.site._registry[PartitionedRun]
    request = rf.get("/")
    request.user = admin_user

    listing = admin_client.get(reverse("admin:pyck_partitionedrun_changelist"))
    detail = admin_client.get(reverse("admin:pyck_partitionedrun_change", args=[run.pk]))

    assert listing.status_code == 200 and b"testapp.Article" in listing.content
    assert detail.status_code == 200 and b"words-1" in detail.content and b"words-2" in detail.content
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, run)
    assert not model_admin.has_delete_permission(request, run)
    assert admin_client.post(reverse("admin:pyck_partitionedrun_delete", args=[run.pk]), {"post": "yes"}).status_code == 403
    assert PartitionRun.objects.filter(run=run).count() == 2
