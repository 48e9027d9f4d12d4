"""A local HTTP server on 127.0.0.1 that misbehaves on demand, for the fault tests.

Each path gets a script of answers, played in order (the last one repeats)::

    server.route("/members", json_answer({"items": []}))
    server.route("/flaky", status_answer(503), status_answer(503), json_answer([]))
    server.route("/hang", never_answer())

An answer is a function of the :class:`Handler` that writes whatever it likes to the socket, so it can also
reset the connection, stop half way, or drip bytes. Every request received is recorded in
:attr:`FaultServer.received` (method, path, query, headers), so tests can count retries and check what was
sent. Everything is bounded in time: answers that stall wait at most :data:`STALL_LIMIT` seconds, or until
the server is closed.
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: The longest any stalling answer (never answering, dripping) keeps a connection, in seconds.
STALL_LIMIT = 10.0

Answer = Callable[["Handler"], None]


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    #: The raw request target, exactly as sent ("/members/..%2Fadmin/?x=1").
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class _Route:
    answers: list[Answer]
    served: int = 0

    def next_answer(self) -> Answer:
        answer = self.answers[min(self.served, len(self.answers) - 1)]
        self.served += 1
        return answer


class Handler(BaseHTTPRequestHandler):
    """Records each request and plays the answer scripted for its path."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, keep-alive requests stall ~40 ms each.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        self.received = Received(
            method=self.command,
            target=self.path,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            body=body,
        )
        self.server.fault.record(self.received)
        self.server.fault.answer_for(parts.path)(self)

    def send_body(
        self, status: int, body: bytes, content_type: str = "application/json", headers: Mapping[str, str] = {}
    ) -> None:
        """Send a complete answer."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def reset(self) -> None:
        """Abort the connection with a TCP reset (SO_LINGER 0), not a clean close."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fault: FaultServer


class FaultServer:
    """A real HTTP server on ``127.0.0.1`` (a free port), answering from per-path scripts.

    ``tls=(certfile, keyfile)`` serves HTTPS instead.
    """

    def __init__(self, *, tls: tuple[str, str] | None = None) -> None:
        self._server = _Server(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._server.fault = self
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()
        #: Set when the server closes: stalling answers give up then.
        self.closing = threading.Event()
        #: Every request received, in order.
        self.received: list[Received] = []
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (``https://`` with TLS)."""
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def route(self, path: str, *answers: Answer) -> None:
        """Answer requests for ``path`` with ``answers`` in turn, repeating the last one."""
        with self._lock:
            self._routes[path] = _Route(list(answers))

    def record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def answer_for(self, path: str) -> Answer:
        with self._lock:
            route = self._routes.get(path)
            return route.next_answer() if route else status_answer(404, {"error": f"no route for {path}"})

    def requests_to(self, path: str) -> list[Received]:
        """The requests received for ``path``."""
        with self._lock:
            return [r for r in self.received if r.path == path]

    def close(self) -> None:
        """Stop serving and release every stalled connection."""
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- Answers ---------------------------------------------------------------------------------------------


def json_answer(data: Any, status: int = 200, headers: Mapping[str, str] = {}) -> Answer:
    """A well-formed JSON answer."""
    body = json.dumps(data).encode()
    return lambda handler: handler.send_body(status, body, headers=headers)


def status_answer(status: int, data: Any = None, headers: Mapping[str, str] = {}) -> Answer:
    """An answer with ``status`` and an optional JSON body."""
    body = b"" if data is None else json.dumps(data).encode()
    return lambda handler: handler.send_body(status, body, headers=headers)


def raw_answer(
    body: bytes, status: int = 200, content_type: str = "application/json", headers: Mapping[str, str] = {}
) -> Answer:
    """An answer with these exact bytes (truncated JSON, HTML, bytes that are not UTF-8...)."""
    return lambda handler: handler.send_body(status, body, content_type, headers)


def redirect_answer(location: str, status: int = 301) -> Answer:
    """A redirect to ``location``."""
    return lambda handler: handler.send_body(status, b"", headers={"Location": location})


def dynamic_answer(function: Callable[[Received], Answer]) -> Answer:
    """An answer chosen from the request (its query, say): ``function(received)`` returns the answer to play."""
    return lambda handler: function(handler.received)(handler)


def reset_mid_body(sent: bytes = b'{"items": [{"id": 1}, {"id"', declared: int = 10_000) -> Answer:
    """Headers announcing ``declared`` bytes, then ``sent``, then a TCP reset."""

    def answer(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        handler.wfile.write(sent)
        handler.reset()

    return answer


def never_answer(closing: threading.Event) -> Answer:
    """Read the request, then say nothing until the server closes (at most :data:`STALL_LIMIT` seconds)."""

    def answer(handler: Handler) -> None:
        closing.wait(STALL_LIMIT)
        handler.close_connection = True

    return answer


def drip_answer(closing: threading.Event, interval: float = 0.02, declared: int = 10_000_000) -> Answer:
    """Headers announcing ``declared`` bytes, then one byte every ``interval`` seconds, until the client
    hangs up or the server closes (at most :data:`STALL_LIMIT` seconds)."""

    def answer(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        handler.wfile.write(b"[")
        waited = 0.0
        try:
            while not closing.wait(interval) and waited < STALL_LIMIT:
                waited += interval
                handler.wfile.write(b" ")
                handler.wfile.flush()
        except OSError:
            pass
        handler.close_connection = True

    return answer


def streamed_answer(chunks: Iterator[bytes], content_type: str = "application/json") -> Answer:
    """A chunked (Transfer-Encoding: chunked) answer with no Content-Length, from ``chunks``."""

    def answer(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            for chunk in chunks:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            handler.close_connection = True

    return answer


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
