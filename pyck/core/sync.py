"""The sync engine: read a model's datasource listing in batches and upsert it, relations included.

Entry points: :func:`sync_model` (one model; also ``Model.sync()``), :func:`sync_models` (several, in
dependency order, sharing one per-run cache) and :func:`sync_order`.

How a sync works:

* The listing is streamed and cut into batches of ``SyncConfig.batch_size`` records; each batch is written in
  its own transaction with a bounded number of queries (load existing rows, bulk insert, bulk update of the
  changed fields only, a few per relation). Rows found unchanged are not written at all.
* A record that cannot be written (a value the field rejects, an unresolvable required reference, a database
  constraint) is skipped, counted in ``failed`` and reported with its id; the batch is then redone row by row
  with savepoints so that only the culprits are lost.
* Rows are found by ``external_id``. When that column has neither an index nor a unique constraint (the
  guide's models declare a bare ``IntegerField``), each run instead reads the table's ``external_id -> pk``
  map once (one query; about 18 MiB of memory per 100,000 rows) and finds rows by primary key, so that no
  batch scans the table. Give the column ``db_index=True`` to let the database do the lookups instead.
* References are resolved against the related model's ``external_id`` column; ids not stored locally are
  fetched with the related model's datasource ``get()`` once per run; embedded resources are upserted through
  the related model's own field mapping.
* Rows a sync writes get ``last_sync_time`` set to the time their batch was written; rows it finds unchanged
  are remembered in memory (about 80 bytes a row), so an unchanged re-sync writes nothing. A single partition
  run (``partition=``), whose deletions another process decides, stamps its unchanged rows instead; so does a
  listing that fails part way, for the run that resumes it. With ``OnDelete.DELETE``, after a listing that
  completed with no failed record and was not cut short by a paginator's ``max_pages``, rows neither written
  since the start of the listing nor found unchanged are candidates for deletion (a run resumed after its
  predecessor was killed has lost what that one found unchanged: it deletes nothing and says so). If they are
  more than ``SyncConfig.max_delete_fraction`` of the table, none is deleted and the result says why.
  Otherwise each is confirmed with the datasource's ``get()`` (unless ``SyncConfig.confirm_delete`` is off):
  rows whose record is gone (``NotFoundError``) are deleted, 500 per statement; rows whose record still exists
  (a listing whose offset paging shifted skips records) are kept and refreshed. Rows of the model fetched by
  reference *during* its own run count as listed, so they are kept.
* The counts in a :class:`SyncResult` are about the records of the model's own listing. Rows written because
  another record referenced them (embedded or fetched) are not counted; a listed record whose row was created
  that way earlier in the same run counts as ``unchanged`` (or ``updated``).
* A record that lacks an attribute altogether (a key absent from a dict, as in partial embedded copies)
  leaves that column alone; an attribute that is ``None`` writes ``None`` (or the field's default).
* Each model (each partition of it) has a :class:`~pyck.core.models.SyncState` row. Every batch that writes
  updates it in its own transaction with a checkpoint (the page position and how many of its records were
  written; batches that write nothing, every ``CHECKPOINT_INTERVAL`` seconds), so a run that dies is resumed
  from there by the next run when the listing can start part way through
  (``RestDatasource.resumable``). With ``SyncConfig.incremental``, runs after the first ask only for records
  from the cursor on; the cursor moves in the transaction of the last batch of a complete listing in which no
  record failed. Incremental runs and single partitions never delete.
* Two syncs of the same model must not run at once (the cron clock's lease sees to it, and the admin's "Sync
  now" takes the same lease): without a unique constraint on ``external_id``, both could insert the same new
  record.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from . import http
from ._sync import state as states
from ._sync.collector import heap_frozen
from ._sync.bulk import max_parameters
from .lookahead import prefetch
from ._sync.statements import RowUpdate
from ._sync.upsert import SeenRows, _Outcome, RunContext, upsert
from .conf import pyck_settings
from .exceptions import ConfigurationError, DatasourceError, InvalidResourceError, NotFoundError, SyncError
from .options import Incremental, OnDelete, check_fraction
from .pagination import truncation_notes
from .rest import NOT_DESERIALISABLE

if TYPE_CHECKING:
    from .models.synced import SyncedModel

__all__ = ["RecordError", "SyncProgress", "SyncResult", "sync_model", "sync_models", "sync_order"]

logger = logging.getLogger("pyck.sync")


@dataclass
class RecordError:
    """A record that could not be synced: its remote id (``None`` if unknown) and why."""

    record_id: Any
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class SyncResult:
    """The outcome of syncing one model.

    ``status`` is ``"succeeded"`` (every record written, and deletions done as configured), ``"partial"`` (the
    listing completed but some records failed, or it was cut short by a paginator's ``max_pages``, or rows
    missing from it could not be deleted: too many of them, or ``get()`` could not confirm they are gone; the
    errors say which) or ``"failed"`` (the listing itself failed; what was written before the failure stays).
    """

    model: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    #: Rows missing from the listing whose record ``get()`` still returned: kept, and refreshed from it.
    kept: int = 0
    failed: int = 0
    #: The first ``SyncConfig.max_errors`` record errors (``failed`` counts them all).
    errors: list[RecordError] = field(default_factory=list)
    started: datetime | None = None
    finished: datetime | None = None
    #: Seconds.
    duration: float = 0.0
    status: str = "succeeded"
    #: True when a paginator stopped the listing early because of its ``max_pages``: nothing was deleted.
    truncated: bool = False
    #: ``"full"`` (the whole listing) or ``"incremental"`` (the records changed since the cursor).
    mode: str = "full"
    #: The partition synced (``""``: the model is not partitioned, or the result combines every partition).
    partition: str = ""
    #: True when the run went on from the checkpoint of an earlier run that died.
    resumed: bool = False
    #: The incremental cursor after the run (``None`` for a model without ``SyncConfig.incremental``).
    cursor: Any = None
    #: Things worth knowing that are not errors (a run that had to start over, and why).
    notes: list[str] = field(default_factory=list)
    #: For a partitioned model synced as a whole: the result of each partition.
    partitions: list[SyncResult] = field(default_factory=list)
    #: When the listing this run read started: earlier than ``started`` when the run resumed an earlier one.
    listing_started: datetime | None = None

    @property
    def ok(self) -> bool:
        """True when every record was synced."""
        return self.status == "succeeded"

    def __str__(self) -> str:
        where = f"{self.model} [{self.partition}]" if self.partition else self.model
        how = f" ({self.mode}{', resumed' if self.resumed else ''})" if self.mode != "full" or self.resumed else ""
        return (
            f"Sync of {where}{how} {self.status}: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.deleted} deleted, {self.failed} failed in {self.duration:.2f}s"
        )


@dataclass(frozen=True)
class SyncProgress:
    """Where a running sync has got to; passed to the ``progress`` callback after each batch."""

    model: str
    batches: int
    records: int
    #: Seconds since the model's sync started.
    elapsed: float

    def __str__(self) -> str:
        return f"{self.model}: {self.records} records in {self.batches} batches, {self.elapsed:.1f}s"


ProgressCallback = Callable[[SyncProgress], Any]

_RUN_OPTIONS = frozenset(
    {"filter", "batch_size", "on_delete", "max_errors", "max_delete_fraction", "confirm_delete", "mode", "partition"}
)
_MODES = ("auto", "full", "incremental")

#: Seconds between two checkpoints of a run whose batches write nothing (an unchanged re-sync).
CHECKPOINT_INTERVAL = 10.0


def sync_model(model: type[SyncedModel], *, progress: ProgressCallback | None = None, **options: Any) -> SyncResult:
    """Sync ``model`` from its datasource now, record a ``SyncRun`` and return the result.

    Args:
        model: a concrete :class:`~pyck.core.datasources.SyncedModel`.
        progress: called with a :class:`SyncProgress` after each batch.
        **options: override the model's ``SyncConfig`` for this run: ``filter``, ``batch_size``,
            ``on_delete``, ``max_errors``, ``max_delete_fraction``, ``confirm_delete``; and
            ``mode``: ``"auto"`` (the default: incremental when the model has ``SyncConfig.incremental``, a
            cursor and no reconcile due, full otherwise), ``"full"`` or ``"incremental"``;
            ``partition``: sync only this partition (a name of ``SyncConfig.partitions``, or any name for the
            cursor and checkpoint of a listing you narrow with ``filter``). A single partition never deletes.

    A run that died part way (a killed process, a lost connection, a failed page) left a checkpoint: the next
    run goes on from it when the datasource's paging allows it, and starts over otherwise (``result.notes``
    says why).

    Listing and record errors do not raise: they are in the result. Errors in pyck or the database do, after
    the ``SyncRun`` and the ``sync_finished`` signal have recorded the failure.
    """
    with heap_frozen(_freeze_gc()):
        return _sync_partitions(model, RunContext(), progress, dict(options))


def sync_models(models: Iterable[type[SyncedModel]], *, progress: ProgressCallback | None = None) -> list[SyncResult]:
    """Sync several models in dependency order (see :func:`sync_order`) and return their results in that order.

    The models share one run: a reference missing locally and not found remotely is asked for once, and
    models synced earlier are found locally by the ones referencing them.
    """
    context = RunContext()
    with heap_frozen(_freeze_gc()):
        return [_sync_partitions(model, context, progress, {}) for model in sync_order(models)]


def _freeze_gc() -> bool:
    freeze = pyck_settings.SYNC_FREEZE_GC
    if not isinstance(freeze, bool):
        raise ConfigurationError(f"The SYNC_FREEZE_GC setting must be True or False, got {freeze!r}.")
    return freeze


def sync_order(models: Iterable[type[SyncedModel]]) -> list[type[SyncedModel]]:
    """Order ``models`` so that each comes after the models it references.

    Only synced relations count (fields the model's mapping fills): foreign keys and many-to-many fields point
    at dependencies; an inverse relation makes the children a dependency of the parent. Cycles are broken on nullable relations (a required foreign key is honoured
    whenever possible); otherwise the given order is kept.
    """
    from ._sync.plan import get_plan

    ordered = list(dict.fromkeys(models))
    members = set(ordered)
    hard: dict[Any, set[Any]] = {model: set() for model in ordered}
    soft: dict[Any, set[Any]] = {model: set() for model in ordered}
    for model in ordered:
        for mapping in get_plan(model).mappings:
            target = mapping.related
            if target in members and target is not model:
                required = mapping.kind == "fk" and not mapping.field.null
                (hard if required else soft)[model].add(target)
    result: list[Any] = []
    remaining = list(ordered)
    while remaining:
        done = set(result)
        ready = [m for m in remaining if hard[m] <= done and soft[m] <= done]
        if not ready:
            ready = [m for m in remaining if hard[m] <= done] or remaining[:1]
        result.append(ready[0])
        remaining.remove(ready[0])
    return result


def _sync_partitions(
    model: type[SyncedModel], context: RunContext, progress: ProgressCallback | None, options: dict[str, Any]
) -> SyncResult:
    """Sync one partition, the whole unpartitioned model, or each partition in turn then delete what is gone."""
    from .models.synced import SyncedModel

    if not (isinstance(model, type) and issubclass(model, SyncedModel)) or model._meta.abstract:
        raise ConfigurationError(f"sync_model(): expected a concrete SyncedModel subclass, got {model!r}.")
    unknown = set(options) - _RUN_OPTIONS
    if unknown:
        raise TypeError(f"sync_model() got unknown options {sorted(unknown)}; the known ones are {sorted(_RUN_OPTIONS)}.")
    config = model.sync_config
    partition = options.pop("partition", None)
    if partition is not None:
        if not isinstance(partition, str) or not partition:
            raise ConfigurationError(f"sync_model(partition=...): expected a non-empty partition name, got {partition!r}.")
        if "filter" not in options:  # a partitioned run's worker passes the stored filter: no lookup
            declared = config.get_partitions()
            if partition in declared:
                options["filter"] = {**config.filter, **declared[partition]}
        # Deletions are decided elsewhere (by the last partition of a partitioned run): stamp what is unchanged.
        return _sync(model, context, progress, options, partition=partition, may_delete=False, seen=None)
    partitions = config.get_partitions()
    if not partitions:
        return _sync(model, context, progress, options, partition="", may_delete=True, seen=SeenRows())
    base_filter = options.pop("filter", config.filter)
    seen = SeenRows()
    results = [
        _sync(model, context, progress, {**options, "filter": {**base_filter, **extra}}, partition=name, may_delete=False, seen=seen)
        for name, extra in partitions.items()
    ]
    combined = _combine(model._meta.label, results)
    on_delete = options.get("on_delete", config.on_delete)
    if on_delete is OnDelete.DELETE:
        if not all(r.status == "succeeded" and r.mode == "full" for r in results):
            logger.info("%s: nothing deleted: not every partition completed a full listing without errors", model._meta.label)
        elif seen.lost:
            _note(combined, f"{model._meta.label}: nothing deleted: {seen.lost}")
        else:
            fail = record_failer(combined, options.get("max_errors", config.max_errors), model._meta.label, config.datasource)
            delete_missing(
                context, model, combined, fail, since=min(r.listing_started for r in results), seen=seen,
                **delete_options(config, options),
            )
            logger.info("%s: %d rows deleted after a full listing of its %d partitions", model._meta.label, combined.deleted, len(results))
    return combined


def _note(result: SyncResult, note: str) -> None:
    logger.info("%s", note)
    result.notes.append(note)


def _combine(label: str, results: list[SyncResult]) -> SyncResult:
    order = ["succeeded", "partial", "failed"]
    combined = SyncResult(
        model=label,
        started=min((r.started for r in results if r.started), default=None),
        finished=max((r.finished for r in results if r.finished), default=None),
        status=max((r.status for r in results), key=order.index, default="succeeded"),
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
    return combined


def delete_options(config: Any, options: dict[str, Any]) -> dict[str, Any]:
    max_delete_fraction = options.get("max_delete_fraction")
    if max_delete_fraction is None:
        max_delete_fraction = config.get_max_delete_fraction()
    else:
        check_fraction(max_delete_fraction, "sync_model(max_delete_fraction=...)")
    confirm_delete = options.get("confirm_delete", config.confirm_delete)
    if not isinstance(confirm_delete, bool):
        raise ConfigurationError(f"sync_model(confirm_delete=...): expected True or False, got {confirm_delete!r}.")
    return {
        "max_fraction": max_delete_fraction,
        "confirm": confirm_delete,
        "batch_size": options.get("batch_size") or config.get_batch_size(),
        "max_errors": options.get("max_errors", config.max_errors),
    }


def record_failer(result: SyncResult, max_errors: int, label: str, datasource: Any) -> Callable[[Any, str], None]:
    def fail(record_id: Any, reason: str) -> None:
        result.failed += 1
        if len(result.errors) < max_errors:
            result.errors.append(RecordError(record_id, f"{reason} (model {label}, datasource {datasource}, record id {_quote(record_id)})"))

    return fail


def _sync(
    model: type[SyncedModel],
    context: RunContext,
    progress: ProgressCallback | None,
    options: dict[str, Any],
    *,
    partition: str,
    may_delete: bool,
    seen: SeenRows | None,
) -> SyncResult:
    """Sync one model (one partition of it); ``seen`` collects the rows found unchanged (``None``: stamp them)."""
    from .models.runs import SyncRun
    from .signals import sync_finished, sync_started

    config = model.sync_config
    filter_ = options.get("filter", config.filter)
    # A batch's rows are looked up and written with one query parameter each: within the database's limit.
    batch_size = min(options.get("batch_size") or config.get_batch_size(), max_parameters(model))
    on_delete = options.get("on_delete", config.on_delete)
    max_errors = options.get("max_errors", config.max_errors)
    deletion = delete_options(config, options)
    requested = options.get("mode", "auto")
    if requested not in _MODES:
        raise ConfigurationError(f"sync_model(mode=...): expected one of {', '.join(_MODES)}, got {requested!r}.")
    incremental = config.incremental
    if requested == "incremental" and incremental is None:
        raise ConfigurationError(
            f"sync_model({model.__name__}, mode='incremental'): the model's SyncConfig has no incremental=Incremental(...)."
        )
    label = model._meta.label
    datasource = config.datasource

    clock = time.perf_counter()
    result = SyncResult(model=label, started=timezone.now(), partition=partition)
    with transaction.atomic():  # the run's state and record: one commit (a disk flush) rather than two
        run = _Run(model, partition, filter_, requested, incremental, result)
        result.mode, result.resumed = run.mode, run.resume is not None
        tracked = run.mode == "full"  # only a full listing can tell what is gone
        if tracked:
            run.track(seen)
            context.confirmations[model] = seen
        result.listing_started = run.listing_started
        sync_run = SyncRun.objects.create(
            model=label, started=result.started, partition=partition, mode=run.mode, resumed=result.resumed
        )
        if run.resumed_from is not None:
            _close_dead_runs(label, partition, run.resumed_from, result.started)
    sync_started.send(sender=model)
    fail = record_failer(result, max_errors, label, datasource)

    batches = records = 0
    unexpected: BaseException | None = None
    #: The outcome written with the last batch, in its transaction (a flush to disk fewer), if it was.
    recorded: dict[str, Any] | None = None
    batch: list[Any] = []
    truncations: list[str] = []

    def checkpoint(outcome: _Outcome) -> None:
        run.checkpoint(outcome, result.failed)

    def written(count: int) -> None:
        nonlocal batches, records
        batches, records = batches + 1, records + count
        if progress:
            progress(SyncProgress(label, batches, records, time.perf_counter() - clock))

    try:
        with truncation_notes() as truncations:
            for resource, position in _listing(datasource, run.query(filter_), run):
                run.position = position
                if isinstance(resource, InvalidResourceError):
                    result.failed += 1
                    if len(result.errors) < max_errors:
                        result.errors.append(RecordError(resource.record_id, str(resource)))
                    continue
                run.see(resource)
                batch.append(resource)
                if len(batch) >= batch_size:
                    _apply(result, _write_batch(context, model, batch, checkpoint), fail)
                    written(len(batch))
                    batch = []
        complete = not truncations
        finish = run.finisher(complete=complete)

        def end(outcome: _Outcome) -> None:
            nonlocal recorded
            finish(outcome, result.failed)
            if on_delete is not OnDelete.DELETE:  # nothing can change the outcome after this batch
                ending = replace(result, errors=[replace(e) for e in result.errors], notes=list(result.notes))
                _apply(ending, outcome, record_failer(ending, max_errors, label, datasource))
                _settle(ending, run, truncations, on_delete, max_errors)
                recorded = _record_outcome(sync_run.pk, ending, datasource, clock)

        _apply(result, _write_batch(context, model, batch, end), fail)
        if batch:
            written(len(batch))
            batch = []
        _settle(result, run, truncations, on_delete, max_errors)
    except (DatasourceError, SyncError) as error:
        try:
            if batch:  # records received before the listing failed are good: keep them
                _apply(result, _write_batch(context, model, batch, checkpoint), fail)
            if tracked and seen is not None and run.position is not None:
                run.keep_confirmations(seen, result.failed)
        except BaseException as crash:
            unexpected = crash
        if isinstance(error, DatasourceError):
            error = error.with_context(datasource=datasource)
        result.status = "failed"
        where = " (the next run goes on from the last batch written)" if run.position is not None else ""
        result.errors.insert(0, RecordError(getattr(error, "record_id", None), f"The listing failed{where}: {error}"))
        del result.errors[max(max_errors, 1):]
    except BaseException as error:
        result.status = "failed"
        result.errors.insert(0, RecordError(None, f"The sync of {label} crashed: {error!r}"))
        unexpected = error
    finally:
        context.confirmations.pop(model, None)
    result.cursor = run.cursor

    deletable = may_delete and run.mode == "full" and result.status == "succeeded"
    if unexpected is None and deletable and on_delete is OnDelete.DELETE:
        if seen is not None and seen.lost:
            _note(result, f"{label}: nothing deleted: {seen.lost}")
        else:
            try:
                delete_missing(context, model, result, fail, since=run.listing_started, seen=seen, **deletion)
            except BaseException as error:
                result.status = "failed"
                result.errors.insert(0, RecordError(None, f"The sync of {label} crashed while deleting: {error!r}"))
                unexpected = error
    elif on_delete is OnDelete.DELETE:
        why = (
            "an incremental run cannot see deletions" if run.mode == "incremental"
            else "a single partition is not the whole listing" if not may_delete
            else "the listing did not complete without errors"
        )
        logger.info("%s: nothing deleted: %s", label, why)

    outcome = _run_outcome(result, datasource, clock)
    if recorded is not None and _same_outcome(recorded, outcome):
        result.finished, result.duration = recorded["finished"], recorded["duration"]
    else:
        refused = _update_run(sync_run.pk, outcome, result, label)
        unexpected = unexpected or refused
    sync_finished.send(sender=model, result=result)
    if unexpected is not None:
        raise unexpected
    return result


def _settle(result: SyncResult, run: _Run, truncations: list[str], on_delete: OnDelete, max_errors: int) -> None:
    """Give a listing that completed its status, and the errors that explain a partial one."""
    result.status = "partial" if result.failed else "succeeded"
    if run.failed_before:
        result.status = "partial"
        result.errors.insert(0, RecordError(None, (
            f"{run.failed_before} records failed in the earlier, interrupted part of this listing (see the "
            "previous sync run): nothing was deleted and the cursor did not move"
        )))
    if truncations:
        result.truncated = True
        result.status = "partial"
        consequence = "nothing was deleted" if on_delete is OnDelete.DELETE else "records after it were not read"
        result.errors.insert(0, RecordError(None, (
            f"The listing of {run.datasource} was cut short on purpose ({'; '.join(truncations)}), so it does not "
            f"count as complete: {consequence}. Remove max_pages from the paginator to read the whole listing"
        )))
    del result.errors[max(max_errors, 1):]


def _run_outcome(result: SyncResult, datasource: Any, clock: float) -> dict[str, Any]:
    """Finish ``result`` (its time, its messages made fit to show) and return its SyncRun's outcome columns."""
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


def _record_outcome(pk: Any, ending: SyncResult, datasource: Any, clock: float) -> dict[str, Any] | None:
    """Write the outcome the run will have if nothing follows its last batch, in that batch's transaction;
    return it (``None`` if it could not be written: the run writes its outcome afterwards, as it would)."""
    from .models.runs import SyncRun

    outcome = _run_outcome(ending, datasource, clock)
    try:
        with transaction.atomic():
            SyncRun.objects.filter(pk=pk).update(**outcome)
    except DatabaseError:
        return None
    return outcome


def _same_outcome(recorded: dict[str, Any], outcome: dict[str, Any]) -> bool:
    return all(recorded[key] == value for key, value in outcome.items() if key not in ("finished", "duration"))


def _update_run(pk: Any, outcome: dict[str, Any], result: SyncResult, label: str) -> BaseException | None:
    """Write the run's outcome into its SyncRun; return the database error if it cannot be written."""
    from .models.runs import SyncRun

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


def _close_dead_runs(label: str, partition: str, checkpointed: datetime, now: datetime) -> None:
    """Mark as failed the runs still "running" that started before the checkpoint being resumed was written:
    their process died without recording an outcome (a killed worker, a lost machine)."""
    from .models.runs import SyncRun

    message = (
        f"The process running this sync stopped without recording its outcome (killed?); the run started at "
        f"{now:%Y-%m-%d %H:%M:%S} went on from its last checkpoint."
    )
    SyncRun.objects.filter(model=label, partition=partition, status=SyncRun.Status.RUNNING, started__lte=checkpointed).update(
        status=SyncRun.Status.FAILED, finished=checkpointed, errors=[{"record_id": None, "message": message}]
    )


class _Run:
    """The state of one run of one model (partition): its mode, where it resumes, its cursor's high-water mark.

    Loads the :class:`~pyck.core.models.SyncState` row at the start; :meth:`checkpoint` and :meth:`finisher`
    give the callbacks that update it inside each batch's transaction.
    """

    def __init__(
        self,
        model: type[SyncedModel],
        partition: str,
        filter_: dict[str, Any],
        requested: str,
        incremental: Incremental | None,
        result: SyncResult,
    ) -> None:
        from .models.state import SyncState

        self.model = model
        self.label = model._meta.label
        self.incremental = incremental
        self.datasource = model.sync_config.datasource
        state, _ = SyncState.objects.get_or_create(model=self.label, partition=partition)
        self.state_pk = state.pk
        self.cursor = states.decode_value(state.cursor)
        self.filter_text = states.canonical(filter_)
        self.mode = self._pick_mode(requested, state)
        self.resume: dict[str, Any] | None = None
        #: When the checkpoint this run goes on from was written.
        self.resumed_from: datetime | None = None
        if state.checkpoint:
            why_not = self._why_not_resume(state.checkpoint, requested)
            if why_not is None:
                self.resume = state.checkpoint
                self.resumed_from = state.checkpoint_updated
                self.mode = state.checkpoint["mode"]
            else:
                when = f"{state.checkpoint_updated:%Y-%m-%d %H:%M:%S}" if state.checkpoint_updated else "an unknown time"
                note = (
                    f"The previous run of {state} stopped part way through (last checkpoint at {when}); "
                    f"this run starts over: {why_not}"
                )
                logger.warning("%s", note)
                result.notes.append(note)
        resume = self.resume or {}
        self.since: Any = states.decode_value(resume["since"]) if self.resume else (
            incremental.since(self.cursor) if self.mode == "incremental" and incremental is not None else None
        )
        self.listing_started: datetime = (
            datetime.fromisoformat(resume["started"]) if self.resume else result.started  # type: ignore[assignment]
        )
        self.high: Any = states.decode_value(resume.get("high"))
        self.failed_before: int = resume.get("failed", 0)
        self.start: Any = resume.get("position")
        self.position: Any = None
        #: True when this run resumed one that died with rows it had found unchanged unrecorded.
        self.unconfirmed = False
        #: Where the rows this run finds unchanged are noted (``None``: stamped), and how many were there before.
        self.seen: SeenRows | None = None
        self._seen_before = 0
        self._checkpointed = time.monotonic()
        self._write_checkpoint = RowUpdate(SyncState, self.state_pk, ("checkpoint", "checkpoint_updated"))

    def track(self, seen: SeenRows | None) -> None:
        """Note that the rows this full listing finds unchanged go into ``seen`` (``None``: they are stamped);
        mark ``seen`` incomplete if the run this one resumes died with some of them unrecorded."""
        self.seen, self._seen_before = seen, len(seen.pks) if seen is not None else 0
        # A checkpoint without "confirmed" was written by a pyck that stamped every row it found unchanged.
        if seen is not None and self.resume is not None and not self.resume.get("confirmed", True):
            self.unconfirmed = True
            seen.lost = (
                "this run went on from an interrupted run that died before recording which rows it had found "
                "unchanged, so rows missing from the listing cannot be told apart from those; the next complete "
                "full listing deletes them"
            )

    def _pick_mode(self, requested: str, state: Any) -> str:
        if requested != "auto":
            return requested
        if self.incremental is None or self.cursor is None:
            return "full"
        interval = self.incremental.reconcile_interval
        if interval is not None and (state.last_full_sync is None or state.last_full_sync + interval <= timezone.now()):
            return "full"
        return "incremental"

    def _why_not_resume(self, checkpoint: dict[str, Any], requested: str) -> str | None:
        if not _resumable(self.datasource, checkpoint["mode"], self.incremental):
            return f"the listing of {self.datasource} cannot start part way through (see RestDatasource.resumable)"
        if checkpoint.get("filter") != self.filter_text:
            return "the listing's filter is not the same"
        if requested != "auto" and checkpoint["mode"] != requested:
            return f"a {requested} run was asked for, and the interrupted run was {checkpoint['mode']}"
        return None

    def query(self, filter_: dict[str, Any]) -> dict[str, Any]:
        """The ``list()`` arguments: the filter, plus the cursor for an incremental run with a ``param``."""
        if self.mode == "incremental" and self.incremental is not None and self.incremental.param:
            return {**filter_, self.incremental.param: self.incremental.format_value(self.since)}
        return filter_

    def see(self, resource: Any) -> None:
        """Raise the high-water mark to ``resource``'s cursor value."""
        if self.incremental is not None:
            value = states.read_cursor(resource, self.incremental.field)
            self.high = states.later(self.high, value, field=self.incremental.field)

    def _checkpoint_data(self, failed: int) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "filter": self.filter_text,
            "since": states.encode_value(self.since),
            "started": self.listing_started.isoformat(),
            "position": self.position,
            "high": states.encode_value(self.high),
            "failed": failed,
            # Whether every row the listing found unchanged so far is stamped (see keep_confirmations).
            "confirmed": not self.unconfirmed and (self.seen is None or len(self.seen.pks) == self._seen_before),
        }

    def checkpoint(self, outcome: _Outcome, failed_so_far: int) -> None:
        """Record where the listing has got to; called inside the transaction of the batch just written.

        A batch that wrote nothing records nothing either, unless ``CHECKPOINT_INTERVAL`` seconds passed since
        the last checkpoint: an unchanged re-sync then writes almost nothing, and a run that dies re-reads at
        most that much of the listing (reading again is harmless, the upsert makes it so).
        """
        if self.position is None:
            return  # a listing that cannot resume: nothing worth recording
        if not outcome.wrote and time.monotonic() - self._checkpointed < CHECKPOINT_INTERVAL:
            return
        self._save_checkpoint(self._checkpoint_data(self.failed_before + failed_so_far + len(outcome.failures)))

    def _save_checkpoint(self, data: dict[str, Any]) -> None:
        self._write_checkpoint(data, timezone.now())
        self._checkpointed = time.monotonic()

    def keep_confirmations(self, seen: SeenRows, failed_so_far: int) -> None:
        """Stamp the rows found unchanged before a listing failed, with a checkpoint saying so: the run that
        resumes this one can then still tell the rows the whole listing included, and delete the others."""
        pks = [uuid.UUID(int=pk) for pk in seen.pks]
        manager = self.model._base_manager
        with transaction.atomic():
            now = timezone.now()
            for start in range(0, len(pks), 500):
                manager.filter(pk__in=pks[start : start + 500]).update(last_sync_time=now)
            self._save_checkpoint({**self._checkpoint_data(self.failed_before + failed_so_far), "confirmed": not self.unconfirmed})

    def finisher(self, *, complete: bool) -> Callable[[_Outcome, int], None]:
        """The callback ending the run in the last batch's transaction: clear the checkpoint, advance the cursor
        (only after a complete listing in which no record failed), note a complete full listing."""
        from .models.state import SyncState

        def finish(outcome: _Outcome, failed_so_far: int) -> None:
            now = timezone.now()
            changes: dict[str, Any] = {"checkpoint": None, "checkpoint_updated": now}
            clean = complete and not (self.failed_before or failed_so_far or outcome.failures)
            if clean and self.incremental is not None and self.high is not None:
                new = self.high if self.cursor is None else states.later(self.cursor, self.high, field=self.incremental.field)
                changes.update(cursor=states.encode_value(new), cursor_updated=now)
                self.cursor = new
            if complete and self.mode == "full" and not self.unconfirmed:
                changes["last_full_sync"] = now
            SyncState.objects.filter(pk=self.state_pk).update(**changes)

        return finish


