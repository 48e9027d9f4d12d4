"""The Django Tasks framework the cron clock and partitioned runs enqueue on.

Django 6 has it as `django.tasks`; on Django 5.2 the `django-tasks` backport provides the same API as
`django_tasks`. This module finds whichever is installed, and raises `ConfigurationError` when neither is, so
import it (or a module defining tasks) only when tasks are enqueued or run: by an enqueueing clock, a worker, or
`enqueue_partitioned_sync()`.

Every pyck task goes to the backend and queue named by the `CRON_TASKS_BACKEND` and `CRON_TASKS_QUEUE` settings.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec
from typing import Any

from ..conf import pyck_settings
from ..exceptions import ConfigurationError

if find_spec("django.tasks") is not None:
    from django.tasks import task as framework_task
elif find_spec("django_tasks") is not None:
    from django_tasks import task as framework_task  # type: ignore[no-redef]
else:  # pragma: no cover - depends on the installed Django
    raise ConfigurationError(
        "Enqueueing cron tasks needs Django's Tasks framework: use Django 6.0 or later, or on Django 5.2 "
        "install the backport (pip install django-tasks) and add 'django_tasks' to INSTALLED_APPS."
    )

__all__ = ["enqueue", "task"]


def task(function: Callable[..., Any]) -> Any:
    """Make `function` a Django Task on the `CRON_TASKS_BACKEND` backend and `CRON_TASKS_QUEUE` queue.

    The framework's decorator validates the task against its backend (a backend may allow only some queues), so
    it gets the configured alias and queue when the module defining the task is imported, once settings are
    ready. `enqueue` applies the settings again when it is called, for `override_settings`.

    Args:
        function: a module-level function whose arguments every backend can serialise (JSON values).

    Returns:
        The framework's `Task`.
    """
    return framework_task(backend=pyck_settings.CRON_TASKS_BACKEND, queue_name=pyck_settings.CRON_TASKS_QUEUE)(
        function
    )


def enqueue(task: Any, *args: Any, **kwargs: Any) -> Any:
    """Enqueue `task` with `args` and `kwargs` on the backend and queue the settings name now.

    Args:
        task: a Task made by `task`.
        *args: its positional arguments.
        **kwargs: its keyword arguments.

    Returns:
        The backend's `TaskResult`.
    """
    configured = task.using(backend=pyck_settings.CRON_TASKS_BACKEND, queue_name=pyck_settings.CRON_TASKS_QUEUE)
    return configured.enqueue(*args, **kwargs)
