"""Partitioned syncs spread over Django Tasks workers: one task per partition, the run complete when all are.

`enqueue_partitioned_sync` records a `PartitionedRun` with the model's
partitions (`SyncConfig.partitions`: the datasource's own, or `PageRanges`),
fixed for the whole run, and enqueues one task per partition. Any worker runs any partition:

```python
run, started = enqueue_partitioned_sync(Ticket)
```

How a run stays correct while partitions finish in any order, fail, or lose their worker:

* **Each partition is checkpointed.** A worker takes a partition with a lease that a background thread renews;
  it syncs it with `sync_model(Model, partition=name, filter=...)`, which commits a checkpoint with every
  batch. A partition whose listing failed is enqueued again at once (up to `max_attempts` attempts); one
  whose worker died (its lease ran out) is enqueued again by the clock (`run_cron_tasks --enqueue` calls
  `pyck.core.cron.tasks.resume_partitioned_runs` at every tick). Either way the next attempt goes on from the
  checkpoint.
* **Exactly one worker finishes the run.** A partition's outcome is committed before its worker looks at the
  others, and the run is claimed with one conditional `UPDATE` (no partition pending or running, nobody
  finishing it): of two workers ending the last two partitions at once, the later to commit always sees both
  ended, and the database lets only one claim succeed.
* **Deletion waits for the whole set.** With `OnDelete.DELETE`, rows are deleted only when every partition
  of the run completed a full listing without errors, and only rows not written since the earliest
  partition's listing started (a resumed partition counts from its first attempt's start). A partition failed,
  partial (after the second pass below), truncated or incremental means nothing is deleted.
* **Relations across partitions are resolved once all have landed.** A record referencing a record that
  another partition has not written yet fetches it with `get()`, as in a run of one process. Two workers
  may then insert the same row at once: the unique constraint on `external_id` makes one of them fail (or the
  database breaks a deadlock), never a duplicate; the record fails and its partition ends partial. Once every
  partition has ended, the worker finishing the run syncs each partial partition again, alone, when every
  listed row is stored; only a partition still partial then makes the run partial.

Partitions run in parallel only when the model's `external_id` is unique (`unique=True` or a
`UniqueConstraint`): without it, two workers could both insert the same new record.

Each partition is the Django Task `sync_partition` (see `pyck.core.cron.queue`), defined here next to the code it
runs; importing this module needs the Tasks framework.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from ..exceptions import ConfigurationError
from ..models import PartitionedRun, PartitionRun, SyncedModel, registry
from ..options import MODES, OnDelete
from ..page_ranges import PageRanges
from ..sync import cursor as states
from ..sync.lookups import is_unique
from ..sync import (
    RecordError, RunContext, SyncResult, delete_missing, delete_options, jsonable, record_deletions, record_failer, storable,
    sync_model,
)
from . import queue
from .leases import LeaseRenewer, lease_duration, new_owner_id

__all__ = [
    "can_run_in_parallel",
    "enqueue_partition",
    "enqueue_partitioned_sync",
    "finish_partitioned_run",
    "run_partition",
    "sync_partition",
]

logger = logging.getLogger("pyck.partitioned")

_RUN = PartitionedRun.Status
_PART = PartitionRun.Status
_ACTIVE = (_PART.PENDING, _PART.RUNNING)
# The outcome fields of an attempt that ended before the sync engine could report anything.
_NO_OUTCOME: dict[str, Any] = {
    "mode": "", "resumed": False, "listing_started": None, "created": 0, "updated": 0, "unchanged": 0, "failed": 0
}


def can_run_in_parallel(model: type[SyncedModel]) -> bool:
    """Whether `model`'s partitions may run on several workers at once: it has `SyncConfig.partitions` and
    a unique `external_id` column (`unique=True`, or a `UniqueConstraint` on that field alone)."""
    return model.sync_config.partitions is not None and _unique_external_id(model)


def _unique_external_id(model: type[SyncedModel]) -> bool:
    return is_unique(model, model._meta.get_field(model.sync_config.external_id))


def enqueue_partitioned_sync(
    model: type[SyncedModel], *, mode: str = "auto", max_attempts: int = 3
) -> tuple[PartitionedRun, bool]:
    """Start a partitioned run of `model`: record it, and enqueue one Django Task per partition.

    The tasks go to the `CRON_TASKS_BACKEND` backend and `CRON_TASKS_QUEUE` queue, like the clock's. The
    partitions are read now (`SyncConfig.get_partitions()`; `PageRanges`
    fetches the first page) and stored with the run, so every attempt of a partition reads the same listing.

    Args:
        model: a concrete synced model with `SyncConfig.partitions` and a unique `external_id`.
        mode: `sync_model(mode=...)` for every partition (`"auto"`, `"full"`, `"incremental"`).
            Page-range partitions are always read as full listings (see `PageRanges`); asking for
            `"incremental"` with them is an error.
        max_attempts: how many times a partition is tried before the run counts it failed.

    Returns:
        `(run, started)`, as `get_or_create` does: `started` is False when an earlier run of the model has
        not finished yet; that run is returned and nothing is enqueued.

    Raises:
        ConfigurationError: the model is not partitioned, its `external_id` is not unique, or an option is
            wrong.
        DatasourceError: reading the partitions failed (`PageRanges` could not fetch the first page).
    """
    if not (isinstance(model, type) and issubclass(model, SyncedModel)) or model._meta.abstract:
        raise ConfigurationError(
            f"enqueue_partitioned_sync(): expected a concrete SyncedModel subclass, got {model!r}."
        )
    label = model._meta.label
    config = model.sync_config
    if mode not in MODES:
        raise ConfigurationError(
            f"enqueue_partitioned_sync(mode=...): expected one of {', '.join(MODES)}, got {mode!r}."
        )
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or not 1 <= max_attempts <= 100:
        raise ConfigurationError(
            f"enqueue_partitioned_sync(max_attempts=...): expected an int from 1 to 100, got {max_attempts!r}."
        )
    if config.partitions is None:
        raise ConfigurationError(
            f"enqueue_partitioned_sync({model.__name__}): the model has no SyncConfig(partitions=...); sync it with "
            "sync_model() instead."
        )
    if not _unique_external_id(model):
        raise ConfigurationError(
            f"enqueue_partitioned_sync({model.__name__}): {label}.{config.external_id} must be unique (unique=True, "
            "or a UniqueConstraint on it alone) for partitions to run on several workers at once: otherwise two "
            "workers could both insert the same new record."
        )
    if isinstance(config.partitions, PageRanges):
        if mode == "incremental":
            raise ConfigurationError(
                f"enqueue_partitioned_sync({model.__name__}, mode='incremental'): page-range partitions are positions "
                "in one full listing; an incremental run of each would read a different listing. Partition by the "
                "datasource's own criteria (date or id ranges) for incremental runs."
            )
        mode = "full"
    existing = _unfinished(label)
    if existing is not None:
        return existing, False
    partitions = config.get_partitions()
    if not partitions:
        raise ConfigurationError(
            f"enqueue_partitioned_sync({model.__name__}): SyncConfig.partitions gave no partitions."
        )
    now = timezone.now()
    lease = lease_duration()
    encoded = {name: _encode_args({**config.filter, **extra}, model, name) for name, extra in partitions.items()}
    try:
        with transaction.atomic():
            run = PartitionedRun.objects.create(model=label, mode=mode, started=now, max_attempts=max_attempts)
            PartitionRun.objects.bulk_create(
                PartitionRun(run=run, name=name, order=order, filter=args, lease_expires=now + lease)
                for order, (name, args) in enumerate(encoded.items())
            )
    except IntegrityError:
        existing = _unfinished(label)  # another process started one just now
        if existing is None:
            raise
        return existing, False
    logger.info("%s: partitioned run #%d started with %d partitions", label, run.pk, len(encoded))
    try:
        for name in encoded:
            enqueue_partition(run.pk, name, 1)
    except Exception as error:
        message = f"Could not enqueue the partitions' tasks: {error!r}"
        with transaction.atomic():
            PartitionRun.objects.filter(run=run, status=_PART.PENDING).update(status=_PART.FAILED, lease_expires=None)
            PartitionedRun.objects.filter(pk=run.pk).update(
                status=_RUN.FAILED, finished=timezone.now(), errors=[{"record_id": None, "message": message}]
            )
        raise
    return run, True


def _unfinished(label: str) -> PartitionedRun | None:
    return PartitionedRun.objects.filter(model=label, finished__isnull=True).first()


def run_partition(run_id: int, name: str, attempt: int) -> str:
    """Sync partition `name` of partitioned run `run_id` (attempt number `attempt`): the body of the
    partition's Django Task. Returns a one-line summary.

    Does nothing when that attempt is no longer wanted (another copy of the task took it, the run ended). A
    failed listing is enqueued again while attempts remain; the worker that ends the last partition then
    finishes the run (`finish_partitioned_run`).
    """
    owner = new_owner_id("partition")
    lease = lease_duration()
    now = timezone.now()
    claimed = PartitionRun.objects.filter(
        run_id=run_id, name=name, status=_PART.PENDING, attempts=attempt - 1, run__status=_RUN.RUNNING
    ).update(status=_PART.RUNNING, attempts=attempt, owner=owner, lease_expires=now + lease, started=now, finished=None)
    if not claimed:
        logger.info("Partition %s of run #%s, attempt %s: not pending any more; skipped", name, run_id, attempt)
        return f"skipped: partition {name} of run #{run_id}, attempt {attempt}, is not pending"
    part = PartitionRun.objects.select_related("run").get(run_id=run_id, name=name)
    renew = PartitionRun.objects.filter(pk=part.pk, owner=owner)
    with LeaseRenewer(lambda at: renew.update(lease_expires=at + lease), lease, f"partition {name} of run #{run_id}"):
        outcome = _sync_partition(part.run, part)
    status = outcome.pop("status")
    retry = status == _PART.FAILED and attempt < part.run.max_attempts
    finished = timezone.now()
    recorded = PartitionRun.objects.filter(pk=part.pk, owner=owner).update(
        **outcome,
        status=_PART.PENDING if retry else status,
        lease_expires=finished + lease if retry else None,
        finished=finished,
    )
    summary = f"partition {name} of {part.run.model} (run #{run_id}, attempt {attempt}) {status}"
    if not recorded:
        logger.warning("%s, but its lease was taken over meanwhile: the other attempt's outcome counts", summary)
        return f"{summary}; superseded by another attempt"
    if retry:
        logger.warning("%s; enqueuing attempt %d of %d", summary, attempt + 1, part.run.max_attempts)
        try:
            enqueue_partition(run_id, name, attempt + 1)
        except Exception:  # the clock enqueues it again once its lease runs out
            logger.exception("Could not enqueue partition %s of run #%s again; the clock will", name, run_id)
        return f"{summary}; attempt {attempt + 1} enqueued"
    logger.info("%s", summary)
    finished_run = _finish_if_last(run_id)
    return f"{summary}; {finished_run}" if finished_run else summary


@queue.task
def sync_partition(run_id: int, name: str, attempt: int) -> str:
    """The Django Task syncing partition `name` of the partitioned run `run_id`, as attempt number `attempt`
    (see `run_partition`). Returns the partition's summary."""
    return run_partition(run_id, name, attempt)


