"""The Prometheus metrics, scraped through the client (`generate_latest`) and over HTTP (`make_wsgi_app`)."""

from __future__ import annotations

import io
import wsgiref.util
from datetime import timedelta

import pytest
from django.utils import timezone

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from pyck.core.health.metrics import PyckCollector, register_metrics  # noqa: E402
from pyck.core.models import WebhookEvent  # noqa: E402

from .runs import add_run  # noqa: E402

pytestmark = pytest.mark.django_db


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The scraped samples: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def history():
    now = timezone.now()
    add_run("testapp.Party", now - timedelta(hours=1), created=5, updated=2)
    add_run("testapp.Party", now - timedelta(minutes=30), "failed", updated=1, deleted=3, failed=2)
    add_run("testapp.City", now - timedelta(minutes=10), "partial", created=1)
    for n, status in enumerate(["applied", "applied", "failed", "pending"]):
        WebhookEvent.objects.create(source="helpdesk", event_id=str(n), body=b"{}", status=status)
    return now


def test_a_scrape_reports_records_runs_events_and_the_data_age(history):
    registry = CollectorRegistry()
    registry.register(PyckCollector())
    scraped = samples(generate_latest(registry).decode())
    party = ("model", "testapp.Party")
    assert scraped[("pyck_records_written_total", (("kind", "created"), party))] == 5
    assert scraped[("pyck_records_written_total", (("kind", "updated"), party))] == 3
    assert scraped[("pyck_records_written_total", (("kind", "deleted"), party))] == 3
    assert scraped[("pyck_sync_runs_total", (party, ("status", "succeeded")))] == 1
    assert scraped[("pyck_sync_runs_total", (party, ("status", "failed")))] == 1
    assert scraped[("pyck_sync_runs_total", (("model", "testapp.City"), ("status", "partial")))] == 1
    assert scraped[("pyck_webhook_events", (("source", "helpdesk"), ("status", "applied")))] == 2
    assert scraped[("pyck_webhook_events", (("source", "helpdesk"), ("status", "pending")))] == 1
    age = scraped[("pyck_data_age_seconds", (party, ("partition", "")))]
    assert 3590 <= age <= 3600 + 600  # an hour, give or take the test's own time
    assert scraped[("pyck_data_stale_after_seconds", (party, ("partition", "")))] == 2 * 86400
    assert scraped[("pyck_failure_streak", (party, ("partition", "")))] == 1
    assert scraped[("pyck_health_level", (party, ("partition", "")))] == 1  # amber: the last run failed
    # City was never completely listed: no age, rather than a made-up one.
    assert ("pyck_data_age_seconds", (("model", "testapp.City"), ("partition", ""))) not in scraped


def test_pyck_config_registers_them_in_the_default_registry_which_make_wsgi_app_serves(history):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": "", "wsgi.input": io.BytesIO()}
    wsgiref.util.setup_testing_defaults(environ)
    answer: list[str] = []
    body = b"".join(make_wsgi_app()(environ, lambda status, headers: answer.append(status)))
    assert answer == ["200 OK"]
    scraped = samples(body.decode())
    assert scraped[("pyck_sync_runs_total", (("model", "testapp.City"), ("status", "partial")))] == 1
    assert register_metrics() is register_metrics()  # registered once (by PyckConfig.ready())


def test_the_setting_turns_them_off(settings):
    settings.PYCK = {"HEALTH_METRICS": False, "HEALTH_CHECK_INTERVAL": None}
    assert register_metrics(CollectorRegistry()) is None
