"""HTTP plumbing for REST datasources: sessions, retries, rate limiting and reading bodies.

`RestDatasource` builds on these pieces; use them directly only when writing a
datasource that does its own HTTP:

- `build_session` returns a `requests.Session` that retries connection errors, 429 and 5xx answers
  with exponential backoff and jitter, honours `Retry-After` up to a cap, applies a default timeout to every
  request, bounds the time an answer's status line and headers may take, can call a function before every
  attempt it sends (a `RequestBudget`), and carries none of the caller's headers
  (credentials) and no cookie to another host on a redirect.
- `RateLimiter` is a thread-safe token bucket that keeps a client under N requests per second;
  `shared_rate_limiter` gives every caller naming one key the same one.
- `read_body` reads a streamed response body within a size limit and a total deadline.
- `with_query` appends query parameters to a URL, as `requests` sends them.
- `redact_url`, `redact_text` and `redact_secrets` remove secrets from a URL or a message before it goes into
  a log line or an error message. They live in `pyck.core.redaction` and are importable from here too.

Every wait (backoff, `Retry-After`, rate limit) goes through the module-level `_sleep` function, so tests
can replace it and check the waits without sleeping.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as urllib3_exceptions
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import MaxRetryError
from urllib3.exceptions import ResponseError as _Urllib3ResponseError
from urllib3.response import HTTPResponse as _Urllib3Response
from urllib3.util.retry import Retry

from .deadline import DEADLINE_POOLS, SlowAnswerError, exchange, header_seconds
from .exceptions import ConfigurationError, ResponseError, TransportError
from .redaction import (
    DEFAULT_SECRET_PARAMS,
    blank_out,
    is_credential_header,
    is_secret_param,
    redact_secrets,
    redact_text,
    redact_url,
    secret_values,
)

__all__ = [
    "DEFAULT_RETRY_METHODS",
    "DEFAULT_RETRY_STATUSES",
    "DEFAULT_SECRET_PARAMS",
    "RateLimiter",
    "SlowAnswerError",
    "blank_out",
    "build_retry",
    "build_session",
    "is_credential_header",
    "is_secret_param",
    "parse_retry_after",
    "read_body",
    "redact_secrets",
    "redact_text",
    "redact_url",
    "secret_values",
    "shared_rate_limiter",
    "sleep",
    "with_query",
]

# Answers that are retried: rate limited, and the server errors that are usually transient.
DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})

# Methods retried after an answer or a read error. POST is not: the server may have acted on it already.
# (A connection that could not be made at all is retried for every method: the server never saw it.)
DEFAULT_RETRY_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def _sleep(seconds: float) -> None:
    # Every wait in this module goes through here; tests replace it (see tests/conftest.py).
    time.sleep(seconds)


def sleep(seconds: float) -> None:
    """Wait `seconds` seconds the way this module waits: through `_sleep`, which tests replace.

    For the other waits of a datasource's requests (a `RequestBudget` waiting for its next window), so that a
    test replacing `_sleep` sees them too.

    Args:
        seconds: how long to wait.
    """
    _sleep(seconds)


# --- Redaction of urllib3's own log lines -------------------------------------------------------------------


class _RedactingFilter(logging.Filter):
    """Blanks secret query values out of urllib3's own log lines ("Retrying … /x?api_key=…")."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_redacting_filter = _RedactingFilter()


def _redact_urllib3_logs() -> None:
    for name in ("urllib3.connectionpool", "urllib3.util.retry"):
        logger = logging.getLogger(name)
        if _redacting_filter not in logger.filters:
            logger.addFilter(_redacting_filter)


# --- Retry-After -------------------------------------------------------------------------------------------