def enqueue_partition(run_id: int, name: str, attempt: int) -> Any:
    """Enqueue `sync_partition` for attempt `attempt` of partition `name` of run `run_id`, on the
    `CRON_TASKS_BACKEND` backend and `CRON_TASKS_QUEUE` queue; return the backend's `TaskResult`."""
    return queue.enqueue(sync_partition, run_id, name, attempt)


def _sync_partition(run: PartitionedRun, part: PartitionRun) -> dict[str, Any]:
    """Run `sync_model` for the partition; return the fields recording its outcome."""
    options: dict[str, Any] = {"partition": part.name}
    if run.mode != "auto":
        options["mode"] = run.mode
    try:
        model = registry.get_model(run.model)
        options["filter"] = _decode_args(part.filter)
        result = sync_model(model, **options)
    except Exception as error:
        logger.exception("Partition %s of run #%s crashed", part.name, run.pk)
        message = f"The sync of partition {part.name} crashed: {error!r}"
        return {**_NO_OUTCOME, "status": _PART.FAILED, "errors": [{"record_id": None, "message": message}]}
    return {
        "status": result.status,
        "mode": result.mode,
        "resumed": result.resumed,
        "listing_started": result.listing_started,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "failed": result.failed,
        "errors": _stored_errors(result.errors),
    }