def _resumable(datasource: Any, mode: str, incremental: Incremental | None) -> bool:
    from .rest import RestDatasource

    if mode == "incremental" and incremental is not None and incremental.param is None:
        return False  # list_changed() is the datasource's own: no positions
    return isinstance(datasource, RestDatasource) and datasource.resumable


def delete_missing(
    context: RunContext,
    model: type[SyncedModel],
    result: SyncResult,
    fail: Callable[[Any, str], None],
    *,
    since: datetime,
    seen: SeenRows | None,
    max_fraction: float,
    confirm: bool,
    batch_size: int,
    max_errors: int,
) -> None:
    """Delete the rows a complete listing did not include, once each is confirmed gone (see ``SyncConfig``).

    ``since`` is when the listing started (an interrupted run's start, when this run resumed it): rows neither
    written since then nor in ``seen`` (the rows it found unchanged) were not in it.
    """
    label = model._meta.label
    config = model.sync_config
    datasource = config.datasource
    ext = model._meta.get_field(config.external_id).attname
    manager = model._base_manager
    seen = seen or SeenRows()
    stale = Q(last_sync_time__lt=since) | Q(last_sync_time__isnull=True)
    total = manager.count()
    rows: list[tuple[Any, Any]] = []
    missing = 0
    for pk, key in manager.filter(stale).order_by().values_list("pk", ext).iterator(chunk_size=10_000):
        if pk not in seen:
            missing += 1
            if missing <= max_fraction * total:
                rows.append((pk, key))
    if not missing:
        return
    if missing > max_fraction * total:
        result.status = "partial"
        message = (
            f"Nothing was deleted: {missing} of the {total} rows of {label} are missing from the listing of "
            f"{datasource}, more than max_delete_fraction={max_fraction:g} allows. An API that answers an empty "
            "or short list by mistake looks like this. If the records really are gone, run "
            f"sync_model({model.__name__}, max_delete_fraction=1.0) once, or raise SyncConfig(max_delete_fraction=...) "
            "or the SYNC_MAX_DELETE_FRACTION setting"
        )
        logger.warning("%s", message)
        result.errors.insert(0, RecordError(None, message))
        del result.errors[max(max_errors, 1):]
        return
    rows.sort(key=lambda row: (row[1] is None, row[1]))
    gone: list[Any] = []
    live: list[Any] = []
    if not confirm:
        gone = [pk for pk, _ in rows]
    else:
        predicate = _record_predicate(datasource)
        for done, (pk, key) in enumerate(rows):
            try:
                record = datasource.get(key)
            except NotFoundError:
                gone.append(pk)
                continue
            except DatasourceError as error:
                # Maybe transient, maybe the API is down: stop asking; the next run tries again.
                error = error.with_context(datasource=datasource, record_id=key)
                result.status = "partial"
                unconfirmed = len(rows) - done
                result.errors.insert(0, RecordError(key, (
                    f"{unconfirmed} of the {len(rows)} rows of {label} missing from the listing were kept: could "
                    f"not confirm with get() that their records are gone: {error}"
                )))
                del result.errors[max(max_errors, 1):]
                break
            if predicate is not None and not predicate(record):
                gone.append(pk)  # it exists, but the datasource's filter leaves it out of the listing
            else:
                live.append(record)
    context.confirmations[model] = seen
    try:
        for start in range(0, len(live), batch_size):
            # Counted in ``kept``, not in created/updated/unchanged: the counts are about the listing.
            for record_id, reason in _write_batch(context, model, live[start : start + batch_size], None).failures:
                fail(record_id, reason)
    finally:
        context.confirmations.pop(model, None)
    result.kept += len(live)
    if live:
        logger.info("%s: %d rows missing from the listing still exist remotely: kept and refreshed", label, len(live))
        if result.failed and result.status == "succeeded":
            result.status = "partial"
    # Seen or written since (fetched as a reference of a refreshed record): it exists after all.
    gone = [pk for pk in gone if pk not in seen]
    for start in range(0, len(gone), 500):
        _, per_model = manager.filter(stale, pk__in=gone[start : start + 500]).delete()
        result.deleted += per_model.get(label, 0)
    if gone:
        context.forget()  # cascades may have removed rows of other models too


