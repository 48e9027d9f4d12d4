"""Periodic tasks: a registry, and a clock that runs them on time, once, across any number of processes.

Register a task::

    from datetime import timedelta
    from pyck.core.cron import cron

    @cron(timedelta(hours=1))
    def send_digest() -> str:
        ...

Put registrations in a ``cron`` module of your app (it is imported by the clock) or anywhere imported at
start-up. Synced models whose ``sync_config.sync_interval`` is set are registered automatically as
``sync:<app_label>.<ModelName>``. Run the clock with ``python manage.py run_cron_tasks``.

Modules: :mod:`~pyck.core.cron.registry` (what to run), :mod:`~pyck.core.cron.leases` (who runs it),
:mod:`~pyck.core.cron.clock` (running it), :mod:`~pyck.core.cron.tasks` (handing it to Django Tasks workers).
"""

from __future__ import annotations

from .registry import (
    CronJob,
    autodiscover,
    cron,
    cron_jobs,
    get_cron_job,
    register_cron,
    select_cron_jobs,
    unregister_cron,
)

__all__ = [
    "Clock",
    "CronJob",
    "Outcome",
    "Reporter",
    "autodiscover",
    "cron",
    "cron_jobs",
    "get_cron_job",
    "register_cron",
    "select_cron_jobs",
    "unregister_cron",
]


def __getattr__(name: str) -> object:
    # The clock imports Django's ORM; keep ``from pyck.core.cron import cron`` cheap and safe before the app
    # registry is ready (settings files, datasource modules).
    if name in {"Clock", "Outcome", "Reporter"}:
        from . import clock

        return getattr(clock, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
