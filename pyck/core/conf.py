"""pyck's Django settings, with defaults.

All of pyck's settings live in one dict, `PYCK`, in your Django settings; every key is optional:

```python
PYCK = {
    "HTTP_TIMEOUT": 10,
    "UK_PARLIAMENT_BASE_URL": "http://127.0.0.1:8765/parliament",
}
```

Read them through `pyck_settings` (`pyck_settings.HTTP_TIMEOUT`) at the moment they are needed, never
at import time, so that `override_settings` and late configuration work. Values are cached and the cache is
cleared whenever Django's `setting_changed` signal fires for `PYCK`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from pyck import __version__

__all__ = ["DEFAULTS", "pyck_settings"]

DEFAULTS: dict[str, Any] = {
    # --- HTTP (RestDatasource) ---
    # Seconds to wait for a connection and for each read of a response.
    "HTTP_TIMEOUT": 30.0,
    # How many times a failed request (connection error, timeout, 429, 5xx) is retried.
    "HTTP_RETRIES": 3,
    # Exponential backoff: the n-th retry waits about BACKOFF_FACTOR * 2**(n-1) seconds, plus jitter.
    "HTTP_BACKOFF_FACTOR": 0.5,
    # The longest Retry-After we honour, in seconds; a server asking for longer gets a RateLimitError instead.
    # Also the longest a request waits for its RequestBudget (unless the budget sets max_wait).
    "HTTP_MAX_RETRY_AFTER": 120.0,
    # Sent with every request, so API operators can tell who is calling.
    "HTTP_USER_AGENT": f"django-pyck/{__version__} (+https://pypi.org/project/django-pyck/)",
    # The largest response body read, in bytes after decompression; a larger one raises ResponseError.
    "HTTP_MAX_RESPONSE_SIZE": 64 * 1024 * 1024,
    # The longest, in seconds, that one answer may take to arrive once the request is sent: status line,
    # headers and body together (the timeout applies to each read, so a server dripping bytes would otherwise
    # never end); a slower answer raises TransportError. The headers are cut off at the deadline (and retried
    # like a read timeout); the body is checked between reads, so the bound is this plus at most one
    # HTTP_TIMEOUT.
    "HTTP_MAX_RESPONSE_TIME": 300.0,
    # The deepest nesting of arrays and objects accepted in a JSON body; a deeper one raises ResponseError.
    "HTTP_MAX_JSON_DEPTH": 100,
    # A listing longer than this many pages raises ResponseError instead of being read on; a paginator's own
    # max_pages, when set, replaces it (and stops there quietly, as asked; a sync then counts its listing as
    # truncated and deletes nothing after it).
    "LIST_MAX_PAGES": 10_000,
    # --- Sync engine ---
    # How many records are written per batch (one transaction each).
    "SYNC_BATCH_SIZE": 1000,
    # With OnDelete.DELETE, the largest share of a table (0 to 1) one sync may delete; when more rows are
    # missing from the listing, nothing is deleted and the result says why. SyncConfig.max_delete_fraction
    # overrides it per model.
    "SYNC_MAX_DELETE_FRACTION": 0.5,
    # How many pages of a listing a sync fetches and parses in a background thread ahead of the batch it is
    # writing (0: none, everything in one thread). Memory grows by about this many pages.
    "SYNC_PREFETCH_PAGES": 10,
    # How many pages of a listing may be requested at once, once its first page says how long it is
    # (OffsetPaginator with total_path, PageNumberPaginator with total_pages_path; their concurrency argument
    # overrides it). 1: one page at a time. Syncs and list() alike.
    "SYNC_CONCURRENT_PAGES": 2,
    # While a sync runs, keep the garbage collector from traversing the objects that existed before it (gc.freeze):
    # a full collection otherwise walks every object of the process, tens of milliseconds each time.
    "SYNC_FREEZE_GC": True,
    # --- Cron clock (run_cron_tasks) ---
    # Seconds between two looks at the schedule; a due task starts at most this late.
    "CRON_TICK": 30.0,
    # Seconds a lease on a running task lasts before another process may take the task over; the running
    # process renews it every third of that, so this bounds the takeover delay after a crash.
    "CRON_LEASE_DURATION": 300.0,
    # True: the clock enqueues due tasks as Django Tasks (run by workers) instead of running them itself.
    "CRON_ENQUEUE": False,
    # The Django Tasks backend alias (a key of the TASKS setting) and queue used in enqueue mode.
    "CRON_TASKS_BACKEND": "default",
    "CRON_TASKS_QUEUE": "default",
    # --- Webhook inbox (pyck.core.webhooks) ---
    # The largest request body a webhook receiver accepts, in bytes; a larger one is answered 413, not stored.
    "WEBHOOK_MAX_BODY_SIZE": 1024 * 1024,
    # True: each stored event enqueues a Django Task that processes the inbox (after the request's commit);
    # False: the run_cron_tasks clock processes it between its ticks. None: as CRON_ENQUEUE.
    "WEBHOOK_ENQUEUE": None,
    # Seconds between two looks at the inbox by the run_cron_tasks clock (when it processes the inbox).
    "WEBHOOK_POLL_INTERVAL": 0.5,
    # How many events a worker claims and applies together (one write per model per batch).
    "WEBHOOK_BATCH_SIZE": 500,
    # Seconds a worker's claim on events lasts; a worker that died is taken over once it has expired.
    "WEBHOOK_CLAIM_DURATION": 300.0,
    # How many times an event is tried before it stays failed (until "reprocess" in the admin).
    "WEBHOOK_MAX_ATTEMPTS": 10,
    # Seconds before the first retry of a failed event; each further retry waits twice as long, up to
    # WEBHOOK_MAX_RETRY_DELAY.
    "WEBHOOK_RETRY_DELAY": 10.0,
    "WEBHOOK_MAX_RETRY_DELAY": 3600.0,
    # --- Operations (pyck.core.health: the health page, manage.py pyck_health, alerts) ---
    # How many failed runs in a row (failed webhook events, for a receiver) make a model failing: red, and alerted.
    "HEALTH_FAILURE_STREAK": 3,
    # A burst of refused webhook requests (bad signatures, a rotated secret): this many refusals from one source
    # within HEALTH_REFUSALS_WINDOW seconds open an incident. Counted in Django's default cache.
    "HEALTH_REFUSALS_BURST": 10,
    "HEALTH_REFUSALS_WINDOW": 300.0,
    # Seconds between two evaluations of the alerts by the run_cron_tasks clock (its built-in task
    # pyck.core.health.alerts.check_alerts); None: not registered (call check_alerts() yourself).
    "HEALTH_CHECK_INTERVAL": 60.0,
    # Whether alerts are also mailed to ADMINS (django.core.mail.mail_admins); they are always logged to the
    # pyck.health logger and sent as the sync_alert signal.
    "HEALTH_MAIL_ADMINS": True,
    # Whether pyck's metrics (pyck.core.health.metrics) are registered in prometheus_client's default registry
    # when prometheus_client is installed (the django-pyck[prometheus] extra).
    "HEALTH_METRICS": True,
    # --- Provided datasources ---
    "UK_PARLIAMENT_BASE_URL": "https://members-api.parliament.uk/api",
    "UK_POSTCODES_BASE_URL": "https://api.postcodes.io",
}


class PyckSettings:
    """Attribute access to the `PYCK` setting, falling back to `DEFAULTS`."""

    def __init__(self, defaults: dict[str, Any]) -> None:
        self._defaults = defaults
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._defaults:
            raise AttributeError(f"Unknown pyck setting {name!r}; the known ones are: {', '.join(sorted(self._defaults))}")
        try:
            return self._cache[name]
        except KeyError:
            user = getattr(settings, "PYCK", None) or {}
            value = user.get(name, self._defaults[name])
            self._cache[name] = value
            return value

    def reload(self) -> None:
        """Forget cached values; the next read goes to Django's settings again."""
        self._cache.clear()


pyck_settings = PyckSettings(DEFAULTS)


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "PYCK":
        pyck_settings.reload()


setting_changed.connect(_reload)