def _record_predicate(datasource: Any) -> Callable[[Any], bool] | None:
    """The record filter a ``RestDatasource`` applies to its listing, if any: records it rejects are not listed."""
    from .rest import RestDatasource

    if isinstance(datasource, RestDatasource) and callable(datasource.filter):
        return datasource.filter
    return None


def _listing(datasource: Any, query: dict[str, Any], run: _Run) -> Iterator[tuple[Any, Any]]:
    """Yield ``(record, position)`` for each record of the listing, with an :class:`InvalidResourceError` in
    place of each bad record.

    ``position`` is the checkpoint after that record (``None`` when the listing cannot resume): the page's
    position and how many of its items have been read. The listing starts at ``run.start`` when resuming.

    A resumable ``RestDatasource``'s pages are fetched and parsed in a background thread, up to the
    ``SYNC_PREFETCH_PAGES`` setting ahead of the record being yielded (see :mod:`pyck.core.lookahead`);
    records are deserialised here, in the caller's thread.

    A record that fails deserialisation is skipped only when the datasource lets us go on after it: a plain
    :class:`~pyck.core.rest.RestDatasource` (whose items we deserialise one by one here) or a ``list()``
    returning an iterator that survives the error. A generator that raised is finished, so then the error
    fails the listing.
    """
    from .rest import RestDatasource

    incremental = run.incremental
    if run.mode == "incremental" and incremental is not None and incremental.param is None:
        yield from ((record, None) for record in _generic_listing(datasource, datasource.list_changed(run.since, **query)))
        return
    if isinstance(datasource, RestDatasource) and type(datasource).list is RestDatasource.list:
        url = datasource.redact(datasource.url)
        resumable = datasource.resumable
        if resumable:
            start_page, skip = (run.start["page"], run.start["index"]) if run.start else (None, 0)
            depth = pyck_settings.SYNC_PREFETCH_PAGES
            if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
                raise ConfigurationError(
                    f"The SYNC_PREFETCH_PAGES setting must be a whole number, 0 or more (0: off), got {depth!r}."
                )
            # The next pages are fetched and parsed in another thread while this one writes the current batch.
            pages = prefetch(datasource.walk(start_page, **query), depth, name=f"pyck-prefetch {run.label}")
        else:
            start_page, skip, pages = None, 0, ((None, [item]) for item in datasource.paginate(**query))
        to_record = _plain_deserializer(datasource)
        for page_position, items in pages:
            for index, item in enumerate(items[skip:], start=skip):
                position = {"page": page_position, "index": index + 1} if resumable else None
                try:
                    if to_record is None:
                        record = datasource.deserialize_record(item, url=url, record_id=datasource.get_raw_id(item))
                    else:
                        record = to_record(item)
                except _DESERIALISING_ERRORS as error:
                    record = _explained(datasource, item, url, error, again=to_record is not None)
                    if isinstance(record, InvalidResourceError):
                        yield record, position
                        continue
                if datasource.filter is None or datasource.filter(record):
                    yield record, position
            skip = 0
        return
    yield from ((record, None) for record in _generic_listing(datasource, datasource.list(**query)))


