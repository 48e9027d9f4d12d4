"""The sync state in the admin (issue #7): SyncStateAdmin lists each model's cursor and checkpoint read-only, and
its "Reset sync state" action needs the delete permission; SyncRunAdmin shows partition, mode and resumed; a
SyncedModelAdmin's change list says how the model syncs and where it has got to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import path, reverse

from pyck.core.overview import when
from pyck.core.sync.cursor import encode_value
from pyck.core.admin import SyncedModelAdmin, SyncRunAdmin, SyncStateAdmin
from pyck.core.models import SyncRun, SyncState
from tests.testapp.models import Ticket

from .helpdesk import T0

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

# An admin site of its own, so that Ticket's registration stays out of the project's admin.site.
site = admin.AdminSite(name="state")
site.register(SyncState, SyncStateAdmin)
site.register(SyncRun, SyncRunAdmin)
site.register(Ticket, SyncedModelAdmin)

urlpatterns = [path("admin/", site.urls)]

CHANGELIST = "state:pyck_syncstate_changelist"
ACTION = "reset_sync_state"
CHECKPOINT = {
    "mode": "full",
    "filter": "{}",
    "since": None,
    "started": T0.isoformat(),
    "position": {"page": 20, "index": 10},
    "high": None,
    "failed": 0,
}


@pytest.fixture
def states() -> dict[str, SyncState]:
    return {
        "plain": SyncState.objects.create(
            model="testapp.Ticket",
            cursor=encode_value(T0 + timedelta(hours=5)),
            cursor_updated=T0,
            checkpoint=CHECKPOINT,
            checkpoint_updated=T0,
            last_full_sync=T0,
        ),
        "north": SyncState.objects.create(model="testapp.Ticket", partition="north", cursor=encode_value(41)),
        "other": SyncState.objects.create(model="testapp.Article"),
    }


def staff(*codenames: str) -> Client:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="pyck", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def offered_actions(response: Any) -> list[str]:
    form = response.context["action_form"]
    return [] if form is None else [name for name, _ in form.fields["action"].choices if name]


def reset(client: Client, *rows: SyncState) -> Any:
    return client.post(
        reverse(CHANGELIST),
        {"action": ACTION, admin.helpers.ACTION_CHECKBOX_NAME: [str(row.pk) for row in rows]},
        follow=True,
    )


def test_the_default_admin_site_has_the_sync_state() -> None:
    assert isinstance(admin.site._registry[SyncState], SyncStateAdmin)


def test_sync_states_are_listed_with_their_cursor_and_checkpoint_described(admin_client, states):
    response = admin_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    text = response.content.decode()
    assert (T0 + timedelta(hours=5)).isoformat() in text and ">41<" in text
    assert f"after record 10 of page 20 of a full run started {when(T0)}" in text
    assert ACTION in offered_actions(response)


def test_sync_states_are_read_only(admin_client, admin_user, rf, states):
    row = states["plain"]
    model_admin = site._registry[SyncState]
    request = rf.get("/")
    request.user = admin_user

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, row)
    assert not model_admin.has_delete_permission(request, row)
    assert admin_client.get(reverse("state:pyck_syncstate_change", args=[row.pk])).status_code == 200
    assert admin_client.post(reverse("state:pyck_syncstate_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    assert SyncState.objects.filter(pk=row.pk).exists()


def test_the_reset_action_deletes_the_selected_rows_only(admin_client, states):
    response = reset(admin_client, states["plain"], states["north"])

    assert response.status_code == 200
    assert list(SyncState.objects.all()) == [states["other"]]
    [message] = list(response.context["messages"])
    assert str(message) == (
        "Reset the sync state of testapp.Ticket, testapp.Ticket [north]: the next run of each reads the whole "
        "listing from the start."
    )


def test_the_reset_action_needs_the_delete_permission(states):
    viewer = staff("view_syncstate")
    response = viewer.get(reverse(CHANGELIST))
    assert response.status_code == 200 and ACTION not in offered_actions(response)
    reset(viewer, states["plain"])
    assert SyncState.objects.count() == 3  # posting the action anyway does nothing

    User.objects.get(username="staff").user_permissions.add(Permission.objects.get(codename="delete_syncstate"))
    assert ACTION in offered_actions(viewer.get(reverse(CHANGELIST)))
    reset(viewer, states["plain"])
    assert not SyncState.objects.filter(pk=states["plain"].pk).exists()


def test_staff_without_the_view_permission_cannot_see_the_sync_state(states):
    assert staff().get(reverse(CHANGELIST)).status_code == 403


def test_sync_runs_show_and_filter_partition_mode_and_resumed(admin_client):
    SyncRun.objects.create(model="testapp.Ticket", started=T0, partition="north", mode="incremental", resumed=True)
    SyncRun.objects.create(model="testapp.Ticket", started=T0, partition="south", mode="full")

    response = admin_client.get(reverse("state:pyck_syncrun_changelist"), {"mode__exact": "incremental"})

    assert response.status_code == 200
    [run] = response.context["cl"].result_list
    assert (run.partition, run.mode, run.resumed) == ("north", "incremental", True)
    assert {"partition", "mode", "resumed"} <= set(response.context["cl"].list_display)
    assert {"mode", "resumed"} <= {spec.field.name for spec in response.context["cl"].filter_specs}
    assert admin_client.get(reverse("state:pyck_syncrun_changelist"), {"resumed__exact": "0"}).context[
        "cl"
    ].result_list[0].partition == "south"


def test_a_synced_models_change_list_says_how_it_syncs_and_where_it_has_got_to(admin_client, states):
    response = admin_client.get(reverse("state:testapp_ticket_changelist"))

    assert response.status_code == 200
    summary = response.context["sync_state"]
    # Ticket has two state rows (the unpartitioned one and "north", synced by name): the partition summary.
    assert summary == (
        "Sync: incremental on updated_at via updated_since, full listing only when asked. "
        "1 of 2 partitions have an unfinished run's checkpoint."
    )
    link = f'{reverse(CHANGELIST)}?model__exact=testapp.Ticket'
    assert f'href="{link}"' in response.content.decode()

    states["north"].delete()
    summary = admin_client.get(reverse("state:testapp_ticket_changelist")).context["sync_state"]
    assert summary == (
        "Sync: incremental on updated_at via updated_since, full listing only when asked. "
        f"Cursor {(T0 + timedelta(hours=5)).isoformat()}; checkpoint after record 10 of page 20 of a full run "
        f"started {when(T0)}; last full sync {when(T0)}."
    )


def test_the_sync_state_link_needs_the_view_permission(states):
    client = staff("view_syncstate")
    user = User.objects.get(username="staff")
    user.user_permissions.add(Permission.objects.get(content_type__app_label="testapp", codename="view_ticket"))
    text = client.get(reverse("state:testapp_ticket_changelist")).content.decode()
    assert 'id="pyck-sync-state"' in text and "?model__exact=testapp.Ticket" in text

    user.user_permissions.remove(Permission.objects.get(codename="view_syncstate"))
    text = client.get(reverse("state:testapp_ticket_changelist")).content.decode()
    assert 'id="pyck-sync-state"' in text and "?model__exact=testapp.Ticket" not in text