def finish_partitioned_run(run_id: int, token: str) -> str:
    """Finish run `run_id` whose partitions have all ended, when the clock enqueued it under `token` (its
    last worker died before finishing it): the body of that Django Task. Returns a one-line summary."""
    owner = new_owner_id("finisher")
    if not _claim_finish(run_id, owner, token=token):
        return f"skipped: run #{run_id} is finished or being finished elsewhere"
    return _finish(run_id, owner)


def _finish_if_last(run_id: int) -> str | None:
    owner = new_owner_id("finisher")
    if not _claim_finish(run_id, owner):
        return None  # partitions still to run, or another worker is finishing the run
    return _finish(run_id, owner)


def _claim_finish(run_id: int, owner: str, *, token: str | None = None) -> bool:
    """Take the run for finishing: one conditional UPDATE, so exactly one of several claimants gets it.

    It must run after the claimant's own partition outcome committed (autocommit, outside any transaction).
    """
    now = timezone.now()
    active = PartitionRun.objects.filter(run=OuterRef("pk"), status__in=_ACTIVE)
    runs = PartitionedRun.objects.filter(~Exists(active), pk=run_id, finished__isnull=True)
    runs = runs.filter(lease_owner=token) if token else runs.filter(Q(lease_owner="") | Q(lease_expires__lt=now))
    return runs.update(status=_RUN.FINISHING, lease_owner=owner, lease_expires=now + lease_duration()) == 1


