"""Transport faults against a real misbehaving server on 127.0.0.1: every one ends in a clear pyck error naming
the datasource, the URL and the record, after a bounded number of requests and a bounded time."""

from __future__ import annotations

import gzip
import io
import json
import time

import pytest
import requests
from django.test import override_settings

from pyck.core.datasources import ResponseError, TransportError

from .server import (
    FaultServer,
    closed_port,
    drip_answer,
    json_answer,
    never_answer,
    raw_answer,
    reset_mid_body,
    streamed_answer,
)
from .sources import MEMBER, members


def test_connection_refused_is_a_transport_error_after_bounded_retries(waits: list[float]) -> None:
    port = closed_port()
    source = members(f"http://127.0.0.1:{port}")
    with pytest.raises(TransportError, match="connection failed") as caught:
        source.get(7)
    error = caught.value
    assert (error.datasource, error.record_id) == (source, 7)
    assert f"datasource faults.members, url http://127.0.0.1:{port}/members/7, record id 7" in str(error)
    assert len(waits) == source.retries  # one backoff wait per retry, then it gives up


def test_connection_reset_mid_body_is_a_transport_error(server: FaultServer) -> None:
    server.route("/members/7", reset_mid_body())
    with pytest.raises(TransportError, match="cut short: the connection broke after") as caught:
        members(server.url).get(7)
    assert caught.value.record_id == 7
    assert f"url {server.url}/members/7" in str(caught.value)
    assert len(server.requests_to("/members/7")) == 1


def test_server_that_never_answers_times_out_after_bounded_retries(server: FaultServer) -> None:
    server.route("/members/7", never_answer(server.closing))
    source = members(server.url, timeout=0.2, retries=1)
    started = time.monotonic()
    with pytest.raises(TransportError, match="timed out waiting for the answer") as caught:
        source.get(7)
    assert time.monotonic() - started < 2.0
    assert caught.value.record_id == 7
    assert len(server.requests_to("/members/7")) == 2  # the request and one retry


def test_slow_drip_of_bytes_is_cut_off_by_max_response_time(server: FaultServer) -> None:
    # One byte every 20 ms never trips the 1 s read timeout; only the total deadline stops it.
    server.route("/members/7", drip_answer(server.closing, interval=0.02))
    source = members(server.url, timeout=1.0, max_response_time=0.3)
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"took longer than 0.3s to arrive \(HTTP_MAX_RESPONSE_TIME\)") as caught:
        source.get(7)
    assert time.monotonic() - started < 0.3 + 1.0 + 0.5  # the deadline plus at most one read timeout
    assert caught.value.record_id == 7
    assert f"url {server.url}/members/7" in str(caught.value)


def test_slow_drip_is_bounded_by_the_setting_by_default(server: FaultServer) -> None:
    server.route("/members/7", drip_answer(server.closing, interval=0.02))
    with override_settings(PYCK={"HTTP_MAX_RESPONSE_TIME": 0.2}):
        with pytest.raises(TransportError, match=r"took longer than 0\.2s"):
            members(server.url).get(7)


def test_truncated_json_is_a_response_error_naming_the_record(server: FaultServer) -> None:
    server.route("/members/7", raw_answer(json.dumps(MEMBER).encode()[:40]))
    with pytest.raises(ResponseError, match="Expected a JSON body") as caught:
        members(server.url).get(7)
    assert (caught.value.record_id, caught.value.status_code) == (7, 200)
    assert len(server.requests_to("/members/7")) == 1


def test_html_instead_of_json_is_a_response_error_quoting_it(server: FaultServer) -> None:
    server.route("/members", raw_answer(b"<html><body>Maintenance</body></html>", content_type="text/html"))
    with pytest.raises(
        ResponseError, match=r"Expected a JSON body, got 'text/html' starting '<html><body>Maint"
    ) as caught:
        list(members(server.url).list())
    assert f"url {server.url}/members?offset=0&limit=2" in str(caught.value)


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_body_that_is_not_utf8_is_a_response_error_not_unicode_error(server: FaultServer, content_type: str) -> None:
    body = json.dumps({**MEMBER, "name": "@@"}).encode().replace(b"@@", b"\xff\xfe\xc3")
    server.route("/members/7", raw_answer(body, content_type=content_type))
    with pytest.raises(ResponseError, match="UnicodeDecodeError at byte") as caught:
        members(server.url).get(7)
    assert caught.value.record_id == 7


