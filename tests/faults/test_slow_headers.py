"""A server dripping its status line and headers, one byte at a time, never trips the per-read timeout; only
``HTTP_MAX_RESPONSE_TIME`` stops it, and it bounds the status line, the headers and the body together."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import requests
from django.test import override_settings

from pyck.core import http
from pyck.core.datasources import TransportError

from .server import STALL_LIMIT, FaultServer, Handler
from .sources import MEMBER, members

# A whole, valid answer, but it takes about 5 s to drip in at one byte every 20 ms: far more than the limits
# set below, far less than the 1 s read timeout per byte.
_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" + b"".join(
    b"X-Padding-%02d: %s\r\n" % (n, b"p" * 10) for n in range(12)
) + b"\r\n"


class HeaderDrip:
    """An answer sending its status line and headers one byte every ``interval`` seconds, then the body;
    records how many bytes of the head it got out before the client hung up."""

    def __init__(self, closing: threading.Event, interval: float = 0.02) -> None:
        self.closing = closing
        self.interval = interval
        self.body = json.dumps({**MEMBER, "id": 7}).encode()
        self.head = _HEAD % len(self.body)
        self.sent: list[int] = []
        self.answered = threading.Event()  # set once an answer has ended, for the test to wait on

    def __call__(self, handler: Handler) -> None:
        head, sent = self.head, 0
        try:
            for byte in head:
                if self.closing.wait(self.interval) or sent * self.interval > STALL_LIMIT:
                    break
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                sent += 1
            else:
                handler.wfile.write(self.body)
                handler.wfile.flush()
        except OSError:
            pass  # the client hung up
        self.sent.append(sent)
        self.answered.set()
        handler.close_connection = True


def test_status_line_and_headers_dripped_slowly_are_cut_off_by_max_response_time(server: FaultServer) -> None:
    drip = HeaderDrip(server.closing)
    server.route("/members/7", drip)
    source = members(server.url, timeout=1.0, retries=0, max_response_time=0.3)
    with pytest.raises(
        TransportError,
        match=r"the answer was too slow: the status line and headers took longer than 0.3s to arrive "
        r"\(HTTP_MAX_RESPONSE_TIME\)",
    ) as caught:
        source.get(7)
    assert caught.value.record_id == 7
    assert f"url {server.url}/members/7" in str(caught.value)
    server.close()
    # The server's shutdown does not wait for its request threads: on a busy machine the dripping thread may
    # notice the hang-up only now.
    assert drip.answered.wait(10)
    assert len(drip.sent) == 1
    assert drip.sent[0] < len(drip.head)  # the client hung up before the headers were complete


def test_headers_dripped_slowly_are_retried_a_bounded_number_of_times(server: FaultServer, waits: list[float]) -> None:
    server.route("/members/7", HeaderDrip(server.closing))
    with pytest.raises(TransportError, match="the answer was too slow"):
        members(server.url, timeout=1.0, retries=2, max_response_time=0.2).get(7)
    assert len(server.requests_to("/members/7")) == 3
    assert len(waits) == 2  # a backoff before each retry, as for a read timeout


def test_header_drip_is_bounded_by_the_setting_by_default(server: FaultServer) -> None:
    server.route("/members/7", HeaderDrip(server.closing))
    with override_settings(PYCK={"HTTP_MAX_RESPONSE_TIME": 0.2, "HTTP_RETRIES": 0}):
        with pytest.raises(TransportError, match=r"took longer than 0\.2s"):
            members(server.url, timeout=1.0, retries=None).get(7)


def test_headers_that_arrive_in_time_are_not_cut_off(server: FaultServer) -> None:
    # The same answer, dripped fast enough: the deadline is a bound, not a cost.
    server.route("/members/7", HeaderDrip(server.closing, interval=0.0005))
    member = members(server.url, timeout=1.0, retries=0, max_response_time=30).get(7)
    assert member.id == 7


class _Raw:
    """A body that gives one byte per read, behind headers that took ``header_seconds`` to arrive."""

    def __init__(self, header_seconds: float) -> None:
        self._pyck_header_seconds = header_seconds
        self.reads = 0

    def read(self, amount: int = -1, **kwargs: Any) -> bytes:
        self.reads += 1
        return b" "

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("header_seconds", "reads"), [(0.0, 30), (0.25, 5)])
def test_the_body_gets_only_what_the_headers_left_of_the_deadline(header_seconds: float, reads: int) -> None:
    # Each read takes 10 ms on this clock; the deadline is 0.3 s for the whole answer.
    now = [0.0]

    def clock() -> float:
        now[0] += 0.01
        return now[0]

    response = requests.Response()
    response.status_code = 200
    response.raw = raw = _Raw(header_seconds)
    with pytest.raises(TransportError, match=r"The response took longer than 0\.3s to arrive \(HTTP_MAX_RESPONSE_TIME\)"):
        http.read_body(response, max_size=10_000, max_time=0.3, clock=clock)
    assert raw.reads == pytest.approx(reads, abs=2)
