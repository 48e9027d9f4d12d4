"""The bounded prefetch pipeline and the in-order lookahead (``pyck.core.lookahead``).

No timed assertions: where a test must know that the background thread has stopped to wait for room, it
looks at the thread's stack (:func:`_wait_until_blocked`) instead of sleeping.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import pytest

from pyck.core.lookahead import Lookahead, prefetch

# Only for liveness: a broken pipeline fails the test instead of hanging it.
_PATIENCE = 10.0


def _pipeline_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("test-prefetch", "test-ahead"))]


@pytest.fixture(autouse=True)
def _no_thread_left() -> Iterator[None]:
    yield
    assert _pipeline_threads() == []


def _wait_until_blocked(thread: threading.Thread) -> None:
    """Wait until ``thread`` has ended, or waits in ``Semaphore.acquire`` on a semaphore with no room left (a
    thread just released, but not yet running again, still shows the wait on its stack)."""
    deadline = time.monotonic() + _PATIENCE
    while time.monotonic() < deadline:
        if not thread.is_alive():
            return
        frame = sys._current_frames().get(thread.ident or 0)
        while frame is not None:
            code = frame.f_code
            if code.co_name == "acquire" and code.co_filename.endswith("threading.py"):
                semaphore = frame.f_locals.get("self")
                if isinstance(semaphore, threading.Semaphore) and semaphore._value == 0:
                    return
            frame = frame.f_back
        time.sleep(0.001)
    raise AssertionError(f"{thread.name} neither ended nor blocked")


def _producer_thread() -> threading.Thread:
    [thread] = [t for t in threading.enumerate() if t.name == "test-prefetch"]
    return thread


class Source:
    """An iterator of 0..count-1 that records the thread it runs in, how far it got, and whether it was closed."""

    def __init__(self, count: int | None, fail_at: int | None = None) -> None:
        self.count = count
        self.fail_at = fail_at
        self.started = 0  # how many items it has started computing
        self.threads: set[str] = set()
        self.closed = False

    def __iter__(self) -> Iterator[int]:
        number = 0
        try:
            while self.count is None or number < self.count:
                self.threads.add(threading.current_thread().name)
                self.started += 1
                if number == self.fail_at:
                    raise ValueError(f"item {number} failed")
                yield number
                number += 1
        finally:
            self.closed = True


def test_items_come_in_order_from_another_thread() -> None:
    source = Source(200)

    assert list(prefetch(source, 3, name="test-prefetch")) == list(range(200))
    assert source.threads == {"test-prefetch"} and source.closed


def test_depth_zero_runs_in_the_callers_thread() -> None:
    source = Source(5)

    assert list(prefetch(source, 0, name="test-prefetch")) == [0, 1, 2, 3, 4]
    assert source.threads == {threading.current_thread().name}


def test_an_error_comes_after_the_items_before_it() -> None:
    source = Source(None, fail_at=6)
    received: list[int] = []

    with pytest.raises(ValueError, match="item 6 failed"):
        for item in prefetch(source, 2, name="test-prefetch"):
            received.append(item)

    assert received == [0, 1, 2, 3, 4, 5]
    assert source.closed


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_the_thread_never_gets_more_than_depth_items_ahead(depth: int) -> None:
    source = Source(12)
    pages = prefetch(source, depth, name="test-prefetch")
    ahead: list[int] = []

    thread = None
    for received, _ in enumerate(pages, start=1):
        thread = thread or _producer_thread()
        _wait_until_blocked(thread)
        ahead.append(source.started - received)

    # Full speed ahead until the end is near, where fewer items are left than the depth.
    assert ahead == [min(depth, 12 - received) for received in range(1, 13)]


def test_closing_early_stops_and_joins_the_thread() -> None:
    source = Source(None)  # endless
    pages = prefetch(source, 3, name="test-prefetch")

    assert [next(pages) for _ in range(4)] == [0, 1, 2, 3]
    _wait_until_blocked(_producer_thread())
    pages.close()

    assert source.closed
    assert source.started == 4 + 3  # it stopped where it was: waiting for room
    assert _pipeline_threads() == []


def test_an_exception_in_the_consumer_stops_and_joins_the_thread() -> None:
    source = Source(None)

    def consume() -> None:
        for item in prefetch(source, 2, name="test-prefetch"):
            if item == 3:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        consume()

    assert source.closed and _pipeline_threads() == []


def test_an_abandoned_generator_stops_its_thread_when_collected() -> None:
    source = Source(None)
    pages = prefetch(source, 2, name="test-prefetch")
    next(pages)

    del pages  # the last reference: CPython closes the generator at once

    assert source.closed and _pipeline_threads() == []


def test_the_thread_sees_the_callers_context_variables() -> None:
    notes: ContextVar[list[str] | None] = ContextVar("notes", default=None)
    collected: list[str] = []
    token = notes.set(collected)

    def source() -> Iterator[int]:
        target = notes.get()
        assert target is not None
        target.append(threading.current_thread().name)
        yield 1

    try:
        assert list(prefetch(source(), 2, name="test-prefetch")) == [1]
    finally:
        notes.reset(token)
    assert collected == ["test-prefetch"]


def test_lookahead_gives_results_in_the_order_sent() -> None:
    release = {n: threading.Event() for n in range(4)}

    def work(number: int) -> int:
        assert release[number].wait(_PATIENCE)
        return number * 10

    with Lookahead[int, int](work, 4, name="test-ahead") as ahead:
        for number in range(4):
            ahead.send(number, number)
        for number in (3, 2, 1, 0):  # finishing in reverse order changes nothing
            release[number].set()
        assert [ahead.take() for _ in range(4)] == [(0, 0), (1, 10), (2, 20), (3, 30)]


def test_lookahead_runs_at_most_workers_calls_at_once() -> None:
    lock = threading.Lock()
    running = peak = 0
    both = threading.Barrier(2, timeout=_PATIENCE)

    def work(number: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        if number < 2:
            both.wait()  # the first two really run at the same time
        with lock:
            running -= 1
        return number

    with Lookahead[int, int](work, 2, name="test-ahead") as ahead:
        for number in range(8):
            ahead.send(number, number)
        assert [ahead.take()[1] for _ in range(8)] == list(range(8))

    assert peak == 2


def test_lookahead_raises_a_calls_error_when_it_is_taken() -> None:
    def work(number: int) -> int:
        if number == 1:
            raise ValueError("call 1 failed")
        return number

    with Lookahead[int, int](work, 2, name="test-ahead") as ahead:
        for number in range(3):
            ahead.send(number, number)
        assert ahead.take() == (0, 0)
        with pytest.raises(ValueError, match="call 1 failed"):
            ahead.take()
        assert ahead.take() == (2, 2)


def test_lookahead_close_drops_waiting_calls_and_joins_its_threads() -> None:
    gate = threading.Event()
    started: list[int] = []

    def work(number: int) -> int:
        started.append(number)
        assert gate.wait(_PATIENCE)
        return number

    ahead = Lookahead[int, int](work, 1, name="test-ahead")
    for number in range(5):
        ahead.send(number, number)
    gate.set()
    ahead.close()

    assert len(ahead) == 0
    assert started[0] == 0 and len(started) < 5  # those still queued never ran
    assert _pipeline_threads() == []


def test_lookahead_threads_see_the_callers_context_variables() -> None:
    marker: ContextVar[str] = ContextVar("marker", default="unset")
    token = marker.set("from the caller")
    try:
        with Lookahead[int, Any](lambda _: marker.get(), 2, name="test-ahead") as ahead:
            ahead.send(0, 0)
            assert ahead.take() == (0, "from the caller")
    finally:
        marker.reset(token)
