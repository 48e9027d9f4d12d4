"""The health of the synced data: per synced model, per partition and per webhook receiver, how old the data is,
how its runs went lately, and whether that is green, amber or red.

Read by the health page of the admin, `manage.py pyck_health`, the alerts and the Prometheus collector. Everything
comes from the rows the engine already writes (`SyncRun`, `SyncState`, `CronTask`, `PartitionedRun`,
`WebhookEvent`), in a fixed number of queries whatever the number of models and runs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone
from typing import Any

from django.db.models import Count, F, Max, Min, OuterRef, Q, Subquery, Value, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from ..conf import pyck_settings
from ..models import CronTask, PartitionedRun, SyncRun, SyncState, WebhookEvent, registry
from ..models.leases import sync_task_name
from ..overview import human_interval
from ..webhooks.refusals import recent_refusals
from ..webhooks.registry import webhook_receivers

__all__ = ["GREEN", "AMBER", "RED", "Health", "RunPoint", "data_health", "worst"]

GREEN = "green"
"""The data is fresh and the last run went well."""
AMBER = "amber"
"""Worth a look: the last run did not succeed, the data is past half its `stale_after`, or it was never synced."""
RED = "red"
"""Stale (older than `stale_after`) or failing (`HEALTH_FAILURE_STREAK` failed runs in a row)."""

_ORDER = {GREEN: 0, AMBER: 1, RED: 2}
# How many runs per model and partition the chart shows.
CHART_RUNS = 30
# Older than any run: what a "last good run" is when there was none (failed runs are counted from it).
_DAWN = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)
_OK = (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL)
_LISTING = (SyncRun.Mode.FULL, SyncRun.Mode.INCREMENTAL)


@dataclass(frozen=True)
class RunPoint:
    """One run in a health row's chart: when it started, how long it took, its counts and status."""

    started: datetime
    status: str
    duration: float | None
    created: int
    updated: int
    deleted: int
    failed: int


