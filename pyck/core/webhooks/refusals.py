"""How many webhook requests each source refused lately (bad signatures, a rotated secret), for the alerts.

Counted in Django's default cache, per source, in windows of `HEALTH_REFUSALS_WINDOW` seconds: a count and
nothing else, nothing about the request. With a cache that processes do not share (the local-memory default),
each process counts its own refusals: use a shared cache (Redis, Memcached, the database) in production.
"""

from __future__ import annotations

import time

from django.core.cache import cache

from ..conf import pyck_settings

__all__ = ["count_refusal", "recent_refusals"]

_PREFIX = "pyck:webhook-refusals"


def _window() -> float:
    return float(pyck_settings.HEALTH_REFUSALS_WINDOW)


def _key(source: str, bucket: int) -> str:
    return f"{_PREFIX}:{source}:{bucket}"


def count_refusal(source: str, now: float | None = None) -> None:
    """Count one refused request of `source` (never raises: a cache down must not break the view)."""
    window = _window()
    bucket = int((time.time() if now is None else now) // window)
    key = _key(source, bucket)
    try:
        cache.add(key, 0, timeout=int(window * 2) + 1)
        cache.incr(key)
    except Exception:  # noqa: BLE001 - the count is advice; the request is answered anyway
        pass


def recent_refusals(source: str, now: float | None = None) -> int:
    """The refusals of `source` counted in the current window and the one before it (between one and two windows
    of history, so that a burst across a window's edge is seen whole)."""
    window = _window()
    bucket = int((time.time() if now is None else now) // window)
    try:
        counts = cache.get_many([_key(source, bucket - 1), _key(source, bucket)])
    except Exception:  # noqa: BLE001 - a cache down: nothing to report
        return 0
    return sum(int(value) for value in counts.values())
