"""pyck's Django settings, with defaults.

All of pyck's settings live in one dict, ``PYCK``, in your Django settings; every key is optional::

    PYCK = {
        "HTTP_TIMEOUT": 10,
        "UK_PARLIAMENT_BASE_URL": "http://127.0.0.1:8765/parliament",
    }

Read them through :data:`pyck_settings` (``pyck_settings.HTTP_TIMEOUT``) at the moment they are needed, never
at import time, so that ``override_settings`` and late configuration work. Values are cached and the cache is
cleared whenever Django's ``setting_changed`` signal fires for ``PYCK``.
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
    "HTTP_MAX_RETRY_AFTER": 120.0,
    # Sent with every request, so API operators can tell who is calling.
    "HTTP_USER_AGENT": f"django-pyck/{__version__} (+https://pypi.org/project/django-pyck/)",
    # --- Sync engine ---
    # How many records are written per batch (one transaction each).
    "SYNC_BATCH_SIZE": 500,
    # --- Provided datasources ---
    "UK_PARLIAMENT_BASE_URL": "https://members-api.parliament.uk/api",
    "UK_POSTCODES_BASE_URL": "https://api.postcodes.io",
}


class PyckSettings:
    """Attribute access to the ``PYCK`` setting, falling back to :data:`DEFAULTS`."""

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
