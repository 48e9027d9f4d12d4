"""The sync engine: read a model's datasource listing in batches and upsert it, relations included.

Entry points: `sync_model` (one model; also `Model.sync()`), `sync_models` (several, in dependency order,
sharing one per-run cache), `sync_order`, and `apply_records` (records pushed to pyck rather than listed). The
docs page "How a sync works" describes what a sync does, step by step; each step has its module here:

- `run`: one run of one model (one partition of it), from its `SyncRun` row to its `SyncResult`;
- `checkpoint`: where a run stands and the checkpoints it writes (`SyncState`); `cursor`: the cursor's encoding;
- `listing`: reading the datasource's listing (its `read_listing()`);
- `push`: `apply_records`, which writes records through the same batches as a listing;
- `batches`: writing a batch in one transaction, and redoing it row by row when the database refuses it;
- `locks`: the write lock that pushes, and the listings of models pushes write, take batch by batch;
- `upsert`: the set-based upsert of one batch, relations included, through the model's `plan`;
- `links`: a batch's many-to-many links, added and removed set-based; `through`: the columns of a model's own
  `through` model a sync fills (`SyncConfig.through_map`), and what stops it;
- `attributes`: what a resource type declares, which `plan` and `manage.py check` hold `field_map` to;
  `unseen`: the `field_map` paths no record of a listing carried, when the type cannot say;
- `bulk`, `lookups`, `statements`: the statements a batch sends; `context`: what a run remembers between batches;
- `deletion`: deleting what a complete listing did not include; `failures`: the failed records, and what deletion
  must keep for them; `history`: the `SyncRun` rows;
- `results`: `SyncResult`, `SyncProgress`, `RecordError`; `order`: `sync_order`; `collector`: the garbage
  collector kept off the objects that existed before the sync.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from datetime import timedelta

from ..conf import pyck_settings
from ..exceptions import ConfigurationError
from ..models.leases import SyncLease
from ..models.runs import SyncStatus
from ..models.synced import SyncedModel
from ..options import OnDelete, RunOptions
from .collector import heap_frozen
from .context import RunContext, SeenRows
from .deletion import delete_missing, deletion_arguments, nothing_deleted
from .failures import FailedRecords
from .lookups import is_unique
from .order import sync_order
from .push import apply_records
from .results import ProgressCallback, RecordError, SyncProgress, SyncResult, SyncWarning, note, record_failer, warn
from .run import run_sync

# Not in __all__, but named here for the rest of pyck (the partitioned runs of the cron workers import them, and
# RunContext, record_failer, delete_missing from here) and for the documentation (CHECKPOINT_INTERVAL).
from .checkpoint import CHECKPOINT_INTERVAL as CHECKPOINT_INTERVAL
from .deletion import delete_options as delete_options
from .history import jsonable as jsonable, record_deletions as record_deletions, storable as storable

__all__ = [
    "RecordError", "SyncProgress", "SyncResult", "SyncWarning", "apply_records", "sync_model", "sync_models", "sync_order",
]

logger = logging.getLogger("pyck.sync")


def sync_model(
    model: type[SyncedModel], *, progress: ProgressCallback | None = None, wait: float | timedelta = 0, **options: Any
) -> SyncResult:
    """Sync `model` from its datasource now, record a `SyncRun` and return the result.

    Args:
        model: a concrete `SyncedModel`.
        progress: called with a `SyncProgress` after each batch.
        wait: seconds (or a `timedelta`) to wait for another sync of the model to finish; `0` (the default)
            raises `SyncInProgressError` at once when one is running.
        **options: override the model's `SyncConfig` for this run: `filter`, `batch_size`,
            `on_delete`, `max_errors`, `max_delete_fraction`, `confirm_delete`; and
            `mode`: `"auto"` (the default: incremental when the model has `SyncConfig.incremental`, a
            cursor and no reconcile due, full otherwise), `"full"` or `"incremental"`;
            `partition`: sync only this partition (a name of `SyncConfig.partitions`, or any name for the
            cursor and checkpoint of a listing you narrow with `filter`). A single partition never deletes.

    One sync of a model runs at a time, whoever starts it (the cron clock, `run_cron_tasks --once`, the admin's
    "Sync now", this function): each holds the model's sync lease (see `pyck.core.models.leases.SyncLease`)
    while it runs, and records the run on the model's `CronTask` row (without moving its next due time: the
    clock's schedule is the clock's and the admin's). The only exception is a single `partition` of a model
    whose `external_id` is unique, which the workers of a partitioned run sync side by side (its unique
    constraint, not the lease, keeps rows single).

    A run that died part way (a killed process, a lost connection, a failed page) left a checkpoint: the next
    run goes on from it when the datasource's paging allows it, and starts over otherwise (`result.notes`
    says why).

    Listing and record errors do not raise: they are in the result. Errors in pyck or the database do, after
    the `SyncRun` and the `sync_finished` signal have recorded the failure.

    Raises:
        SyncInProgressError: another sync of the model held its lease for longer than `wait`; nothing was
            written, and no `SyncRun` recorded.
        ConfigurationError: `model` is not a concrete `SyncedModel`, or an option is wrong.
    """
    with heap_frozen(_freeze_gc()):
        return _sync_partitions(model, RunContext(), progress, dict(options), wait)


def sync_models(
    models: Iterable[type[SyncedModel]], *, progress: ProgressCallback | None = None, wait: float | timedelta = 0
) -> list[SyncResult]:
    """Sync several models in dependency order (see `sync_order`) and return their results in that order.

    The models share one run: a reference missing locally and not found remotely is asked for once, and
    models synced earlier are found locally by the ones referencing them. Each model's sync holds its lease
    while it runs (see `sync_model`, and `wait` there).
    """
    context = RunContext()
    with heap_frozen(_freeze_gc()):
        return [_sync_partitions(model, context, progress, {}, wait) for model in sync_order(models)]


def _freeze_gc() -> bool:
    freeze = pyck_settings.SYNC_FREEZE_GC
    if not isinstance(freeze, bool):
        raise ConfigurationError(f"The SYNC_FREEZE_GC setting must be True or False, got {freeze!r}.")
    return freeze


def _sync_partitions(
    model: type[SyncedModel],
    context: RunContext,
    progress: ProgressCallback | None,
    overrides: dict[str, Any],
    wait: float | timedelta,
) -> SyncResult:
    """Sync one partition, the whole unpartitioned model, or each partition in turn then delete what is gone,
    under the model's sync lease."""
    if not (isinstance(model, type) and issubclass(model, SyncedModel)) or model._meta.abstract:
        raise ConfigurationError(f"sync_model(): expected a concrete SyncedModel subclass, got {model!r}.")
    options = RunOptions.for_model(model, **overrides)
    if options.partition is not None and is_unique(model, model._meta.get_field(model.sync_config.external_id)):
        return _sync(model, context, progress, options, overrides)
    with SyncLease(model, wait=wait) as lease:
        result = _sync(model, context, progress, options, overrides)
        lease.record(result)
    return result


