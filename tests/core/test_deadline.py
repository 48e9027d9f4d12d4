"""pyck.core.deadline: the watchdog behind the deadline on an answer's status line and headers.

What the deadline does to a real dripping server is proved in ``tests/faults/test_slow_headers.py``; these
check the watchdog itself: alarms go off, cancelled ones do not and do not pile up, and a forked child
process (a task worker) gets a working watchdog of its own.
"""

from __future__ import annotations

import os
import threading

import pytest

from pyck.core.deadline import Watchdog


def test_an_alarm_goes_off() -> None:
    watchdog = Watchdog()
    fired = threading.Event()
    watchdog.schedule(0.01, fired.set)
    assert fired.wait(10)


def test_a_cancelled_alarm_never_goes_off_and_an_earlier_one_still_does() -> None:
    watchdog = Watchdog()
    cancelled, kept = threading.Event(), threading.Event()
    alarm = watchdog.schedule(0.05, cancelled.set)
    watchdog.cancel(alarm)
    watchdog.schedule(0.1, kept.set)
    assert kept.wait(10)
    assert not cancelled.is_set()


def test_cancelled_alarms_do_not_pile_up() -> None:
    watchdog = Watchdog()
    for _ in range(1000):
        watchdog.cancel(watchdog.schedule(300, lambda: None))
    assert len(watchdog._alarms) <= 130


def test_a_failing_alarm_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    watchdog = Watchdog()
    fired = threading.Event()

    def fail() -> None:
        raise OSError("socket already closed")

    watchdog.schedule(0.01, fail)
    watchdog.schedule(0.02, fired.set)
    assert fired.wait(10)
    assert "an HTTP deadline alarm failed" in caplog.text


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
# The child only schedules an alarm and exits: none of the locks fork() may leave held are taken.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_gets_a_working_watchdog() -> None:
    watchdog = Watchdog()
    started = threading.Event()
    watchdog.schedule(0.0, started.set)  # the parent's watchdog thread is running...
    assert started.wait(10)
    pid = os.fork()
    if pid == 0:  # ...but a child has no threads but its own
        fired = threading.Event()
        watchdog.schedule(0.01, fired.set)
        os._exit(0 if fired.wait(10) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child's alarm never went off"
