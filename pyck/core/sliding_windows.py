"""Where a `RequestBudget` counts its requests: a sliding window log, in this process or in Redis.

A sliding (moving) window admits a request when fewer than N requests were admitted in the last `per` seconds,
whenever "now" is: no window boundary lets 2N through, as fixed windows aligned on the clock did.

- `MemoryWindows`: the log in this process (a deque of admission times per key, under a lock). What a budget
  in a local-memory, file or database cache counts in: every process then has the whole budget
  (`manage.py check` says so, `pyck.W012`).
- `RedisWindows`: the log in Redis (a Lua script checks and records a request atomically, timed by the
  Redis server's clock), so every process and machine using that Redis server shares the budget.

- `SlicedWindows`: for Memcached, which increments atomically but cannot check and record in one step: the
  window cut into slices of one counter each, which never admits more than the budget but only about 91% of it.

Why not the `limits` library's moving window, which works the same way: it times requests with each
client's `time.time()` (no fake clock for tests, and machines' clocks must agree), and its Redis windows are
whole seconds (its keys expire with `EXPIRE`), where a budget's window is `per` plus a sub-second margin.

`windows_for(alias)` picks one from the Django cache named `alias`: a Redis cache (Django's own
`RedisCache` or django-redis) gives `RedisWindows` on the same server, a Memcached cache `SlicedWindows` in
it; any other cache gives the in-process log shared by every budget naming that cache.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import Any, Protocol

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.memcached import BaseMemcachedCache

from .exceptions import ConfigurationError

__all__ = ["MemoryWindows", "RedisWindows", "SlicedWindows", "SlidingWindows", "is_redis_cache", "windows_for"]


class SlidingWindows(Protocol):
    """Counters of requests in a sliding window, one per key."""

    def admit(self, key: str, limit: int, per: float, now: float) -> float:
        """Count one request under `key` if fewer than `limit` were counted in the last `per` seconds, and
        return 0.0; else count nothing and return the seconds until the oldest of them leaves the window.
        `now` is the caller's clock (an in-process log uses it; Redis uses the wall clock)."""
        ...


class MemoryWindows:
    """The sliding window log of this process: the admission times of the last `limit` requests per key,
    timed by the caller's clock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[str, deque[float]] = {}

    def admit(self, key: str, limit: int, per: float, now: float) -> float:
        """See `SlidingWindows.admit`."""
        with self._lock:
            log = self._logs.get(key)
            if log is None or log.maxlen != limit:
                log = self._logs[key] = deque(log or (), maxlen=limit)
            # The request `limit` places back must have left the window.
            if len(log) < limit or log[0] <= now - per:
                log.append(now)
                return 0.0
            return log[0] + per - now

    def count(self, key: str, per: float, now: float) -> int:
        """How many requests `key` has counted in the `per` seconds up to `now` (at most its last `limit`)."""
        with self._lock:
            return sum(1 for at in self._logs.get(key, ()) if at > now - per)


# KEYS[1]: the log, a Redis list of admission times (microseconds, newest first). ARGV: the limit, the window in
# microseconds. The time is the Redis server's, one clock for every process and machine; checking and
# recording in one script is atomic. Returns 0 (admitted and recorded) or the microseconds until the oldest
# of the last `limit` admissions leaves the window.
_ADMIT = """
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local oldest = redis.call('LINDEX', KEYS[1], limit - 1)
if oldest and tonumber(oldest) > now - window then
    return math.max(1, math.ceil(tonumber(oldest) + window - now))
