"""``RestDatasource``: a datasource for a JSON REST API.

Point it at an endpoint and give it a resource type; override what the API does differently::

    @dataclass
    class Message:
        id: str
        content: str

    class ZapMessageResource(RestDatasource[ResourceT]):
        base_url = "https://api.zapmessage.io"
        paginator = PageNumberPaginator(items_path="items", total_pages_path="total_pages")

        def get_headers(self) -> dict[str, str]:
            return {"Authorization": f"Bearer {settings.ZAPMESSAGE_API_KEY}"}

    messages = ZapMessageResource(path="/messages", resource_type=Message)
    messages.get("m1")                    # GET https://api.zapmessage.io/messages/m1/
    for message in messages.list(): ...   # GET …/messages?page=1, ?page=2… one page at a time
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import requests
from urllib3 import exceptions as urllib3_exceptions

from . import http
from .base import Datasource, ResourceT
from .conf import pyck_settings
from .exceptions import (
    ConfigurationError,
    DatasourceError,
    InvalidResourceError,
    NotFoundError,
    RateLimitError,
    ResponseError,
    TransportError,
)
from .pagination import NoPaginator, Page, Paginator
from .records import deserializer_for, to_camel_case

__all__ = ["RestDatasource"]

logger = logging.getLogger("pyck.http")

# How much of an unexpected body an error message quotes.
_BODY_EXCERPT = 200


class RestDatasource(Datasource[ResourceT]):
    """A datasource reading JSON from a REST API: ``GET {url}`` lists, ``GET {url}/{id}/`` gets one record.

    Configure it with class attributes (in a subclass) or constructor keyword arguments (per endpoint), and
    override the ``get_*`` methods, :meth:`paginate` or :meth:`deserialize` where the API differs.

    HTTP behaviour (see :mod:`pyck.core.http`): one ``requests`` session per instance, reused across
    requests; connection errors, 429 and 5xx retried with exponential backoff and jitter, honouring
    ``Retry-After`` up to ``HTTP_MAX_RETRY_AFTER``; a timeout on every request; credentials headers dropped on
    a redirect to another host; an optional client-side rate limit. ``None`` on :attr:`timeout`,
    :attr:`retries` and :attr:`backoff_factor` means "use the ``PYCK`` setting".

    Errors, each naming the datasource, the URL without secrets, and the record id where known:
    :class:`~pyck.core.exceptions.NotFoundError` (404),
    :class:`~pyck.core.exceptions.RateLimitError` (429 after the retries, or a ``Retry-After`` too long to
    wait), :class:`~pyck.core.exceptions.ResponseError` (other non-2xx, or a body that is not JSON),
    :class:`~pyck.core.exceptions.TransportError` (no answer), and
    :class:`~pyck.core.exceptions.InvalidResourceError` (a record that does not fit :attr:`resource_type`).
    """

    # The root of the API, without the endpoint ("https://api.example.com/v1").
    base_url: str | None = None
    # The endpoint under base_url ("/messages"); base_url and path are joined with exactly one slash.
    path: str = ""
    # How list() walks the pages; None: the body is a plain JSON list, fetched in one request.
    paginator: Paginator | None = None
    # Map camelCase JSON keys onto snake_case attributes of resource_type.
    camel_case: bool = False
    # Seconds to wait for a connection and for each read; None: the HTTP_TIMEOUT setting.
    timeout: float | None = None
    # Retries after a connection error, a 429 or a 5xx; None: the HTTP_RETRIES setting.
    retries: int | None = None
    # The n-th retry waits backoff_factor * 2**(n-1) seconds plus jitter; None: HTTP_BACKOFF_FACTOR.
    backoff_factor: float | None = None
    # The methods retried after an answer or a read error; POST is not, as the server may have acted on it.
    retry_methods: Collection[str] = http.DEFAULT_RETRY_METHODS
    # At most this many requests per second from this datasource (all threads together); None: no limit.
    rate_limit: float | None = None
    # A predicate on deserialised records; list() yields only those for which it returns True.
    filter: Callable[[Any], bool] | None = None
    # Query parameters whose values are replaced by *** in logs and errors (plus any name containing
    # "token", "secret" or "key").
    secret_params: Collection[str] = http.DEFAULT_SECRET_PARAMS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._session: requests.Session | None = None
        self._session_config: tuple[Any, ...] | None = None
        self._limiter: http.RateLimiter | None = None

    # --- Configuration ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The endpoint's URL: :attr:`base_url` and :attr:`path` joined with exactly one slash."""
        if not self.base_url:
            raise ConfigurationError(
                f"{self} has no base_url: set it as a class attribute or pass base_url=... to the constructor"
            )
        if not self.path:
            return self.base_url.rstrip("/")
        return f"{self.base_url.rstrip('/')}/{self.path.lstrip('/')}"

    def get_headers(self) -> dict[str, str]:
        """Return the headers to send with every request, for example ``Authorization``.

        Override to authenticate. It is called for each request, so a rotated token is picked up.
        """
        return {}

    def get_timeout(self) -> float:
        """The timeout in seconds for each request: :attr:`timeout`, else the ``HTTP_TIMEOUT`` setting."""
        return float(self.timeout if self.timeout is not None else pyck_settings.HTTP_TIMEOUT)

    def get_session(self) -> requests.Session:
        """Return this datasource's ``requests`` session, creating it on first use.

        One session per instance, so connections are reused; it is rebuilt if the retry settings change.
        Override to mount your own adapters or add authentication (call ``super().get_session()`` first).
        """
        config = (
            self.retries if self.retries is not None else pyck_settings.HTTP_RETRIES,
            self.backoff_factor if self.backoff_factor is not None else pyck_settings.HTTP_BACKOFF_FACTOR,
            pyck_settings.HTTP_MAX_RETRY_AFTER,
            pyck_settings.HTTP_USER_AGENT,
            frozenset(m.upper() for m in self.retry_methods),
        )
        with self._lock:
            if self._session is None or self._session_config != config:
                if self._session is not None:
                    self._session.close()
                retries, backoff_factor, max_retry_after, user_agent, methods = config
                self._session = http.build_session(
                    retries=int(retries),
                    backoff_factor=float(backoff_factor),
                    max_retry_after=float(max_retry_after),
                    timeout=self.get_timeout(),
                    user_agent=user_agent,
                    retry_methods=methods,
                )
                self._session_config = config
            return self._session

    def redact(self, url: str) -> str:
        """Return ``url`` with :attr:`secret_params` values and any ``user:password@`` removed."""
        return http.redact_url(url, self.secret_params)

    # --- HTTP ------------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> requests.Response:
        """Send one request with this datasource's session, headers, timeout, retries and rate limit.

        Returns the response when it is 2xx; raises the matching
        :class:`~pyck.core.exceptions.DatasourceError` otherwise. Use it for calls :meth:`fetch_url` does not
        cover, such as a POST to a bulk endpoint (not retried unless ``"POST"`` is in :attr:`retry_methods`).
        """
        session = self.get_session()
        headers = self.get_headers()
        full_url = _with_query(url, params)
        shown = self.redact(full_url)
        if self.rate_limit:
            self._get_limiter().acquire()
        started = time.perf_counter()
        try:
            response = session.request(
                method, url, params=params, json=json, headers=headers, timeout=self.get_timeout()
            )
        except requests.RequestException as error:
            secrets = http.secret_values(full_url, headers, self.secret_params)
            elapsed = (time.perf_counter() - started) * 1000
            logger.debug("%s %s failed after %.0f ms: %s", method, shown, elapsed, type(error).__name__)
            raise TransportError(
                f"{method} request got no answer: {_describe_transport_error(error, secrets, self.secret_params)}",
                datasource=self,
                url=shown,
            ) from error
        elapsed = (time.perf_counter() - started) * 1000
        logger.debug("%s %s -> %s in %.0f ms", method, shown, response.status_code, elapsed)
        if not 200 <= response.status_code < 300:
            raise self._status_error(method, response, shown, headers)
        return response

    def fetch_url(self, url: str, query: Mapping[str, Any] | None = None, **params: Any) -> Any:
        """GET ``url`` with ``query`` and ``params`` as its query string, and return the parsed JSON body.

        Use it from overrides of :meth:`paginate` or :meth:`get`: ``self.fetch_url(self.url, query, page=2)``.
        """
        return self._fetch_page(url, {**(query or {}), **params}).data

    def _fetch_page(self, url: str, query: Mapping[str, Any]) -> Page:
        response = self.request("GET", url, params=query)
        return Page(data=self._parse_json(response), url=str(response.url or url), headers=response.headers)

    # --- Reading ---------------------------------------------------------------------------------------

    def paginate(self, **query: Any) -> Iterator[Any]:
        """Yield the raw items (parsed JSON) of the list endpoint, page by page, passing ``query`` on.

        Delegates to :attr:`paginator` (a plain JSON list when it is ``None``). Override it for a pagination
        scheme no paginator fits, calling ``self.fetch_url(self.url, query, page=page)`` for each page.
        """
        paginator = self.paginator or NoPaginator()
        current = {"url": self.url}

        def fetch(url: str, params: Mapping[str, Any]) -> Page:
            current["url"] = _with_query(url, params)
            return self._fetch_page(url, params)

        try:
            yield from paginator.paginate(fetch, self.url, query)
        except NotFoundError as error:
            raise ResponseError(
                "The list endpoint answered 404 Not Found; check base_url and path",
                datasource=self,
                url=error.url,
                status_code=404,
            ) from error
        except DatasourceError as error:
            raise error.with_context(datasource=self, url=self.redact(current["url"]))  # noqa: B904

    def deserialize(self, data: Any) -> ResourceT:
        """Turn one raw item (parsed JSON) into a :attr:`resource_type` instance.

        Override to unwrap an envelope (``return super().deserialize(data["value"])``). Raise
        :class:`~pyck.core.exceptions.InvalidResourceError` for data that does not fit; the caller adds the
        datasource, URL and record id.
        """
        return deserializer_for(self.resource_type, camel_case=self.camel_case)(data)

    def get_raw_id(self, data: Any) -> Any:
        """Return the record id in a raw item, for error messages (``None`` if it cannot be found).

        Override when the items come in an envelope, so that errors name the record.
        """
        if isinstance(data, Mapping):
            for key in (self.identifier, to_camel_case(self.identifier)):
                if key in data:
                    return data[key]
        return None

    def get_item_url(self, id: Any) -> str:
        """Return the URL of the record ``id``: ``{url}/{id}/``, the id URL-quoted as one path segment.

        Override when the API's item URLs look different (no trailing slash, a query parameter…).

        Raises:
            NotFoundError: the id is ``""``, ``"."`` or ``".."``, which no quoting keeps inside the resource
                path (URL parsers resolve ``%2E%2E`` as ``..``).
        """
        segment = quote(str(id), safe="")
        if segment in ("", ".", ".."):
            raise NotFoundError(
                "An empty, '.' or '..' id cannot name a record: in a URL path it would leave the resource path",
                datasource=self,
                url=self.redact(self.url),
                record_id=id,
            )
        return f"{self.url}/{segment}/"

    def get(self, id: Any, **query: Any) -> ResourceT:
        """Fetch and return the record ``id``, passing ``query`` on as query parameters.

        Raises:
            NotFoundError: the API answered 404.
        """
        url = self.get_item_url(id)
        try:
            data = self.fetch_url(url, query)
        except DatasourceError as error:
            raise error.with_context(record_id=id)  # noqa: B904 (keeps the original cause)
        return self._deserialize(data, url=self.redact(_with_query(url, query)), record_id=id)

    def list(self, **filter: Any) -> Iterator[ResourceT]:
        """Yield the records, fetching one page at a time; ``filter`` goes to the API as query parameters.

        Records for which :attr:`filter` (the attribute) returns False are skipped.
        """
        url = self.redact(_with_query(self.url, filter))
        for item in self.paginate(**filter):
            record = self._deserialize(item, url=url, record_id=self.get_raw_id(item))
            if self.filter is None or self.filter(record):
                yield record

    # --- Internals -------------------------------------------------------------------------------------

    def _deserialize(self, data: Any, *, url: str, record_id: Any) -> ResourceT:
        try:
            return self.deserialize(data)
        except InvalidResourceError as error:
            raise error.with_context(datasource=self, url=url, record_id=record_id)  # noqa: B904
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidResourceError(
                f"Could not deserialise the record: {type(error).__name__}: {error}",
                datasource=self,
                url=url,
                record_id=record_id,
            ) from error

    def _get_limiter(self) -> http.RateLimiter:
        with self._lock:
            if self._limiter is None or self._limiter.rate != float(self.rate_limit or 0):
                self._limiter = http.RateLimiter(float(self.rate_limit or 0))
            return self._limiter

    def _parse_json(self, response: requests.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            content_type = response.headers.get("Content-Type", "no content type")
            request = response.request
            secrets = http.secret_values(str(request.url or ""), request.headers, self.secret_params)
            raise ResponseError(
                f"Expected a JSON body, got {content_type!r} starting {_excerpt(response, secrets)!r} "
                f"({len(response.content)} bytes; {error})",
                datasource=self,
                url=self.redact(str(response.url)),
                status_code=response.status_code,
            ) from error

    def _status_error(
        self, method: str, response: requests.Response, shown: str, headers: Mapping[str, str]
    ) -> DatasourceError:
        status = response.status_code
        shown = self.redact(str(response.url)) if response.url else shown
        secrets = http.secret_values(
            str(response.request.url or ""), {**headers, **response.request.headers}, self.secret_params
        )
        body = _excerpt(response, secrets)
        if status == 404:
            return NotFoundError("Not found (HTTP 404)", datasource=self, url=shown, status_code=404)
        if status == 429:
            retry_after = http.parse_retry_after(response.headers.get("Retry-After"))
            cap = float(pyck_settings.HTTP_MAX_RETRY_AFTER)
            if retry_after is not None and retry_after > cap:
                why = f"asked to retry after {retry_after:g}s, more than HTTP_MAX_RETRY_AFTER={cap:g}s"
            else:
                why = "still rate limited after the retries"
            error = RateLimitError(f"Too many requests (HTTP 429): {why}", datasource=self, url=shown, status_code=429)
            error.retry_after = retry_after
            return error
        reason = f" {response.reason}" if response.reason else ""
        return ResponseError(
            f"{method} answered HTTP {status}{reason}: {body!r}", datasource=self, url=shown, status_code=status
        )


def _with_query(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode(params, doseq=True)}"


def _excerpt(response: requests.Response, secrets: Collection[str]) -> str:
    text = response.content[: _BODY_EXCERPT * 4].decode(response.encoding or "utf-8", errors="replace")
    text = http.blank_out(text, secrets)
    return text[:_BODY_EXCERPT] + ("…" if len(text) > _BODY_EXCERPT else "")


def _describe_transport_error(
    error: requests.RequestException, secrets: Collection[str], secret_params: Collection[str]
) -> str:
    # requests wraps urllib3's MaxRetryError, whose text quotes the URL with its query string; its reason
    # (NewConnectionError, ReadTimeoutError, SSLError…) does not, and says what actually happened.
    cause = error.args[0] if error.args else None
    reason = getattr(cause, "reason", cause)
    if isinstance(error, requests.exceptions.SSLError) or isinstance(reason, urllib3_exceptions.SSLError):
        kind = "TLS error"
    elif isinstance(reason, urllib3_exceptions.NewConnectionError):
        # Checked before timeouts: urllib3 makes NewConnectionError a subclass of ConnectTimeoutError.
        kind = "connection failed"
    elif isinstance(error, requests.exceptions.ConnectTimeout) or isinstance(
        reason, urllib3_exceptions.ConnectTimeoutError
    ):
        kind = "timed out connecting"
    elif isinstance(error, requests.exceptions.Timeout) or isinstance(reason, urllib3_exceptions.ReadTimeoutError):
        kind = "timed out waiting for the answer"
    elif isinstance(error, requests.exceptions.ConnectionError):
        kind = "connection failed"
    else:
        kind = type(error).__name__
    detail = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason or "")
    detail = re.sub(r"<[\w.]+ object at 0x[0-9a-f]+>: ", "", detail)
    detail = http.blank_out(http.redact_text(detail, secret_params), secrets)
    return f"{kind}: {detail}" if detail else kind
