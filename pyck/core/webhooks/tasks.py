"""The Django Task that processes the webhook inbox, for deployments whose events are applied by Django Tasks
workers (`WEBHOOK_ENQUEUE`): the webhook view enqueues it once each event is committed.

Import this module only where the Tasks framework is installed (Django 6, or the `django-tasks` backport): it
defines the task at import time, on the `CRON_TASKS_BACKEND` backend and `CRON_TASKS_QUEUE` queue.
"""

from __future__ import annotations

from typing import Any

from ..cron.queue import enqueue, task
from .processing import drain_inbox

__all__ = ["enqueue_processing", "process_webhook_events"]


@task
def process_webhook_events() -> int:
    """Apply the due events of the inbox, batch after batch, until none is left; return how many were processed.

    Tasks running at once on several workers claim different events (see `pyck.core.webhooks.claims`).
    """
    return drain_inbox()


def enqueue_processing() -> Any:
    """Enqueue `process_webhook_events`; return the backend's `TaskResult`."""
    return enqueue(process_webhook_events)
