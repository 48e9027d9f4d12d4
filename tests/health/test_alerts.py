"""Alerts: once when an incident starts, once when it ends, nothing while it lasts, through every channel."""

from __future__ import annotations

import logging
from datetime import timedelta

import django
import pytest
from django.core import mail
from django.test import Client

from pyck.core.cron import cron_jobs, unregister_cron
from pyck.core.health.alerts import CHECK_TASK, Alert, check_alerts, register_check, run_check
from pyck.core.models import HealthIncident, SyncRun
from pyck.core.signals import sync_alert

from .runs import NOW, add_run

pytestmark = pytest.mark.django_db

PARTY = "testapp.Party"


@pytest.fixture
def received():
    """The alerts sent as the `sync_alert` signal."""
    alerts: list[Alert] = []

    def receive(sender, alert, **kwargs):
        alerts.append(alert)

    sync_alert.connect(receive)
    yield alerts
    sync_alert.disconnect(receive)


@pytest.fixture(autouse=True)
def everything_fresh():
    """Every synced model fully listed at NOW: no incident but the test's own."""
    from pyck.core.models import registry  # the models are registered once Django is set up

    for model in registry.synced_models():
        add_run(model._meta.label, NOW - timedelta(minutes=1))


def _others_fresh(at):
    """`at`, with every model but Party last synced a minute before it (some are synced every 5 minutes)."""
    SyncRun.objects.exclude(model=PARTY).update(started=at - timedelta(minutes=1), finished=at)
    return at


def test_a_stale_model_alerts_once_through_every_channel_and_once_on_recovery(received, settings, caplog):
    settings.ADMINS = ["ops@example.org"] if django.VERSION >= (6,) else [("Ops", "ops@example.org")]
    settings.PYCK = {"HEALTH_CHECK_INTERVAL": None}
    later = NOW + timedelta(days=3)  # Party's data (a day's sync_interval) is stale by then...
    SyncRun.objects.exclude(model=PARTY).update(started=later - timedelta(minutes=1), finished=later)
    with caplog.at_level(logging.INFO, logger="pyck.health"):
        first = check_alerts(later)
    assert [(a.kind, a.subject, a.resolved) for a in first] == [("stale", PARTY, False)]
    assert received == first
    assert len(mail.outbox) == 1 and PARTY in mail.outbox[0].subject
    assert any(record.levelname == "ERROR" and "is stale" in record.getMessage() for record in caplog.records)
    for minutes in (1, 2, 60):  # ...and stays stale: nothing more
        assert check_alerts(_others_fresh(later + timedelta(minutes=minutes))) == []
    assert len(received) == 1 and len(mail.outbox) == 1
    add_run(PARTY, later + timedelta(hours=2))
    recovered = check_alerts(_others_fresh(later + timedelta(hours=2, minutes=1)))
    assert [(a.kind, a.subject, a.resolved) for a in recovered] == [("stale", PARTY, True)]
    assert len(received) == 2 and len(mail.outbox) == 2
    assert check_alerts(_others_fresh(later + timedelta(hours=3))) == []
    incident = HealthIncident.objects.get()
    assert (incident.opened, incident.closed) == (later, later + timedelta(hours=2, minutes=1))


def test_failed_runs_in_a_row_open_an_incident_that_a_successful_run_closes(received, settings):
    settings.PYCK = {"HEALTH_FAILURE_STREAK": 2, "HEALTH_MAIL_ADMINS": False, "HEALTH_CHECK_INTERVAL": None}
    add_run(PARTY, NOW, "failed")
    assert check_alerts(NOW + timedelta(minutes=1)) == []
    add_run(PARTY, NOW + timedelta(minutes=2), "failed")
    assert [(a.kind, a.resolved) for a in check_alerts(NOW + timedelta(minutes=3))] == [("failing", False)]
    add_run(PARTY, NOW + timedelta(minutes=4), "failed")
    assert check_alerts(NOW + timedelta(minutes=5)) == []
    add_run(PARTY, NOW + timedelta(minutes=6))
    assert [(a.kind, a.resolved) for a in check_alerts(NOW + timedelta(minutes=7))] == [("failing", True)]
    assert len(mail.outbox) == 0
    assert len(received) == 2


def test_an_open_incident_survives_a_restart_and_is_not_alerted_again(received):
    add_run(PARTY, NOW - timedelta(days=5))
    SyncRun.objects.filter(model=PARTY, started__gt=NOW - timedelta(days=1)).delete()
    assert len(check_alerts(NOW)) == 1
    # A new process knows only the database: the incident row.
    assert check_alerts(NOW + timedelta(minutes=1)) == []
    assert HealthIncident.objects.filter(closed__isnull=True).count() == 1


def test_two_processes_opening_the_same_incident_alert_once(received, monkeypatch):
    add_run(PARTY, NOW - timedelta(days=5))
    SyncRun.objects.filter(model=PARTY, started__gt=NOW - timedelta(days=1)).delete()
    HealthIncident.objects.create(key=f"stale:{PARTY}", kind="stale", subject=PARTY, opened=NOW)
    # This process read the open incidents before the other one committed its row.
    real = HealthIncident.objects.filter
    monkeypatch.setattr(HealthIncident.objects, "filter", lambda **kw: real(pk=-1) if kw == {"closed__isnull": True} else real(**kw))
    assert check_alerts(NOW) == []
    assert HealthIncident.objects.count() == 1


def test_a_burst_of_refused_webhook_requests_alerts_once_and_recovers_after_the_window(received, settings):
    settings.PYCK = {"HEALTH_REFUSALS_BURST": 3, "HEALTH_REFUSALS_WINDOW": 600.0, "HEALTH_CHECK_INTERVAL": None}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "refusals"}}
    client = Client()
    for _ in range(2):
        assert client.post("/webhooks/helpdesk/", b"{}", content_type="application/json").status_code in (400, 401)
    assert check_alerts(NOW) == []
    for _ in range(3):
        client.post("/webhooks/helpdesk/", b"{}", content_type="application/json")
    alerts = check_alerts(NOW)
    assert [(a.kind, a.subject, a.resolved) for a in alerts] == [("refusals", "helpdesk", False)]
    assert "refused 5 requests" in alerts[0].message
    client.post("/webhooks/helpdesk/", b"{}", content_type="application/json")
    assert check_alerts(NOW) == []
    from django.core.cache import cache  # the test's cache, set above

    cache.clear()  # the windows have passed
    assert [(a.kind, a.resolved) for a in check_alerts(NOW)] == [("refusals", True)]


def test_a_failing_alert_channel_does_not_stop_the_others(received, caplog):
    def broken(sender, alert, **kwargs):
        raise RuntimeError("chat is down")

    sync_alert.connect(broken)
    try:
        add_run(PARTY, NOW - timedelta(days=5))
        SyncRun.objects.filter(model=PARTY, started__gt=NOW - timedelta(days=1)).delete()
        assert len(check_alerts(NOW)) == 1
    finally:
        sync_alert.disconnect(broken)
    assert len(received) == 1
    assert "chat is down" in caplog.text


def test_the_check_is_a_cron_task_every_health_check_interval(settings):
    settings.PYCK = {"HEALTH_CHECK_INTERVAL": 120}
    register_check()
    try:
        job = {job.name: job for job in cron_jobs()}[CHECK_TASK]
        assert job.interval == timedelta(minutes=2)
        assert job.func() == "0 incidents open; 0 started, 0 ended"
    finally:
        unregister_cron(CHECK_TASK)
    assert run_check() == "0 incidents open; 0 started, 0 ended"