def _sync(
    model: type[SyncedModel],
    context: RunContext,
    progress: ProgressCallback | None,
    options: RunOptions,
    overrides: dict[str, Any],
) -> SyncResult:
    config = model.sync_config
    if options.partition is not None:
        if "filter" not in overrides:  # a partitioned run's worker passes the stored filter: no lookup
            declared = config.get_partitions()
            if options.partition in declared:
                options = options.using(filter={**config.filter, **declared[options.partition]})
        # Deletions are decided elsewhere (by the last partition of a partitioned run): stamp what is unchanged.
        return run_sync(model, context, progress, options, may_delete=False, seen=None)
    partitions = config.get_partitions()
    if not partitions:
        return run_sync(model, context, progress, options, may_delete=True, seen=SeenRows())
    seen = SeenRows()
    failed = FailedRecords(model)
    results = [
        run_sync(
            model, context, progress, options.using(filter={**options.filter, **extra}, partition=name),
            may_delete=False, seen=seen, failures=failed,
        )
        for name, extra in partitions.items()
    ]
    label = model._meta.label
    if options.on_delete is OnDelete.DELETE:
        if not all(r.status != SyncStatus.FAILED and r.mode == "full" and not r.truncated for r in results):
            logger.info("%s: nothing deleted: not every partition completed a full listing", label)
        elif seen.lost:
            note(results[-1], f"{label}: nothing deleted: {seen.lost}")
        else:
            # The last partition's run deletes for them all: its result and its SyncRun count what it deleted
            # (or say why it deleted nothing), so that the partitions add up to the whole.
            last = results[-1]
            deletion = SyncResult(model=label, partition=last.partition)
            if blocked := failed.blocking():
                nothing_deleted(deletion, label, blocked, options.max_errors)
            else:
                fail = record_failer(deletion, options.max_errors, label, config.datasource)
                delete_missing(
                    context, model, deletion, fail, since=min(r.listing_started for r in results), seen=seen,
                    keep=failed.keys, **deletion_arguments(options),
                )
                for warning in deletion.warnings:  # the partitions' own were logged as each ended
                    logger.warning("%s", warning)
            _add_deletion(last, deletion)
            record_deletions(label, last.partition, last.started, deletion)
            logger.info("%s: %d rows deleted after a full listing of its %d partitions", label, deletion.deleted, len(results))
    combined = _combine(label, results)
    warn(combined, ("no_id", label, None), failed.keyless, detail=failed.keyless_detail())
    return combined


def _add_deletion(result: SyncResult, deletion: SyncResult) -> None:
    """Add the outcome of a deletion step to the result of the run that did it."""
    result.deleted += deletion.deleted
    result.kept += deletion.kept
    result.failed += deletion.failed
    result.errors[:0] = deletion.errors
    result.notes.extend(deletion.notes)
    for warning in deletion.warnings:
        warn(result, (warning.kind, warning.model, warning.field), warning.count)
    if deletion.status != SyncStatus.SUCCEEDED and result.status == SyncStatus.SUCCEEDED:
        result.status = deletion.status


def _combine(label: str, results: list[SyncResult]) -> SyncResult:
    order = [SyncStatus.SUCCEEDED, SyncStatus.PARTIAL, SyncStatus.FAILED]
    combined = SyncResult(
        model=label,
        started=min((r.started for r in results if r.started), default=None),
        finished=max((r.finished for r in results if r.finished), default=None),
        status=max((r.status for r in results), key=order.index, default=SyncStatus.SUCCEEDED),
        mode="incremental" if any(r.mode == "incremental" for r in results) else "full",
        resumed=any(r.resumed for r in results),
        truncated=any(r.truncated for r in results),
        partitions=results,
    )
    for r in results:
        for name in ("created", "updated", "unchanged", "deleted", "kept", "failed", "duration"):
            setattr(combined, name, getattr(combined, name) + getattr(r, name))
        combined.errors.extend(r.errors)
        combined.notes.extend(r.notes)
        for warning in r.warnings:
            warn(combined, (warning.kind, warning.model, warning.field), warning.count, detail=warning.detail)
    return combined