# What RestDatasource.deserialize_record turns into an InvalidResourceError (anything else propagates).
_DESERIALISING_ERRORS = (InvalidResourceError, *NOT_DESERIALISABLE)


def _plain_deserializer(datasource: Any) -> Callable[[Any], Any] | None:
    """The function turning one item into a record as ``datasource.deserialize_record`` does when it succeeds,
    without that method's frame and the raw id it reads for an error that rarely comes (``None`` when the
    datasource overrides ``deserialize_record``: then that method is called for each item)."""
    from .records import deserializer_for
    from .rest import RestDatasource

    cls = type(datasource)
    if cls.deserialize_record is not RestDatasource.deserialize_record:
        return None
    if cls.deserialize is not RestDatasource.deserialize:
        return datasource.deserialize
    return deserializer_for(datasource.resource_type, camel_case=datasource.camel_case)


def _explained(datasource: Any, item: Any, url: str, error: Exception, *, again: bool) -> Any:
    """What ``deserialize_record`` makes of an item that raised ``error``: the error naming the datasource, the
    page and the record (or, should a second try succeed, the record). ``again``: ``error`` came from the plain
    deserialiser, so ``deserialize_record`` is asked; otherwise it came from that method already."""
    if not again:
        if isinstance(error, InvalidResourceError):
            return error
        raise error
    try:
        return datasource.deserialize_record(item, url=url, record_id=datasource.get_raw_id(item))
    except InvalidResourceError as explained:
        return explained


