"""What a `RestDatasource` makes of an API's answers, without a secret in any message.

- `parse_body` reads an answer's JSON body strictly (UTF-8, or the charset the answer names; nested at most
  `HTTP_MAX_JSON_DEPTH` deep): `RestDatasource.parse_json`.
- `status_error` turns an answer that is not 2xx into the matching `DatasourceError`, its body kept on it:
  `RestDatasource.get_status_error`.
- `describe_transport_error` says why a request got no answer, without the URL's query string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from email.message import Message
from typing import TYPE_CHECKING, Any

import requests
from urllib3 import exceptions as urllib3_exceptions

from . import http
from .conf import pyck_settings
from .exceptions import (
    ConfigurationError,
    DatasourceError,
    NotFoundError,
    RateLimitError,
    ResponseError,
)

if TYPE_CHECKING:
    from .rest import RestDatasource

__all__ = ["describe_transport_error", "parse_body", "status_error"]

# How much of an unexpected body an error message quotes.
_BODY_EXCERPT = 200
# Error bodies up to this size are parsed as JSON into ``error.body``; larger ones are kept as an excerpt.
_ERROR_BODY_MAX = 64 * 1024


def parse_body(datasource: RestDatasource[Any], response: requests.Response) -> Any:
    """The parsed JSON body of `response`, `None` for an empty body; see `RestDatasource.parse_json`.

    Raises:
        ResponseError: the body is not JSON, not UTF-8, or nested too deeply; naming `datasource` and the URL.
    """
    if response.status_code == 204 or not response.content:
        return None
    try:
        data = _loads(response)
    except (ValueError, LookupError, RecursionError) as error:
        content_type = response.headers.get("Content-Type", "no content type")
        if isinstance(error, UnicodeDecodeError):
            problem = f"{type(error).__name__} at byte {error.start}"
        elif isinstance(error, RecursionError):
            problem = "nested too deeply to parse"
        else:
            problem = str(error)
        raise ResponseError(
            f"Expected a JSON body, got {content_type!r} starting "
            f"{_excerpt(response, _response_secrets(datasource, response))!r} "
            f"({len(response.content)} bytes; {problem})",
            datasource=datasource,
            url=datasource.redact(str(response.url)),
            status_code=response.status_code,
        ) from error
    max_depth = int(pyck_settings.HTTP_MAX_JSON_DEPTH)
    if _deeper_than(data, max_depth):
        raise ResponseError(
            f"The JSON body is nested more than {max_depth} levels deep (HTTP_MAX_JSON_DEPTH)",
            datasource=datasource,
            url=datasource.redact(str(response.url)),
            status_code=response.status_code,
        )
    return data


def retry_after_429(datasource: Any) -> float | None:
    """The datasource's `retry_after_429` (the wait after a 429 without `Retry-After`), checked.

    Raises:
        ConfigurationError: it is not a number of seconds (0 or more) or `None`.
    """
    penalty = getattr(datasource, "retry_after_429", None)
    if penalty is None:
        return None
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not penalty >= 0:
        raise ConfigurationError(f"{datasource}: retry_after_429 must be seconds (0 or more) or None, got {penalty!r}")
    return float(penalty)


def status_error(datasource: RestDatasource[Any], response: requests.Response, *, method: str, url: str) -> DatasourceError:
    """The error for a non-2xx `response` to `method` at `url` (already redacted); see
    `RestDatasource.get_status_error`."""
    status = response.status_code
    secrets = _response_secrets(datasource, response)
    quoted = _excerpt(response, secrets)
    error: DatasourceError
    if status == 404:
        error = NotFoundError("Not found (HTTP 404)", datasource=datasource, url=url, status_code=404)
    elif status == 429:
        retry_after = http.parse_retry_after(response.headers.get("Retry-After"))
        cap = float(pyck_settings.HTTP_MAX_RETRY_AFTER)
        penalty = retry_after_429(datasource)
        if retry_after is None and penalty is not None:
            retry_after = penalty
            if retry_after > cap:
                why = f"its penalty (retry_after_429={retry_after:g}s) is longer than HTTP_MAX_RETRY_AFTER={cap:g}s"
            else:
                why = "still rate limited after the retries"
        elif retry_after is not None and retry_after > cap:
            why = f"asked to retry after {retry_after:g}s, more than HTTP_MAX_RETRY_AFTER={cap:g}s"
        else:
            why = "still rate limited after the retries"
        limited = RateLimitError(
            f"Too many requests (HTTP 429): {why}", datasource=datasource, url=url, status_code=429
        )
        limited.retry_after = retry_after
        error = limited
    else:
        reason = f" {response.reason}" if response.reason else ""
        error = ResponseError(
            f"{method} answered HTTP {status}{reason}: {quoted!r}", datasource=datasource, url=url, status_code=status
        )
    error.body = _error_body(response, secrets, quoted)
    return error


def describe_transport_error(
    error: requests.RequestException, secrets: Collection[str], secret_params: Collection[str]
) -> str:
    """Say what happened to a request that got no answer ("connection failed: ..."), without `secrets`
    and without the values of `secret_params`."""
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
    elif isinstance(reason, http.SlowAnswerError):
        return f"the answer was too slow: {reason}"
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


def _response_secrets(datasource: RestDatasource[Any], response: requests.Response) -> Collection[str]:
    # The secrets of the exchange, longest first: every request sent (redirects included), and the headers
    # get_headers() gives.
    found: set[str] = set()
    requests_sent = [r.request for r in response.history] + [response.request]
    for sent in requests_sent:
        if sent is not None:
            found.update(http.secret_values(str(sent.url or ""), sent.headers, datasource.secret_params))
    found.update(http.secret_values("", datasource.get_headers(), datasource.secret_params))
    return sorted(found, key=len, reverse=True)


def _excerpt(response: requests.Response, secrets: Collection[str]) -> str:
    # The start of the body, as text, secrets blanked out: what an error message quotes.
    text = response.content[: _BODY_EXCERPT * 4].decode(response.encoding or "utf-8", errors="replace")
    text = http.blank_out(text, secrets)
    return text[:_BODY_EXCERPT] + ("…" if len(text) > _BODY_EXCERPT else "")


def _loads(response: requests.Response) -> Any:
    # Strict: JSON is UTF-8 (RFC 8259), so bytes that are not raise instead of turning into U+FFFD. A charset
    # the server names explicitly is honoured.
    content_type = response.headers.get("Content-Type")
    charset = None
    if content_type and ";" in content_type:  # only parameters name a charset: most APIs send none
        header = Message()
        header["Content-Type"] = content_type
        charset = header.get_content_charset()
    if charset and charset.replace("_", "-") not in ("utf-8", "utf8"):
        return json.loads(response.content.decode(charset))
    # Not json.loads(bytes): it lets UTF-8-encoded surrogates through ("surrogatepass") and guesses UTF-16 and 32.
    return json.loads(response.content.decode("utf-8-sig"))


def _deeper_than(data: Any, limit: int) -> bool:
    # Level by level, with exact type checks (json.loads makes plain dicts and lists), one comprehension per
    # level: about a third of the time json.loads took to build the data.
    level = [data] if type(data) is dict or type(data) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for value in level
            for child in (value.values() if type(value) is dict else value)
            if type(child) is dict or type(child) is list
        ]
    return False


def _error_body(response: requests.Response, secrets: Collection[str], quoted: str) -> Any:
    if not response.content:
        return None
    if len(response.content) <= _ERROR_BODY_MAX:
        try:
            text = response.content.decode(response.encoding or "utf-8")
            return json.loads(http.blank_out(text, secrets))
        except (ValueError, LookupError, RecursionError):
            pass
    return quoted
