"""The process ``test_resume_after_kill`` kills: one sync of ``tests.testapp`` ``Ticket`` from a local server.

Run as ``python -m tests.faults.resume_child`` with the environment of
:func:`tests.cron_support.helpers.child_env` (settings pointing at the live test database), plus:

- ``PYCK_RESUME_URL``: the base URL of the :class:`benchmarks.server.BenchServer` serving ``/tickets``;
- ``PYCK_RESUME_BATCH_SIZE``: the run's batch size;
- ``PYCK_RESUME_PAUSE_AT`` (optional): after the checkpoint of that batch is written, inside the batch's
  transaction and before its commit, print ``PAUSED <n> in_atomic_block=<bool>`` and wait to be killed. This
  wraps the engine's ``RunState.checkpoint``, so that the kill lands at a known point inside a transaction.
  ``start``: as the run starts (its ``SyncRun`` recorded, no page read yet), print ``PAUSED start`` and wait.
  ``confirm``: at the first ``get()`` confirming that a row missing from the listing is gone, print
  ``PAUSED confirm`` and wait.
- ``PYCK_RESUME_DELETE`` (optional): ``1`` runs a full listing with ``on_delete=DELETE`` and
  ``max_delete_fraction=1.0``.

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


def _pause(where: str) -> None:
    print(f"PAUSED {where}", flush=True)
    time.sleep(120)  # the parent kills us here; if it does not, the test fails on its timeout


def _pause_at_start() -> None:
    from pyck.core.signals import sync_started

    sync_started.connect(lambda sender, **kwargs: _pause("start"), weak=False)


def _pause_at_confirmation(datasource: Any) -> None:
    real = datasource.get

    def get(id: Any, **query: Any) -> Any:
        _pause("confirm")
        return real(id, **query)

    datasource.get = get


def main() -> None:
    """Set Django up, point the Ticket datasource at the server, and sync."""
    import django

    django.setup()
    from pyck.core.sync import sync_model
    from tests.testapp.models import Ticket

    print(f"STARTED {os.getpid()}", flush=True)
    Ticket.sync_config.datasource.base_url = os.environ["PYCK_RESUME_URL"]
    pause = os.environ.get("PYCK_RESUME_PAUSE_AT")
    if pause == "start":
        _pause_at_start()
    elif pause == "confirm":
        _pause_at_confirmation(Ticket.sync_config.datasource)
    elif pause:
        _pause_inside_batch(int(pause))
    options: dict[str, Any] = {}
    if os.environ.get("PYCK_RESUME_DELETE") == "1":
        from pyck.core.options import OnDelete

        options.update(mode="full", on_delete=OnDelete.DELETE, max_delete_fraction=1.0)
    result = sync_model(Ticket, batch_size=int(os.environ["PYCK_RESUME_BATCH_SIZE"]), **options)
    print("RESULT " + json.dumps({"status": result.status, "mode": result.mode, "created": result.created}), flush=True)


if __name__ == "__main__":
    main()
