"""`RestDatasource`: a datasource for a JSON REST API.

Point it at an endpoint and give it a resource type; override what the API does differently:

```python
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
messages.get("m1")                    # GET https://api.zapmessage.io/messages/m1
for message in messages.list(): ...   # GET …/messages?page=1, ?page=2… one page at a time
```

What the datasource makes of the API's answers (JSON bodies, error answers) is in `pyck.core.answers`, and how
the sync engine reads its listing in `pyck.core.rest_listing`.
"""

from __future__ import annotations

import logging
import threading
import time
import types
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from . import http
from .answers import describe_transport_error, parse_body, status_error
from .base import Datasource, Listed, ResourceT, has_tombstones, skip_tombstone
from .budget import RequestBudget
from .conf import pyck_settings
from .exceptions import (
    ConfigurationError,
    DatasourceError,
    InvalidResourceError,
    NotFoundError,
    ResponseError,
    TransportError,
)
from .pagination import NoPaginator, Page, Paginator, clip_pages, take_range
from .path_params import list_url
from .records import deserializer_for, to_camel_case
from .redaction import reveals, with_params
from .rest_items import api_root, check_item_url, explain_tombstone, item_url, read_record, record_in
from .rest_listing import NOT_DESERIALISABLE, read_pages, secret_query
from .rest_session import SessionConfig, max_response_time

__all__ = ["RestDatasource"]

logger = logging.getLogger("pyck.http")


