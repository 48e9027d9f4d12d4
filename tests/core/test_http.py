"""pyck.core.http: redaction, retries and backoff, Retry-After and its cap, timeouts, redirects, rate limiting."""

from __future__ import annotations

import email.utils
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import responses

from pyck.core import http, redaction
from pyck.core.exceptions import ConfigurationError
from pyck.core.http import RateLimiter, build_session, parse_retry_after
from pyck.core.redaction import is_credential_header, redact_url, with_params, without_params

API = "https://api.example.com"


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait asked of ``pyck.core.http._sleep``, in order (nothing actually sleeps)."""
    asked: list[float] = []
    monkeypatch.setattr(http, "_sleep", asked.append)
    return asked


def session(retries: int = 3, backoff_factor: float = 0.5, max_retry_after: float = 120.0, **kwargs) -> requests.Session:
    return build_session(
        retries=retries, backoff_factor=backoff_factor, max_retry_after=max_retry_after, timeout=7.5, **kwargs
    )


# --- Redaction ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.example.com/x?api_key=s3cr3t&page=2", "https://api.example.com/x?api_key=***&page=2"),
        ("https://bob:pw@api.example.com/x", "https://api.example.com/x"),
        ("https://api.example.com/x?sig=abc&Signature=def&q=a+b", "https://api.example.com/x?sig=***&Signature=***&q=a+b"),
        ("https://api.example.com/x?refresh_token=t&client_secret=s&X-Api-Key=k", "https://api.example.com/x?refresh_token=***&client_secret=***&X-Api-Key=***"),
        ("https://api.example.com/x?password=&flag#frag", "https://api.example.com/x?password=***&flag#frag"),
        ("https://api.example.com/a%20b?name=caf%C3%A9", "https://api.example.com/a%20b?name=caf%C3%A9"),
        ("https://api.example.com/x?api%5Fkey=s", "https://api.example.com/x?api%5Fkey=***"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{API}/x?api_key=s3cr3t&page=2", f"{API}/x?page=2"),
        (f"{API}/x?page=2&api_key=a&api%5Fkey=b&api_keys=c#top", f"{API}/x?page=2&api_keys=c#top"),
        (f"{API}/x?api_key=s3cr3t", f"{API}/x"),
        (f"{API}/x?q=a%20b&page=2", f"{API}/x?q=a%20b&page=2"),  # the rest byte for byte
    ],
)
def test_without_params(url: str, expected: str) -> None:
    assert without_params(url, {"api_key"}) == expected


def test_with_params_replaces_those_of_the_same_name_and_keeps_the_rest() -> None:
    assert with_params(f"{API}/x?api_key=old&q=a%20b", {"api_key": "new"}) == f"{API}/x?q=a%20b&api_key=new"
    assert with_params(f"{API}/x", {"api_key": "new key"}) == f"{API}/x?api_key=new+key"
    assert with_params(f"{API}/x?page=2", {}) == f"{API}/x?page=2"


def test_redact_url_with_own_secret_params_keeps_the_defaults_fragments() -> None:
    assert redact_url(f"{API}/x?session=1&access_token=2&page=3", {"session"}) == f"{API}/x?session=***&access_token=***&page=3"


def test_credential_headers() -> None:
    assert all(map(is_credential_header, ["Authorization", "X-Api-Key", "Cookie", "X-Auth-Token", "apikey"]))
    assert not any(map(is_credential_header, ["Accept", "User-Agent", "Content-Type", "X-Request-Id"]))


def test_secret_values_are_blanked_out_of_text() -> None:
    secrets = redaction.secret_values(f"{API}/x?api_key=s3cr3t-value&page=2", {"Authorization": "Bearer abcdefgh12345"})
    text = "bad key s3cr3t-value for token abcdefgh12345 on page 2"
    assert redaction.blank_out(text, secrets) == "bad key *** for token *** on page 2"


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= parse_retry_after(in_a_minute) <= 61
    assert parse_retry_after(email.utils.formatdate(time.time() - 60, usegmt=True)) == 0.0


# --- Retries -----------------------------------------------------------------------------------------------


def test_429_with_retry_after_then_200_waits_as_asked(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    mock_api.get(f"{API}/x", status=429, headers={"Retry-After": "7"})
    ok = mock_api.get(f"{API}/x", json=[1])
    response = session().get(f"{API}/x")
    assert response.status_code == 200
    assert len(mock_api.calls) == 2 and ok.call_count == 1
    assert waits == [7.0]


def test_503_then_success_backs_off_exponentially_with_jitter(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    for _ in range(3):
        mock_api.get(f"{API}/x", status=503)
    mock_api.get(f"{API}/x", json={"ok": True})
    response = session(backoff_factor=0.5).get(f"{API}/x")
    assert response.json() == {"ok": True}
    assert len(mock_api.calls) == 4
    assert len(waits) == 3
    for n, wait in enumerate(waits, start=1):
        base = 0.5 * 2 ** (n - 1)
        assert base <= wait <= base + 0.5, (n, wait)


def test_retries_exhausted_hand_back_the_last_answer(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    for _ in range(3):
        mock_api.get(f"{API}/x", status=502, body="bad gateway")
    response = session(retries=2).get(f"{API}/x")
    assert response.status_code == 502
    assert len(mock_api.calls) == 3
    assert len(waits) == 2


def test_retry_after_above_the_cap_is_not_waited_for(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    mock_api.get(f"{API}/x", status=429, headers={"Retry-After": "3600"})
    response = session(max_retry_after=120).get(f"{API}/x")
    assert response.status_code == 429
    assert len(mock_api.calls) == 1
    assert waits == []


def test_a_429_without_retry_after_waits_the_declared_penalty(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    # Airtable: a 429 carries no Retry-After and the next requests fail for 30 s; the backoff (0.5, 1, 2 s)
    # would spend every retry inside the penalty.
    mock_api.get(f"{API}/x", status=429)
    mock_api.get(f"{API}/x", json=[])
    assert session(retry_after_429=30).get(f"{API}/x").status_code == 200
    assert waits == [30]


def test_a_retry_after_header_wins_over_the_declared_penalty(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    mock_api.get(f"{API}/x", status=429, headers={"Retry-After": "2"})
    mock_api.get(f"{API}/x", status=503)
    mock_api.get(f"{API}/x", json=[])
    assert session(retry_after_429=30, backoff_factor=0.5).get(f"{API}/x").status_code == 200
    assert waits[0] == 2 and waits[1] < 30  # the 503 after it is backed off, not penalised


def test_a_penalty_above_the_cap_is_not_waited_for(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    mock_api.get(f"{API}/x", status=429)
    assert session(retry_after_429=300, max_retry_after=120).get(f"{API}/x").status_code == 429
    assert waits == []
    assert len(mock_api.calls) == 1


def test_a_shared_rate_limiter_is_one_per_key_and_one_rate() -> None:
    first = http.shared_rate_limiter("test-http:account-1", 5)
    assert http.shared_rate_limiter("test-http:account-1", 5.0) is first
    assert http.shared_rate_limiter("test-http:account-2", 5) is not first
    with pytest.raises(ConfigurationError, match=r"rate_limit=2 under rate_limit_key 'test-http:account-1'.*rate_limit=5"):
        http.shared_rate_limiter("test-http:account-1", 2)


def test_retry_after_at_the_cap_is_waited_for(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    mock_api.get(f"{API}/x", status=429, headers={"Retry-After": "120"})
    mock_api.get(f"{API}/x", json=[])
    assert session(max_retry_after=120).get(f"{API}/x").status_code == 200
    assert waits == [120.0]


def test_post_is_not_retried_by_default(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    mock_api.post(f"{API}/bulk", status=503)
    assert session().post(f"{API}/bulk", json={}).status_code == 503
    assert len(mock_api.calls) == 1 and waits == []


def test_post_is_retried_when_listed(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    mock_api.post(f"{API}/bulk", status=503)
    mock_api.post(f"{API}/bulk", json={"result": []})
    assert session(retry_methods={"GET", "POST"}).post(f"{API}/bulk", json={}).status_code == 200
    assert len(mock_api.calls) == 2


def test_4xx_other_than_429_is_not_retried(mock_api: responses.RequestsMock, waits: list[float]) -> None:
    mock_api.get(f"{API}/x", status=400)
    assert session().get(f"{API}/x").status_code == 400
    assert len(mock_api.calls) == 1 and waits == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_is_retried_with_backoff_then_raises(waits: list[float], caplog: pytest.LogCaptureFixture) -> None:
    port = _closed_port()
    with caplog.at_level(logging.DEBUG), pytest.raises(requests.ConnectionError):
        session(retries=2, backoff_factor=1.0).get(f"http://127.0.0.1:{port}/x?api_key=s3cr3t&page=1")
    assert len(waits) == 2
    assert 1.0 <= waits[0] <= 2.0 and 2.0 <= waits[1] <= 3.0
    # urllib3 logs each retry with the request's query string; the secret must not reach the logs.
    retry_lines = [r.getMessage() for r in caplog.records if "Retrying" in r.getMessage()]
    assert len(retry_lines) == 2
    assert all("/x?api_key=***&page=1" in line for line in retry_lines)
    assert not any("s3cr3t" in r.getMessage() for r in caplog.records)


def test_redact_text_finds_secret_pairs_in_free_text() -> None:
    text = "Max retries exceeded with url: /x?token=abc&page=2 (Caused by ...) key=v 'secret=x'"
    assert redaction.redact_text(text) == "Max retries exceeded with url: /x?token=***&page=2 (Caused by ...) key=*** 'secret=***'"


# --- A real local server: timeouts and keep-alive ------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    delay = 0.0
    seen: list[tuple[str, int]] = []

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.client_address[1]))
        if self.path.startswith("/slow"):
            time.sleep(type(self).delay)
        body = b"[1, 2]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    _Handler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    # A client that gave up (the timeout test) leaves a broken pipe behind; that is expected, not news.
    server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_default_timeout_applies_to_requests_sent_without_one(local_server: str, waits: list[float]) -> None:
    _Handler.delay = 0.3
    slow = build_session(retries=0, backoff_factor=0, max_retry_after=1, timeout=0.05)
    started = time.perf_counter()
    # After the retries urllib3 reports the read timeout as the reason of a "max retries" connection error.
    with pytest.raises(requests.ConnectionError, match="Read timed out. \\(read timeout=0.05\\)"):
        slow.get(f"{local_server}/slow")
    assert time.perf_counter() - started < 0.3


def test_session_reuses_its_connection(local_server: str) -> None:
    reusing = session()
    for _ in range(3):
        assert reusing.get(f"{local_server}/x").json() == [1, 2]
    client_ports = {port for _path, port in _Handler.seen}
    assert len(client_ports) == 1


def test_timeout_reaches_the_adapter(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/x", json=[])
    session().get(f"{API}/x")
    assert mock_api.calls[0].request.req_kwargs["timeout"] == 7.5


def test_user_agent_and_accept_headers(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/x", json=[])
    session(user_agent="pyck-tests/1").get(f"{API}/x")
    headers = mock_api.calls[0].request.headers
    assert headers["User-Agent"] == "pyck-tests/1"
    assert headers["Accept"] == "application/json"


# --- Redirects ---------------------------------------------------------------------------------------------

CREDENTIALS = {"Authorization": "Bearer s3cr3t-token", "X-Api-Key": "s3cr3t-key", "X-Request-Id": "r1"}


def test_redirect_to_another_host_drops_every_header_the_caller_passed(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/x", status=302, headers={"Location": "https://elsewhere.example.net/y"})
    mock_api.get("https://elsewhere.example.net/y", json=[])
    session().get(f"{API}/x", headers=CREDENTIALS)
    first, second = (call.request.headers for call in mock_api.calls)
    assert first["Authorization"] and first["X-Api-Key"]
    assert "Authorization" not in second and "X-Api-Key" not in second
    assert "X-Request-Id" not in second


def test_redirect_on_the_same_host_keeps_credentials(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/x", status=301, headers={"Location": f"{API}/y"})
    mock_api.get(f"{API}/y", json=[])
    session().get(f"{API}/x", headers=CREDENTIALS)
    second = mock_api.calls[1].request.headers
    assert second["Authorization"] == "Bearer s3cr3t-token" and second["X-Api-Key"] == "s3cr3t-key"


# --- Rate limiter ------------------------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock that only moves when the rate limiter sleeps (or the test says)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(http, "_sleep", fake.sleep)
    return fake


def test_rate_limiter_spaces_requests(clock: FakeClock) -> None:
    limiter = RateLimiter(4, clock=clock)
    for _ in range(5):
        limiter.acquire()
    assert clock.waits == pytest.approx([0.25, 0.25, 0.25, 0.25])
    assert clock.now == pytest.approx(1001.0)


def test_rate_limiter_allows_a_burst_after_a_quiet_spell(clock: FakeClock) -> None:
    limiter = RateLimiter(2, burst=3, clock=clock)
    assert [limiter.acquire() for _ in range(3)] == [0, 0, 0]
    assert limiter.acquire() == pytest.approx(0.5)
    clock.now += 10
    assert [limiter.acquire() for _ in range(3)] == [0, 0, 0]


def test_rate_limiter_is_thread_safe(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    # With the clock stopped, 20 threads must between them be asked to wait 1/rate, 2/rate, ... 19/rate:
    # each reserves its own slot, none is lost or shared.
    monkeypatch.setattr(http, "_sleep", clock.waits.append)
    limiter = RateLimiter(10, clock=clock)
    threads = [threading.Thread(target=limiter.acquire) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(clock.waits) == pytest.approx([n / 10 for n in range(1, 20)])


def test_rate_limiter_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)


# --- requests' environment settings, remembered per origin -------------------------------------------------

_ENVIRONMENTS = [
    {},
    {"HTTP_PROXY": "http://proxy.internal:3128"},
    {"HTTP_PROXY": "http://proxy.internal:3128", "NO_PROXY": "api.example.org"},
    {"https_proxy": "http://other.internal:8080", "REQUESTS_CA_BUNDLE": "/etc/ssl/bundle.pem"},
    {},
]


@pytest.mark.parametrize("url", ["http://api.example.org/members?page=2", "https://api.example.org:8443/x"])
def test_environment_settings_follow_every_change_of_the_environment(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """The same answer as requests' own Session, whatever the environment says and however often it changes."""
    names = {name for environment in _ENVIRONMENTS for name in environment} | {"NO_PROXY", "no_proxy", "CURL_CA_BUNDLE"}
    for name in names | {name.upper() for name in names} | {name.lower() for name in names}:
        monkeypatch.delenv(name, raising=False)
    ours = build_session(retries=0, backoff_factor=0, max_retry_after=0, timeout=5)
    theirs = requests.Session()
    for environment in _ENVIRONMENTS:
        for name in names:
            monkeypatch.delenv(name, raising=False)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        for arguments in [({}, None, None, None), ({"http": "http://given:1"}, True, False, None)]:
            assert ours.merge_environment_settings(url, *arguments) == theirs.merge_environment_settings(url, *arguments)
        ours.proxies = {"https": "http://session.internal:9"}
        theirs.proxies = {"https": "http://session.internal:9"}
        assert ours.merge_environment_settings(url, {}, None, None, None) == theirs.merge_environment_settings(url, {}, None, None, None)
        ours.proxies = theirs.proxies = {}


def test_environment_settings_are_read_once_per_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = requests.sessions.get_environ_proxies

    def counting(url: str, no_proxy: str | None = None) -> dict[str, str]:
        calls.append(url)
        return original(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting)
    session = build_session(retries=0, backoff_factor=0, max_retry_after=0, timeout=5)
    for page in range(5):
        session.merge_environment_settings(f"http://api.example.org/m?page={page}", {}, None, None, None)
    session.merge_environment_settings("http://other.example.org/m", {}, None, None, None)
    assert len(calls) == 2
    settings = session.merge_environment_settings("http://api.example.org/m", {}, None, None, None)
    settings["proxies"]["http"] = "changed by the caller"
    assert session.merge_environment_settings("http://api.example.org/m", {}, None, None, None)["proxies"] == {}
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    assert session.merge_environment_settings("http://api.example.org/m", {}, None, None, None)["proxies"] == {
        "http": "http://proxy.internal:3128"
    }
    assert len(calls) == 3
