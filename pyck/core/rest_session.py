"""The `requests` session of a `RestDatasource`, and what it is built from: `SessionConfig`.

A datasource builds its session on first use and rebuilds it when its `SessionConfig` changes (a setting
overridden in a test, `retries` changed on the instance): retries and their backoff, the `Retry-After` cap,
the user agent, the methods retried, the longest response time, the request budget, the wait after a 429
without `Retry-After`, and the connection pool's size.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import requests

from . import http
from .answers import retry_after_429
from .budget import RequestBudget, budget_of
from .conf import pyck_settings

__all__ = ["SessionConfig", "max_response_time", "pool_size"]


class SessionConfig(NamedTuple):
    """What a datasource's session is built from; a datasource whose `SessionConfig.of()` changes builds a new
    session."""

    retries: int
    backoff_factor: float
    max_retry_after: float
    user_agent: str
    retry_methods: frozenset[str]
    max_response_time: float
    budget: RequestBudget | None
    budget_key: str | None
    retry_after_429: float | None
    pool_maxsize: int

    @classmethod
    def of(cls, datasource: Any) -> SessionConfig:
        """The configuration of `datasource`'s session: its attributes, else pyck's `HTTP_*` settings.

        Raises:
            ConfigurationError: its `request_budget` or `retry_after_429` is not valid.
        """
        budget = budget_of(datasource)
        retries = datasource.retries if datasource.retries is not None else pyck_settings.HTTP_RETRIES
        backoff = (
            datasource.backoff_factor if datasource.backoff_factor is not None else pyck_settings.HTTP_BACKOFF_FACTOR
        )
        return cls(
            retries=int(retries),
            backoff_factor=float(backoff),
            max_retry_after=float(pyck_settings.HTTP_MAX_RETRY_AFTER),
            user_agent=pyck_settings.HTTP_USER_AGENT,
            retry_methods=frozenset(m.upper() for m in datasource.retry_methods),
            max_response_time=max_response_time(datasource),
            budget=budget,
            budget_key=budget.key_for(datasource) if budget is not None else None,
            retry_after_429=retry_after_429(datasource),
            pool_maxsize=pool_size(datasource),
        )

    def build(self, datasource: Any) -> requests.Session:
        """A new session for `datasource` with this configuration (see `http.build_session`)."""
        return http.build_session(
            retries=self.retries,
            backoff_factor=self.backoff_factor,
            max_retry_after=self.max_retry_after,
            timeout=datasource.get_timeout(),
            user_agent=self.user_agent,
            retry_methods=self.retry_methods,
            max_response_time=self.max_response_time,
            before_attempt=self.budget.bind(datasource) if self.budget is not None else None,
            retry_after_429=self.retry_after_429,
            pool_maxsize=self.pool_maxsize,
        )


def pool_size(datasource: Any) -> int:
    """The connections a datasource's session keeps open: one for each page a paginator has in flight at once
    (`concurrency`, else the `SYNC_CONCURRENT_PAGES` setting), and one for the caller's own requests; at
    least 10."""
    # requests' Session is safe for a paginator's threads: each request gets its own connection from urllib3's
    # thread-safe pool.
    concurrency = getattr(datasource.paginator, "concurrency", None)
    if concurrency is None:
        concurrency = pyck_settings.SYNC_CONCURRENT_PAGES
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        return 10
    return max(10, concurrency + 1)


def max_response_time(datasource: Any) -> float:
    """The longest, in seconds, a datasource waits for a whole answer: its `max_response_time`, else the
    `HTTP_MAX_RESPONSE_TIME` setting."""
    limit = datasource.max_response_time
    return float(limit if limit is not None else pyck_settings.HTTP_MAX_RESPONSE_TIME)
