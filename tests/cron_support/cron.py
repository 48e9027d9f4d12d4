"""Cron tasks for the subprocess tests, found by the clock's autodiscovery of ``cron`` modules.

Each task appends ``<event> <task> <pid> <unix time>`` lines to the file named by ``PYCK_CRON_LOG``, so the test
can tell which process ran what and when. With ``PYCK_REMOTE_URL`` set, ``testapp.Party`` syncs from that local
server (see ``remote.py``). ``PYCK_CRON_INTERVAL`` (seconds) and ``PYCK_CRON_TASK_SECONDS`` (how
long ``record`` takes) shape the schedule.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

from pyck.core.cron import register_cron


def _log(event: str, task: str) -> None:
    path = os.environ.get("PYCK_CRON_LOG")
    if path:
        with open(path, "a") as log:
            log.write(f"{event} {task} {os.getpid()} {time.time():.6f}\n")


def record() -> str:
    """Log a start line, work for ``PYCK_CRON_TASK_SECONDS``, log an end line."""
    _log("start", "record")
    deadline = time.monotonic() + float(os.environ.get("PYCK_CRON_TASK_SECONDS", "0"))
    while time.monotonic() < deadline:
        time.sleep(0.02)
    _log("end", "record")
    return "recorded"


def fail() -> None:
    """Log a start line, then fail."""
    _log("start", "fail")
    raise RuntimeError("the fail task always fails")


if os.environ.get("PYCK_REMOTE_URL"):  # a clock child of tests/faults/test_one_writer.py
    from .remote import point_party_at

    point_party_at(os.environ["PYCK_REMOTE_URL"])

_interval = timedelta(seconds=float(os.environ.get("PYCK_CRON_INTERVAL", "3600")))
register_cron(record, _interval, name="record")
register_cron(fail, _interval, name="fail")
