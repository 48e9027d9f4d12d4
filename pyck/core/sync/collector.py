"""Keeping Python's garbage collector off the objects that existed before a sync began, while it runs.

A sync allocates a few container objects per record (the record, its row, dicts of values). Every so many
allocations CPython's cycle collector runs, and now and then it traverses its oldest generation whole: every
object the process holds, Django's and the application's included (hundreds of thousands), for tens of
milliseconds each time, although none of them can become garbage because of the sync. `heap_frozen`
moves the objects that exist when the outermost sync starts to the collector's permanent generation
(`gc.freeze`) and puts them back when it ends (`gc.unfreeze`): collections during the sync look at
what the sync allocated only. Nothing is lost: cyclic garbage made before the sync is collected after it.

It leaves the collector alone when the `SYNC_FREEZE_GC` setting is off, when the collector is disabled, and
when something else has frozen objects since this module was imported (a server that freezes its preloaded
objects before forking, say): unfreezing those would undo what it froze them for. Objects frozen before the
import count as nobody's (Python 3.12 starts with a few hundred); the first sync's `gc.unfreeze()` releases
them too, as any `gc.unfreeze()` would.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["heap_frozen"]

_lock = threading.Lock()
_depth = 0  # syncs running in this process (nested or in other threads) since the freeze
_froze = False  # whether the running syncs' freeze is ours to undo
_baseline = gc.get_freeze_count()  # frozen by no one we know of: at import, or after our last unfreeze


@contextmanager
def heap_frozen(enabled: bool = True) -> Iterator[None]:
    """Freeze the objects tracked by the collector for the duration of the block (see the module's docstring).

    Re-entrant and thread-safe: the first block to start freezes, the last to end unfreezes.
    """
    global _baseline, _depth, _froze
    if not enabled:
        yield
        return
    with _lock:
        if _depth == 0:
            _froze = gc.isenabled() and gc.get_freeze_count() <= _baseline
            if _froze:
                gc.freeze()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _froze:
                gc.unfreeze()
                _froze = False
                _baseline = gc.get_freeze_count()
