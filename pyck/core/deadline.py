"""A deadline on the status line and headers of an answer, for `pyck.core.http`.

The timeout of a request applies to each read from the socket, so a server sending its headers one byte a
second never trips it. `pyck.core.http.build_session` mounts connection pools (`DEADLINE_POOLS`) whose
connections start an alarm when they wait for an answer; if the status line and headers are not all in when it
goes off, the socket is shut down (which wakes the blocked read at once) and `SlowAnswerError`, a read timeout,
is raised. One `Watchdog` thread serves the alarms of the whole process.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from urllib3 import exceptions as urllib3_exceptions
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = [
    "DEADLINE_POOLS",
    "DeadlineConnectionMixin",
    "DeadlineHTTPConnection",
    "DeadlineHTTPConnectionPool",
    "DeadlineHTTPSConnection",
    "DeadlineHTTPSConnectionPool",
    "SlowAnswerError",
    "Watchdog",
    "exchange",
    "header_seconds",
]

logger = logging.getLogger("pyck.http")

exchange = threading.local()
"""The `max_time` of the adapter sending on this thread (`None`: no deadline); the connection reads it when the
answer comes."""

# The attribute of an answer (urllib3's response) holding the seconds its status line and headers took.
_HEADER_SECONDS = "_pyck_header_seconds"


class SlowAnswerError(urllib3_exceptions.ReadTimeoutError):
    """An answer's status line and headers took longer than the session's `max_response_time` to arrive.

    A kind of read timeout, retried like one; `RestDatasource` reports it as a
    `TransportError`.
    """

    def __init__(self, max_time: float) -> None:
        self.max_time = max_time
        self.message = (
            f"the status line and headers took longer than {max_time:g}s to arrive (HTTP_MAX_RESPONSE_TIME)"
        )
        super().__init__(None, None, self.message)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:
        return (type(self), (self.max_time,))


class DeadlineConnectionMixin:
    """Gives up on an answer whose status line and headers drip in for longer than `exchange.max_time`, by
    shutting the socket down from the watchdog thread (a blocked read then returns at once)."""

    sock: Any

    def getresponse(self) -> Any:
        max_time = getattr(exchange, "max_time", None)
        if max_time is None:
            return super().getresponse()  # type: ignore[misc]
        sock = self.sock
        started = time.monotonic()
        fired: list[bool] = []

        def abort() -> None:
            fired.append(True)
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except Exception:  # already closed, or not a plain socket (TLS in TLS): the read times out anyway
                pass

        alarm = _watchdog.schedule(max_time, abort)
        try:
            response = super().getresponse()  # type: ignore[misc]
        except Exception:
            if fired:
                raise SlowAnswerError(max_time) from None
            raise
        finally:
            _watchdog.cancel(alarm)
        if fired:
            response.close()
            raise SlowAnswerError(max_time)
        # read_body() gives the body what is left of the same deadline.
        setattr(response, _HEADER_SECONDS, time.monotonic() - started)
        return response


class DeadlineHTTPConnection(DeadlineConnectionMixin, HTTPConnection):
    """urllib3's `HTTPConnection` with the deadline on the status line and headers."""


class DeadlineHTTPSConnection(DeadlineConnectionMixin, HTTPSConnection):
    """urllib3's `HTTPSConnection` with the deadline on the status line and headers."""


class DeadlineHTTPConnectionPool(HTTPConnectionPool):
    """urllib3's `HTTPConnectionPool`, making `DeadlineHTTPConnection`s."""

    ConnectionCls = DeadlineHTTPConnection


class DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    """urllib3's `HTTPSConnectionPool`, making `DeadlineHTTPSConnection`s."""

    ConnectionCls = DeadlineHTTPSConnection


DEADLINE_POOLS = {"http": DeadlineHTTPConnectionPool, "https": DeadlineHTTPSConnectionPool}
"""The pool classes to mount on a `PoolManager` (`pool_classes_by_scheme`)."""


def header_seconds(response: Any) -> float:
    """The seconds the status line and headers of `response` (urllib3's) took to arrive once the request was
    sent, when a deadline connection received it; else `0.0`.

    Args:
        response: the raw answer (`requests.Response.raw`), or any object.

    Returns:
        The seconds, or `0.0` when they were not measured.
    """
    seconds = getattr(response, _HEADER_SECONDS, 0.0)
    return seconds if isinstance(seconds, float) else 0.0


class Watchdog:
    """One daemon thread calling functions at their deadlines, for every session of the process (rather than
    a thread started per request). Fork-safe: a child process starts with no alarms and its own thread."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._condition = threading.Condition()
        self._alarms: list[list[Any]] = []  # heap of [deadline, order, function or None once cancelled]
        self._cancelled = 0
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, delay: float, function: Callable[[], None]) -> list[Any]:
        """Call `function` in `delay` seconds, unless `cancel` is called first."""
        alarm = [time.monotonic() + delay, next(self._order), function]
        with self._condition:
            heapq.heappush(self._alarms, alarm)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pyck-http-watchdog", daemon=True)
                self._thread.start()
            elif self._alarms[0] is alarm:
                self._condition.notify()
        return alarm

    def cancel(self, alarm: list[Any]) -> None:
        """Forget `alarm`. Once this returns, its function has either run already or never will."""
        with self._condition:
            if alarm[2] is None:
                return
            alarm[2] = None
            self._cancelled += 1
            # Cancelled alarms wait in the heap until their deadline; sweep them before they pile up.
            if self._cancelled > 64 and 2 * self._cancelled > len(self._alarms):
                self._alarms = [a for a in self._alarms if a[2] is not None]
                heapq.heapify(self._alarms)
                self._cancelled = 0

    def _run(self) -> None:
        condition = self._condition
        with condition:
            while True:
                while self._alarms and self._alarms[0][2] is None:
                    heapq.heappop(self._alarms)
                    self._cancelled -= 1
                if not self._alarms:
                    condition.wait()
                    continue
                wait = self._alarms[0][0] - time.monotonic()
                if wait > 0:
                    condition.wait(wait)
                    continue
                alarm = heapq.heappop(self._alarms)
                function, alarm[2] = alarm[2], None
                try:
                    # Under the lock, so that cancel() cannot return while it runs: it must be quick.
                    function()
                except Exception:  # an alarm must not stop the thread that serves all the others
                    logger.exception("an HTTP deadline alarm failed")


_watchdog = Watchdog()
