"""One run of one model (one partition of it): `run_sync` reads the listing in batches, writes them, deletes what
is gone, and records the run.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..base import Deleted
from ..exceptions import DatasourceError, InvalidResourceError, SyncError
from ..models.runs import SyncRun, SyncStatus
from ..models.synced import SyncedModel
from ..options import OnDelete, RunOptions
from ..pagination import truncation_notes
from ..signals import sync_started
from .batches import write_batch
from .bulk import max_parameters
from .checkpoint import RunState
from .children import ChildListing
from .context import RunContext, SeenRows
from .deletion import delete_ids, delete_missing, deletion_arguments, nothing_deleted
from .duplicates import report_duplicates
from .failures import FailedRecords
from .history import close_dead_runs, finish_run, record_outcome
from .listing import listing
from .results import (
    ProgressCallback, RecordError, SyncProgress, SyncResult, add_outcome, copy_result, note, record_failer, warn,
)
from .unseen import UnseenSources
from .upsert import Outcome

__all__ = ["run_sync"]

logger = logging.getLogger("pyck.sync")


def run_sync(
    model: type[SyncedModel],
    context: RunContext,
    progress: ProgressCallback | None,
    options: RunOptions,
    *,
    may_delete: bool,
    seen: SeenRows | None,
    failures: FailedRecords | None = None,
) -> SyncResult:
    """Sync one model (the partition `options.partition` of it, if not `None`) with `options`; `may_delete`: the
    run decides deletions itself; `seen` collects the rows found unchanged (`None`: stamp them); `failures`
    collects the failed records (`None`: the run's own), which decide what deletion must keep."""
    config = model.sync_config
    partition = options.partition or ""
    filter_ = options.filter
    # A batch's rows are looked up and written with one query parameter each: within the database's limit.
    batch_size = min(options.batch_size, max_parameters(model))
    on_delete = options.on_delete
    max_errors = options.max_errors
    deletion = deletion_arguments(options)
    requested = options.mode
    incremental = config.incremental
    label = model._meta.label
    datasource = config.datasource

    children = ChildListing.for_model(model)  # a child listing reads each parent's listing in turn
    if children is not None:
        # Its rows are deleted without get(): a child's item URL usually needs its parent, which get() lacks.
        deletion["confirm"] = False
    clock = time.perf_counter()
    result = SyncResult(model=label, started=timezone.now(), partition=partition)
    with transaction.atomic():  # the run's state and record: one commit (a disk flush) rather than two
        run = RunState(model, partition, filter_, requested, incremental, result)
        result.mode, result.resumed = run.mode, run.resume is not None
        tracked = run.mode == "full"  # only a full listing can tell what is gone
        if tracked:
            run.track(seen)
            context.confirmations[model] = seen
        result.listing_started = run.listing_started
        if run.unfinished:
            dead = close_dead_runs(label, partition, run.checkpoint_updated, result.started, resumed=result.resumed)
            if dead:
                where = f"{label} [{partition}]" if partition else label
                text = (
                    f"{where}: {dead} earlier run(s) still recorded as running were recorded as failed: the process "
                    "running them stopped without recording an outcome (killed?)"
                )
                logger.warning("%s", text)
                result.notes.append(text)
        sync_run = SyncRun.objects.create(
            model=label, started=result.started, partition=partition, mode=run.mode, resumed=result.resumed
        )
    sync_started.send(sender=model)
    failed = failures if failures is not None else FailedRecords(model)
    count_failure = record_failer(result, max_errors, label, datasource)

    def fail(record_id: Any, reason: str) -> None:
        failed.written(record_id, reason)
        count_failure(record_id, reason)

    batches = records = read = 0
    # The ids of the records the listing says are deleted (`Deleted`), deleted once it completes.
    gone: list[Any] = []
    unexpected: BaseException | None = None
    # The outcome written with the last batch, in its transaction (a flush to disk fewer), if it was.
    recorded: dict[str, Any] | None = None
    batch: list[Any] = []
    # A child listing's records' parents, one per record of `batch` (None for other listings).
    extras: list[dict[str, Any]] | None = [] if children is not None else None
    truncations: list[str] = []

    def checkpoint(outcome: Outcome) -> None:
        run.checkpoint(outcome, result.failed)

    def written(count: int) -> None:
        nonlocal batches, records
        batches, records = batches + 1, records + count
        if progress:
            progress(SyncProgress(label, batches, records, time.perf_counter() - clock))

    concurrent, context.concurrent = context.concurrent, context.concurrent or run.pushed  # see RunContext
    try:
        unseen = UnseenSources(model)  # refuses a field_map path the resource type does not declare
        with truncation_notes() as truncations:
            for resource, position in listing(datasource, filter_, run, children):
                run.position = position
                read += 1
                if isinstance(resource, Deleted):
                    gone.append(resource.id)
                    continue
                if isinstance(resource, InvalidResourceError):
                    failed.listed(resource, position, read)
                    result.failed += 1
                    if len(result.errors) < max_errors:
                        result.errors.append(RecordError(resource.record_id, str(resource)))
                    continue
                run.see(resource)
                if unseen.paths:
                    unseen.see(resource)
                batch.append(resource)
                if extras is not None:
                    extras.append(children.extra())  # type: ignore[union-attr]
                if len(batch) >= batch_size:
                    add_outcome(result, write_batch(context, model, batch, checkpoint, extras), fail)
                    written(len(batch))
                    batch = []
                    extras = [] if extras is not None else None
        for text in unseen.warnings():
            # The counts are in result.warnings ("absent"), which the SyncRun keeps; this says what to fix.
            note(result, text, level=logging.WARNING)
        complete = not truncations
        finish = run.finisher(complete=complete)

        def end(outcome: Outcome) -> None:
            nonlocal recorded
            finish(outcome, result.failed)
            if on_delete is not OnDelete.DELETE:  # nothing can change the outcome after this batch
                ending = copy_result(result)
                add_outcome(ending, outcome, record_failer(ending, max_errors, label, datasource))
                _settle(ending, run, truncations, on_delete, max_errors)
                recorded = record_outcome(sync_run.pk, ending, datasource, clock)

        add_outcome(result, write_batch(context, model, batch, end, extras), fail)
        if batch:
            written(len(batch))
            batch = []
        _settle(result, run, truncations, on_delete, max_errors)
        if children is not None:
            children.settle(result, max_errors)
    except (DatasourceError, SyncError) as error:
        try:
            if batch:  # records received before the listing failed are good: keep them
                add_outcome(result, write_batch(context, model, batch, checkpoint, extras), fail)
            if tracked and seen is not None and run.position is not None:
                run.keep_confirmations(seen, result.failed)
        except BaseException as crash:
            unexpected = crash
        if isinstance(error, DatasourceError):
            error = error.with_context(datasource=datasource)
        result.status = SyncStatus.FAILED
        where = (
            " (the next run goes on from the last batch written)" if run.position is not None
            else " (at the checkpoint it went on from: the next run starts over)" if run.abandoned
            else ""
        )
        result.errors.insert(0, RecordError(getattr(error, "record_id", None), f"The listing failed{where}: {error}"))
        del result.errors[max(max_errors, 1):]
    except BaseException as error:
        result.status = SyncStatus.FAILED
        result.errors.insert(0, RecordError(None, f"The sync of {label} crashed: {error!r}"))
        unexpected = error
    finally:
        context.confirmations.pop(model, None)
    result.cursor = run.cursor

    if gone and unexpected is None and result.status != SyncStatus.FAILED and not result.truncated:
        if on_delete is OnDelete.DELETE:
            delete_ids(model, gone, result, fail, batch_size)
        else:
            note(result, f"{label}: kept the rows of {len(gone)} records the API says are deleted (OnDelete.KEEP)")
    # A listing in which records failed is still complete (see failures.FailedRecords), and so is a child
    # listing in which some parents' listings failed: their rows are spared.
    failed.unknown_before += run.failed_before  # read now: a checkpoint refused at its page sets it to 0
    listed_whole = run.mode == "full" and result.status != SyncStatus.FAILED and not result.truncated
    if failures is None:
        warn(result, ("no_id", label, None), failed.keyless, detail=failed.keyless_detail())
    if unexpected is None and may_delete and listed_whole and on_delete is OnDelete.DELETE:
        blocked = failed.blocking()
        if blocked:
            nothing_deleted(result, label, blocked, max_errors)
        elif seen is not None and seen.lost:
            note(result, f"{label}: nothing deleted: {seen.lost}")
        else:
            try:
                spare = children.kept_rows() if children is not None else None
                delete_missing(
                    context, model, result, fail, since=run.listing_started, seen=seen, keep=failed.keys,
                    spare=spare, **deletion,
                )
            except BaseException as error:
                result.status = SyncStatus.FAILED
                result.errors.insert(0, RecordError(None, f"The sync of {label} crashed while deleting: {error!r}"))
                unexpected = error
    elif on_delete is OnDelete.DELETE:
        why = (
            "an incremental run cannot see deletions" if run.mode == "incremental"
            else "a single partition is not the whole listing" if not may_delete
            else "the listing did not complete"
        )
        logger.info("%s: nothing deleted: %s", label, why)

    context.concurrent = concurrent
    for text in context.take_notes():
        note(result, text)
    report_duplicates(context, result)
    refused = finish_run(model, sync_run.pk, result, datasource, clock, recorded)
    unexpected = unexpected or refused
    if unexpected is not None:
        raise unexpected
    return result


def _settle(result: SyncResult, run: RunState, truncations: list[str], on_delete: OnDelete, max_errors: int) -> None:
    """Give a listing that completed its status, and the errors that explain a partial one."""
    result.status = SyncStatus.PARTIAL if result.failed else SyncStatus.SUCCEEDED
    if run.failed_before:
        result.status = SyncStatus.PARTIAL
        result.errors.insert(0, RecordError(None, (
            f"{run.failed_before} records failed in the earlier, interrupted part of this listing (see the "
            "previous sync run): the cursor did not move"
        )))
    if truncations:
        result.truncated = True
        result.status = SyncStatus.PARTIAL
        consequence = "nothing was deleted" if on_delete is OnDelete.DELETE else "records after it were not read"
        result.errors.insert(0, RecordError(None, (
            f"The listing of {run.datasource} was cut short on purpose ({'; '.join(truncations)}), so it does not "
            f"count as complete: {consequence}. Remove max_pages from the paginator to read the whole listing"
        )))
    del result.errors[max(max_errors, 1):]

