"""`AirtableDatasource`: one table of an Airtable base, read through Airtable's Web API.

Compatible with `groundwork.contrib.airtable.datasources`: code written for it works after changing the import.

```python
from dataclasses import dataclass
from pyck.contrib.airtable.datasources import AirtableDatasource, airtable_field

@dataclass
class Person:
    id: str
    first_name: str = airtable_field("First Name")
    last_name: str = airtable_field("Last Name")

people = AirtableDatasource(resource_type=Person, base_id="appA1b2C3d4E5f6G7", table_name="Active Members")
```

What it does, with the page of Airtable's documentation that says why:

- **Listing** ([list records](https://airtable.com/developers/web/api/list-records)):
  `GET {base_url}/{base_id}/{table_name}?pageSize=100`, the table name URL-quoted; each answer is
  `{"records": [...], "offset": "itr…/rec…"}` and the next page is asked for with `offset`, until an answer
  has none. `pageSize` is at most 100 there. An offset expires ("Iteration may timeout due to client
  inactivity or server restarts … a 422 response with error message LIST_RECORDS_ITERATOR_NOT_AVAILABLE. It
  may then restart iteration from the beginning"): a run resuming from a stored offset that Airtable refuses
  starts the listing over in the same run (the sync engine's checkpoints; no `--reset` needed).
- **One record** ([get record](https://airtable.com/developers/web/api/get-record)):
  `GET {base_url}/{base_id}/{table_name}/{record_id}`.
- **Cells** (see `pyck.contrib.airtable.fields`): empty cells are left out of a record's `fields`; linked
  records are lists of record ids; `returnFieldsByFieldId=true` (both endpoints) keys the cells by field id
  when the resource names its columns by id.
- **Authentication** ([authentication](https://airtable.com/developers/web/api/authentication)): a personal
  access token sent as `Authorization: Bearer …`; `api_key`, else the `AIRTABLE_API_KEY` setting, read
  for each request. It never appears in logs, errors or `SyncRun` rows.
- **Rate limit** ([rate limits](https://airtable.com/developers/web/api/rate-limits)): "5 requests per
  second per base. If you exceed this rate, you will receive a 429 status code and will need to wait 30
  seconds before subsequent requests will succeed." Every table of a base shares one budget, by default: in
  each process, `rate_limit` (5 requests in any 1.1 s: one every 0.22 s) under `rate_limit_key`
  `"airtable:{base_id}"`; across processes, when the default cache is Redis or Memcached,
  `RequestBudget(requests=5, per=1, key="airtable:{base_id}")` counted there. A 429 (which carries no
  `Retry-After`) waits out the 30 s (`retry_after_429`) instead of failing.
- **Changes since the last run** ([formula field reference](https://support.airtable.com/docs/formula-field-reference)):
  `list_changed(since)` asks for `filterByFormula=IS_AFTER(LAST_MODIFIED_TIME(), '…')`, for a model synced
  with `Incremental(field=...)` on a "Last modified time" column. It does not see deleted records: only a full
  run deletes.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import quote, unquote

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.memcached import BaseMemcachedCache

from pyck.core.datasources import (
    ConfigurationError,
    CursorPaginator,
    RequestBudget,
    ResourceT,
    RestDatasource,
)

from pyck.core.sliding_windows import is_redis_cache

from .fields import RecordLayout, airtable_field, layout_for

__all__ = ["AirtableDatasource", "airtable_field", "modified_since"]

DEFAULT_BASE_URL = "https://api.airtable.com/v0"
"""The root of Airtable's Web API."""

REQUESTS_PER_SECOND = 5
"""Airtable's rate limit: requests per second per base (https://airtable.com/developers/web/api/rate-limits)."""

PENALTY_SECONDS = 30.0
"""How long Airtable answers 429 after its rate limit was exceeded (https://airtable.com/developers/web/api/rate-limits)."""

MAX_PAGE_SIZE = 100
"""The largest `pageSize` of list records (https://airtable.com/developers/web/api/list-records)."""

MARGIN = 0.1
"""Seconds added to Airtable's one-second window, for the delays between sending a request and Airtable counting
it (as `RequestBudget.margin`): the defaults send at most 5 requests in any 1.1 s."""


