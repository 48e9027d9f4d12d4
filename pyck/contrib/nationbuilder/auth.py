"""NationBuilder's OAuth tokens: `TokenStore` keeps a nation's access token, and refreshes it with its refresh
token before it expires or when the API answers 401.

What it relies on, from NationBuilder's documentation:

- v2 tokens "expire after 24 hours", and applications "must ... implement a refresh token flow", else they
  "will encounter 401s" (https://support.nationbuilder.com/en/articles/9869235-access-token-migration-guide).
- The refresh: `POST /oauth/token` on `www.nationbuilder.com`, a JSON body
  `{"grant_type": "refresh_token", "refresh_token", "client_id", "client_secret"}`, and "retrieve the new access
  token from the response" (https://support.nationbuilder.com/en/articles/9559128-generating-api-tokens). The
  answer's fields are OAuth 2's: `access_token`, `expires_in`, `refresh_token`
  (https://www.rfc-editor.org/rfc/rfc6749#section-5.1).
- The new tokens "will not have the same access token and refresh token value" (the migration guide): the
  refresh token changes at each refresh, so the latest one must be kept, and kept where every process finds it.

**Where the tokens are kept.** In a Django cache (`NATIONBUILDER_CACHE`, `"default"` by default), under
one key per nation, with no expiry: every process of a deployment that shares the cache (Redis, Memcached, the
database cache) uses the same tokens, and one refresh serves them all. A cache local to each process
(`LocMemCache`) works for a single process only; a cache that evicts the entry loses the rotated refresh token,
and pyck then falls back to the settings' `NATIONBUILDER_REFRESH_TOKEN`, which NationBuilder may no longer
accept. One process refreshes at a time: a short lock in the same cache (`cache.add`), while the others wait
for its result. The tokens never reach a log line, an error, a `SyncRun` or the admin.

Settings: `NATIONBUILDER_ACCESS_TOKEN` (the first access token), and for refreshes `NATIONBUILDER_REFRESH_TOKEN`,
`NATIONBUILDER_CLIENT_ID` and `NATIONBUILDER_CLIENT_SECRET` (the app's, from Settings > Developer). Without the
three, the access token of the settings is used as it is (a test token, say), and a 401 is an error.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.core.cache import caches

from pyck.core.exceptions import ConfigurationError, ResponseError, TransportError

__all__ = ["TOKEN_URL", "TokenStore"]

logger = logging.getLogger("pyck.contrib.nationbuilder")

TOKEN_URL = "https://www.nationbuilder.com/oauth/token"
"""Where tokens are refreshed (https://support.nationbuilder.com/en/articles/9559128-generating-api-tokens)."""


@dataclass(frozen=True)
class _Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: float | None


class TokenStore:
    """The access token of one nation, refreshed when needed; kept in a Django cache shared by every process.

    Args:
        slug: the nation's slug (the cache key is per nation).
        token_url: where tokens are refreshed; `None`: `TOKEN_URL`.
        early: refresh this many seconds before the access token expires.
        wait: how long a process waits for another one's refresh, in seconds.
        timeout: the refresh request's timeout, in seconds.
    """

    def __init__(self, slug: str, *, token_url: str | None = None, early: float = 300.0, wait: float = 15.0, timeout: float = 30.0) -> None:
        self.slug = slug
        self.token_url = token_url or TOKEN_URL
        self.early = early
        self.wait = wait
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"TokenStore({self.slug!r})"

    @property
    def key(self) -> str:
        """The cache key of the nation's tokens."""
        return f"pyck:nationbuilder:tokens:{self.slug}"

    def _cache(self) -> Any:
        return caches[getattr(settings, "NATIONBUILDER_CACHE", "default")]

    def _client(self) -> tuple[str, str] | None:
        client_id = getattr(settings, "NATIONBUILDER_CLIENT_ID", None)
        client_secret = getattr(settings, "NATIONBUILDER_CLIENT_SECRET", None)
        return (str(client_id), str(client_secret)) if client_id and client_secret else None

    def _stored(self) -> _Tokens | None:
        value = self._cache().get(self.key)
        return value if isinstance(value, _Tokens) else None

    @property
    def refreshes(self) -> bool:
        """Whether tokens can be refreshed: the client id and secret are set, and a refresh token is known."""
        stored = self._stored()
        refresh = (stored.refresh_token if stored else None) or getattr(settings, "NATIONBUILDER_REFRESH_TOKEN", None)
        return self._client() is not None and bool(refresh)

    def access_token(self) -> str:
        """The access token to send: the stored one (refreshed first when it expires within `early` seconds and
        it can be), else the `NATIONBUILDER_ACCESS_TOKEN` setting.

        Raises:
            ConfigurationError: there is no token at all.
            ResponseError: a refresh was refused.
        """
        stored = self._stored()
        if stored is not None:
            if stored.expires_at is not None and stored.expires_at - self.early <= time.time() and self.refreshes:
                return self.refresh(stale=stored.access_token)
            return stored.access_token
        token = getattr(settings, "NATIONBUILDER_ACCESS_TOKEN", None)
        if token:
            return str(token)
        if self.refreshes:
            return self.refresh(stale=None)
        raise ConfigurationError(
            f"NationBuilder nation {self.slug!r}: set NATIONBUILDER_ACCESS_TOKEN, or NATIONBUILDER_REFRESH_TOKEN "
            "with NATIONBUILDER_CLIENT_ID and NATIONBUILDER_CLIENT_SECRET"
        )

    def refresh(self, *, stale: str | None) -> str:
        """Replace the access token `stale` (the one refused or expiring) with a new one, and return it.

        When another process already replaced it, returns its token without a request; when another process
        is refreshing, waits for its result (up to `wait` seconds).

        Raises:
            ConfigurationError: refreshes are not configured.
            ResponseError: the token endpoint refused the refresh (its OAuth `error` code is quoted; no token).
        """
        cache = self._cache()
        lock = f"{self.key}:refreshing"
        deadline = time.monotonic() + self.wait
        while not cache.add(lock, 1, timeout=int(self.timeout) + 5):
            stored = self._stored()
            if stored is not None and stored.access_token != stale:
                return stored.access_token
            if time.monotonic() > deadline:
                raise ResponseError(f"NationBuilder nation {self.slug!r}: another process's token refresh did not finish", url=self.token_url)
            time.sleep(0.05)
        try:
            stored = self._stored()
            if stored is not None and stored.access_token != stale and (
                stored.expires_at is None or stored.expires_at - self.early > time.time()
            ):
                return stored.access_token
            return self._request(stored)
        finally:
            cache.delete(lock)

    def _request(self, stored: _Tokens | None) -> str:
        client = self._client()
        refresh_token = (stored.refresh_token if stored else None) or getattr(settings, "NATIONBUILDER_REFRESH_TOKEN", None)
        if client is None or not refresh_token:
            raise ConfigurationError(
                f"NationBuilder nation {self.slug!r}: the access token needs a refresh; set NATIONBUILDER_REFRESH_TOKEN, "
                "NATIONBUILDER_CLIENT_ID and NATIONBUILDER_CLIENT_SECRET"
            )
        grant = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client[0], "client_secret": client[1]}
        try:
            response = requests.post(self.token_url, json=grant, timeout=self.timeout)
        except requests.RequestException as error:
            raise TransportError(
                f"NationBuilder nation {self.slug!r}: the token refresh got no answer ({type(error).__name__})", url=self.token_url
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            code = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None
            raise ResponseError(
                f"NationBuilder nation {self.slug!r}: the token refresh was refused (HTTP {response.status_code}"
                f"{f', {code}' if code else ''})",
                url=self.token_url,
                status_code=response.status_code,
            )
        expires_in = body.get("expires_in")
        tokens = _Tokens(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token") if isinstance(body.get("refresh_token"), str) else refresh_token,
            expires_at=time.time() + float(expires_in) if isinstance(expires_in, (int, float)) else None,
        )
        self._cache().set(self.key, tokens, timeout=None)
        logger.info("NationBuilder nation %r: access token refreshed", self.slug)
        return tokens.access_token
