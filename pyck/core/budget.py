"""A request budget shared by every process: at most N requests in any `per` seconds to one API account.

`rate_limit` spaces one process's requests out; a budget keeps the sum
of every clock, worker and web process under an API's quota:

```python
class ZapMessageResource(RestDatasource[Message]):
    base_url = "https://api.zapmessage.io"
    request_budget = RequestBudget(requests=100, per=timedelta(minutes=1))
```

The window slides: a request is sent when fewer than `requests` requests were sent in the `per` seconds
before it, whenever it comes (a window aligned on the clock would let twice the budget through across its
boundary). Datasources whose budgets have the same `key` (all the tables of one Airtable base, every
endpoint of one account) share one count. A request that finds the budget spent waits until the oldest
request of the window leaves it, or raises `RateLimitError` at once when that is further away than
`RequestBudget.max_wait`.

Where it counts (`pyck.core.sliding_windows`): in Redis when `cache` names a Redis cache (Django's
`RedisCache` or django-redis), shared by every process and machine using that Redis server; in this process
for any other cache, and `manage.py check` warns (`pyck.W012`) that every process then has the whole budget.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from . import http
from .conf import pyck_settings
from .exceptions import ConfigurationError, RateLimitError, TransportError
from .sliding_windows import windows_for

__all__ = ["RequestBudget", "budget_of"]

# Characters kept as they are in a budget's storage key; anything else (spaces, control characters) is replaced, and a hash of the original keeps replaced keys apart.
_UNSAFE = re.compile(r"[^\w.:@<>+-]")
_MAX_KEY = 150
# Sleeping exactly until the oldest request leaves the window can wake a hair before it (float rounding).
_PAST_THE_EDGE = 0.001


@dataclass(frozen=True)
class RequestBudget:
    """At most `requests` requests in any `per` seconds, across every process sharing `cache`.

    Set it on a `RestDatasource` as `request_budget` (a class attribute or a
    constructor keyword argument). Give the budgets of several datasources the same `key` to make them share
    one quota: `RequestBudget(requests=5, per=1, key="airtable:appXXXX")` on every table of one Airtable
    base keeps the base under 5 requests a second, however many tables and processes sync it.

    **What counts.** Every HTTP request the datasource sends over the network, each counted just before it is
    sent: the first attempt, every retry (after a connection error, a timeout, a 429 or a 5xx) and every
    redirect followed. Requests a datasource refuses to send (an id that cannot name a record) do not count.
    A retry's backoff wait comes first, then the budget's. Requests sent through a session you mount adapters
    on yourself in `get_session` are not counted by those adapters.

    **When the budget is spent.** The window slides: the request waits (through the same wait function as
    retries) until the oldest request of the last `per` seconds leaves it, and tries again. If that is further
    away than `max_wait` (counting what the request already waited), it raises `RateLimitError` at once
    instead, with `retry_after` set to the seconds until then; a sync then fails with that error and the next
    run starts afresh. A storage that fails (Redis down) makes the request raise `TransportError`: the budget
    never lets requests through uncounted.

    Args:
        requests: how many requests any window of `per` seconds allows (at least 1).
        per: the window's length, a `timedelta` or seconds.
        key: the count's name. `None`: derived from the datasource's class and the host of its
            `base_url`, so every instance of one datasource class talking to one host shares a budget, in
            every process. Give several datasources the same key (and the same `requests` and `per`) to
            share one quota.
        cache: the alias of the Django cache (a key of `CACHES`) saying where to count: a Redis cache
            (`django.core.cache.backends.redis.RedisCache` or django-redis) counts in that Redis server,
            shared by every process, timed by the server's clock; any other cache counts in this process only
            (system check `pyck.W012`).
        max_wait: the longest, in seconds, one request waits for the budget; `None`: the
            `HTTP_MAX_RETRY_AFTER` setting (120 s), the same bound as a server's `Retry-After`.
        margin: seconds added to the window, so that the API, which counts requests when they arrive, never
            sees more than `requests` in `per` although the network delays some requests more than others
            (a request is counted just before it is sent). The budget then allows `requests` per
            `per + margin`: 5 a second with the default 0.1 s margin is at most 4.5 a second on average.
        clock: the wall clock in seconds of a budget counted in this process (tests pass a fake one); a budget
            counted in Redis uses the Redis server's clock.
    """

    requests: int
    per: timedelta | float
    key: str | None = None
    cache: str = "default"
    max_wait: float | None = None
    margin: float = 0.1
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.requests, bool) or not isinstance(self.requests, int) or self.requests < 1:
            raise ConfigurationError(f"RequestBudget(requests=...) must be a whole number of at least 1, got {self.requests!r}")
        seconds = self.per.total_seconds() if isinstance(self.per, timedelta) else self.per
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
            raise ConfigurationError(f"RequestBudget(per=...) must be a positive timedelta or number of seconds, got {self.per!r}")
        if self.max_wait is not None and not self.max_wait >= 0:
            raise ConfigurationError(f"RequestBudget(max_wait=...) must be seconds (0 or more) or None, got {self.max_wait!r}")
        if isinstance(self.margin, bool) or not isinstance(self.margin, (int, float)) or not self.margin >= 0:
            raise ConfigurationError(f"RequestBudget(margin=...) must be seconds (0 or more), got {self.margin!r}")
        if self.key is not None and (not isinstance(self.key, str) or not self.key):
            raise ConfigurationError(f"RequestBudget(key=...) must be a non-empty string or None, got {self.key!r}")
        if not isinstance(self.cache, str):
            raise ConfigurationError(f"RequestBudget(cache=...) must be the alias of a cache in CACHES, got {self.cache!r}")

    @property
    def seconds(self) -> float:
        """The window's length in seconds."""
        return float(self.per.total_seconds() if isinstance(self.per, timedelta) else self.per)

    def key_for(self, datasource: Any) -> str:
        """The count's name for `datasource`: `key`, else `<module>.<class qualname>@<host:port>`
        from the datasource's class and the host of its `base_url`."""
        if self.key is not None:
            return self.key
        cls = type(datasource)
        base_url = getattr(datasource, "base_url", None) or ""
        host = urlsplit(base_url).netloc.rpartition("@")[2].lower()
        return f"{cls.__module__}.{cls.__qualname__}@{host}"

    def acquire(self, key: str, *, datasource: Any = None) -> float:
        """Count one request against the count `key`, waiting while the budget is spent; return the seconds
        waited.

        Call it just before sending each request, when you do your own HTTP (a
        `RestDatasource` calls it for you); `datasource` is named in the errors.

        Raises:
            RateLimitError: the budget has room again only more than `max_wait` seconds from the start of the
                wait; `retry_after` says when.
            TransportError: the storage (Redis) failed; the request must not be sent.
            ConfigurationError: `cache` names no cache, or a cache that keeps nothing.
        """
        try:
            windows = windows_for(self.cache)
        except ConfigurationError as error:
            if datasource is None:
                raise
            raise ConfigurationError(f"{datasource}: {error}") from None
        max_wait = float(self.max_wait if self.max_wait is not None else pyck_settings.HTTP_MAX_RETRY_AFTER)
        per = self.seconds
        window = per + float(self.margin)
        name = self.cache_key(key)
        waited = 0.0
        while True:
            try:
                wait = windows.admit(name, self.requests, window, self.clock())
            except Exception as error:
                raise TransportError(
                    f"The request budget's cache {self.cache!r} failed ({type(error).__name__}: {error}); the "
                    "request was not sent, as it could not be counted",
                    datasource=datasource,
                ) from error
            if wait <= 0:
                return waited
            wait += _PAST_THE_EDGE
            if waited + wait > max_wait:
                error = RateLimitError(
                    f"The request budget of {self.requests} per {_show_seconds(per)} (key {key!r}) is spent; it "
                    f"has room again in {wait:.3g}s, beyond the longest wait allowed ({max_wait:g}s, "
                    "RequestBudget.max_wait or HTTP_MAX_RETRY_AFTER)",
                    datasource=datasource,
                )
                error.retry_after = wait
                raise error
            http.sleep(wait)
            waited += wait

    def bind(self, datasource: Any) -> Callable[[], float]:
        """Return a function of no arguments that calls `acquire` with `datasource`'s key."""
        key = self.key_for(datasource)
        return lambda: self.acquire(key, datasource=datasource)

    def cache_key(self, key: str) -> str:
        """The storage key of the count `key`: `pyck:budget:<key>`, with characters a cache may refuse replaced (and a hash added) and long keys shortened."""
        safe = _UNSAFE.sub("_", key)
        if safe != key or len(safe) > _MAX_KEY:
            safe = f"{safe[:_MAX_KEY - 17]}~{hashlib.sha256(key.encode()).hexdigest()[:16]}"
        return f"pyck:budget:{safe}"


def budget_of(datasource: Any) -> RequestBudget | None:
    """The datasource's `request_budget`, checked.

    Raises:
        ConfigurationError: it is neither a `RequestBudget` nor `None`.
    """
    budget = getattr(datasource, "request_budget", None)
    if budget is not None and not isinstance(budget, RequestBudget):
        raise ConfigurationError(f"{datasource}: request_budget must be a RequestBudget or None, got {budget!r}")
    return budget


def _show_seconds(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}s" if count > 1 else unit
    return f"{seconds:g}s"
