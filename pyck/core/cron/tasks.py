"""Django Tasks integration: the clock enqueues due tasks, any Tasks worker runs them.

Django's Tasks framework (``django.tasks`` on Django 6.x; the ``django-tasks`` backport, app ``django_tasks``,
on Django 5.2) runs work on many machines but has no scheduler: the cron clock is that scheduler. In enqueue
mode (``run_cron_tasks --enqueue`` or the ``CRON_ENQUEUE`` setting) the clock takes a due task's lease under a
one-off token, marks it ``enqueued`` and enqueues :data:`run_cron_task` with the task's name and the token.
The worker takes the lease over from the token, renews it while the task runs, records the outcome and
releases it. A copy that no worker picks up before the lease expires is enqueued again by a clock later; the
stale copy, if it ever runs, sees that its token no longer holds the lease and does nothing.

The same backend and queue carry the tasks of partitioned runs (see :mod:`pyck.core.partitioned`):
:data:`sync_partition` syncs one partition of a run, :data:`finish_partitioned_run` finishes a run whose last
worker died before finishing it.

This module needs a configured Tasks framework at import time; the clock imports it only in enqueue mode.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

from ..conf import pyck_settings
from ..exceptions import ConfigurationError

__all__ = [
    "enqueue_cron_task",
    "enqueue_finish",
    "enqueue_partition",
    "finish_partitioned_run",
    "run_cron_task",
    "sync_partition",
]

if find_spec("django.tasks") is not None:
    from django.tasks import task
elif find_spec("django_tasks") is not None:
    from django_tasks import task  # type: ignore[no-redef]
else:  # pragma: no cover - depends on the installed Django
    raise ConfigurationError(
        "Enqueueing cron tasks needs Django's Tasks framework: use Django 6.0 or later, or on Django 5.2 "
        "install the backport (pip install django-tasks) and add 'django_tasks' to INSTALLED_APPS."
    )


# The decorator validates the task against its backend (a backend may allow only some queues), so it gets the
# configured alias and queue now: this module is only imported once settings are ready, by an enqueueing clock
# or a worker. ``enqueue_cron_task`` applies the settings again at call time, for ``override_settings``.
@task(backend=pyck_settings.CRON_TASKS_BACKEND, queue_name=pyck_settings.CRON_TASKS_QUEUE)
def run_cron_task(name: str, token: str, sync_mode: str | None = None) -> str:
    """Run the registered cron task ``name`` in a Tasks worker, under the lease the clock holds as ``token``.

    ``sync_mode`` (``"full"``, ``"incremental"``; ``None``: the model's own choice) is the enqueueing clock's
    ``Clock(sync_mode=...)``, for a sync task. Arguments are plain strings so that every backend can serialise
    them. Returns the run's summary.
    """
    from .clock import run_enqueued

    return run_enqueued(name, token, sync_mode)


def enqueue_cron_task(name: str, token: str, sync_mode: str | None = None) -> Any:
    """Enqueue :data:`run_cron_task` on the ``CRON_TASKS_BACKEND`` backend and ``CRON_TASKS_QUEUE`` queue.

    Returns the backend's ``TaskResult``.
    """
    configured = run_cron_task.using(
        backend=pyck_settings.CRON_TASKS_BACKEND, queue_name=pyck_settings.CRON_TASKS_QUEUE
    )
    # Without a mode, the arguments stay (name, token), as before sync modes existed.
    return configured.enqueue(name, token) if sync_mode is None else configured.enqueue(name, token, sync_mode=sync_mode)


@task(backend=pyck_settings.CRON_TASKS_BACKEND, queue_name=pyck_settings.CRON_TASKS_QUEUE)
def sync_partition(run_id: int, name: str, attempt: int) -> str:
    """Sync partition ``name`` of the partitioned run ``run_id``, as attempt number ``attempt`` (see
    :func:`pyck.core.partitioned.run_partition`). Returns the partition's summary."""
    from ..partitioned import run_partition

    return run_partition(run_id, name, attempt)


@task(backend=pyck_settings.CRON_TASKS_BACKEND, queue_name=pyck_settings.CRON_TASKS_QUEUE)
def finish_partitioned_run(run_id: int, token: str) -> str:
    """Finish the partitioned run ``run_id`` that the clock handed over under ``token`` (see
    :func:`pyck.core.partitioned.finish_partitioned_run`). Returns the run's summary."""
    from .. import partitioned

    return partitioned.finish_partitioned_run(run_id, token)


def enqueue_partition(run_id: int, name: str, attempt: int) -> Any:
    """Enqueue :data:`sync_partition` on the ``CRON_TASKS_BACKEND`` backend and ``CRON_TASKS_QUEUE`` queue."""
    configured = sync_partition.using(
        backend=pyck_settings.CRON_TASKS_BACKEND, queue_name=pyck_settings.CRON_TASKS_QUEUE
    )
    return configured.enqueue(run_id, name, attempt)


def enqueue_finish(run_id: int, token: str) -> Any:
    """Enqueue :data:`finish_partitioned_run` on the ``CRON_TASKS_BACKEND`` backend and ``CRON_TASKS_QUEUE`` queue."""
    configured = finish_partitioned_run.using(
        backend=pyck_settings.CRON_TASKS_BACKEND, queue_name=pyck_settings.CRON_TASKS_QUEUE
    )
    return configured.enqueue(run_id, token)
