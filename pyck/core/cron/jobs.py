"""The registry of periodic tasks: what the cron clock runs, and how often.

Register any function with `register_cron` or the `cron` decorator. Every synced model whose
`sync_config.sync_interval` is not `None` is registered by `autodiscover` as the task
`sync:<app_label>.<ModelName>`; `autodiscover` also imports the `cron` module of every installed app,
as the admin does with `admin` modules, so registrations placed there are found.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.utils.module_loading import autodiscover_modules

from ..exceptions import ConfigurationError

__all__ = [
    "SYNC_PREFIX",
    "CronJob",
    "autodiscover",
    "cron",
    "cron_jobs",
    "get_cron_job",
    "register_cron",
    "select_cron_jobs",
    "unregister_cron",
]

logger = logging.getLogger("pyck.cron")

F = TypeVar("F", bound=Callable[..., Any])

# The prefix of the tasks registered for synced models: `pyck.core.models.leases.SYNC_PREFIX`, the name of
# every sync's lease, repeated here because this module must import no models (see `autodiscover`).
SYNC_PREFIX = "sync:"

# name -> job, in registration order.
_jobs: dict[str, CronJob] = {}


@dataclass(frozen=True, slots=True)
class CronJob:
    """A registered periodic task.

    Attributes:
        name: the unique name the schedule is stored under.
        func: called with no arguments to run the task; its return value is logged and recorded. A return
            value with a false `ok` attribute (a failed `SyncResult`) marks the run as failed. The sync task
            of a model is called with `progress=` and, when the clock was given a `sync_mode`, `mode=`
            (the arguments of `sync_model`).
        interval: the time from one run to the next.
        model_label: `"app_label.ModelName"` for the sync task of a synced model, else `None`.
    """

    name: str
    func: Callable[..., Any]
    interval: timedelta
    model_label: str | None = None

    @property
    def is_sync(self) -> bool:
        """Whether this is the automatic sync task of a synced model."""
        return self.model_label is not None


def _dotted_path(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if not module or not qualname:
        raise ConfigurationError(f"register_cron(): cannot derive a name for {fn!r}; pass name='...'.")
    return f"{module}.{qualname}"


def _as_interval(interval: timedelta | float, name: str) -> timedelta:
    if isinstance(interval, bool) or not isinstance(interval, timedelta | int | float):
        raise ConfigurationError(
            f"Cron task {name!r}: interval must be a timedelta or a number of seconds, got {interval!r}."
        )
    value = interval if isinstance(interval, timedelta) else timedelta(seconds=interval)
    if value <= timedelta(0):
        raise ConfigurationError(f"Cron task {name!r}: interval must be positive, got {value}.")
    return value


def register_cron(
    fn: Callable[..., Any], interval: timedelta | float, *, name: str | None = None, model_label: str | None = None
) -> CronJob:
    """Register `fn` to run every `interval` (a `timedelta` or seconds); return the registered job.

    `name` defaults to the dotted path of `fn` (`"app.cron.send_digest"`) and is what the schedule is
    stored under, so keep it stable. Registering a name again replaces the earlier registration (code
    reloading imports modules twice). `fn` is called with no arguments. `model_label` marks the sync task
    of a synced model (set by `autodiscover`; you rarely pass it).

    Raises:
        ConfigurationError: `fn` is not callable or the interval is not a positive duration.
    """
    if not callable(fn):
        raise ConfigurationError(f"register_cron(): expected a function, got {fn!r}.")
    job_name = name or _dotted_path(fn)
    job = CronJob(name=job_name, func=fn, interval=_as_interval(interval, job_name), model_label=model_label)
    previous = _jobs.get(job_name)
    if previous is not None and previous.func is not fn:
        logger.debug("Cron task %r registered again; the new registration replaces the old one.", job_name)
    _jobs[job_name] = job
    return job


def cron(interval: timedelta | float, *, name: str | None = None) -> Callable[[F], F]:
    """Decorator form of `register_cron`; returns the function unchanged:

    ```python
    @cron(timedelta(hours=1))
    def send_digest() -> str: ...
    ```
    """

    def decorator(fn: F) -> F:
        register_cron(fn, interval, name=name)
        return fn

    return decorator


def unregister_cron(name: str) -> None:
    """Remove a registered task; unknown names are ignored. Its stored schedule row is left alone."""
    _jobs.pop(name, None)


def cron_jobs() -> list[CronJob]:
    """Return the registered tasks in registration order (call `autodiscover` first to include all)."""
    return list(_jobs.values())


def get_cron_job(name: str) -> CronJob:
    """Return the registered task called `name`.

    Raises:
        ConfigurationError: no such task; the message lists the registered ones.
    """
    try:
        return _jobs[name]
    except KeyError:
        raise ConfigurationError(_unknown_message([name])) from None


def _unknown_message(names: Iterable[str]) -> str:
    known = (
        ", ".join(sorted(_jobs)) or "none (register one with register_cron() or give a synced model a sync_interval)"
    )
    wanted = ", ".join(repr(n) for n in names)
    return f"Unknown cron task {wanted}. The registered tasks are: {known}."


def select_cron_jobs(names: Iterable[str] = ()) -> list[CronJob]:
    """Return the registered tasks matching `names`, or all of them when `names` is empty.

    A name matches a task's name exactly, a synced model's label (`"app_label.ModelName"`,
    case-insensitive) selects that model's sync task, and an app label (`"app_label"`, case-insensitive)
    selects the sync tasks of all that app's synced models.

    Raises:
        ConfigurationError: a name matches nothing; the message lists the registered tasks.
    """
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return cron_jobs()
    by_label = {job.model_label.lower(): job for job in _jobs.values() if job.model_label}
    by_app: dict[str, list[CronJob]] = {}
    for label, job in by_label.items():
        by_app.setdefault(label.partition(".")[0], []).append(job)
    selected: dict[str, CronJob] = {}
    unknown = []
    for name in wanted:
        job = _jobs.get(name) or by_label.get(name.lower().removeprefix(SYNC_PREFIX))
        matched = [job] if job else by_app.get(name.lower(), [])
        if not matched:
            unknown.append(name)
        for one in matched:
            selected[one.name] = one
    if unknown:
        raise ConfigurationError(_unknown_message(unknown))
    return list(selected.values())


def _sync_model(label: str, progress: Callable[[Any], None] | None = None, mode: str = "auto") -> Any:
    # Not at the top: the engine and the model registry import models, and `from pyck.core.cron import cron`
    # must work before the app registry is ready (settings files, datasource modules).
    from ..models import registry
    from ..sync import sync_model

    return sync_model(registry.get_model(label), progress=progress, mode=mode)


def _register_synced_models() -> None:
    if importlib.util.find_spec("pyck.core.sync") is None:
        return  # the sync engine is not installed in this build: no sync tasks
    from ..models import registry  # imports models: not at the top, for the same reason as in _sync_model

    for model in registry.synced_models():
        interval = model.sync_config.sync_interval
        label = model._meta.label
        name = f"{SYNC_PREFIX}{label}"
        if interval is None:
            _jobs.pop(name, None)
            continue
        fn = _SyncTask(label)
        register_cron(fn, interval, name=name, model_label=label)


class _SyncTask:
    """The function behind a `sync:` task; a class so that it compares equal across autodiscoveries."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, progress: Callable[[Any], None] | None = None, mode: str = "auto") -> Any:
        return _sync_model(self.label, progress=progress, mode=mode)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SyncTask) and other.label == self.label

    def __hash__(self) -> int:
        return hash(self.label)

    def __repr__(self) -> str:
        return f"<sync task {self.label}>"


def autodiscover() -> None:
    """Import every installed app's `cron` module and register a sync task per scheduled synced model.

    The clock, `run_cron_tasks` and the Django Tasks worker entry point call this; call it yourself only when
    you use the registry outside them. It needs the app registry to be ready. Safe to call repeatedly.
    """
    autodiscover_modules("cron")
    _register_synced_models()
