"""Secrets out of URLs, headers and messages, before they reach a log line, an error or a `SyncRun`.

- `redact_url` blanks secret query values and any `user:password@` out of a URL.
- `redact_text` blanks the value of every secret `name=value` pair quoted in free text.
- `secret_values` lists the secret strings a request carries (URL password, secret query values, credential
  headers), and `blank_out` replaces them in a text (an answer's body quoted in an error).
- `redact_secrets` does both for a datasource: its secret parameters, and every secret it has sent
  (`Datasource.sent_secrets`).
- `reveals` tells whether an exception (or one of its causes) quotes a secret, so that it is left off an error.
- `without_params` and `with_params` take query parameters out of a URL and put current ones in: a listing's
  position is stored without the datasource's credentials, which are applied again when it is resumed.

This module imports nothing else from pyck, so every layer (errors, HTTP, paginators, the engine) can use it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

__all__ = [
    "DEFAULT_SECRET_PARAMS",
    "REDACTED",
    "blank_out",
    "is_credential_header",
    "is_secret_param",
    "redact_secrets",
    "redact_text",
    "redact_url",
    "reveals",
    "secret_values",
    "with_params",
    "without_params",
]

DEFAULT_SECRET_PARAMS: frozenset[str] = frozenset(
    {"api_key", "apikey", "key", "token", "access_token", "secret", "password", "signature", "sig", "auth"}
)
"""Query parameter names whose values never appear in logs or error messages (compared case-insensitively)."""

REDACTED = "***"
"""What a secret is replaced by."""

# Any parameter or header whose name contains one of these is treated as secret too, whatever the list says.
_SECRET_FRAGMENTS = ("token", "secret", "key")

# Header names (lower case) that carry credentials, on top of any containing a _SECRET_FRAGMENTS word or "auth".
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "password"})

# Standard headers that describe the request rather than the caller: their values are never secret. The value
# of any other header a datasource sends is (an API may authenticate with "X-Membership-Ident").
_PUBLIC_HEADERS = frozenset(
    {
        "accept", "accept-charset", "accept-encoding", "accept-language", "cache-control", "connection",
        "content-encoding", "content-language", "content-length", "content-type", "if-match", "if-modified-since",
        "if-none-match", "if-unmodified-since", "pragma", "prefer", "range", "te", "transfer-encoding",
        "user-agent", "x-requested-with",
    }
)


def is_secret_param(name: str, secret_params: Collection[str] = DEFAULT_SECRET_PARAMS) -> bool:
    """Whether the query parameter `name` holds a secret: it is in `secret_params` or contains "token",
    "secret" or "key" (case-insensitive)."""
    lowered = name.lower()
    return lowered in {p.lower() for p in secret_params} or any(f in lowered for f in _SECRET_FRAGMENTS)


def is_credential_header(name: str) -> bool:
    """Whether the HTTP header `name` carries credentials (`Authorization`, `X-Api-Key`, `Cookie`, any
    name containing "auth", "token", "secret" or "key")."""
    lowered = name.lower()
    return lowered in _CREDENTIAL_HEADERS or "auth" in lowered or any(f in lowered for f in _SECRET_FRAGMENTS)


def redact_url(url: str, secret_params: Collection[str] = DEFAULT_SECRET_PARAMS) -> str:
    """Return `url` fit for a log line: secret query values replaced by `***` and any `user:password@`
    removed. The rest of the URL is kept byte for byte.

    For example:

    ```python
    redact_url("https://bob:pw@api.example.com/x?api_key=s3cr3t&page=2")
    # "https://api.example.com/x?api_key=***&page=2"
    ```
    """
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(_redact_pair(pair, secret_params) for pair in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_pair(pair: str, secret_params: Collection[str]) -> str:
    name, sep, _value = pair.partition("=")
    if sep and is_secret_param(unquote_plus(name), secret_params):
        return f"{name}={REDACTED}"
    return pair


# The lookbehind starts a match only where a name starts: without it, a long run of name characters with no "="
# is rescanned from each of its positions, which takes time quadratic in its length.
_PAIR = re.compile(r"(?<![\w.%~-])(?P<name>[\w.%~-]+)=(?P<value>[^&\s'\"#<>]*)")


def redact_text(text: str, secret_params: Collection[str] = DEFAULT_SECRET_PARAMS) -> str:
    """Return `text` (a log message, an exception's text) with the value of every `name=value` pair whose
    name is a secret parameter replaced by `***`, wherever URLs are quoted in it."""

    def replace(match: re.Match[str]) -> str:
        if match["value"] and is_secret_param(unquote_plus(match["name"]), secret_params):
            return f"{match['name']}={REDACTED}"
        return match[0]

    return _PAIR.sub(replace, text)


def secret_values(
    url: str, headers: Mapping[str, str], secret_params: Collection[str] = DEFAULT_SECRET_PARAMS
) -> list[str]:
    """The secret strings in a request, longest first, so they can be blanked out of a response body quoted
    in an error message: the password in the URL, secret query values, and the value (and each long word of
    the value, such as a bearer token) of every credentials header (see `is_credential_header`) and of
    every other header but the standard ones that describe the request (`Accept`, `User-Agent`…) when the
    value has 8 characters or more: any header may be how an API authenticates ("X-Membership-Ident")."""
    found: set[str] = set()
    parts = urlsplit(url)
    if parts.password:
        found.add(parts.password)
    for pair in parts.query.split("&") if parts.query else ():
        name, sep, value = pair.partition("=")
        if sep and value and is_secret_param(unquote_plus(name), secret_params):
            found.update({value, unquote_plus(value)})
    for name, value in headers.items():
        if not value:
            continue
        if is_credential_header(name):
            found.add(value)
        elif name.lower() not in _PUBLIC_HEADERS and len(value) >= 8:
            found.add(value)  # shorter values of headers not named as credentials are rarely secret, often "2"
        else:
            continue
        found.update(word for word in value.split() if len(word) >= 8)
    return sorted((v for v in found if len(v) >= 4), key=len, reverse=True)


def blank_out(text: str, secrets: Iterable[str]) -> str:
    """Return `text` with each of `secrets` replaced by `***`."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def redact_secrets(text: str, datasource: Any) -> str:
    """Return `text` (an error message, a log line) fit to show: every secret `datasource` has sent so far
    blanked out (its `sent_secrets`: a `RestDatasource` remembers the values of its `get_headers()` and its
    secret query parameters), and the values of secret `name=value` pairs (its `secret_params`, else
    `DEFAULT_SECRET_PARAMS`) replaced by `***`.

    An API may echo a key back inside a record, so messages quoting remote data go through this before they
    reach an error, a log or a `SyncRun`. `DatasourceError` applies it to its own message.

    Args:
        text: the text to show.
        datasource: any object; its `secret_params` and `sent_secrets` attributes are read when it has them.

    Returns:
        The text with the secrets replaced by `***`.
    """
    text = redact_text(text, getattr(datasource, "secret_params", None) or DEFAULT_SECRET_PARAMS)
    return blank_out(text, getattr(datasource, "sent_secrets", ()))


def reveals(error: BaseException, secrets: Collection[str]) -> bool:
    """Whether the text of `error`, or of an exception it was raised from or during, quotes one of `secrets`:
    such a cause is left off an error, whose traceback would print it."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts = [str(current), repr(current), *(repr(arg) for arg in current.args)]
        if any(secret in text for secret in secrets for text in texts):
            return True
        current = current.__cause__ or current.__context__
    return False


def without_params(url: str, names: Collection[str]) -> str:
    """Return `url` without the query parameters named in `names`; the rest of the URL is kept byte for byte.

    For example, `without_params("https://api.example.com/x?api_key=s3cr3t&page=2", {"api_key"})` is
    `"https://api.example.com/x?page=2"`.
    """
    parts = urlsplit(url)
    if not parts.query or not names:
        return url
    kept = [pair for pair in parts.query.split("&") if unquote_plus(pair.partition("=")[0]) not in names]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment))


def with_params(url: str, params: Mapping[str, Any]) -> str:
    """Return `url` with the query parameters `params`: any of the same name already there are replaced, the
    others kept byte for byte."""
    if not params:
        return url
    parts = urlsplit(without_params(url, set(params)))
    query = "&".join(filter(None, [parts.query, urlencode(params, doseq=True)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
