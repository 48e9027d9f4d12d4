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
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from .. import http
from ..models.runs import SyncRun, SyncStatus
from ..signals import sync_finished
from .results import SyncResult

__all__ = [
    "close_dead_runs", "jsonable", "record_deletions", "record_outcome", "run_outcome", "same_outcome", "storable",
    "update_run",
]

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
        "kept": result.kept,
        "failed": result.failed,
        "errors": [{"record_id": jsonable(e.record_id), "message": storable(e.message)} for e in result.errors],
        "warnings": [
            {"kind": w.kind, "model": w.model, "field": w.field, "count": w.count, "message": w.message}
            for w in result.warnings
        ],
        "duration": result.duration,
        # A run that resumed a checkpoint the API then refused read the listing from the start after all.
        "resumed": result.resumed,
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
    """Record `result` as the outcome of the `SyncRun` `pk`, log its warnings and send `sync_finished`; return the
    database error that refused the write, if any.

    `recorded` is the outcome the run's last batch wrote in its own transaction (`record_outcome`), or `None`:
    when it is still the run's outcome, nothing is written again.
    """
    for warning in result.warnings:
        logger.warning("%s", warning)
    outcome = run_outcome(result, datasource, clock)
    refused = None
    if recorded is not None and same_outcome(recorded, outcome):
        result.finished, result.duration = recorded["finished"], recorded["duration"]
    else:
        refused = update_run(pk, outcome, result, model._meta.label)
    sync_finished.send(sender=model, result=result)
    return refused


def record_deletions(label: str, partition: str, started: datetime, deletion: SyncResult) -> bool:
    """Add what the deletion step of a partitioned model did to the `SyncRun` of the partition run that did it
    (the latest listing run of `label`'s `partition` that started at or after `started`), so that the partitions'
    rows add up to the whole run: its `deleted` and `kept` counts, and, when the step left rows undeleted, its
    errors and a `partial` status. Returns whether a row was found.

    `deletion` is the step's outcome: a `SyncResult` whose `deleted`, `kept`, `status` and `errors` are the
    step's own.
    """
    runs = SyncRun.objects.filter(model=label, partition=partition, started__gte=started).exclude(mode=SyncRun.Mode.PUSH)
    run = runs.order_by("-started").first()
    if run is None:
        return False
    changes: dict[str, Any] = {"deleted": F("deleted") + deletion.deleted, "kept": F("kept") + deletion.kept}
    if deletion.status != SyncStatus.SUCCEEDED and run.status == SyncStatus.SUCCEEDED:
        changes["status"] = deletion.status
    if deletion.errors:
        own = [{"record_id": jsonable(e.record_id), "message": storable(e.message)} for e in deletion.errors]
        changes["errors"] = own + [e for e in run.errors if e not in own]
    SyncRun.objects.filter(pk=run.pk).update(**changes)
    return True


def close_dead_runs(label: str, partition: str, last_seen: datetime | None, now: datetime, *, resumed: bool = True) -> int:
    """Record as failed the listing runs of `label`'s `partition` still recorded as running, and return how many.

    Called as a listing run starts, before it records itself: listing runs of one model and partition never
    overlap (the clock, `--once`, the admin and `sync_model` take turns), so a run still "running" then is one
    whose process died without recording its outcome (a killed worker, a lost machine), at any moment: before
    its first checkpoint, mid-listing, or while its deletions were being confirmed. If two runs ever overlapped
    all the same, the earlier one would record its own outcome over this one when it ends.

    Each is given `finished` = when it was last known to make progress: `last_seen` (the partition's last
    checkpoint, or the end of its listing) if that is after it started, else its start. Pushes are not
    listings and may run meanwhile: they are left alone.

    Args:
        label: the model's `app_label.ModelName`.
        partition: the partition (`""`: the model is not partitioned).
        last_seen: when the partition's `SyncState` checkpoint was last written (`None`: never).
        now: when the new run started.
        resumed: whether the new run goes on from the dead run's checkpoint.
    """
    how = "went on from its last checkpoint" if resumed else "found it still marked running"
    message = (
        f"The process running this sync stopped without recording its outcome (killed?); the run started at "
        f"{now:%Y-%m-%d %H:%M:%S} {how}."
    )
    finished: Any = F("started")
    if last_seen is not None:
        finished = Greatest(F("started"), Value(last_seen, output_field=DateTimeField()))
    return (
        SyncRun.objects.filter(model=label, partition=partition, status=SyncStatus.RUNNING, started__lte=now)
        .exclude(mode=SyncRun.Mode.PUSH)
        .update(status=SyncStatus.FAILED, finished=finished, errors=[{"record_id": None, "message": message}])
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