@dataclass(frozen=True)
class Health:
    """The health of one synced model (`kind="model"`), one partition of it (`"partition"`) or one webhook
    receiver (`"receiver"`).

    Attributes:
        kind: `"model"`, `"partition"` or `"receiver"`.
        name: the model's label, `"label [partition]"`, or the receiver's name.
        model: the model's label (`""` for a receiver).
        partition: the partition's name (`""` otherwise).
        last_success: when the last successful run (or applied event) finished; `None`: never.
        last_status: the last run's status (a `SyncRun.Status` value, an event's status); `""`: never ran.
        data_updated: the last complete listing or the last applied push, whichever is later.
        age: now minus `data_updated`; `None` when the data was never complete.
        failure_streak: failed runs (failed events, for a receiver) since the last one that went well.
        next_due: when the clock runs the model's sync next (a receiver: its next retry); `None`: not scheduled.
        stale_after: the age past which the data is red; `None`: no limit.
        level: `GREEN`, `AMBER` or `RED`.
        reasons: why it is not green, one sentence each.
        runs: the last runs, oldest first (at most 30; for a model's row, its unpartitioned runs).
    """

    kind: str
    name: str
    model: str = ""
    partition: str = ""
    last_success: datetime | None = None
    last_status: str = ""
    data_updated: datetime | None = None
    age: timedelta | None = None
    failure_streak: int = 0
    next_due: datetime | None = None
    stale_after: timedelta | None = None
    level: str = GREEN
    reasons: tuple[str, ...] = ()
    runs: tuple[RunPoint, ...] = field(default=(), repr=False)

    @property
    def stale(self) -> bool:
        """Whether the data is older than `stale_after`."""
        return self.age is not None and self.stale_after is not None and self.age > self.stale_after

    @property
    def failing(self) -> bool:
        """Whether the failure streak reached the `HEALTH_FAILURE_STREAK` setting."""
        return self.failure_streak >= int(pyck_settings.HEALTH_FAILURE_STREAK)

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON-ready values (times in ISO 8601, durations in seconds), without the chart's runs."""

        def moment(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        def seconds(value: timedelta | None) -> float | None:
            return value.total_seconds() if value is not None else None

        return {
            "kind": self.kind,
            "name": self.name,
            "model": self.model,
            "partition": self.partition,
            "level": self.level,
            "reasons": list(self.reasons),
            "last_success": moment(self.last_success),
            "last_status": self.last_status,
            "data_updated": moment(self.data_updated),
            "age_seconds": seconds(self.age),
            "failure_streak": self.failure_streak,
            "next_due": moment(self.next_due),
            "stale_after_seconds": seconds(self.stale_after),
        }


def worst(levels: Any) -> str:
    """The worst of `levels` (`GREEN` for none)."""
    return max(levels, key=_ORDER.__getitem__, default=GREEN)


def _later(*moments: datetime | None) -> datetime | None:
    return max((moment for moment in moments if moment is not None), default=None)


def _level(
    *, age: timedelta | None, stale_after: timedelta | None, streak: int, last_status: str, ever: bool, never: str = "never completed a listing"
) -> tuple[str, tuple[str, ...]]:
    red, amber = [], []
    if age is not None and stale_after is not None:
        if age > stale_after:
            red.append(f"data older than {human_interval(stale_after)} (age {human_interval(age)})")
        elif age > stale_after / 2:
            amber.append(f"data past half its stale_after of {human_interval(stale_after)} (age {human_interval(age)})")
    threshold = int(pyck_settings.HEALTH_FAILURE_STREAK)
    if streak >= threshold:
        red.append(f"{streak} failed runs in a row")
    elif last_status in (SyncRun.Status.FAILED, SyncRun.Status.PARTIAL):
        amber.append(f"last run {last_status}")
    if not ever:
        amber.append(never)
    if red:
        return RED, tuple(red + amber)
    return (AMBER, tuple(amber)) if amber else (GREEN, ())


def data_health(now: datetime | None = None, *, labels: list[str] | None = None) -> list[Health]:
    """The health of every registered synced model (or those labelled `labels`), of each of their
    partitions, and of every webhook receiver (registered, or with stored events), measured at `now` (default:
    now).

    A partitioned model's row sums up its partitions: its age is the oldest partition's, its level the worst.
    Runs a fixed number of queries (eight), whatever the number of models, partitions and runs.
    """
    now = now or timezone.now()
    models = [model for model in registry.synced_models() if labels is None or model._meta.label in labels]
    names = [model._meta.label for model in models]
    groups = _run_groups(names)
    streaks = _streaks(names)
    charts = _charts(names)
    states = {(row.model, row.partition): row.last_full_sync for row in SyncState.objects.filter(model__in=names)}
    due = dict(
        CronTask.objects.filter(name__in=[sync_task_name(name) for name in names], interval__isnull=False).values_list(
            "name", "next_due"
        )
    )
    partitioned = _partitioned(names)
    rows: list[Health] = []
    for model in models:
        label = model._meta.label
        config = model.sync_config
        stale_after = config.get_stale_after()
        next_due = due.get(sync_task_name(label))
        try:
            declared = list(config.get_partitions())
        except Exception:  # a callable reading the database: the health page must still show something
            declared = []
        seen = {partition for (name, partition) in [*groups, *states] if name == label}
        partitions = [*declared, *sorted(seen - set(declared) - {""})]
        parts = []
        for partition in partitions:
            parts.append(
                _row(
                    "partition", f"{label} [{partition}]", label, partition, groups, streaks, charts, states,
                    stale_after, next_due, now,
                )
            )
        whole = _row("model", label, label, "", groups, streaks, charts, states, stale_after, next_due, now)
        if parts:
            # The model's own runs (pushes, a sync of the whole listing) count as one more partition.
            own = [whole] if whole.runs or whole.data_updated else []
            whole = _summary(whole, [*own, *parts], partitioned.get(label), now)
        rows.append(whole)
        rows.extend(parts)
    rows.extend(_receivers(now))
    return rows


def _row(
    kind: str,
    name: str,
    label: str,
    partition: str,
    groups: dict[tuple[str, str], dict[str, Any]],
    streaks: dict[tuple[str, str], int],
    charts: dict[tuple[str, str], list[RunPoint]],
    states: dict[tuple[str, str], datetime | None],
    stale_after: timedelta | None,
    next_due: datetime | None,
    now: datetime,
) -> Health:
    key = (label, partition)
    group = groups.get(key, {})
    runs = charts.get(key, [])
    pushed = group.get("last_push") if partition == "" else None
    data_updated = _later(states.get(key), group.get("last_listing"), pushed)
    age = now - data_updated if data_updated is not None else None
    streak = streaks.get(key, 0)
    last_status = runs[-1].status if runs else ""
    level, reasons = _level(
        age=age, stale_after=stale_after, streak=streak, last_status=last_status, ever=data_updated is not None
    )
    return Health(
        kind=kind,
        name=name,
        model=label,
        partition=partition,
        last_success=group.get("last_success"),
        last_status=last_status,
        data_updated=data_updated,
        age=age,
        failure_streak=streak,
        next_due=next_due,
        stale_after=stale_after,
        level=level,
        reasons=reasons,
        runs=tuple(runs),
    )


def _summary(whole: Health, parts: list[Health], latest: PartitionedRun | None, now: datetime) -> Health:
    """A partitioned model's row: the oldest partition's data, the longest streak, the worst level."""
    moments = [part.data_updated for part in parts]
    data_updated = None if None in moments else min(m for m in moments if m is not None)
    successes = [part.last_success for part in parts]
    last_success = None if None in successes else min(m for m in successes if m is not None)
    latest_part = max((part for part in parts if part.runs), key=lambda part: part.runs[-1].started, default=None)
    last_status = latest_part.runs[-1].status if latest_part is not None else ""
    reasons = [f"{part.partition}: {reason}" if part.partition else reason for part in parts for reason in part.reasons]
    level = worst(part.level for part in parts)
    if latest is not None and latest.status == PartitionedRun.Status.FAILED:
        if latest_part is None or latest.started >= latest_part.runs[-1].started:
            last_status = latest.status
            level = worst([level, AMBER])
            reasons.append(f"partitioned run #{latest.pk} failed")
    return Health(
        kind="model",
        name=whole.name,
        model=whole.model,
        last_success=last_success,
        last_status=last_status,
        data_updated=data_updated,
        age=now - data_updated if data_updated is not None else None,
        failure_streak=max(part.failure_streak for part in parts),
        next_due=whole.next_due,
        stale_after=whole.stale_after,
        level=level,
        reasons=tuple(reasons),
        runs=whole.runs,
    )


def _run_groups(names: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (model, partition): the last success, the last complete listing and the last applied push."""
    done = Q(status=SyncRun.Status.SUCCEEDED)
    rows = (
        SyncRun.objects.filter(model__in=names)
        .values("model", "partition")
        .order_by()
        .annotate(
            last_success=Max("finished", filter=done),
            last_listing=Max("finished", filter=done & Q(mode__in=_LISTING)),
            last_push=Max("finished", filter=Q(mode=SyncRun.Mode.PUSH, status__in=_OK)),
        )
    )
    return {(row["model"], row["partition"]): row for row in rows}


def _streaks(names: list[str]) -> dict[tuple[str, str], int]:
    """Per (model, partition): the failed runs started after the last run that did not fail."""
    last_good = (
        SyncRun.objects.filter(model=OuterRef("model"), partition=OuterRef("partition"), status__in=_OK)
        .order_by("-started")
        .values("started")[:1]
    )
    rows = (
        SyncRun.objects.filter(model__in=names, status=SyncRun.Status.FAILED)
        .annotate(since=Coalesce(Subquery(last_good), Value(_DAWN)))
        .filter(started__gt=F("since"))
        .values("model", "partition")
        .order_by()
        .annotate(count=Count("id"))
    )
    return {(row["model"], row["partition"]): row["count"] for row in rows}


def _charts(names: list[str]) -> dict[tuple[str, str], list[RunPoint]]:
    """Per (model, partition): its last `CHART_RUNS` runs, oldest first."""
    numbered = SyncRun.objects.filter(model__in=names).annotate(
        number=Window(RowNumber(), partition_by=[F("model"), F("partition")], order_by=F("started").desc())
    )
    charts: dict[tuple[str, str], list[RunPoint]] = defaultdict(list)
    fields = ("model", "partition", "started", "status", "duration", "created", "updated", "deleted", "failed")
    for row in numbered.filter(number__lte=CHART_RUNS).order_by("started", "id").values(*fields):
        key = (row.pop("model"), row.pop("partition"))
        charts[key].append(RunPoint(**row))
    return charts


def _partitioned(names: list[str]) -> dict[str, PartitionedRun]:
    """Per model, its latest `PartitionedRun`."""
    latest = PartitionedRun.objects.filter(model=OuterRef("model")).order_by("-started").values("pk")[:1]
    rows = PartitionedRun.objects.filter(model__in=names, pk=Subquery(latest))
    return {row.model: row for row in rows}


def _receivers(now: datetime) -> list[Health]:
    """One row per registered webhook receiver and per other source that stored events: its last applied event,
    its failed events (retried or given up), its next retry, and a burst of refused requests (red)."""
    rows = (
        WebhookEvent.objects.values("source")
        .order_by("source")
        .annotate(
            last_applied=Max("applied"),
            failing=Count("id", filter=Q(status=WebhookEvent.Status.FAILED)),
            next_retry=Min("next_attempt", filter=Q(status__in=[WebhookEvent.Status.PENDING, WebhookEvent.Status.FAILED])),
            last_received=Max("received"),
        )
    )
    latest_status = dict(
        WebhookEvent.objects.filter(
            pk=Subquery(WebhookEvent.objects.filter(source=OuterRef("source")).order_by("-received", "-id").values("pk")[:1])
        ).values_list("source", "status")
    )
    stored = {row["source"]: row for row in rows}
    registered = [receiver.name for receiver in webhook_receivers()]
    burst = int(pyck_settings.HEALTH_REFUSALS_BURST)
    health = []
    for source in [*registered, *(name for name in stored if name not in registered)]:
        row = stored.get(source, {"source": source, "last_applied": None, "failing": 0, "next_retry": None})
        applied = row["last_applied"]
        streak = row["failing"]
        last_status = latest_status.get(row["source"], "")
        level, reasons = _level(
            age=None, stale_after=None, streak=streak, last_status=last_status,
            ever=applied is not None or source not in stored, never="no event applied yet",
        )
        refused = recent_refusals(source)
        if refused >= burst:
            level, reasons = RED, (f"{refused} requests refused lately (bad signatures? a rotated secret?)", *reasons)
        health.append(
            Health(
                kind="receiver",
                name=row["source"],
                last_success=applied,
                last_status=last_status,
                data_updated=applied,
                age=now - applied if applied is not None else None,
                failure_streak=streak,
                next_due=row["next_retry"],
                level=level,
                reasons=reasons,
            )
        )
    return health