class AirtableDatasource(RestDatasource[ResourceT]):
    """One table of an Airtable base; its records become `resource_type` instances (dataclasses whose fields
    name their columns with `airtable_field`). See the module docstring for what it asks Airtable and why.

    ```python
    people = AirtableDatasource(
        resource_type=Person, base_id="appA1b2C3d4E5f6G7", table_name="Active Members", api_key="pat…"
    )
    ```

    As with other datasources, every option is a constructor keyword argument or a class attribute of a
    subclass; those of `RestDatasource` apply too (`timeout`, `retries`, `list_query`, `filter`...). `list()`
    passes its keyword arguments to Airtable as query parameters (`view="Grid view"`,
    `filterByFormula="{Active}"`).
    """

    base_url: str | None = DEFAULT_BASE_URL
    """The root of the API; override it for a proxy or a local server (`pyck.contrib.airtable.replay`)."""
    api_key: str | None = None
    """The personal access token, sent as `Authorization: Bearer …`; `None`: the `AIRTABLE_API_KEY` setting,
    read for each request."""
    base_id: str | None = None
    """The base's id (`app…`), in the base's API page or its URL."""
    table_name: str | None = None
    """The table's name (`"Active Members"`) or id (`tbl…`), URL-quoted in the request path."""
    page_size: int = MAX_PAGE_SIZE
    """Records per page (`pageSize`), at most 100."""
    paginator = CursorPaginator(cursor_param="offset", cursor_path="offset", items_path="records")
    rate_limit: float | None = REQUESTS_PER_SECOND / (1 + MARGIN)
    """At most this many requests per second in this process, shared by every table of the base (see
    `rate_limit_key`): 5 / 1.1, one request every 0.22 s, so that no 1.1 s holds more than 5; `None`: no
    spacing in the process (a `request_budget` still counts)."""
    rate_limit_key: str | None = None
    """Datasources of a process with this key share one `rate_limit`; `None`: `"airtable:{base_id}"`, one per base."""
    retry_after_429: float | None = PENALTY_SECONDS
    """Airtable's penalty after a 429, which carries no `Retry-After`: the retry waits it out."""

    def __init__(self, resource_type: Any = None, **kwargs: Any) -> None:
        # groundwork's docstring called it resource_class; accept both spellings.
        if resource_type is None:
            resource_type = kwargs.pop("resource_class", None)
        if resource_type is not None:
            kwargs["resource_type"] = resource_type
        # Unless given, request_budget is the base's budget whenever the default cache is shared (see the property);
        # a subclass declaring its own request_budget has no property to keep it in.
        self._budget: Any = _PER_BASE
        if isinstance(getattr(type(self), "request_budget", None), property):
            self._budget = kwargs.pop("request_budget", _PER_BASE)
        super().__init__(**kwargs)
        if not self.path:
            if not self.base_id or not self.table_name:
                raise ConfigurationError(
                    f"{type(self).__name__} needs base_id (app…) and table_name (or path='/{{base_id}}/{{table}}'), "
                    f"got base_id={self.base_id!r}, table_name={self.table_name!r}"
                )
            self.path = f"/{quote(str(self.base_id), safe='')}/{quote(str(self.table_name), safe='')}"
        if not isinstance(self.page_size, int) or not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ConfigurationError(f"{self}: page_size must be a whole number from 1 to {MAX_PAGE_SIZE}, got {self.page_size!r}")
        base = self.base_id or unquote(self.path.strip("/").split("/")[0])
        if self.rate_limit_key is None:
            self.rate_limit_key = f"airtable:{base}"
        self.base_budget = RequestBudget(requests=REQUESTS_PER_SECOND, per=1, key=f"airtable:{base}", margin=MARGIN)
        """The budget of the base, `request_budget` unless another one is given."""
        query: dict[str, Any] = {"pageSize": self.page_size}
        if self.resource_type is not None and self.layout.by_field_id:
            query["returnFieldsByFieldId"] = "true"
        self.list_query = {**query, **self.list_query}

    @property
    def request_budget(self) -> RequestBudget | None:  # type: ignore[override]
        """The budget every process counts against (see `RequestBudget`).

        Unless one is given (`request_budget=...` to the constructor, or a class attribute of a subclass), it is
        `base_budget`, `RequestBudget(requests=5, per=1, key="airtable:{base_id}")`, when the `"default"` cache
        is Redis or Memcached, which every process shares, and `None` otherwise: each process then keeps to
        `rate_limit` by itself (a budget in a per-process cache would only repeat it, and `manage.py check`
        would warn, `pyck.W012`). Read for each request, so a cache configured later counts. `None` given:
        no budget.
        """
        if self._budget is not _PER_BASE:
            return self._budget
        return self.base_budget if _shared_default_cache() else None

    @request_budget.setter
    def request_budget(self, value: RequestBudget | None) -> None:
        self._budget = value

    @property
    def layout(self) -> RecordLayout:
        """Where each field of `resource_type` reads its value in a record (see `pyck.contrib.airtable.fields`)."""
        return layout_for(self.resource_type, identifier=self.identifier)

    def __str__(self) -> str:
        if self.name:
            return self.name
        if self.table_name and self.base_id:
            return f"Airtable {self.base_id}/{self.table_name}"
        return super().__str__()

    def get_headers(self) -> dict[str, str]:
        """`Authorization: Bearer <token>`, from `api_key` or the `AIRTABLE_API_KEY` setting.

        Raises:
            ConfigurationError: there is neither.
        """
        token = self.api_key if self.api_key is not None else getattr(settings, "AIRTABLE_API_KEY", None)
        if not token:
            raise ConfigurationError(
                f"{self}: no Airtable token; set AIRTABLE_API_KEY in settings or pass api_key=... (a personal "
                "access token: https://airtable.com/developers/web/guides/personal-access-tokens)"
            )
        return {"Authorization": f"Bearer {token}"}

    def get(self, id: Any, **query: Any) -> ResourceT:
        """The record `id` (`rec…`): `GET {base_url}/{base_id}/{table_name}/{id}`, with
        `returnFieldsByFieldId=true` when the resource names its columns by field id.

        Raises:
            NotFoundError: Airtable answered 404 (no such record in this table).
        """
        if self.resource_type is not None and self.layout.by_field_id:
            query = {"returnFieldsByFieldId": "true", **query}
        return super().get(id, **query)

    def deserialize(self, data: Any) -> ResourceT:
        """Turn one Airtable record into a `resource_type` instance (see `pyck.contrib.airtable.fields`)."""
        return super().deserialize(self.layout.values(data))

    def list_changed(self, since: Any, **filter: Any) -> Any:
        """The records modified after `since` (a datetime or date): `list()` with
        `filterByFormula=IS_AFTER(LAST_MODIFIED_TIME(), '<since>')`, joined with `AND()` to a
        `filterByFormula` of `filter` or `list_query`. The sync engine calls it for a model whose
        `Incremental` has no `param`; give it a `lookback`, as the comparison is strict.
        """
        formula = modified_since(since)
        own = filter.pop("filterByFormula", None) or self.list_query.get("filterByFormula")
        if own:
            formula = f"AND({own}, {formula})"
        return self.list(filterByFormula=formula, **filter)


# request_budget's "not given": the base's budget when the default cache is shared.
_PER_BASE: Any = object()


def _shared_default_cache() -> bool:
    cache = caches["default"]
    return is_redis_cache(cache) or isinstance(cache, BaseMemcachedCache)


def modified_since(since: datetime | date | str) -> str:
    """The formula selecting the records modified after `since`: `IS_AFTER(LAST_MODIFIED_TIME(), '…')`.

    A datetime is sent in UTC, in ISO 8601 (a naive one is taken as UTC); a date or a string as it is.
    """
    if isinstance(since, datetime):
        moment = since.replace(tzinfo=timezone.utc) if since.tzinfo is None else since.astimezone(timezone.utc)
        value = moment.isoformat().replace("+00:00", "Z")
    elif isinstance(since, date):
        value = since.isoformat()
    else:
        value = str(since)
    if "'" in value or "\\" in value:
        raise ConfigurationError(f"Cannot ask Airtable for records modified since {value!r}: not a date")
    return f"IS_AFTER(LAST_MODIFIED_TIME(), '{value}')"