def test_response_over_max_size_is_refused_from_content_length(server: FaultServer) -> None:
    server.route("/members/7", raw_answer(b"[" + b" " * 5000 + b"]"))
    with pytest.raises(ResponseError, match=r"5002 bytes \(Content-Length\), more than the limit of 1000") as caught:
        members(server.url, max_response_size=1000).get(7)
    assert caught.value.record_id == 7


def test_streamed_response_over_max_size_stops_reading_at_the_limit(server: FaultServer) -> None:
    produced: list[int] = []

    def endless() -> object:
        for number in range(100_000):  # 100 MB if read to the end
            produced.append(number)
            yield b" " * 1024

    server.route("/members", streamed_answer(endless()))  # type: ignore[arg-type]
    with override_settings(PYCK={"HTTP_MAX_RESPONSE_SIZE": 64 * 1024}):
        with pytest.raises(ResponseError, match=r"larger than the limit of 65536 bytes \(HTTP_MAX_RESPONSE_SIZE\)"):
            list(members(server.url).list())
    # The client hung up long before the end (the socket buffers may take a few MB before the server notices).
    assert len(produced) < 50_000


def test_compressed_body_is_limited_by_its_decompressed_size(server: FaultServer) -> None:
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")  # about 5 KB on the wire
    server.route("/members/7", raw_answer(bomb, headers={"Content-Encoding": "gzip"}))
    with pytest.raises(ResponseError, match="larger than the limit of 100000 bytes"):
        members(server.url, max_response_size=100_000).get(7)


def test_json_nested_deeper_than_max_depth_is_refused(server: FaultServer) -> None:
    server.route("/members/7", raw_answer(b"[" * 101 + b"]" * 101), json_answer([[[{"a": [1]}]]]))
    with pytest.raises(ResponseError, match=r"nested more than 100 levels deep \(HTTP_MAX_JSON_DEPTH\)") as caught:
        members(server.url).fetch_url(f"{server.url}/members/7")
    assert f"url {server.url}/members/7" in str(caught.value)
    with override_settings(PYCK={"HTTP_MAX_JSON_DEPTH": 4}):
        with pytest.raises(ResponseError, match="nested more than 4 levels"):
            members(server.url).fetch_url(f"{server.url}/members/7")


def test_json_nested_beyond_the_parser_is_a_response_error_not_recursion_error(server: FaultServer) -> None:
    server.route("/members/7", raw_answer(b"[" * 200_000 + b"]" * 200_000))
    with pytest.raises(ResponseError, match="nested too deeply to parse") as caught:
        members(server.url).get(7)
    assert caught.value.record_id == 7


class _FileAdapter(requests.adapters.BaseAdapter):
    """An adapter that is not urllib3: answers every request with these bytes from memory."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        response = requests.Response()
        response.status_code, response.raw, response.request, response.url = (
            200,
            io.BytesIO(self.body),
            request,
            request.url,
        )
        return response

    def close(self) -> None:
        pass


def test_body_limits_hold_with_an_adapter_that_is_not_urllib3() -> None:
    source = members("http://api.faults.test", max_response_size=1000)
    source.get_session().mount("http://api.faults.test", _FileAdapter(json.dumps(MEMBER).encode()))
    assert source.get(7).id == 172
    source.get_session().mount("http://api.faults.test", _FileAdapter(b"[" + b" " * 5000 + b"]"))
    with pytest.raises(ResponseError, match="larger than the limit of 1000 bytes") as caught:
        source.get(7)
    assert caught.value.record_id == 7