def _generic_listing(datasource: Any, iterable: Iterable[Any]) -> Iterator[Any]:
    iterator = iter(iterable)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except InvalidResourceError as error:
            if inspect.isgenerator(iterator):
                raise  # a generator that raised is finished: the rest of the listing is lost
            yield error.with_context(datasource=datasource)


def _apply(result: SyncResult, outcome: _Outcome, fail: Callable[[Any, str], None]) -> None:
    result.created += outcome.created
    result.updated += outcome.updated
    result.unchanged += outcome.unchanged
    for record_id, reason in outcome.failures:
        fail(record_id, reason)


# A listed record's extra column values: none (upsert only reads them).
_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


def _write_batch(
    context: RunContext, model: type[SyncedModel], batch: list[Any], on_write: Callable[[_Outcome], None] | None
) -> _Outcome:
    """Write one batch in one transaction; on a database error redo it row by row to isolate the culprits.

    ``on_write(outcome)`` runs inside the same transaction, after the rows: the run's state (checkpoint,
    cursor) commits with the data it describes, or not at all.
    """
    stamp = timezone.now()
    if not batch:
        if on_write is not None:
            with transaction.atomic():
                on_write(_Outcome())
        return _Outcome()
    try:
        with transaction.atomic():
            outcome = upsert(context, model, [(resource, _NO_EXTRA) for resource in batch], stamp=stamp)
            if on_write is not None:
                on_write(outcome)
            return outcome
    except (DatabaseError, SyncError) as error:
        context.forget()  # rows its id maps learnt were rolled back
        reason = http.redact_secrets(str(error), model.sync_config.datasource)
        logger.warning("%s: a batch of %d failed (%s); retrying it record by record", model._meta.label, len(batch), reason)
    finally:
        context.pending.clear()
    return _write_row_by_row(context, model, batch, stamp, on_write)