end
redis.call('LPUSH', KEYS[1], string.format('%d', now))
redis.call('LTRIM', KEYS[1], 0, limit - 1)
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
return 0
"""


class RedisWindows:
    """The sliding window log in Redis: one list per key holding the admission times of the last `limit`
    requests, checked and appended to by one Lua script (atomic), timed by the Redis server's clock.

    Args:
        url: the Redis server, as `redis.Redis.from_url` takes it.
        key_prefix: put before every key (the Django cache's `KEY_PREFIX` and version).
        options: passed to `redis.Redis.from_url` (`db`).
    """

    def __init__(self, url: str, *, key_prefix: str, **options: Any) -> None:
        # redis is needed only by budgets counted in Redis, and is there when CACHES names a Redis cache.
        import redis

        self.client = redis.Redis.from_url(url, **options)
        self.key_prefix = key_prefix
        self.script = self.client.register_script(_ADMIT)

    def admit(self, key: str, limit: int, per: float, now: float) -> float:
        """See `SlidingWindows.admit` (`now` is not used: the Redis server's clock is); exceptions from
        Redis propagate, so that the budget fails closed."""
        wait = int(self.script(keys=[f"{self.key_prefix}:{key}"], args=[limit, math.ceil(per * 1_000_000)]))
        return wait / 1_000_000


class SlicedWindows:
    """The sliding window in a cache that increments atomically but runs no scripts (Memcached): the window is
    cut into `SLICES` slices, one counter each, and a request is admitted when its own slice's counter (after an
    atomic `incr`) and the `SLICES` slices before it hold at most `limit` requests together; otherwise it takes
    its `incr` back (`decr`).

    Any `per` seconds, wherever they start, lie within `SLICES + 1` consecutive slices, whose sum the last
    request admitted in them checked (the counters only ever hold more than was admitted): never more than
    `limit`. The price: the budget allows `limit` in `per * (SLICES + 1) / SLICES` seconds, 91% of it. Slices
    are aligned on each process's clock (`now`), so machines sharing the budget need synchronised clocks.
    """

    SLICES = 10

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def admit(self, key: str, limit: int, per: float, now: float) -> float:
        """See `SlidingWindows.admit`; exceptions from the cache propagate, so that the budget fails closed."""
        size = per / self.SLICES
        current = math.floor(now / size)
        names = [f"{key}:{current - back}" for back in range(self.SLICES + 1)]  # this slice first
        self.cache.add(names[0], 0, math.ceil(2 * per) + 1)
        counted = int(self.cache.incr(names[0]))
        earlier = self.cache.get_many(names[1:])
        before = [int(earlier.get(name) or 0) for name in reversed(names[1:])]  # the oldest slice first
        excess = counted + sum(before) - limit
        if excess <= 0:
            return 0.0
        self.cache.decr(names[0])
        # The oldest slices leave the window one by one, at the end of the slices after this one.
        for leaving, count in enumerate(before, start=1):
            excess -= count
            if excess <= 0:
                return (current + leaving) * size - now
        return (current + self.SLICES + 1) * size - now


def is_redis_cache(cache: Any) -> bool:
    """Whether `cache` is Django's `RedisCache` or django-redis's."""
    # Imported here: django.core.cache.backends.redis is cheap, but only budgets ask.
    from django.core.cache.backends.redis import RedisCache

    return isinstance(cache, RedisCache) or type(cache).__module__.startswith("django_redis.")


_lock = threading.Lock()
_windows: dict[tuple[Any, ...], SlidingWindows] = {}


def windows_for(alias: str) -> SlidingWindows:
    """The sliding windows of the Django cache `alias` (see the module docstring); one object per cache
    configuration, shared by every budget and thread of the process.

    Raises:
        ConfigurationError: `alias` is not in `CACHES`, or the cache keeps nothing (a dummy cache).
    """
    config = settings.CACHES.get(alias)
    if config is None:
        raise ConfigurationError(
            f"RequestBudget(cache={alias!r}) names no cache; add it to the CACHES setting "
            "(a Redis cache, shared by every process)"
        )
    cache = caches[alias]
    if isinstance(cache, DummyCache):
        raise ConfigurationError(
            f"The cache {alias!r} ({type(cache).__name__}) keeps nothing, so it cannot count requests; point "
            "RequestBudget(cache=...) at a Redis cache"
        )
    identity = (alias, type(cache), repr(config.get("LOCATION")), repr(config.get("KEY_PREFIX")), repr(config.get("OPTIONS")))
    with _lock:
        windows = _windows.get(identity)
        if windows is None:
            if is_redis_cache(cache):
                windows = _redis_windows(alias, cache, config)
            elif isinstance(cache, BaseMemcachedCache):
                windows = SlicedWindows(cache)
            else:
                windows = MemoryWindows()
            _windows[identity] = windows
        return windows


def _redis_windows(alias: str, cache: Any, config: dict[str, Any]) -> RedisWindows:
    location = config.get("LOCATION") or "redis://127.0.0.1:6379"
    servers = location.split(",") if isinstance(location, str) else list(location)
    options = config.get("OPTIONS") or {}
    # The first server is the one Django's RedisCache writes to; "db" is the one redis option a LOCATION
    # without a path needs.
    extra = {"db": int(options["db"])} if "db" in options else {}
    return RedisWindows(servers[0].strip(), key_prefix=cache.make_key("pyck:budget"), **extra)
