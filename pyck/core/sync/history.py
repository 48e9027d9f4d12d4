"""The `SyncRun` history of the engine: a run's outcome written to its row, and the rows of runs that died.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from .. import http
from ..models.runs import SyncRun, SyncStatus
from ..signals import sync_finished
from .results import SyncResult

__all__ = ["close_dead_runs", "jsonable", "record_outcome", "run_outcome", "same_outcome", "storable", "update_run"]

logger = logging.getLogger("pyck.sync")


def run_outcome(result: SyncResult, datasource: Any, clock: float) -> dict[str, Any]:
    """Finish `result` (its time, its messages made fit to show) and return its SyncRun's outcome columns."""
    for record_error in result.errors:  # remote data quoted in a message may echo a credential back
        record_error.message = http.redact_secrets(record_error.message, datasource)
    result.finished = timezone.now()
    result.duration = time.perf_counter() - clock
    return {
        "finished": result.finished,
        "status": result.status,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "deleted": result.deleted,
        "failed": result.failed,
        "errors": [{"record_id": jsonable(e.record_id), "message": storable(e.message)} for e in result.errors],
        "duration": result.duration,
    }


def record_outcome(pk: Any, ending: SyncResult, datasource: Any, clock: float) -> dict[str, Any] | None:
    """Write the outcome the run will have if nothing follows its last batch, in that batch's transaction;
    return it (`None` if it could not be written: the run writes its outcome afterwards, as it would)."""
    outcome = run_outcome(ending, datasource, clock)
    try:
        with transaction.atomic():
            SyncRun.objects.filter(pk=pk).update(**outcome)
    except DatabaseError:
        return None
    return outcome


def same_outcome(recorded: dict[str, Any], outcome: dict[str, Any]) -> bool:
    """True when two outcomes of `run_outcome` differ at most in their time."""
    return all(recorded[key] == value for key, value in outcome.items() if key not in ("finished", "duration"))


def update_run(pk: Any, outcome: dict[str, Any], result: SyncResult, label: str) -> BaseException | None:
    """Write the run's outcome into its SyncRun; return the database error if it cannot be written."""
    try:
        try:
            SyncRun.objects.filter(pk=pk).update(**outcome)
        except DatabaseError:
            if connection.in_atomic_block:
                raise
            # The run's connection may have died under it (a restarted server, a killed backend): once more, on a
            # new connection.
            connection.close()
            SyncRun.objects.filter(pk=pk).update(**outcome)
    except DatabaseError as error:
        logger.error("%s: could not record the outcome of this sync (%s): %s", label, error, result)
        return error
    return None


def finish_run(
    model: type[Any], pk: Any, result: SyncResult, datasource: Any, clock: float, recorded: dict[str, Any] | None
) -> BaseException | None:
    """Record `result` as the outcome of the `SyncRun` `pk` and send `sync_finished`; return the database error
    that refused the write, if any.

    `recorded` is the outcome the run's last batch wrote in its own transaction (`record_outcome`), or `None`:
    when it is still the run's outcome, nothing is written again.
    """
    outcome = run_outcome(result, datasource, clock)
    refused = None
    if recorded is not None and same_outcome(recorded, outcome):
        result.finished, result.duration = recorded["finished"], recorded["duration"]
    else:
        refused = update_run(pk, outcome, result, model._meta.label)
    sync_finished.send(sender=model, result=result)
    return refused


def close_dead_runs(label: str, partition: str, checkpointed: datetime, now: datetime) -> None:
    """Mark as failed the runs still "running" that started before the checkpoint being resumed was written:
    their process died without recording an outcome (a killed worker, a lost machine). Pushes are not listings,
    leave no checkpoint, and may be running meanwhile: they are left alone."""
    message = (
        f"The process running this sync stopped without recording its outcome (killed?); the run started at "
        f"{now:%Y-%m-%d %H:%M:%S} went on from its last checkpoint."
    )
    SyncRun.objects.filter(model=label, partition=partition, status=SyncStatus.RUNNING, started__lte=checkpointed).exclude(
        mode=SyncRun.Mode.PUSH
    ).update(
        status=SyncStatus.FAILED, finished=checkpointed, errors=[{"record_id": None, "message": message}]
    )


def jsonable(value: Any) -> Any:
    """`value` as JSON that every database stores: other types as text, and ids that JSON cannot hold (NaN,
    infinities) or that PostgreSQL's jsonb refuses (text with NUL characters or lone surrogates) as their repr."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    text = value if isinstance(value, str) else str(value)
    return text if storable(text) is text else repr(text)


def storable(text: str) -> str:
    """`text`, with NUL characters and lone surrogates escaped (PostgreSQL refuses them in text and JSON)."""
    if "\x00" not in text:
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
