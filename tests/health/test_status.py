"""`data_health`: the age, last runs, failure streak, next run and level of each model, partition and receiver."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pyck.core.health.status import AMBER, GREEN, RED, data_health
from pyck.core.models import CronTask, SyncState, WebhookEvent
from tests.testapp.models import Party

from .runs import NOW, add_run

pytestmark = pytest.mark.django_db

PARTY = "testapp.Party"


def health_of(name: str, now=NOW):
    return {row.name: row for row in data_health(now)}[name]


def test_a_model_synced_an_hour_ago_is_green_with_its_last_success_and_next_run():
    add_run(PARTY, NOW - timedelta(hours=1))
    CronTask.objects.create(name=f"sync:{PARTY}", interval=timedelta(days=1), next_due=NOW + timedelta(hours=23))
    row = health_of(PARTY)
    assert row.level == GREEN, row.reasons
    assert row.last_status == "succeeded"
    assert row.last_success == NOW - timedelta(hours=1) + timedelta(seconds=2)
    assert row.age == timedelta(minutes=59, seconds=58)
    assert row.next_due == NOW + timedelta(hours=23)
    assert row.stale_after == timedelta(days=2)  # twice the default sync_interval of a day
    assert row.failure_streak == 0


def test_the_age_turns_amber_past_half_stale_after_and_red_past_it():
    add_run(PARTY, NOW - timedelta(days=1, hours=1))
    assert health_of(PARTY).level == AMBER
    assert health_of(PARTY, NOW + timedelta(days=1)).level == RED
    assert health_of(PARTY, NOW + timedelta(days=1)).stale


def test_stale_after_of_the_config_replaces_the_default(monkeypatch):
    monkeypatch.setattr(Party.sync_config, "stale_after", timedelta(hours=2))
    add_run(PARTY, NOW - timedelta(hours=3))
    row = health_of(PARTY)
    assert (row.level, row.stale_after) == (RED, timedelta(hours=2))


def test_failed_runs_count_from_the_last_run_that_went_well_and_turn_red_at_the_setting(settings):
    settings.PYCK = {"HEALTH_FAILURE_STREAK": 3}
    add_run(PARTY, NOW - timedelta(hours=10), "failed")  # before the last good run: not counted
    add_run(PARTY, NOW - timedelta(hours=9), "partial")
    add_run(PARTY, NOW - timedelta(hours=8), "failed")
    add_run(PARTY, NOW - timedelta(hours=7), "failed")
    row = health_of(PARTY)
    assert (row.failure_streak, row.level, row.last_status) == (2, AMBER, "failed")
    add_run(PARTY, NOW - timedelta(hours=6), "failed")
    row = health_of(PARTY)
    assert (row.failure_streak, row.level) == (3, RED)
    assert row.failing
    assert "3 failed runs in a row" in row.reasons


def test_a_partial_run_is_not_a_complete_listing_but_an_applied_push_is_fresh_data():
    add_run(PARTY, NOW - timedelta(days=3))
    add_run(PARTY, NOW - timedelta(hours=1), "partial")
    assert health_of(PARTY).level == RED  # the last complete listing is 3 days old
    add_run(PARTY, NOW - timedelta(minutes=5), mode="push")
    row = health_of(PARTY)
    assert row.age == timedelta(minutes=5) - timedelta(seconds=2)
    assert (row.level, row.last_status) == (GREEN, "succeeded")


def test_the_last_full_sync_of_the_sync_state_counts_as_a_complete_listing():
    SyncState.objects.create(model=PARTY, last_full_sync=NOW - timedelta(minutes=10))
    row = health_of(PARTY)
    assert (row.age, row.level) == (timedelta(minutes=10), GREEN)


def test_each_partition_has_its_row_and_the_model_row_takes_the_oldest_and_the_worst(monkeypatch):
    monkeypatch.setattr(Party.sync_config, "partitions", {"commons": {"house": 1}, "lords": {"house": 2}})
    add_run(PARTY, NOW - timedelta(hours=1), partition="commons")
    add_run(PARTY, NOW - timedelta(days=3), partition="lords")
    rows = {row.name: row for row in data_health(NOW)}
    assert rows[f"{PARTY} [commons]"].level == GREEN
    assert rows[f"{PARTY} [lords]"].level == RED
    whole = rows[PARTY]
    assert (whole.kind, whole.level) == ("model", RED)
    assert whole.age == timedelta(days=3) - timedelta(seconds=2)
    assert any(reason.startswith("lords: data older than") for reason in whole.reasons)


def test_a_receiver_row_shows_its_last_applied_event_failures_and_next_retry():
    WebhookEvent.objects.create(source="helpdesk", event_id="1", body=b"{}", status="applied",
                                received=NOW - timedelta(hours=2), applied=NOW - timedelta(hours=2))
    WebhookEvent.objects.create(source="helpdesk", event_id="2", body=b"{}", status="failed",
                                received=NOW - timedelta(minutes=3), next_attempt=NOW + timedelta(minutes=1))
    row = health_of("helpdesk")
    assert (row.kind, row.last_status, row.failure_streak, row.level) == ("receiver", "failed", 1, AMBER)
    assert row.age == timedelta(hours=2)
    assert row.next_due == NOW + timedelta(minutes=1)


def test_the_number_of_queries_does_not_grow_with_runs_models_or_partitions(monkeypatch):
    add_run(PARTY, NOW - timedelta(hours=1))
    with CaptureQueriesContext(connection) as few:
        data_health(NOW)
    monkeypatch.setattr(Party.sync_config, "partitions", {f"p{n}": {"n": n} for n in range(5)})
    for n in range(40):
        add_run(PARTY, NOW - timedelta(hours=n), "failed" if n % 3 else "succeeded", partition=f"p{n % 5}")
        add_run("testapp.City", NOW - timedelta(hours=n))
    with CaptureQueriesContext(connection) as many:
        rows = data_health(NOW)
    assert len(many) == len(few) == 8
    assert len({row.name: row for row in rows}[f"{PARTY} [p0]"].runs) == 8
    assert len({row.name: row for row in rows}["testapp.City"].runs) == 30


def test_a_registered_receiver_without_events_has_a_green_row_and_a_burst_of_refusals_turns_it_red(settings, client):
    settings.PYCK = {"HEALTH_REFUSALS_BURST": 2, "HEALTH_CHECK_INTERVAL": None}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "health"}}
    row = health_of("helpdesk")
    assert (row.kind, row.level, row.last_status, row.age) == ("receiver", GREEN, "", None)
    for _ in range(2):
        assert client.post("/webhooks/helpdesk/", b"{}", content_type="application/json").status_code in (400, 401)
    row = health_of("helpdesk")
    assert row.level == RED
    assert row.reasons[0].startswith("2 requests refused lately")
