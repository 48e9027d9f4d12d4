"""Overlapping a listing's HTTP with the work on its records, in bounded memory.

Two pieces, both about threads that only fetch (HTTP and JSON parsing, never the database):

- `prefetch` runs an iterator (a listing's pages) in a background thread, at most `depth` items
  ahead of the caller, and hands the items back in order in the caller's thread. The sync engine reads its
  listing through it, so the next pages arrive while the current batch is deserialised and written.
- `Lookahead` sends calls of one function (`fetch`) to up to `workers` threads and gives the
  results back in the order the calls were sent. The paginators that know how many pages there are use it to
  have several pages in flight at once.

Both run their threads in a copy of the caller's `contextvars` context (a paginator notes a truncated
listing in a context variable), re-raise a thread's exception in the caller, at the place its result would
have come, and stop and join their threads when the caller stops early (`close()`, an exception,
`KeyboardInterrupt`): the requests already in flight are waited for (the HTTP timeouts bound that), and
no new one starts.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

__all__ = ["Lookahead", "prefetch"]

T = TypeVar("T")
K = TypeVar("K")

_ITEM, _ERROR, _END = "item", "error", "end"


def prefetch(iterable: Iterable[T], depth: int, *, name: str = "pyck-prefetch") -> Iterator[T]:
    """Yield the items of `iterable` in order, computed in a background thread up to `depth` items ahead.

    `depth` 0 (or less) iterates `iterable` in the caller's thread, as a plain loop would. Otherwise the
    thread (named `name`) starts at the first `next()` and has at most `depth` items ready that the
    caller has not taken yet: it waits before computing another. An exception raised by `iterable` is raised
    here after the items that came before it. When the caller stops early (closes this generator, or it is
    garbage-collected), the thread stops before computing another item, closes `iterable` (in its own
    thread), and is joined before this generator finishes.

    `iterable` runs in another thread: it must not use the database (Django connections are per thread) or
    anything else that belongs to the caller's thread. Any database connection it opens anyway is closed when
    the thread ends.
    """
    if depth <= 0:
        yield from iterable
        return
    entries: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    room = threading.Semaphore(depth)
    stop = threading.Event()

    def produce() -> None:
        iterator = iter(iterable)
        try:
            while True:
                room.acquire()
                if stop.is_set():
                    return
                try:
                    item = next(iterator)
                except StopIteration:
                    entries.put((_END, None))
                    return
                entries.put((_ITEM, item))
        except BaseException as error:  # handed to the caller, who decides what it means
            entries.put((_ERROR, error))
        finally:
            close = getattr(iterator, "close", None)
            try:
                if close is not None:
                    close()
            finally:
                _close_thread_connections()

    thread = threading.Thread(target=contextvars.copy_context().run, args=(produce,), name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, value = entries.get()
            if kind == _ITEM:
                room.release()
                yield value
            elif kind == _ERROR:
                raise value
            else:
                return
    finally:
        stop.set()
        room.release()  # wakes the thread if it waits for room; it then sees ``stop``
        thread.join()


class Lookahead(Generic[K, T]):
    """Calls of `function` run on up to `workers` threads; results are taken back in the order sent.

    Use it as a context manager:

    ```python
    with Lookahead(fetch, workers=3) as ahead:
        ahead.send(2, url, {"page": 2})
        ahead.send(3, url, {"page": 3})
        key, page = ahead.take()          # 2 and its page (or its exception), whichever finished first
    ```

    At most `workers` calls run at once, however many are sent or dropped: further ones wait for a free
    thread. Leaving the `with` block drops the calls not started and waits for the running ones.
    """

    def __init__(self, function: Callable[..., T], workers: int, *, name: str = "pyck-pages") -> None:
        if workers < 1:
            raise ValueError(f"Lookahead needs at least one worker, got {workers!r}")
        self.function = function
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._sent: deque[tuple[K, Future[T]]] = deque()

    def __len__(self) -> int:
        """How many calls were sent and not yet taken (or dropped)."""
        return len(self._sent)

    def send(self, key: K, *args: Any) -> None:
        """Start `function(*args)` on a worker thread; `take` gives it back with `key`."""
        context = contextvars.copy_context()
        self._sent.append((key, self._executor.submit(context.run, self._call, *args)))

    def take(self) -> tuple[K, T]:
        """Wait for the oldest call sent and return `(key, result)`; raise its exception instead if it failed."""
        key, future = self._sent.popleft()
        return key, future.result()

    def drop(self) -> int:
        """Forget every call not yet taken (those not started never will be); return how many were dropped."""
        dropped = len(self._sent)
        for _, future in self._sent:
            future.cancel()
        self._sent.clear()
        return dropped

    def close(self) -> None:
        """Drop the calls not taken and wait for the running ones to end; the threads are gone afterwards."""
        self.drop()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Lookahead[K, T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, *args: Any) -> T:
        try:
            return self.function(*args)
        finally:
            _close_thread_connections()


def _close_thread_connections() -> None:
    """Close the database connections this thread opened, if any (pyck opens none in fetching threads; a
    user's `get_headers()` reading a token from the database would)."""
    # Not at the top: settings files import datasources, and the datasource layer loads no database machinery.
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()