def _finish(run_id: int, owner: str) -> str:
    """Sync the partial partitions again, alone; then delete what is gone if every partition completed a full
    listing without errors, and record the run's outcome."""
    lease = lease_duration()
    run = PartitionedRun.objects.get(pk=run_id)
    renew = PartitionedRun.objects.filter(pk=run_id, lease_owner=owner)
    with LeaseRenewer(lambda at: renew.update(lease_expires=at + lease), lease, f"finishing run #{run_id}"):
        _second_pass(run, owner)
        parts = list(run.partitions.order_by("order"))
        status, result, max_errors = _conclude(run, parts)
    errors = _stored_errors(result.errors)
    errors += [
        {"record_id": error.get("record_id"), "message": f"[{part.name}] {error.get('message')}"}
        for part in parts
        for error in part.errors
    ]
    PartitionedRun.objects.filter(pk=run_id, lease_owner=owner).update(
        status=status,
        finished=timezone.now(),
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        deleted=result.deleted,
        kept=result.kept,
        failed=result.failed,
        errors=errors[: max(max_errors, 1)],
        lease_owner="",
        lease_expires=None,
    )
    summary = (
        f"run #{run_id} of {run.model} {status.value}: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.deleted} deleted, {result.failed} failed in {len(parts)} partitions"
    )
    logger.info("%s", summary)
    return summary