def parse_retry_after(value: str | None) -> float | None:
    """The seconds a `Retry-After` header asks for (it may be a number or an HTTP date); `None` if absent or
    unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time())


# --- Retries -----------------------------------------------------------------------------------------------


class _RetryAfterTooLong(_Urllib3ResponseError):
    """The server asked us to wait longer than HTTP_MAX_RETRY_AFTER: give up and hand back its answer."""


class _Retry(Retry):
    """urllib3's `Retry` with pyck's waits: backoff from the first retry, jitter, a `Retry-After` cap.

    The wait happens in `increment`, not in `sleep`: urllib3 calls `sleep()` after
    `increment()`, but `responses` (which tests use) only calls `increment()`. Doing it here makes the
    waits the same in both, and they go through `_sleep`. For the same reason `before_attempt` (a request
    budget) is called here, after the wait, for each retry: an `increment()` that returns means another
    attempt is about to be sent.
    """

    def __init__(
        self,
        *args: Any,
        max_retry_after: float = 120.0,
        before_attempt: Callable[[], object] | None = None,
        retry_after_429: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_retry_after = max_retry_after
        self.before_attempt = before_attempt
        self.retry_after_429 = retry_after_429

    def new(self, **kw: Any) -> _Retry:
        kw.setdefault("max_retry_after", self.max_retry_after)
        kw.setdefault("before_attempt", self.before_attempt)
        kw.setdefault("retry_after_429", self.retry_after_429)
        return super().new(**kw)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> _Retry:
        retry_after = None
        if response is not None and error is None and self.respect_retry_after_header:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is None and response.status == 429:
                retry_after = self.retry_after_429
            if retry_after is not None and retry_after > self.max_retry_after:
                # MaxRetryError makes urllib3 (and responses) return this answer as is (raise_on_status=False).
                raise MaxRetryError(_pool, url or "", _RetryAfterTooLong(f"Retry-After {retry_after:g}s is too long"))
        new_retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if response is None or response.get_redirect_location() in (None, False):
            _sleep(retry_after if retry_after is not None else new_retry.get_backoff_time())
        if self.before_attempt is not None:
            try:
                self.before_attempt()
            except BaseException:
                # urllib3 releases the connection of an answer only after a retry it makes; this one is not.
                if response is not None:
                    response.drain_conn()
                raise
        return new_retry

    def get_backoff_time(self) -> float:
        """`backoff_factor * 2**(n-1)` for the n-th consecutive retry, plus up to `backoff_factor` of jitter."""
        errors = 0
        for attempt in reversed(self.history):
            if attempt.redirect_location is not None:
                break
            errors += 1
        if errors == 0 or self.backoff_factor <= 0:
            return 0.0
        backoff = self.backoff_factor * 2 ** (errors - 1) + random.uniform(0, self.backoff_factor)
        return float(min(self.backoff_max, backoff))

    def sleep(self, response: Any = None) -> None:
        # The wait already happened in increment().
        return None


def build_retry(
    retries: int,
    *,
    backoff_factor: float,
    max_retry_after: float,
    methods: Collection[str] = DEFAULT_RETRY_METHODS,
    statuses: Collection[int] = DEFAULT_RETRY_STATUSES,
    before_attempt: Callable[[], object] | None = None,
    retry_after_429: float | None = None,
) -> Retry:
    """The `Retry` policy pyck mounts on its sessions (see the module docstring); `before_attempt` is
    called before each retry is sent, after its wait; `retry_after_429` is the wait after a 429 without
    `Retry-After` (`None`: the backoff), given up on like a `Retry-After` above `max_retry_after`."""
    return _Retry(
        total=retries,
        backoff_factor=backoff_factor,
        backoff_max=max(max_retry_after, backoff_factor),
        max_retry_after=max_retry_after,
        before_attempt=before_attempt,
        retry_after_429=retry_after_429,
        status_forcelist=frozenset(statuses),
        allowed_methods=frozenset(m.upper() for m in methods),
        # After the last retry, hand back the last answer (429, 503…) so the caller can raise a precise error.
        raise_on_status=False,
        respect_retry_after_header=True,
    )


# --- Session -----------------------------------------------------------------------------------------------


class _TimeoutAdapter(HTTPAdapter):
    """pyck's `HTTPAdapter`: a default timeout for requests sent without one, a deadline on each answer's
    status line and headers, and `before_attempt` called before each request it sends (retries are counted
    by the `Retry` policy, see `_Retry`)."""

    def __init__(
        self,
        *,
        timeout: float | None,
        max_response_time: float | None = None,
        before_attempt: Callable[[], object] | None = None,
        **kwargs: Any,
    ) -> None:
        self.default_timeout = timeout
        self.max_response_time = max_response_time
        self.before_attempt = before_attempt
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = DEADLINE_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if manager.pool_classes_by_scheme.get("http") is HTTPConnectionPool:  # urllib3's own, not SOCKS pools
            manager.pool_classes_by_scheme = DEADLINE_POOLS
        return manager

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        if self.before_attempt is not None:
            self.before_attempt()
        outer = getattr(exchange, "max_time", None)
        exchange.max_time = self.max_response_time
        try:
            return super().send(request, *args, **kwargs)
        finally:
            exchange.max_time = outer


class _Session(requests.Session):
    """A `requests.Session` that, when a redirect leads to another host or port (`should_strip_auth`), drops
    every header but the session's own non-credential defaults (`User-Agent`, `Accept`, `Accept-Encoding`,
    `Connection`) and the headers describing the request's body: whatever the caller passed with the request
    (all of a datasource's `get_headers()`, whatever their names) and any cookie stays with the first host.
    requests itself drops only `Authorization`."""

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        """requests' own, remembered per origin while the environment and the arguments stay the same.

        requests reads the proxy and CA bundle variables again for every request, walking the whole environment
        twice (`getproxies()`, `proxy_bypass()`): about a fifth of its work on a small JSON page.
        """
        environment = getattr(os.environ, "_data", None)  # CPython's own mapping: compared in C, not decoded
        if not self.trust_env or environment is None or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        try:
            key = (_origin(url), _frozen(proxies), stream, verify, cert, _frozen(self.proxies), self.stream, self.verify, self.cert)
            hash(key)
        except TypeError:  # an unhashable setting: not worth remembering
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        snapshot = tuple(environment.items())
        cache = self._environment_cache
        if cache is None or cache[0] != snapshot:
            cache = self._environment_cache = (snapshot, {})
        settings = cache[1].get(key)
        if settings is None:
            settings = cache[1][key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return {**settings, "proxies": dict(settings["proxies"])}

    _environment_cache: tuple[tuple[Any, ...], dict[Any, dict[str, Any]]] | None = None

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        super().rebuild_auth(prepared_request, response)
        if self.should_strip_auth(str(response.request.url), str(prepared_request.url)):
            headers = prepared_request.headers
            for name in list(headers):
                if not _kept_across_hosts(name, headers[name], self.headers):
                    del headers[name]


def _origin(url: str) -> str:
    """`scheme://host:port` of `url`: all that requests' environment settings depend on."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _frozen(mapping: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...] | None:
    return tuple(sorted(mapping.items())) if mapping else None


_BODY_HEADERS = frozenset({"content-length", "content-type", "transfer-encoding"})


def _kept_across_hosts(name: str, value: Any, defaults: Mapping[str, Any]) -> bool:
    if name.lower() in _BODY_HEADERS:
        return True  # a 307/308 sends the body again, and needs them to be read
    if name.lower() == "proxy-authorization":
        return True  # for the proxy, not the host: rebuild_proxies() has just set it afresh for the new URL
    if is_credential_header(name):
        return False
    return name in defaults and defaults[name] == value


def build_session(
    *,
    retries: int,
    backoff_factor: float,
    max_retry_after: float,
    timeout: float | None,
    user_agent: str | None = None,
    retry_methods: Collection[str] = DEFAULT_RETRY_METHODS,
    pool_maxsize: int = 10,
    max_response_time: float | None = None,
    before_attempt: Callable[[], object] | None = None,
    retry_after_429: float | None = None,
) -> requests.Session:
    """Return a new session with pyck's retry policy, default timeout and redirect rules mounted.

    Args:
        retries: how many times a failed request is retried (0: never).
        backoff_factor: the n-th retry waits `backoff_factor * 2**(n-1)` seconds plus jitter.
        max_retry_after: the longest `Retry-After` honoured; a longer one is not waited for and the 429 is
            returned to the caller.
        timeout: the timeout for requests sent without one.
        user_agent: the `User-Agent` header.
        retry_methods: the methods retried after an answer or a read error.
        pool_maxsize: connections kept open per host (raise it when many threads share the session).
        max_response_time: the longest, in seconds, an answer's status line and headers may take to arrive once
            the request is sent, however slowly they drip in (the timeout applies to each read only). Slower
            ones fail like a read timeout, and are retried like one. `None`: no bound. `read_body`
            bounds the body, within the same total.
        before_attempt: called before every attempt is sent, retries and redirects included; it may wait, or
            raise to stop the request (a `RequestBudget` does both).
        retry_after_429: the seconds to wait after a 429 that carries no `Retry-After` before retrying
            (an API's documented penalty, such as Airtable's 30 s); `None`: the backoff. Like a `Retry-After`,
            a penalty above `max_retry_after` is not waited for and the 429 is returned to the caller.
    """
    _redact_urllib3_logs()
    session = _Session()
    adapter = _TimeoutAdapter(
        timeout=timeout,
        max_response_time=max_response_time,
        before_attempt=before_attempt,
        max_retries=build_retry(
            retries,
            backoff_factor=backoff_factor,
            max_retry_after=max_retry_after,
            methods=retry_methods,
            before_attempt=before_attempt,
            retry_after_429=retry_after_429,
        ),
        pool_maxsize=pool_maxsize,
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if user_agent:
        session.headers["User-Agent"] = user_agent
    session.headers["Accept"] = "application/json"
    return session


# --- Reading bodies ----------------------------------------------------------------------------------------

_CHUNK = 64 * 1024


def read_body(
    response: requests.Response,
    *,
    max_size: int,
    max_time: float,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """Read the body of a response sent with `stream=True`, within limits, and store it as its `content`.

    The timeout of a request applies to each read from the socket, so a server that sends one byte at a time
    could keep a plain `response.content` busy forever. This reads in chunks that return as soon as any
    bytes arrive and checks the clock between them, so the answer takes at most `max_time` seconds plus one
    read timeout: when the session is `build_session`'s with the same `max_response_time`, the time its
    status line and headers took counts too, and the body gets what is left. The size is counted after
    decompression (a small gzip body can inflate enormously), and a `Content-Length` above `max_size` is
    refused before anything is read.

    Raises:
        ResponseError: the body is larger than `max_size` bytes, or its `Content-Encoding` is broken.
        TransportError: the answer took longer than `max_time` seconds, the connection broke before it was
            complete, or a read timed out.

    The errors name neither datasource nor URL: the caller adds them (`error.with_context(...)`).
    """
    declared = response.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > max_size:
        response.close()
        raise ResponseError(
            f"The response body is {int(declared)} bytes (Content-Length), more than the limit of {max_size} "
            "(HTTP_MAX_RESPONSE_SIZE)",
            status_code=response.status_code,
        )
    read = _chunk_reader(response)
    deadline = clock() + max_time - header_seconds(response.raw)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if clock() > deadline:
                raise TransportError(
                    f"The response took longer than {max_time:g}s to arrive (HTTP_MAX_RESPONSE_TIME); "
                    f"{size} bytes of its body came in that time",
                    status_code=response.status_code,
                )
            chunk = read()
            if not chunk:
                break
            size += len(chunk)
            if size > max_size:
                raise ResponseError(
                    f"The response body is larger than the limit of {max_size} bytes (HTTP_MAX_RESPONSE_SIZE)",
                    status_code=response.status_code,
                )
            chunks.append(chunk)
    except (ResponseError, TransportError):
        response.close()
        raise
    except urllib3_exceptions.DecodeError as error:
        response.close()
        raise ResponseError(
            f"Could not decode the response body ({response.headers.get('Content-Encoding')}): "
            f"{type(error).__name__}",
            status_code=response.status_code,
        ) from error
    except (urllib3_exceptions.HTTPError, requests.RequestException, OSError) as error:
        # ReadTimeoutError, ProtocolError (connection reset, IncompleteRead): urllib3 does not retry a body.
        response.close()
        what = "a read timed out" if isinstance(error, urllib3_exceptions.ReadTimeoutError) else "the connection broke"
        raise TransportError(
            f"The response body was cut short: {what} after {size} bytes ({type(error).__name__})",
            status_code=response.status_code,
        ) from None
    body = b"".join(chunks)
    response._content = body
    response._content_consumed = True
    release = getattr(response.raw, "release_conn", None)
    if release is not None:
        release()
    return body


def _chunk_reader(response: requests.Response) -> Callable[[], bytes]:
    # A function returning the next chunk of the body, b"" at the end.
    raw = response.raw
    if response._content_consumed or raw is None:  # type: ignore[attr-defined]
        content = response.content or b""
        chunks = iter([content])
        return lambda: next(chunks, b"")
    if isinstance(raw, _Urllib3Response):
        # read1 returns as soon as some bytes arrive; read(amt) would wait for all amt of them.
        if hasattr(raw, "read1"):
            return lambda: raw.read1(_CHUNK, decode_content=True)
        return lambda: raw.read(_CHUNK, decode_content=True)
    # Another kind of adapter (a file, a test double): let requests read it.
    iterator = response.iter_content(_CHUNK)
    return lambda: next(iterator, b"")


# --- Rate limiting -----------------------------------------------------------------------------------------


class RateLimiter:
    """A token bucket: at most `rate` requests per second on average, with bursts of up to `burst`.

    Thread-safe. `acquire` reserves a slot under a lock and sleeps outside it, so concurrent callers
    queue up one slot apart instead of all waking at once.

    Args:
        rate: requests per second (may be below 1: `0.5` is one every two seconds).
        burst: how many requests may go out at once after a quiet spell.
        clock: a monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(self, rate: float, *, burst: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._updated = clock()

    def acquire(self) -> float:
        """Wait until a request may be sent; return the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            # A negative balance is a debt: the next caller waits for it to be repaid first.
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            _sleep(wait)
        return wait


_shared_lock = threading.Lock()
_shared_limiters: dict[str, RateLimiter] = {}


def shared_rate_limiter(key: str, rate: float, *, owner: object = None) -> RateLimiter:
    """The process's one `RateLimiter` for `key`: every caller naming `key` shares its `rate` requests a
    second (the datasources of one API account, whatever their class or instance).

    Raises:
        ConfigurationError: `key` already has a limiter at another rate (`owner`, a datasource, is named).
    """
    with _shared_lock:
        limiter = _shared_limiters.get(key)
        if limiter is None:
            limiter = _shared_limiters[key] = RateLimiter(rate)
        elif limiter.rate != float(rate):
            who = f"{owner}: " if owner is not None else ""
            raise ConfigurationError(
                f"{who}rate_limit={rate:g} under rate_limit_key {key!r}, which another datasource of this process "
                f"declared with rate_limit={limiter.rate:g}; one key is one rate, give them the same rate_limit"
            )
        return limiter


def with_query(url: str, params: Mapping[str, Any] | None) -> str:
    """Return `url` with `params` appended to its query string, as `requests` sends them."""
    if not params:
        return url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode(params, doseq=True)}"
