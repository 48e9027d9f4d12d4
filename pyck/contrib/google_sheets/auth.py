"""Service-account credentials for private sheets, through the `google-auth` library: `ServiceAccount`.

`google-auth` (the `django-pyck[google]` extra) signs the service account's JWT with its private key and
exchanges it at the token URI for an access token, sent as `Authorization: Bearer <token>`; it is refreshed
once expired (https://google-auth.readthedocs.io/en/latest/reference/google.oauth2.service_account.html:
`Credentials.from_service_account_info`/`from_service_account_file`, `refresh(request)`, `token`, `valid`).
The scope asked for is read-only: https://www.googleapis.com/auth/spreadsheets.readonly, one of those
`spreadsheets.values.get` accepts (https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/get).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import requests

from pyck.core.exceptions import ConfigurationError, ResponseError, TransportError

__all__ = ["SCOPES", "ServiceAccount"]

SCOPES = ("https://www.googleapis.com/auth/spreadsheets.readonly",)
"""The OAuth scopes a service account asks for: reading spreadsheets, nothing else."""


class ServiceAccount:
    """A service account's credentials and its current access token, refreshed when expired.

    Args:
        key: the service account's key: the parsed JSON key file (a mapping), or the path of the file.
        token_uri: where to exchange the signed JWT for a token; `None`: the key file's `token_uri`
            (Google's). Tests point it at a local server.
        timeout: seconds to wait for the token endpoint.
    """

    def __init__(self, key: Mapping[str, Any] | str, *, token_uri: str | None = None, timeout: float = 30.0) -> None:
        self.key = key
        self.token_uri = token_uri
        self.timeout = timeout
        self._credentials: Any = None
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    @property
    def email(self) -> str:
        """The service account's email address (share a private sheet with it)."""
        return str(self._get_credentials().service_account_email)

    def token(self, owner: Any = None) -> str:
        """The current access token, refreshed first when there is none or it has expired (google-auth counts a
        token as expired a few minutes early). `owner` (the datasource) is named by errors.

        Raises:
            ConfigurationError: `google-auth` is not installed, or the key is not a service account's key.
            ResponseError: the token endpoint refused the JWT (a revoked key, a wrong `token_uri`).
            TransportError: the token endpoint did not answer.
        """
        # Imported here: google-auth is an optional extra (django-pyck[google]); without it, only the API key works.
        from google.auth import exceptions as google_exceptions

        with self._lock:
            credentials = self._get_credentials()
            if not credentials.valid:
                try:
                    credentials.refresh(self._request)
                except google_exceptions.TransportError as error:
                    raise TransportError(
                        f"The token endpoint {self._token_endpoint()} did not answer: {error}", datasource=owner
                    ) from error
                except google_exceptions.RefreshError as error:
                    raise ResponseError(
                        f"The token endpoint {self._token_endpoint()} refused the service account "
                        f"{credentials.service_account_email}: {error}",
                        datasource=owner,
                    ) from error
            return str(credentials.token)

    def _request(self, url: str, method: str = "GET", body: Any = None, headers: Any = None, **kwargs: Any) -> Any:
        # google-auth's transport for requests, with this account's session and timeout.
        # Imported here: see token().
        from google.auth.transport.requests import Request

        if self._session is None:
            self._session = requests.Session()
        kwargs["timeout"] = self.timeout
        return Request(self._session)(url, method=method, body=body, headers=headers, **kwargs)

    def _token_endpoint(self) -> str:
        if self.token_uri:
            return self.token_uri
        if isinstance(self.key, Mapping) and isinstance(self.key.get("token_uri"), str):
            return str(self.key["token_uri"])
        return "(the key file's token_uri)"

    def _get_credentials(self) -> Any:
        if self._credentials is None:
            self._credentials = _load(self.key, self.token_uri)
        return self._credentials


def _load(key: Mapping[str, Any] | str, token_uri: str | None) -> Any:
    try:
        # Imported here: google-auth is an optional extra (django-pyck[google]).
        from google.oauth2 import service_account
    except ImportError:
        raise ConfigurationError(
            "A Google Sheets datasource with a service account needs the google-auth library: "
            "pip install 'django-pyck[google]' (or google-auth), or read a public sheet with an API key"
        ) from None
    try:
        if isinstance(key, Mapping):
            credentials = service_account.Credentials.from_service_account_info(dict(key), scopes=SCOPES)
        elif isinstance(key, str):
            credentials = service_account.Credentials.from_service_account_file(key, scopes=SCOPES)
        else:
            raise TypeError(f"expected a mapping or a path, got {type(key).__name__}")
    except (ValueError, KeyError, TypeError, OSError) as error:
        # The key's own text is never quoted: it holds the private key.
        where = f"the file {key!r}" if isinstance(key, str) else "the service account key given"
        raise ConfigurationError(
            f"{where} is not a usable service account key ({type(error).__name__}); download a JSON key of a "
            "service account from the Google Cloud console"
        ) from None
    return credentials.with_token_uri(token_uri) if token_uri else credentials