def _second_pass(run: PartitionedRun, owner: str) -> None:
    """Sync each partial partition again, one after the other, now that every partition has landed.

    Partitions running at the same time can get in each other's way: two workers inserting the same row (a
    record one of them fetched because its own records reference it) make one insert fail, or deadlock. The
    record fails, and its partition ends partial. Alone, with every listed row stored, the partition's records
    find the rows they reference; a partition still partial after this has records that really fail.
    """
    for part in run.partitions.filter(status=_PART.PARTIAL).order_by("order"):
        logger.info(
            "%s: run #%d: partition %s ended partial while other partitions ran; syncing it again now that all "
            "have landed",
            run.model,
            run.pk,
            part.name,
        )
        started = timezone.now()
        outcome = _sync_partition(run, part)
        PartitionRun.objects.filter(pk=part.pk).update(
            **outcome, attempts=F("attempts") + 1, owner=owner, started=started, finished=timezone.now()
        )


def _conclude(run: PartitionedRun, parts: list[PartitionRun]) -> tuple[Any, Any, int]:
    """Add the partitions' counts up, delete what is gone when every partition completed a full listing
    without errors (`OnDelete.DELETE`); return `(status, SyncResult, max_errors)`."""
    statuses = {part.status for part in parts}
    status = _RUN.FAILED if _PART.FAILED in statuses else _RUN.PARTIAL if _PART.PARTIAL in statuses else _RUN.SUCCEEDED
    result = SyncResult(model=run.model, started=run.started)
    for part in parts:
        for name in ("created", "updated", "unchanged", "failed"):
            setattr(result, name, getattr(result, name) + getattr(part, name))
    try:
        model = registry.get_model(run.model)
        config = model.sync_config
        if config.on_delete is not OnDelete.DELETE:
            return status, result, config.max_errors
        if not all(p.status == _PART.SUCCEEDED and p.mode == "full" and p.listing_started for p in parts):
            logger.info("%s: run #%d: nothing deleted: not every partition completed a full listing", run.model, run.pk)
            return status, result, config.max_errors
        since = min(p.listing_started for p in parts if p.listing_started)
        # The finishing worker deletes for every partition; the last partition's SyncRun counts it, so that the
        # partitions' SyncRun rows add up to this run's.
        deletion = SyncResult(model=run.model, started=run.started)
        fail = record_failer(deletion, config.max_errors, run.model, config.datasource)
        delete_missing(RunContext(), model, deletion, fail, since=since, seen=None, **delete_options(config, {}))
        record_deletions(run.model, parts[-1].name, run.started, deletion)
        result.deleted, result.kept, result.failed = deletion.deleted, deletion.kept, result.failed + deletion.failed
        result.errors, result.status = deletion.errors, deletion.status
        logger.info("%s: run #%d: %d rows deleted after every partition landed", run.model, run.pk, result.deleted)
        return (_RUN.PARTIAL if result.status != "succeeded" else status), result, config.max_errors
    except Exception as error:
        logger.exception("Finishing partitioned run #%s of %s crashed", run.pk, run.model)
        result.errors.insert(0, _record_error(None, f"Finishing the run crashed: {error!r}"))
        return _RUN.FAILED, result, 100


# --- Helpers ------------------------------------------------------------------------------------------------


def _record_error(record_id: Any, message: str) -> Any:
    return RecordError(record_id, message)


def _stored_errors(errors: list[Any]) -> list[dict[str, Any]]:
    return [{"record_id": jsonable(e.record_id), "message": storable(e.message)} for e in errors]


def _encode_args(args: dict[str, Any], model: type[Any], name: str) -> list[list[Any]]:
    """The `list()` arguments as JSON, each value tagged so that it comes back with its type."""
    encoded = []
    for key, value in args.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            try:
                tagged = states.encode_value(value)
            except Exception:
                raise ConfigurationError(
                    f"enqueue_partitioned_sync({model.__name__}): partition {name!r} has a list() argument "
                    f"{key}={value!r} that cannot be handed to a worker: use JSON values (str, numbers, lists, "
                    "dicts), datetimes, dates or Decimals."
                ) from None
        else:
            tagged = {"json": value}
        encoded.append([key, tagged])
    return encoded


def _decode_args(encoded: list[list[Any]]) -> dict[str, Any]:
    return {key: tagged["json"] if "json" in tagged else states.decode_value(tagged) for key, tagged in encoded}
