"""Alerts: one when an incident starts, one when it ends, never a storm.

An incident is a synced model (or one of its partitions) whose data is older than its `stale_after`, one whose
runs failed `HEALTH_FAILURE_STREAK` times in a row (events, for a webhook receiver), or a webhook source that
refused `HEALTH_REFUSALS_BURST` requests within `HEALTH_REFUSALS_WINDOW` seconds (bad signatures: the sign of a
rotated secret). `check_alerts` compares what is wrong now with the open `HealthIncident` rows: it opens a row
and alerts for each new incident, closes the row and alerts the recovery for each one that ended, and says
nothing about the others. The rows are in the database, so a restarted process, or a second clock, does not
alert again.

The run_cron_tasks clock calls it every `HEALTH_CHECK_INTERVAL` seconds (the built-in cron task
`pyck.health.check_alerts`). Each alert is logged to the `pyck.health` logger, mailed to `ADMINS` (unless
`HEALTH_MAIL_ADMINS` is off) and sent as the `sync_alert` signal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.core.mail import mail_admins
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..conf import pyck_settings
from ..cron import register_cron
from ..models import HealthIncident
from ..signals import sync_alert
from ..webhooks.refusals import recent_refusals
from ..webhooks.registry import webhook_receivers
from .status import data_health

__all__ = ["CHECK_TASK", "Alert", "check_alerts", "register_check", "run_check", "send_alert"]

logger = logging.getLogger("pyck.health")

CHECK_TASK = "pyck.health.check_alerts"
"""The name of the built-in cron task that evaluates the alerts."""

_KIND = HealthIncident.Kind


@dataclass(frozen=True)
class Alert:
    """What an alert says: an incident started (`resolved=False`) or ended (`resolved=True`).

    Attributes:
        kind: `"stale"`, `"failing"` or `"refusals"` (`HealthIncident.Kind`).
        subject: the model's label, `"label [partition]"`, or the webhook source.
        resolved: whether this is the recovery.
        message: one line for people, for example `"pyck: testapp.Party is stale: data older than 2 days, ..."`.
        opened: when the incident started.
        closed: when it ended (`None` while it lasts).
    """

    kind: str
    subject: str
    resolved: bool
    message: str
    opened: datetime
    closed: datetime | None = None


def _incidents(now: datetime) -> dict[str, tuple[str, str, str]]:
    """What is wrong now: key -> (kind, subject, what is wrong)."""
    rows = data_health(now)
    partitioned = {row.model for row in rows if row.kind == "partition"}
    wanted: dict[str, tuple[str, str, str]] = {}
    for row in rows:
        if row.kind == "model" and row.model in partitioned:
            continue  # its partitions have their own incidents
        why = "; ".join(row.reasons)
        if row.stale:
            wanted[f"{_KIND.STALE}:{row.name}"] = (_KIND.STALE, row.name, f"{row.name} is stale: {why}")
        if row.failing:
            wanted[f"{_KIND.FAILING}:{row.name}"] = (_KIND.FAILING, row.name, f"{row.name} is failing: {why}")
    burst = int(pyck_settings.HEALTH_REFUSALS_BURST)
    window = float(pyck_settings.HEALTH_REFUSALS_WINDOW)
    for receiver in webhook_receivers():
        refused = recent_refusals(receiver.name)
        if refused >= burst:
            wanted[f"{_KIND.REFUSALS}:{receiver.name}"] = (
                _KIND.REFUSALS,
                receiver.name,
                f"webhook {receiver.name} refused {refused} requests in the last {window:g} to {2 * window:g} s "
                "(bad signatures? a rotated secret?)",
            )
    return wanted


def check_alerts(now: datetime | None = None) -> list[Alert]:
    """Open an incident (and alert) for each problem that started, close it (and alert) for each that ended;
    return the alerts sent. Safe to call from several processes at once: each alert is sent by one of them."""
    now = now or timezone.now()
    wanted = _incidents(now)
    open_rows = {row.key: row for row in HealthIncident.objects.filter(closed__isnull=True)}
    alerts = []
    for key, (kind, subject, message) in wanted.items():
        if key in open_rows:
            continue
        try:
            with transaction.atomic():
                HealthIncident.objects.create(key=key, kind=kind, subject=subject, opened=now, message=message)
        except IntegrityError:
            continue  # another process opened it a moment ago, and alerts
        alerts.append(Alert(kind=kind, subject=subject, resolved=False, message=f"pyck: {message}", opened=now))
    for key, row in open_rows.items():
        if key in wanted:
            continue
        if not HealthIncident.objects.filter(pk=row.pk, closed__isnull=True).update(closed=now):
            continue  # another process closed it, and alerts
        label = HealthIncident.Kind(row.kind).label
        alerts.append(
            Alert(
                kind=row.kind,
                subject=row.subject,
                resolved=True,
                message=f"pyck: resolved: {row.subject} ({label}) since {row.opened:%Y-%m-%d %H:%M:%S}",
                opened=row.opened,
                closed=now,
            )
        )
    for alert in alerts:
        send_alert(alert)
    return alerts


def send_alert(alert: Alert) -> None:
    """Log `alert`, mail it to `ADMINS` (unless `HEALTH_MAIL_ADMINS` is off) and send `sync_alert`; a channel
    that fails is logged and does not stop the others."""
    logger.log(logging.INFO if alert.resolved else logging.ERROR, "%s", alert.message)
    if pyck_settings.HEALTH_MAIL_ADMINS:
        try:
            mail_admins(alert.message[:200], alert.message)
        except Exception:
            logger.exception("Could not mail the alert to ADMINS: %s", alert.message)
    for receiver, result in sync_alert.send_robust(sender=Alert, alert=alert):
        if isinstance(result, Exception):
            logger.error("A sync_alert receiver (%r) failed: %r", receiver, result)


def run_check() -> str:
    """The built-in cron task: `check_alerts` now; returns a summary for the clock's log."""
    alerts = check_alerts()
    opened = sum(not alert.resolved for alert in alerts)
    still = HealthIncident.objects.filter(closed__isnull=True).count()
    return f"{still} incidents open; {opened} started, {len(alerts) - opened} ended"


def register_check() -> None:
    """Register `run_check` as the cron task `pyck.health.check_alerts`, every `HEALTH_CHECK_INTERVAL` seconds
    (not when the setting is `None`). `PyckConfig.ready()` calls it."""
    interval = pyck_settings.HEALTH_CHECK_INTERVAL
    if interval is not None:
        register_cron(run_check, interval, name=CHECK_TASK)
