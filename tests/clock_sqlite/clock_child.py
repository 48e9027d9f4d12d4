"""`python -m tests.clock_sqlite.clock_child clock|plain [keep]`: sync `Sample` on the SQLite file of
`tests.clock_sqlite.settings`, afresh (unless `keep`: several processes then sync the same rows at once), under
the clock (`run_cron_tasks --once`) or with `sync_model` alone, and print one line `RESULT <json>`: the run's
counts, the statements this process's main thread sent (by kind, and
those writing `Sample`'s table), the batches redone record by record, and the lease renewals made between two
batches, from the heartbeat's thread, or that failed.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from typing import Any

import django


class _Notes(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        for key, text in (
            ("redone batches", "retrying it record by record"),
            ("renewals between batches", "between two batches"),
            ("renewals from the thread", "from its thread"),
            ("failed renewals", "Could not renew"),
            ("lost leases", "taken over"),
        ):
            if text in message:
                self.counts[key] += 1


def main(mode: str, keep: bool) -> None:
    """Run the sync of `Sample` in `mode` (afresh unless `keep`) and print what it did."""
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from pyck.core.models import CronTask, SyncRun, SyncState
    from pyck.core.sync import sync_model
    from tests.clock_sqlite.models import Sample

    if not keep:
        for model in (Sample, SyncRun, SyncState, CronTask):
            model.objects.all().delete()
    runs_before = set(SyncRun.objects.values_list("pk", flat=True))
    notes = _Notes()
    logging.getLogger("pyck").addHandler(notes)
    statements: Counter[str] = Counter()
    table = Sample._meta.db_table

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        kind = sql.split(None, 1)[0].upper()
        statements[kind] += 1
        if table in sql and kind in ("INSERT", "UPDATE", "DELETE"):
            statements["writes to the synced table"] += 1
        return execute(sql, params, many, context)

    status = 0
    result = None
    with connection.execute_wrapper(count):
        if mode == "clock":
            try:
                call_command("run_cron_tasks", "clock_sqlite.Sample", once=True)
            except SystemExit as exit:
                status = int(exit.code or 0)
        else:
            try:
                # Several processes at once (`keep`) take turns on the model's sync lease: wait for it.
                result = sync_model(Sample, wait=240 if keep else 0)
            except Exception as error:
                print(f"CRASHED {error!r}", flush=True)
                status = 2
    if result is None:  # the clock's run (the only one), or a sync that crashed
        run = SyncRun.objects.exclude(pk__in=runs_before).order_by("started").last()
        counts = {"status": run.status, "created": run.created, "failed": run.failed} if run else None
    else:
        counts = {"status": result.status, "created": result.created, "failed": result.failed}
    print("RESULT " + json.dumps({
        "status": status,
        "run": counts,
        "rows": Sample.objects.count(),
        "statements": dict(statements),
        "notes": dict(notes.counts),
    }), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] == ["keep"])