def _write_row_by_row(
    context: RunContext, model: type[SyncedModel], batch: list[Any], stamp: datetime, on_write: Callable[[_Outcome], None] | None
) -> _Outcome:
    total = _Outcome()
    datasource = model.sync_config.datasource
    tables = sorted({m._meta.db_table for m in _related_models(model)})
    with transaction.atomic():
        for resource in batch:
            try:
                with transaction.atomic():
                    outcome = upsert(context, model, [(resource, _NO_EXTRA)], stamp=stamp)
                    # Foreign keys are deferred to the commit: check them now, while a savepoint can undo this row.
                    connection.check_constraints(table_names=tables)
            except (DatabaseError, SyncError) as error:
                context.forget()
                try:
                    record_id = datasource.get_id(resource)
                except Exception:
                    record_id = None
                total.failures.append((record_id, f"the database refused it: {error}"))
                continue
            finally:
                context.pending.clear()
            total.created += outcome.created
            total.updated += outcome.updated
            total.unchanged += outcome.unchanged
            total.stamped += outcome.stamped
            total.failures.extend(outcome.failures)
        if on_write is not None:
            on_write(total)
    return total


def _related_models(model: type[Any], seen: set[type[Any]] | None = None) -> set[type[Any]]:
    seen = seen if seen is not None else set()
    if model in seen:
        return seen
    seen.add(model)
    for f in model._meta.get_fields():
        if f.is_relation and f.related_model is not None and hasattr(f.related_model, "sync_config"):
            _related_models(f.related_model, seen)
        through = getattr(getattr(f, "remote_field", None), "through", None)
        if f.many_to_many and through is not None and not isinstance(through, str):
            seen.add(through)
    return seen


def jsonable(value: Any) -> Any:
    """``value`` as JSON that every database stores: other types as text, and ids that JSON cannot hold (NaN,
    infinities) or that PostgreSQL's jsonb refuses (text with NUL characters or lone surrogates) as their repr."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    text = value if isinstance(value, str) else str(value)
    return text if storable(text) is text else repr(text)


def storable(text: str) -> str:
    """``text``, with NUL characters and lone surrogates escaped (PostgreSQL refuses them in text and JSON)."""
    if "\x00" not in text:
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _quote(value: Any, limit: int = 100) -> str:
    """``repr(value)``, shortened: a remote id may be any length, and error messages are stored and searched."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 25]}...({len(text)} characters)"
