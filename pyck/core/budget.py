"""A request budget shared by every process: at most N requests per window to one API, counted in Django's cache.

`rate_limit` spaces one process's requests out; a budget keeps the sum
of every clock, worker and web process under an API's quota:

```python
class ZapMessageResource(RestDatasource[Message]):
    base_url = "https://api.zapmessage.io"
    request_budget = RequestBudget(requests=100, per=timedelta(minutes=1))
```

Windows are fixed and aligned on the Unix epoch: with `per=timedelta(minutes=1)` a window is one calendar
minute of wall-clock time, the same for every process (machines need synchronised clocks). Each request
increments a counter in the cache, under the key `pyck:budget:<key>:<window number>` (`cache.add` then
the atomic `cache.incr`); a request that finds its window spent waits for the next window, or raises
`RateLimitError` at once when that is further away than `RequestBudget.max_wait`.

The counter only holds across processes in a cache they all share and that increments atomically: Redis or
Memcached. `manage.py check` warns (`pyck.W012`) about a budget in any other cache.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.cache import InvalidCacheBackendError, caches

from . import http
from .conf import pyck_settings
from .exceptions import ConfigurationError, RateLimitError, TransportError

__all__ = ["RequestBudget"]

# Characters kept as they are in a budget's cache key; anything else (spaces, control characters, which
# Memcached refuses) is replaced, and a hash of the original keeps replaced keys apart.
_UNSAFE = re.compile(r"[^\w.:@/<>+-]")
_MAX_KEY = 150
# cache.incr finds no counter right after cache.add created it only when the cache keeps nothing.
_ATTEMPTS = 3
# Sleeping exactly to the next window's start can wake a hair before it (float rounding, clock resolution).
_PAST_THE_EDGE = 0.001


@dataclass(frozen=True)
class RequestBudget:
    """At most `requests` requests every `per`, across every process sharing `cache`.

    Set it on a `RestDatasource` as `request_budget` (a class attribute or a
    constructor keyword argument).

    **What counts.** Every HTTP request the datasource sends over the network, each counted just before it is
    sent: the first attempt, every retry (after a connection error, a timeout, a 429 or a 5xx) and every
    redirect followed. Requests a datasource refuses to send (an id that cannot name a record) do not count.
    A retry's backoff wait comes first, then the budget's. Requests sent through a session you mount adapters
    on yourself in `get_session` are not counted by those adapters.

    **When the window is spent.** The request waits for the next window (through the same wait function as
    retries) and tries again. If the next window opens further away than `max_wait` (counting what the
    request already waited), it raises `RateLimitError` at once instead, with
    `retry_after` set to the seconds until that window; a sync then fails with that error and the next run
    starts afresh. A cache that fails (Redis down) makes the request raise
    `TransportError`: the budget never lets requests through uncounted.

    Args:
        requests: how many requests each window allows (at least 1).
        per: the window's length, a `timedelta` or seconds.
        key: the counter's name. `None`: derived from the datasource's class and the host of its
            `base_url`, so every instance of one datasource class talking to one host shares a budget, in
            every process. Give several datasources the same key to share one quota.
        cache: the alias of the Django cache (a key of `CACHES`) holding the counters.
        max_wait: the longest, in seconds, one request waits for the budget; `None`: the
            `HTTP_MAX_RETRY_AFTER` setting (120 s), the same bound as a server's `Retry-After`.
        clock: the wall clock in seconds since the epoch (tests pass a fake one). Every process must use the
            same clock for their windows to agree.
    """

    requests: int
    per: timedelta | float
    key: str | None = None
    cache: str = "default"
    max_wait: float | None = None
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.requests, bool) or not isinstance(self.requests, int) or self.requests < 1:
            raise ConfigurationError(f"RequestBudget(requests=...) must be a whole number of at least 1, got {self.requests!r}")
        seconds = self.per.total_seconds() if isinstance(self.per, timedelta) else self.per
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
            raise ConfigurationError(f"RequestBudget(per=...) must be a positive timedelta or number of seconds, got {self.per!r}")
        if self.max_wait is not None and not self.max_wait >= 0:
            raise ConfigurationError(f"RequestBudget(max_wait=...) must be seconds (0 or more) or None, got {self.max_wait!r}")
        if self.key is not None and (not isinstance(self.key, str) or not self.key):
            raise ConfigurationError(f"RequestBudget(key=...) must be a non-empty string or None, got {self.key!r}")
        if not isinstance(self.cache, str):
            raise ConfigurationError(f"RequestBudget(cache=...) must be the alias of a cache in CACHES, got {self.cache!r}")

    @property
    def seconds(self) -> float:
        """The window's length in seconds."""
        return float(self.per.total_seconds() if isinstance(self.per, timedelta) else self.per)

    def key_for(self, datasource: Any) -> str:
        """The counter's name for `datasource`: `key`, else `<module>.<class qualname>@<host:port>`
        from the datasource's class and the host of its `base_url`."""
        if self.key is not None:
            return self.key
        cls = type(datasource)
        base_url = getattr(datasource, "base_url", None) or ""
        host = urlsplit(base_url).netloc.rpartition("@")[2].lower()
        return f"{cls.__module__}.{cls.__qualname__}@{host}"

    def acquire(self, key: str, *, datasource: Any = None) -> float:
        """Count one request against the counter `key`, waiting for the next window while this one is
        spent; return the seconds waited.

        Call it just before sending each request, when you do your own HTTP (a
        `RestDatasource` calls it for you); `datasource` is named in the errors.

        Raises:
            RateLimitError: the next window with room opens more than `max_wait` seconds from the start
                of the wait; `retry_after` says when.
            TransportError: the cache failed.
            ConfigurationError: `cache` names no cache, or a cache that keeps nothing.
        """
        cache = self._get_cache(datasource)
        max_wait = float(self.max_wait if self.max_wait is not None else pyck_settings.HTTP_MAX_RETRY_AFTER)
        per = self.seconds
        waited = 0.0
        while True:
            now = self.clock()
            window = math.floor(now / per)
            if self._count(cache, key, window, datasource) <= self.requests:
                return waited
            wait = max((window + 1) * per - now, 0.0) + _PAST_THE_EDGE
            if waited + wait > max_wait:
                error = RateLimitError(
                    f"The request budget of {self.requests} per {_show_seconds(per)} (key {key!r}) is spent; the "
                    f"next window opens in {wait:.3g}s, beyond the longest wait allowed ({max_wait:g}s, "
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

    def cache_key(self, key: str, window: int) -> str:
        """The cache key of the counter `key` in window number `window`: `pyck:budget:<key>:<window>`,
        with characters Memcached refuses replaced (and a hash added) and long keys shortened."""
        safe = _UNSAFE.sub("_", key)
        if safe != key or len(safe) > _MAX_KEY:
            safe = f"{safe[:_MAX_KEY - 17]}~{hashlib.sha256(key.encode()).hexdigest()[:16]}"
        return f"pyck:budget:{safe}:{window}"

    def _get_cache(self, datasource: Any) -> Any:
        try:
            return caches[self.cache]
        except InvalidCacheBackendError as error:
            where = f"{datasource}: " if datasource is not None else ""
            raise ConfigurationError(
                f"{where}RequestBudget(cache={self.cache!r}) names no cache; add it to the CACHES setting "
                "(a Redis or Memcached cache, shared by every process)"
            ) from error

    def _count(self, cache: Any, key: str, window: int, datasource: Any) -> int:
        cache_key = self.cache_key(key, window)
        # The counter outlives its window, so that a process whose clock runs a little behind still finds it.
        timeout = 2 * math.ceil(self.seconds) + 1
        try:
            for _ in range(_ATTEMPTS):
                cache.add(cache_key, 0, timeout)
                try:
                    return int(cache.incr(cache_key))
                except ValueError:
                    continue  # evicted or expired between add() and incr(): create it again
        except Exception as error:
            raise TransportError(
                f"The request budget's cache {self.cache!r} failed ({type(error).__name__}: {error}); the request "
                "was not sent, as it could not be counted",
                datasource=datasource,
            ) from error
        raise ConfigurationError(
            f"{datasource if datasource is not None else 'RequestBudget'}: the cache {self.cache!r} "
            f"({type(cache).__name__}) keeps nothing, so it cannot count requests; point RequestBudget(cache=...) "
            "at a Redis or Memcached cache"
        )


def _show_seconds(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}s" if count > 1 else unit
    return f"{seconds:g}s"
