"""Metrics for Prometheus, through the maintained client (`pip install django-pyck[prometheus]`).

`PyckCollector` is a `prometheus_client` collector that reads the database when it is scraped (a handful of
aggregate queries), so the numbers are the same whichever process serves them: the web server, the clock, a
worker. `PyckConfig.ready()` registers it in `prometheus_client.REGISTRY` when the client is installed (unless
the `HEALTH_METRICS` setting is off); expose that registry as you would any other (`make_wsgi_app`,
django-prometheus' view, `start_http_server`): see the docs page "Operations".

- `pyck_records_written_total{model, kind}`: rows created, updated and deleted by syncs and pushes (from the
  `SyncRun` history: deleting old runs lowers it, which Prometheus reads as a counter reset).
- `pyck_sync_runs_total{model, status}`: runs by outcome (`running` while they run).
- `pyck_webhook_events{source, status}`: the events in the inbox, by status (pending, applied, failed, discarded).
- `pyck_data_age_seconds{model, partition}`: now minus the last complete listing or applied push (absent
  when the data was never complete).
- `pyck_data_stale_after_seconds{model, partition}`, `pyck_failure_streak{model, partition}` and
  `pyck_health_level{model, partition}` (0 green, 1 amber, 2 red): the rest of the health page.
"""

from __future__ import annotations

from collections.abc import Iterator
from django.db.models import Count, Sum
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ..conf import pyck_settings
from ..models import SyncRun, WebhookEvent
from .status import AMBER, GREEN, RED, data_health

__all__ = ["PyckCollector", "register_metrics"]

_LEVELS = {GREEN: 0, AMBER: 1, RED: 2}
_KINDS = ("created", "updated", "deleted")
_registered: dict[int, PyckCollector] = {}


def _families() -> dict[str, Metric]:
    return {
        "records": CounterMetricFamily(
            "pyck_records_written", "Rows created, updated and deleted by syncs and pushes.", labels=["model", "kind"]
        ),
        "runs": CounterMetricFamily("pyck_sync_runs", "Sync runs by outcome.", labels=["model", "status"]),
        "events": GaugeMetricFamily(
            "pyck_webhook_events", "Events in the webhook inbox, by status.", labels=["source", "status"]
        ),
        "age": GaugeMetricFamily(
            "pyck_data_age_seconds",
            "Seconds since the last complete listing or applied push.",
            labels=["model", "partition"],
        ),
        "stale_after": GaugeMetricFamily(
            "pyck_data_stale_after_seconds", "The age past which the data is stale.", labels=["model", "partition"]
        ),
        "streak": GaugeMetricFamily(
            "pyck_failure_streak", "Failed runs since the last one that went well.", labels=["model", "partition"]
        ),
        "level": GaugeMetricFamily(
            "pyck_health_level", "The health page's level: 0 green, 1 amber, 2 red.", labels=["model", "partition"]
        ),
    }


class PyckCollector(Collector):
    """Reads pyck's metrics from the database at each scrape (see the module's docstring for the metrics)."""

    def describe(self) -> list[Metric]:
        """The metrics without their samples: registering the collector does not touch the database."""
        return list(_families().values())

    def collect(self) -> Iterator[Metric]:
        """The metrics, read now."""
        families = _families()
        totals = SyncRun.objects.values("model").order_by().annotate(**{kind: Sum(kind) for kind in _KINDS})
        for row in totals:
            for kind in _KINDS:
                families["records"].add_metric([row["model"], kind], row[kind] or 0)
        runs = SyncRun.objects.values("model", "status").order_by().annotate(count=Count("id"))
        for row in runs:
            families["runs"].add_metric([row["model"], row["status"]], row["count"])
        events = WebhookEvent.objects.values("source", "status").order_by().annotate(count=Count("id"))
        for row in events:
            families["events"].add_metric([row["source"], row["status"]], row["count"])
        for health in data_health(timezone.now()):
            if health.kind == "receiver":
                continue
            labels = [health.model, health.partition]
            if health.age is not None:
                families["age"].add_metric(labels, health.age.total_seconds())
            if health.stale_after is not None:
                families["stale_after"].add_metric(labels, health.stale_after.total_seconds())
            families["streak"].add_metric(labels, health.failure_streak)
            families["level"].add_metric(labels, _LEVELS[health.level])
        yield from families.values()


def register_metrics(registry: CollectorRegistry | None = None) -> PyckCollector | None:
    """Register a `PyckCollector` in `registry` (default: `prometheus_client.REGISTRY`) once, and return it;
    `None` when the `HEALTH_METRICS` setting is off. `PyckConfig.ready()` calls it for the default registry."""
    if not pyck_settings.HEALTH_METRICS:
        return None
    registry = REGISTRY if registry is None else registry
    collector = _registered.get(id(registry))
    if collector is None:
        collector = _registered[id(registry)] = PyckCollector()
        registry.register(collector)
    return collector
