"""Signals sent around each model's sync, and the receivers that log them.

`sync_started` is sent with `sender=model` before the listing is read; `sync_finished` with
`sender=model, result=SyncResult` after it (also when the sync failed). Logging to the `pyck.sync` logger
is just one receiver: connect your own for metrics or alerts. `batch_written` is sent between two batches,
on the thread and database connection of the sync, when no transaction of the sync is open. `records_changed`
says which rows each committed batch created, updated and deleted, for syncs and pushes alike. `sync_alert` tells
of incidents (stale or failing data) and of their end.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal, receiver

__all__ = ["batch_written", "records_changed", "sync_alert", "sync_finished", "sync_started"]

logger = logging.getLogger("pyck.sync")

sync_started = Signal()
"""Sent before a model's sync starts. Arguments: `sender` (the model class)."""

sync_finished = Signal()
"""Sent after a model's sync ends, whatever its outcome. Arguments: `sender`, `result` (a `SyncResult`)."""

batch_written = Signal()
"""Sent after each batch a sync (or a push) writes, once the batch's transaction has ended, from the thread
that runs the sync: a receiver may use the database there without waiting for, or breaking, the sync's
transactions (the clock renews its lease this way, which matters on SQLite). Arguments: `sender` (the model class), `records`
(how many records the batch held)."""

records_changed = Signal()
"""Sent once per model for each batch a sync or a push (`apply_records`, the webhook inbox) committed, after the
commit: from the thread that wrote it, once the transaction has committed (at once, or after the outer
transaction when the batch ran inside one of yours; never for a batch rolled back). Arguments: `sender` (the
model class whose rows changed: the batch's model, or a model whose rows it created as references), `created`,
`updated` and `deleted` (lists of primary keys; a row found unchanged is in none). Rows deleted by a database
cascade (a foreign key's `on_delete`) are not listed."""

sync_alert = Signal()
"""Sent once when an incident starts (a model stale or failing, a burst of refused webhook requests) and once when
it ends, by `pyck.core.health.alerts.check_alerts`: connect a receiver to send alerts to another channel (chat,
a pager). Arguments: `sender` (the `Alert` class), `alert` (an `Alert`: `kind`, `subject`, `resolved`,
`message`, `opened`). Alerts are logged to `pyck.health` and mailed to `ADMINS` besides."""


@receiver(sync_started, dispatch_uid="pyck.signals.log_started")
def _log_started(sender: Any, **kwargs: Any) -> None:
    logger.info("Sync of %s started", sender._meta.label)


@receiver(sync_finished, dispatch_uid="pyck.signals.log_finished")
def _log_finished(sender: Any, result: Any, **kwargs: Any) -> None:
    if result.ok:
        logger.info("%s", result)
    else:
        logger.warning("%s", result)
        for error in result.errors:
            logger.warning("%s: %s", sender._meta.label, error)
