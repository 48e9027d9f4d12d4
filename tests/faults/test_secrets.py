"""Secrets never leak: an API key in the query, a bearer token and a custom ``X-Api-Key`` header from
``get_headers()`` are planted, every fault is provoked, and every output is searched for them: log records of
``pyck`` and ``urllib3`` at DEBUG, exception messages, ``str``/``repr``, whole tracebacks with their causes, and
the error bodies kept on the errors. The server echoes the credentials it receives back in its bodies, as some
APIs do in their error messages."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from pyck.core.datasources import DatasourceError, NextUrlPaginator

from .server import (
    Answer,
    FaultServer,
    Received,
    closed_port,
    drip_answer,
    dynamic_answer,
    json_answer,
    never_answer,
    raw_answer,
    redirect_answer,
    reset_mid_body,
    status_answer,
)
from .sources import (
    BEARER_SECRET,
    HEADER_SECRET,
    MEMBER,
    QUERY_SECRET,
    SECRETS,
    keyed_members,
)


def echo(status: int, *, html: bool = False, headers: dict[str, str] | None = None) -> Answer:
    """An answer quoting back the credentials the request carried."""

    def answer(received: Received) -> Answer:
        echoed = {
            "error": f"invalid credentials {received.headers.get('Authorization')} "
            f"{received.headers.get('X-Api-Key')} {received.query.get('api_key')}",
            "request": received.target,
        }
        if html:
            return raw_answer(f"<html><p>{echoed}</p></html>".encode(), status, "text/html")
        return status_answer(status, echoed, headers=headers or {})

    return dynamic_answer(answer)


Scenario = Callable[[FaultServer], Callable[[], Any]]


def _get(server: FaultServer, **kwargs: Any) -> Callable[[], Any]:
    source = keyed_members(server.url, **kwargs)
    return lambda: source.get(7, api_key=QUERY_SECRET)


def _list(server: FaultServer, **kwargs: Any) -> Callable[[], Any]:
    source = keyed_members(server.url, **kwargs)
    return lambda: list(source.list(api_key=QUERY_SECRET))


def error_500_echoing_credentials(server: FaultServer) -> Callable[[], Any]:
    server.route("/members/7", echo(500))
    return _get(server)


def error_404_echoing_credentials(server: FaultServer) -> Callable[[], Any]:
    server.route("/members/7", echo(404))
    return _get(server)


def error_429_echoing_credentials(server: FaultServer) -> Callable[[], Any]:
    server.route("/members", echo(429, headers={"Retry-After": "1"}))
    return _list(server)


def absurd_retry_after_echoing_credentials(server: FaultServer) -> Callable[[], Any]:
    server.route("/members", echo(429, headers={"Retry-After": "99999"}))
    return _list(server)


def html_200_echoing_credentials(server: FaultServer) -> Callable[[], Any]:
    server.route("/members", echo(200, html=True))
    return _list(server)


def record_that_does_not_fit(server: FaultServer) -> Callable[[], Any]:
    server.route("/members", json_answer({"items": [{"id": "not a number"}]}))
    return _list(server)


def next_link_loop_carrying_the_key(server: FaultServer) -> Callable[[], Any]:
    # Some APIs copy the key into their next links; this one also points back at the same page.
    link = f"{server.url}/members?page=2&api_key={QUERY_SECRET}"

    def answer(received: Received) -> Answer:
        number = int(received.query.get("page", ["1"])[0])
        return json_answer({"results": [{**MEMBER, "id": number}], "next": link})

    server.route("/members", dynamic_answer(answer))
    return _list(server, paginator=NextUrlPaginator())


def connection_refused(server: FaultServer) -> Callable[[], Any]:
    source = keyed_members(f"http://127.0.0.1:{closed_port()}")
    return lambda: source.get(7, api_key=QUERY_SECRET)


def read_timeout(server: FaultServer) -> Callable[[], Any]:
    server.route("/members/7", never_answer(server.closing))
    return _get(server, timeout=0.1, retries=1)


def reset_mid_body_(server: FaultServer) -> Callable[[], Any]:
    server.route("/members/7", reset_mid_body())
    return _get(server)


def slow_drip(server: FaultServer) -> Callable[[], Any]:
    server.route("/members/7", drip_answer(server.closing))
    return _get(server, max_response_time=0.1)


def oversized_body(server: FaultServer) -> Callable[[], Any]:
    server.route("/members/7", echo(200))
    return _get(server, max_response_size=10)


SCENARIOS: list[Scenario] = [
    error_500_echoing_credentials,
    error_404_echoing_credentials,
    error_429_echoing_credentials,
    absurd_retry_after_echoing_credentials,
    html_200_echoing_credentials,
    record_that_does_not_fit,
    next_link_loop_carrying_the_key,
    connection_refused,
    read_timeout,
    reset_mid_body_,
    slow_drip,
    oversized_body,
]


def everything_said(error: BaseException, caplog: pytest.LogCaptureFixture) -> str:
    """Every output a user or a log aggregator could see."""
    parts = [str(error), repr(error), "".join(traceback.format_exception(error)), caplog.text]
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), record.exc_text or ""]
    if isinstance(error, DatasourceError):
        parts += [repr(error.body), repr(vars(error))]
    return "\n".join(parts)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_secrets_never_appear_in_errors_logs_or_error_bodies(
    server: FaultServer, caplog: pytest.LogCaptureFixture, scenario: Scenario
) -> None:
    caplog.set_level(logging.DEBUG, logger="pyck")
    caplog.set_level(logging.DEBUG, logger="urllib3")
    call = scenario(server)
    with pytest.raises(DatasourceError) as caught:
        call()
    said = everything_said(caught.value, caplog)
    for secret in SECRETS:
        assert secret not in said
    assert "***" in said or server.received == []  # the query key was there, blanked out
    for received in server.received:  # the credentials did go out, so the test could have caught a leak
        assert received.headers["Authorization"] == f"Bearer {BEARER_SECRET}"
        assert received.headers["X-Api-Key"] == HEADER_SECRET
        assert received.query["api_key"] == [QUERY_SECRET]


def test_secret_in_query_never_logged_by_urllib3_retries(server: FaultServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="urllib3")
    caplog.set_level(logging.DEBUG, logger="pyck")
    server.route("/members", status_answer(503), json_answer({"items": []}))
    assert list(keyed_members(server.url).list(api_key=QUERY_SECRET)) == []
    assert "api_key=***" in caplog.text  # urllib3 logged the URL, redacted
    assert QUERY_SECRET not in caplog.text


def test_error_body_is_kept_on_the_error_with_secrets_blanked_out(server: FaultServer) -> None:
    server.route("/members/7", echo(500))
    with pytest.raises(DatasourceError) as caught:
        keyed_members(server.url).get(7, api_key=QUERY_SECRET)
    body = caught.value.body
    assert body["error"] == "invalid credentials *** *** ['***']"
    assert body["request"] == "/members/7?api_key=***"


def test_credentials_do_not_follow_a_redirect_to_another_host(server: FaultServer) -> None:
    other = FaultServer()
    try:
        other.route("/members/7", json_answer({"id": 7, "name": "Moved", "joined": "2024-07-04"}))
        server.route("/members/7", redirect_answer(f"{other.url}/members/7"))
        member = keyed_members(server.url).get(7)
        assert member.name == "Moved"
        [first] = server.received
        [followed] = other.received
    finally:
        other.close()
    assert first.headers["Authorization"] == f"Bearer {BEARER_SECRET}"
    assert first.headers["X-Api-Key"] == HEADER_SECRET
    assert "Authorization" not in followed.headers
    assert "X-Api-Key" not in followed.headers


def test_credentials_follow_a_redirect_on_the_same_host(server: FaultServer) -> None:
    server.route("/members/7", redirect_answer(f"{server.url}/v2/members/7"))
    server.route("/v2/members/7", json_answer({"id": 7, "name": "Moved", "joined": "2024-07-04"}))
    keyed_members(server.url).get(7)
    assert server.requests_to("/v2/members/7")[0].headers["X-Api-Key"] == HEADER_SECRET
