"""What the `run_cron_tasks` clock does with the webhook inbox between its ticks: process it (every
`WEBHOOK_POLL_INTERVAL`), or, when events are applied by Django Tasks workers, enqueue a processing task
whenever events are due (a retry whose time has come, an event whose task could not be enqueued).
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils import timezone

from ..conf import pyck_settings
from ..models.webhooks import WebhookEvent
from .claims import claimable
from .processing import process_inbox
from .registry import webhook_receivers

__all__ = ["enqueues", "inbox_poller"]


def inbox_poller(*, enqueue: bool, tick: float) -> tuple[Callable[[], bool], float] | None:
    """Return the function a clock calls between its ticks for the inbox, and how often (seconds); `None` when
    no webhook receiver is registered.

    Args:
        enqueue: whether events are applied by Django Tasks workers (`WEBHOOK_ENQUEUE`): the clock then only
            enqueues a task when events are due, once per `tick`.
        tick: the clock's tick.
    """
    if not webhook_receivers():
        return None
    if enqueue:
        return _enqueue_when_due, tick
    batch = int(pyck_settings.WEBHOOK_BATCH_SIZE)
    return (lambda: process_inbox(limit=batch).claimed >= batch), float(pyck_settings.WEBHOOK_POLL_INTERVAL)


def _enqueue_when_due() -> bool:
    # Not at the top: the Tasks framework is optional, and needed only in this mode.
    from .tasks import enqueue_processing

    if WebhookEvent.objects.filter(claimable(timezone.now())).exists():
        enqueue_processing()
    return False


def enqueues(clock_enqueues: bool | None = None) -> bool:
    """Whether events are applied by Django Tasks workers: `WEBHOOK_ENQUEUE`; when it is `None`, as the clock
    does with its tasks: `clock_enqueues` (a clock started with `--enqueue`), else `CRON_ENQUEUE`."""
    setting = pyck_settings.WEBHOOK_ENQUEUE
    if setting is not None:
        return bool(setting)
    return bool(pyck_settings.CRON_ENQUEUE if clock_enqueues is None else clock_enqueues)