class RestDatasource(Datasource[ResourceT]):
    """A datasource reading JSON from a REST API: `GET {url}` lists, `GET {url}/{id}` gets one record.

    Configure it with class attributes (in a subclass) or constructor keyword arguments (per endpoint), and
    override the `get_*` methods, `paginate` or `deserialize` where the API differs.

    HTTP behaviour (see `pyck.core.http`): one `requests` session per instance, reused across
    requests; connection errors, 429 and 5xx retried with exponential backoff and jitter, honouring
    `Retry-After` up to `HTTP_MAX_RETRY_AFTER`; a timeout on every request; credentials headers dropped on
    a redirect to another host; an optional client-side rate limit. `None` on `timeout`,
    `retries` and `backoff_factor` means "use the `PYCK` setting".

    Errors, each naming the datasource, the URL without secrets, and the record id where known:
    `NotFoundError` (404),
    `RateLimitError` (429 after the retries, or a `Retry-After` too long to
    wait), `ResponseError` (other non-2xx, or a body that is not JSON),
    `TransportError` (no answer), and
    `InvalidResourceError` (a record that does not fit `resource_type`).
    Errors from an HTTP answer carry its body as `error.body` (parsed JSON, else a short text excerpt),
    secrets blanked out; override `get_status_error` to turn an API's error answers into richer errors.

    Limits against broken or hostile servers, each a `PYCK` setting unless set on the class: the body size
    (`max_response_size`), the time to read a body (`max_response_time`), the JSON nesting depth
    (`HTTP_MAX_JSON_DEPTH`) and the number of pages of a listing (`LIST_MAX_PAGES`). TLS certificates are
    always verified unless `verify` is set to `False`, which is logged as a warning.
    """

    base_url: str | None = None
    """The root of the API, without the endpoint ("https://api.example.com/v1")."""
    path: str = ""
    """The endpoint under base_url ("/messages"); base_url and path are joined with exactly one slash. A `{name}`
    placeholder ("/tags/{tag_id}/taggings") takes the list() argument `name` (see `pyck.core.path_params`)."""
    item_path: str | None = "{path}/{id}"
    """Where get() asks, under base_url: {id} is the id, URL-quoted as one path segment, {path} the listing's path
    ("{path}/{id}/", "/items?id={id}"); None: no single-record endpoint (see pyck.core.rest_items)."""
    record_path: str | None = None
    """The dotted path of the record in get()'s answer ("data"), as items_path is a page's; None: the answer."""
    paginator: Paginator | None = None
    """How list() walks the pages; None: the body is a plain JSON list, fetched in one request."""
    camel_case: bool = False
    """Map camelCase JSON keys onto snake_case attributes of resource_type."""
    timeout: float | None = None
    """Seconds to wait for a connection and for each read; None: the HTTP_TIMEOUT setting."""
    retries: int | None = None
    """Retries after a connection error, a 429 or a 5xx; None: the HTTP_RETRIES setting."""
    backoff_factor: float | None = None
    """The n-th retry waits backoff_factor * 2**(n-1) seconds plus jitter; None: HTTP_BACKOFF_FACTOR."""
    retry_methods: Collection[str] = http.DEFAULT_RETRY_METHODS
    """The methods retried after an answer or a read error; POST is not, as the server may have acted on it."""
    rate_limit: float | None = None
    """At most this many requests per second from this datasource (all threads together); None: no limit."""
    rate_limit_key: str | None = None
    """Datasources of a process with this key (one API account) share one `rate_limit`; None: their own."""
    request_budget: RequestBudget | None = None
    """At most N requests in any sliding window, in every process sharing a key (RequestBudget); None: no budget."""
    retry_after_429: float | None = None
    """Seconds to wait after a 429 without Retry-After (Airtable: 30), up to HTTP_MAX_RETRY_AFTER; None: backoff."""
    list_query: Mapping[str, Any] = types.MappingProxyType({})
    """Query parameters sent with every listing request; keyword arguments to list() override them."""
    filter: Callable[[Any], bool] | None = None
    """A predicate on deserialised records; list() yields only those for which it returns True."""
    secret_params: Collection[str] = http.DEFAULT_SECRET_PARAMS
    """Query parameters whose values are replaced by *** in logs and errors (plus any name containing
    "token", "secret" or "key"); those the datasource sends are left out of the positions a sync stores.
    """
    max_response_size: int | None = None
    """The largest body read, in bytes; None: the HTTP_MAX_RESPONSE_SIZE setting."""
    max_response_time: float | None = None
    """The longest an answer (status line, headers and body) may take to arrive once the request is sent, in
    seconds; None: HTTP_MAX_RESPONSE_TIME.
    """
    verify: bool | str = True
    """TLS certificate verification: True, or the path of a CA bundle. False turns it off, with a warning in
    the log each time a session is built; there is no quieter way.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._session: requests.Session | None = None
        self._session_config: SessionConfig | None = None
        self._limiter: http.RateLimiter | None = None
        self._last_page = threading.local()
        self.sent_secrets: tuple[str, ...] = ()
        """The secrets this datasource has sent (see http.redact_secrets), longest first; replaced, never
        mutated, so that readers in other threads need no lock.
        """
        self.sent_secret_params: frozenset[str] = frozenset()
        """The names of the secret query parameters passed to `request` (the datasource's own credentials, not
        those of the links it follows), which positions are stored without (see `pyck.core.rest_listing`)."""
        # redact()'s answers by URL: a page's URL is shown several times (request, response, listing).
        self._redacted: dict[str, tuple[frozenset[str], tuple[str, ...], str]] = {}

    # --- Configuration ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The endpoint's URL: `base_url` and `path` joined with exactly one slash."""
        root = api_root(self)
        if not self.path:
            return root
        return f"{root}/{self.path.lstrip('/')}"

    def get_headers(self) -> dict[str, str]:
        """Return the headers to send with every request, for example `Authorization`.

        Override to authenticate. It is called for each request, so a rotated token is picked up.
        """
        return {}

    def get_timeout(self) -> float:
        """The timeout in seconds for each request: `timeout`, else the `HTTP_TIMEOUT` setting."""
        return float(self.timeout if self.timeout is not None else pyck_settings.HTTP_TIMEOUT)

    def get_session(self) -> requests.Session:
        """Return this datasource's `requests` session, creating it on first use.

        One session per instance, so connections are reused; it is rebuilt if the retry settings change.
        Override to mount your own adapters or add authentication (call `super().get_session()` first).
        """
        config = SessionConfig.of(self)
        with self._lock:
            if self._session is None or self._session_config != config:
                if self._session is not None:
                    self._session.close()
                self._session = config.build(self)
                self._session_config = config
                if self.verify is False:
                    logger.warning(
                        "%s: TLS certificate verification is OFF (verify=False); anyone on the network path can "
                        "read and alter this datasource's traffic, credentials included",
                        self,
                    )
                self._session.verify = self.verify
            return self._session

    def redact(self, url: str) -> str:
        """Return `url` with `secret_params` values, any `user:password@` and every secret this
        datasource has sent (its `get_headers` values, secret query values) removed."""
        secret_params, sent = frozenset(self.secret_params), self.sent_secrets
        known = self._redacted.get(url)
        if known is not None and known[1] is sent and known[0] == secret_params:
            return known[2]
        redacted = http.blank_out(http.redact_url(url, secret_params), sent)
        if len(self._redacted) >= _REDACTED_URLS:
            self._redacted.clear()
        self._redacted[url] = (secret_params, sent, redacted)
        return redacted

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
        `DatasourceError` otherwise. Use it for calls `fetch_url` does not
        cover, such as a POST to a bulk endpoint (not retried unless `"POST"` is in `retry_methods`).
        """
        session = self.get_session()
        headers = self.get_headers()
        full_url = http.with_query(url, params)
        secrets = http.secret_values(full_url, headers, self.secret_params)
        _remember_secrets(self, secrets, params or {})
        shown = self.redact(full_url)
        if self.rate_limit:
            self._get_limiter().acquire()
        started = time.perf_counter()
        try:
            response = session.request(
                method,
                url,
                params=params,
                json=json,
                headers=headers,
                timeout=self.get_timeout(),
                verify=self.verify,
                stream=True,
            )
        except DatasourceError as error:
            # From the request budget: its window is spent beyond max_wait, or its cache failed.
            raise error.with_context(datasource=self, url=shown) from None
        except requests.RequestException as error:
            elapsed = (time.perf_counter() - started) * 1000
            logger.debug("%s %s failed after %.0f ms: %s", method, shown, elapsed, type(error).__name__)
            transport_error = TransportError(
                f"{method} request got no answer: {describe_transport_error(error, secrets, self.secret_params)}",
                datasource=self,
                url=shown,
            )
            # requests' and urllib3's messages quote the URL with its query string: a traceback of the cause
            # would print the secrets this error leaves out, so the cause is dropped when it holds one.
            raise transport_error from (None if reveals(error, secrets) else error)
        shown = self.redact(str(response.url)) if response.url else shown
        try:
            http.read_body(
                response,
                max_size=int(
                    self.max_response_size
                    if self.max_response_size is not None
                    else pyck_settings.HTTP_MAX_RESPONSE_SIZE
                ),
                max_time=max_response_time(self),
            )
        except DatasourceError as error:
            raise error.with_context(datasource=self, url=shown) from error.__cause__
        elapsed = (time.perf_counter() - started) * 1000
        logger.debug("%s %s -> %s in %.0f ms", method, shown, response.status_code, elapsed)
        if not 200 <= response.status_code < 300:
            raise self.get_status_error(response, method=method, url=shown)
        return response

    def fetch_url(self, url: str, query: Mapping[str, Any] | None = None, **params: Any) -> Any:
        """GET `url` with `query` and `params` as its query string, and return the parsed JSON body.

        Use it from overrides of `paginate` or `get`: `self.fetch_url(self.url, query, page=2)`.
        """
        return self._fetch_page(url, {**(query or {}), **params}).data

    def _fetch_page(self, url: str, query: Mapping[str, Any]) -> Page:
        response = self.request("GET", url, params=query)
        self._last_page.url = self.redact(str(response.url or http.with_query(url, query)))
        return Page(data=self.parse_json(response), url=str(response.url or url), headers=response.headers)

    # --- Reading ---------------------------------------------------------------------------------------

    def paginate(self, **query: Any) -> Iterator[Any]:
        """Yield the raw items (parsed JSON) of the list endpoint, page by page, passing `query` on.

        Delegates to `paginator` (a plain JSON list when it is `None`) through `walk`. Override it
        for a pagination scheme no paginator fits, calling `self.fetch_url(self.url, query, page=page)` for
        each page (the sync engine then cannot resume such a listing part way through).
        """
        for _, items in self.walk(**query):
            yield from items

    def walk(self, start: Any = None, **query: Any) -> Iterator[tuple[Any, list[Any]]]:
        """Yield `(position, items)` for each page of the list endpoint, from the page at `start` on.

        `query` adds to (and overrides) `list_query`. Positions come from the paginator (see
        `walk`): the sync engine stores them as checkpoints to resume an
        interrupted run. Errors are wrapped as in `paginate`.

        The reserved argument `PAGE_RANGE` (`"pyck:page_range"`: `[first, stop]`, set by
        `PageRanges` partitions) is not sent: the walk starts at position
        `first` (unless `start` is given) and ends before position `stop`.
        """
        paginator = self.paginator or NoPaginator()
        query, start, stop = take_range({**self.list_query, **query}, start)
        url, query = list_url(self.url, self.path, query, where=str(self))
        if isinstance(start, str) and urlsplit(start).scheme in ("http", "https"):
            start = with_params(start, secret_query(self, query))  # a link stored without them (see rest_listing)
        # The page being read, per thread: a paginator with several pages in flight calls fetch() from worker
        # threads, then names each page as it reads it through fetch.taken (see pagination.numbered), so that
        # errors, and list()'s records, name that page rather than the last one requested.
        current = threading.local()

        def fetch(url: str, params: Mapping[str, Any]) -> Page:
            current.url = http.with_query(url, params)
            return self._fetch_page(url, params)

        def taken(page: Page) -> None:
            current.url = page.url
            self._last_page.url = self.redact(page.url)

        fetch.taken = taken  # type: ignore[attr-defined]
        fetch.stop = stop  # type: ignore[attr-defined]  # no page at or after it is requested ahead

        try:
            yield from clip_pages(paginator, paginator.walk(fetch, url, query, start=start), stop)
        except NotFoundError as error:
            raise ResponseError(
                "The list endpoint answered 404 Not Found; check base_url and path",
                datasource=self,
                url=error.url,
                status_code=404,
            ) from error
        except DatasourceError as error:
            # A paginator may quote the URLs the API gave it; blank out this datasource's own secret params too.
            error.reason = http.redact_text(error.reason, self.secret_params)
            raise error.with_context(datasource=self, url=self.redact(getattr(current, "url", url)))  # noqa: B904

    @property
    def resumable(self) -> bool:
        """Whether the sync engine can resume this datasource's listing part way through: `paginate` and
        `list` are not overridden and the paginator is resumable."""
        cls = type(self)
        return (
            cls.paginate is RestDatasource.paginate
            and cls.list is RestDatasource.list
            and (self.paginator or NoPaginator()).resumable
        )

    def deserialize(self, data: Any) -> ResourceT:
        """Turn one raw item (parsed JSON) into a `resource_type` instance.

        Override to unwrap an envelope (`return super().deserialize(data["value"])`). Raise
        `InvalidResourceError` for data that does not fit; the caller adds the
        datasource, URL and record id.
        """
        return deserializer_for(self.resource_type, camel_case=self.camel_case)(data)

    def get_raw_id(self, data: Any) -> Any:
        """Return the record id in a raw item, for error messages (`None` if it cannot be found).

        Override when the items come in an envelope, so that errors name the record.
        """
        if isinstance(data, Mapping):
            if self.identifier in data:
                return data[self.identifier]
            camel = to_camel_case(self.identifier)
            if camel in data:
                return data[camel]
        return None

    def get_item_url(self, id: Any) -> str:
        """Return the URL of the record `id`: `base_url` joined with `item_path`, the id URL-quoted. Override when
        no `item_path` can say where the API's records are.

        Raises:
            NotFoundError: the id is `""`, `"."` or `".."`, which no quoting keeps inside the resource path.
            NotImplementedError: `item_path` is `None` (the API has no single-record endpoint).
        """
        return item_url(self, id)

    def check_item_url(self, url: str, id: Any) -> None:
        """Refuse an empty id, and an item URL whose path has a `.` or `..` segment: HTTP clients resolve
        those, so the request would leave the resource path (`/members/..` is `/`).

        `get` calls it on what `get_item_url` returns, so an override of `get_item_url` that
        forgets to quote the id is caught too; call it from your own `get` overrides.

        Raises:
            NotFoundError: naming the id; no request is sent.
        """
        check_item_url(self, url, id)

    def get_status_error(self, response: requests.Response, *, method: str, url: str) -> DatasourceError:
        """Return the error to raise for a non-2xx `response` to `method` at `url` (already redacted).

        The default gives `NotFoundError` for 404,
        `RateLimitError` for 429 and
        `ResponseError` otherwise, each with `status_code` and `body` (the
        parsed JSON body, else a short text excerpt, secrets blanked out).

        Override when the API explains its errors in the body and callers should get a more specific error:
        call `super().get_status_error(...)` and read `error.body` (see
        `PostcodesDatasource`). Return the error; do not raise it.
        """
        return status_error(self, response, method=method, url=url)

    def get(self, id: Any, **query: Any) -> ResourceT:
        """Fetch and return the record `id` (at `get_item_url`, found at `record_path` in the body), passing
        `query` on as query parameters.

        Raises:
            NotFoundError: the API answered 404, or with a tombstone (see `is_tombstone`).
            ResponseError: the body has no record at `record_path`.
        """
        return read_record(self, id, query)

    def get_record(self, body: Any, *, url: str, record_id: Any) -> Any:
        """Return the raw record in `body`, a single GET's parsed JSON: the value at `record_path`. Override for
        an envelope no dotted path can unwrap.

        Raises:
            ResponseError: `body` has nothing at `record_path`, naming this datasource, `url` and `record_id`.
        """
        return record_in(self, body, url=url, record_id=record_id)

    def list(self, **filter: Any) -> Iterator[ResourceT]:
        """Yield the records, fetching one page at a time; `filter` goes to the API as query parameters.

        Tombstones (see `is_tombstone`) are left out, as records that are not there, and so are records for which
        `filter` (the attribute) returns False. An error raised while
        reading (a failed page, a record that does not fit) ends the iteration: what was yielded before it is
        not the whole listing.
        """
        fallback = self.redact(http.with_query(self.url, filter))
        tombstones = has_tombstones(self)
        for item in self.paginate(**filter):
            # The page the item came from, with the query actually sent (defaults added by paginate() too).
            url = getattr(self._last_page, "url", None) or fallback
            if tombstones and skip_tombstone(self, item, url=url):
                continue
            record = self.deserialize_record(item, url=url, record_id=self.get_raw_id(item))
            if self.filter is None or self.filter(record):
                yield record

    def deserialize_record(self, data: Any, *, url: str, record_id: Any) -> ResourceT:
        """`deserialize` one raw record, turning any failure into an `InvalidResourceError` that
        names this datasource, `url` (already redacted) and `record_id`. `get()`, `list()` and the sync
        engine call it; override `deserialize` rather than this.

        The error's message never quotes a secret this datasource has sent, even when the API echoes one back
        inside the record; a cause whose text would is left off the error.
        """
        try:
            return self.deserialize(data)
        except InvalidResourceError as error:
            invalid = explain_tombstone(self, data, error).with_context(datasource=self, url=url, record_id=record_id)
            cause = error.__cause__
        except NOT_DESERIALISABLE as error:
            invalid = InvalidResourceError(
                f"Could not deserialise the record: {type(error).__name__}: {error}",
                datasource=self,
                url=url,
                record_id=record_id,
            )
            cause = error
        raise invalid from (None if cause is None or reveals(cause, self.sent_secrets) else cause)

    def read_listing(self, filter: Mapping[str, Any], *, start: Any = None) -> Iterator[Listed]:
        """Yield `(record, position)` for each record of the listing, as the sync engine reads it (see
        `Datasource.read_listing`), walking the pages itself rather than through `list()`:

        - each item is deserialised as `deserialize_record` would (straight by the resource type's deserialiser
          when neither it nor `deserialize` is overridden); an item that fails is yielded as the
          `InvalidResourceError` of `deserialize_record`, naming this datasource, the endpoint's URL and the
          record's id, and the listing goes on;
        - records `filter` (the attribute) rejects are left out, and so are tombstones (see `is_tombstone`), logged
          at debug level: a record the API says is deleted is not in the listing;
        - when `resumable`, the pages are fetched and parsed in a background thread, up to the
          `SYNC_PREFETCH_PAGES` setting ahead of the record being yielded (records are deserialised in the
          caller's thread), a position names the page and how many of its items were read, and `start` resumes
          right after one.

        A subclass that overrides `list()` gets `Datasource.read_listing`: its `list()` is the listing. Override
        this method only to change how a sync reads the pages; yield what it yields.
        """
        if type(self).list is not RestDatasource.list:
            yield from super().read_listing(filter, start=start)
            return
        yield from read_pages(self, filter, start=start, to_record=self._plain_deserializer())

    def includes(self, record: ResourceT) -> bool:
        """Whether the listing includes `record`: whether it is no tombstone (see `is_tombstone`) and `filter` (the
        attribute), if set, accepts it."""
        return super().includes(record) and (not callable(self.filter) or bool(self.filter(record)))

    def _plain_deserializer(self) -> Callable[[Any], Any] | None:
        # The function turning one item into a record as deserialize_record() does when it succeeds, without
        # that method's frame and the raw id it reads for an error that rarely comes; None when a subclass
        # overrides deserialize_record(), which is then called for each item.
        cls = type(self)
        if cls.deserialize_record is not RestDatasource.deserialize_record:
            return None
        if cls.deserialize is not RestDatasource.deserialize:
            return self.deserialize
        return deserializer_for(self.resource_type, camel_case=self.camel_case)

    # --- Internals -------------------------------------------------------------------------------------

    def _get_limiter(self) -> http.RateLimiter:
        if self.rate_limit_key is not None:
            return http.shared_rate_limiter(self.rate_limit_key, float(self.rate_limit or 0), owner=self)
        with self._lock:
            if self._limiter is None or self._limiter.rate != float(self.rate_limit or 0):
                self._limiter = http.RateLimiter(float(self.rate_limit or 0))
            return self._limiter

    def parse_json(self, response: requests.Response) -> Any:
        """Return the parsed JSON body of `response` (from `request`); `None` for an empty body.

        Strict: the body must be UTF-8 (or the charset its `Content-Type` names) and nested at most
        `HTTP_MAX_JSON_DEPTH` deep. Use it after `request` for calls `fetch_url` does not cover
        (a POST); override it for an API that does not speak JSON.

        Raises:
            ResponseError: the body is not JSON, not UTF-8, or nested too deeply; naming the datasource and URL.
        """
        return parse_body(self, response)


# The most URLs whose redacted form a datasource keeps (a listing's pages are each shown about four times, in a row).
_REDACTED_URLS = 64

# The most secrets a datasource remembers (a token rotated every hour adds one each hour).
_MAX_REMEMBERED_SECRETS = 32


def _remember_secrets(datasource: RestDatasource[Any], secrets: Collection[str], params: Mapping[str, Any]) -> None:
    names = {str(name) for name in params if http.is_secret_param(str(name), datasource.secret_params)}
    if not names <= datasource.sent_secret_params:
        datasource.sent_secret_params = datasource.sent_secret_params | names
    known = datasource.sent_secrets
    if all(secret in known for secret in secrets):
        return
    with datasource._lock:
        older = [s for s in datasource.sent_secrets if s not in secrets]
        kept = [*secrets, *older[: max(0, _MAX_REMEMBERED_SECRETS - len(secrets))]]
        # Longest first, so that a secret containing another is blanked out whole.
        datasource.sent_secrets = tuple(sorted(kept, key=len, reverse=True))

