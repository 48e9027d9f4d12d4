"""Periodic tasks: a registry, and a clock that runs them on time, once, across any number of processes.

Register a task:

```python
from datetime import timedelta
from pyck.core.cron import cron

@cron(timedelta(hours=1))
def send_digest() -> str:
    ...
```

Put registrations in a `cron` module of your app (it is imported by the clock) or anywhere imported at
start-up. Synced models whose `sync_config.sync_interval` is set are registered automatically as
`sync:<app_label>.<ModelName>`. Run the clock with `python manage.py run_cron_tasks`.

Modules, from the bottom up:

- `jobs`: what to run, and how often (the registry; `autodiscover`).
- `leases`: who runs it (a database lease per task).
- `report`: what happened (`Outcome`), and the lines people follow (`Reporter`).
- `execution`: one run of a task under its lease.
- `clock`: running due tasks on time (`Clock`), in dependency order (`run_order`).
- `schedule`: what `run_cron_tasks --list` prints.
- `queue`: the Django Tasks framework pyck enqueues on.
- `partitions`: one sync spread over Django Tasks workers, a task per partition.
- `tasks`: the clock's enqueue mode: what it hands to workers, and how it looks after them.
"""

from __future__ import annotations

from .jobs import (
    CronJob,
    autodiscover,
    cron,
    cron_jobs,
    get_cron_job,
    register_cron,
    select_cron_jobs,
    unregister_cron,
)
from .report import Outcome, Reporter

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
    if name == "Clock":
        from .clock import Clock

        return Clock
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
