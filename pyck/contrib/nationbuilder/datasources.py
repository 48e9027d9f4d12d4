"""`NationBuilderDatasource`: one resource of NationBuilder's API v2 (JSON:API), and the four pyck provides:
`Signups` (people), `SignupTags`, `Donations` and `Events`.

```python
from pyck.contrib.nationbuilder import Signups

people = Signups()          # NATIONBUILDER_SLUG and the token come from the settings
grace = people.get("18")    # GET https://{slug}.nationbuilder.com/api/v2/signups/18?include=signup_tags
```

What it relies on, from NationBuilder's documentation:

- The API is at `https://{slug}.nationbuilder.com/api/v2/...`, the slug naming the nation
  (https://support.nationbuilder.com/en/articles/9869274-nationbuilder-api-quickstart-guide), a resource's
  listing at `/api/v2/{type}` and one resource at `/api/v2/{type}/{id}` (`GET /api/v2/signups/18`,
  https://support.nationbuilder.com/en/articles/9899245-api-v2-walkthrough). The endpoints
  `/api/v2/signup_tags`, `/api/v2/donations` and `/api/v2/events` are those of NationBuilder's API explorer
  (https://apiexplorer.nationbuilder.com/nationbuilder).
- Answers are JSON:API documents: a listing's resources at `data`, a single GET's resource at `data` (hence
  `record_path = "data"`), each resource flattened by `pyck.contrib.nationbuilder.jsonapi.flatten`.
- Pages: 20 resources by default, the next page's URL at `links.next`, and "the last page has been reached once
  the results returned are empty"
  (https://support.nationbuilder.com/en/articles/9757369-nationbuilder-v2-api-core-concepts). pyck asks for
  `page[size]` resources a page (JSON:API's page parameter, as used by NationBuilder's listings, e.g.
  `/api/v2/signup_tags?page[size]=100`); the pages consulted state no maximum, so `page_size` is an option
  (default 100).
- Related ids come only with `include=` (same page): each datasource sends `include` for the relationships its
  resource type reads (`Signups`: `signup_tags`), on listings and single GETs alike.
- Filtering: `filter[<attribute>][gte]=<value>` (same page): incremental runs send
  `filter[updated_at][gte]=<cursor>` (see `INCREMENTAL_PARAM`).
- Authentication: `Authorization: Bearer <access token>`
  (https://support.nationbuilder.com/en/articles/9559128-generating-api-tokens), refreshed before it expires
  and when the API answers 401 (see `pyck.contrib.nationbuilder.auth`).
- Rate limit: "250 requests every 10 seconds", a 429 carrying `retry-after` in seconds
  (https://nationbuilder.com/rate_limit_policy): the datasources of one nation share a `RequestBudget` of 250
  requests per 10 s (`rate_limit_requests`, `rate_limit_seconds`), counted in the Django cache
  `NATIONBUILDER_CACHE` names (Redis: shared by every process), and pyck's retries honour `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from django.conf import settings

from pyck.core.base import ResourceT
from pyck.core.budget import RequestBudget
from pyck.core.exceptions import ConfigurationError, ResponseError
from pyck.core.rest import RestDatasource

from .auth import TokenStore
from .jsonapi import JsonApiPaginator, flatten, resource_id
from .resources import Donation, Event, Signup, SignupTag

__all__ = [
    "INCREMENTAL_PARAM",
    "Donations",
    "Events",
    "NationBuilderDatasource",
    "SignupTags",
    "Signups",
]

INCREMENTAL_PARAM = "filter[updated_at][gte]"
"""The query parameter of an incremental run: `Incremental(field="updated_at", param=INCREMENTAL_PARAM)`."""


class NationBuilderDatasource(RestDatasource[ResourceT]):
    """One resource type of a nation's API v2: set `path` (`"/signups"`) and `resource_type`, and `include` for
    the relationships the resource type reads.

    The nation is `slug` (else the `NATIONBUILDER_SLUG` setting); `base_url` defaults to
    `https://{slug}.nationbuilder.com/api/v2` (set it to point at another server, a local one in tests). The
    access token comes from the settings (see `get_access_token`); it never reaches a log line, an error or a
    stored row.
    """

    slug: str | None = None
    """The nation's slug; `None`: the `NATIONBUILDER_SLUG` setting."""
    include: tuple[str, ...] = ()
    """The relationships sideloaded (`include=a,b`) on every listing and single GET, so that their ids come with
    the resources. A relationship left out is absent from the records: the engine leaves its links alone."""
    page_size: int = 100
    """Resources per page (`page[size]`); NationBuilder's default is 20 and the pages consulted state no
    maximum."""
    rate_limit_requests: int = 250
    """The budget: at most this many requests per `rate_limit_seconds`, for all datasources of the nation."""
    rate_limit_seconds: float = 10.0
    """The budget's window, in seconds (NationBuilder: 250 requests every 10 seconds)."""
    budget_cache: str | None = None
    """The Django cache the budget is counted in (a Redis cache shares it between processes); `None`: the
    `NATIONBUILDER_CACHE` setting (default `"default"`), where the tokens are kept too."""
    token_url: str | None = None
    """Where access tokens are refreshed; `None`: `pyck.contrib.nationbuilder.auth.TOKEN_URL`."""
    record_path = "data"
    paginator = JsonApiPaginator()

    def __init__(self, **kwargs: Any) -> None:
        self._base_url: str | None = None
        super().__init__(**kwargs)
        if not isinstance(self.page_size, int) or isinstance(self.page_size, bool) or self.page_size < 1:
            raise ConfigurationError(f"{self}: page_size must be a positive int, got {self.page_size!r}")
        if isinstance(self.include, str):
            raise ConfigurationError(f"{self}: include must be a tuple of relationship names, got {self.include!r}")
        if self.request_budget is None:
            self.request_budget = RequestBudget(
                requests=self.rate_limit_requests,
                per=self.rate_limit_seconds,
                key=f"nationbuilder:{self.slug or getattr(settings, 'NATIONBUILDER_SLUG', '') or 'nation'}",
                cache=self.budget_cache or getattr(settings, "NATIONBUILDER_CACHE", "default"),
            )
        defaults: dict[str, Any] = {"page[size]": self.page_size}
        if self.include:
            defaults["include"] = ",".join(self.include)
        self.list_query = {**defaults, **self.list_query}

    # --- Configuration ---------------------------------------------------------------------------------

    @property  # type: ignore[override]
    def base_url(self) -> str | None:
        """`https://{slug}.nationbuilder.com/api/v2`, unless set."""
        if self._base_url:
            return self._base_url
        slug = self.get_slug()
        return f"https://{slug}.nationbuilder.com/api/v2"

    @base_url.setter
    def base_url(self, value: str | None) -> None:
        self._base_url = value

    def get_slug(self) -> str:
        """The nation's slug: `slug`, else the `NATIONBUILDER_SLUG` setting.

        Raises:
            ConfigurationError: neither is set.
        """
        slug = self.slug or getattr(settings, "NATIONBUILDER_SLUG", None)
        if not slug:
            raise ConfigurationError(f"{type(self).__name__}: set NATIONBUILDER_SLUG (the nation's slug) or slug=...")
        return str(slug)

    def get_token_store(self) -> TokenStore:
        """The nation's `TokenStore` (the tokens themselves live in the Django cache, shared by processes)."""
        return TokenStore(self.get_slug(), token_url=self.token_url, timeout=self.get_timeout())

    def get_access_token(self) -> str:
        """The access token sent as `Authorization: Bearer` (see `TokenStore.access_token`): refreshed when it
        expires soon, else the stored one, else the `NATIONBUILDER_ACCESS_TOKEN` setting.

        Raises:
            ConfigurationError: there is no token (no token is ever part of a message).
        """
        return self.get_token_store().access_token()

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None, json: Any = None) -> requests.Response:
        """`RestDatasource.request`; a 401 refreshes the access token (when refreshes are configured) and the
        request is sent once more."""
        store = self.get_token_store()
        sent = store.access_token()
        try:
            return super().request(method, url, params=params, json=json)
        except ResponseError as error:
            if error.status_code != 401 or not store.refreshes:
                raise
        store.refresh(stale=sent)
        return super().request(method, url, params=params, json=json)

    def get_headers(self) -> dict[str, str]:
        """`Authorization: Bearer <token>` and JSON:API's media type as `Accept`."""
        return {"Authorization": f"Bearer {self.get_access_token()}", "Accept": "application/vnd.api+json"}

    # --- Reading ---------------------------------------------------------------------------------------

    def get(self, id: Any, **query: Any) -> ResourceT:
        """Fetch one resource (`{"data": {...}}`), sideloading `include` as listings do."""
        if self.include and "include" not in query:
            query = {"include": ",".join(self.include), **query}
        return super().get(id, **query)

    def deserialize(self, data: Any) -> ResourceT:
        """Flatten the JSON:API resource object (see `flatten`) and deserialise it into `resource_type`."""
        return super().deserialize(flatten(data))

    def get_raw_id(self, data: Any) -> Any:
        """The resource object's `id`."""
        return resource_id(data)


class Signups(NationBuilderDatasource[Signup]):
    """People: `/api/v2/signups`, with their tags' ids (`include=signup_tags`)."""

    path = "/signups"
    resource_type = Signup
    include = ("signup_tags",)


class SignupTags(NationBuilderDatasource[SignupTag]):
    """Tags: `/api/v2/signup_tags`."""

    path = "/signup_tags"
    resource_type = SignupTag


class Donations(NationBuilderDatasource[Donation]):
    """Donations: `/api/v2/donations`, with their donor's id (`include=signup`)."""

    path = "/donations"
    resource_type = Donation
    include = ("signup",)


class Events(NationBuilderDatasource[Event]):
    """Events: `/api/v2/events`."""

    path = "/events"
    resource_type = Event
