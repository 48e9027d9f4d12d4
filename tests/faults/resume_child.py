"""The process ``test_resume_after_kill`` kills: one sync of ``tests.testapp`` ``Ticket`` from a local server.

Run as ``python -m tests.faults.resume_child`` with the environment of
:func:`tests.cron_support.helpers.child_env` (settings pointing at the live test database), plus:

- ``PYCK_RESUME_URL``: the base URL of the :class:`benchmarks.server.BenchServer` serving ``/tickets``;
- ``PYCK_RESUME_BATCH_SIZE``: the run's batch size;
- ``PYCK_RESUME_PAUSE_AT`` (optional): after the checkpoint of that batch is written, inside the batch's
  transaction and before its commit, print ``PAUSED <n> in_atomic_block=<bool>`` and wait to be killed. This
  wraps the engine's private ``_Run.checkpoint``, so that the kill lands at a known point inside a transaction.

Prints ``STARTED <pid>`` first and ``RESULT <json>`` if the sync ends.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any


def _pause_inside_batch(at: int) -> None:
    from django.db import connection

    from pyck.core.sync.checkpoint import RunState

    real = RunState.checkpoint
    calls = 0

    def checkpoint(self: Any, outcome: Any, failed_so_far: int) -> None:
        nonlocal calls
        real(self, outcome, failed_so_far)
        calls += 1
        if calls == at:
            print(f"PAUSED {calls} in_atomic_block={connection.in_atomic_block}", flush=True)
            time.sleep(120)  # the parent kills us here; if it does not, the test fails on its timeout

    RunState.checkpoint = checkpoint  # type: ignore[method-assign]


def main() -> None:
    """Set Django up, point the Ticket datasource at the server, and sync."""
    import django

    django.setup()
    from pyck.core.sync import sync_model
    from tests.testapp.models import Ticket

    print(f"STARTED {os.getpid()}", flush=True)
    Ticket.sync_config.datasource.base_url = os.environ["PYCK_RESUME_URL"]
    if os.environ.get("PYCK_RESUME_PAUSE_AT"):
        _pause_inside_batch(int(os.environ["PYCK_RESUME_PAUSE_AT"]))
    result = sync_model(Ticket, batch_size=int(os.environ["PYCK_RESUME_BATCH_SIZE"]))
    print("RESULT " + json.dumps({"status": result.status, "mode": result.mode, "created": result.created}), flush=True)


if __name__ == "__main__":
    main()
