"""Records pushed to pyck (a webhook's one record, a burst of thousands): `apply_records` writes them through the
batches a listing sync writes, and deletes the rows whose external ids it is given.

Part of the sync engine; the docs page "How a sync works" describes the whole, and the guide page "Records
pushed to you (webhooks)" how to use it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from django.utils import timezone

from ..exceptions import ConfigurationError
from ..models.runs import SyncRun, SyncStatus
from ..models.synced import SyncedModel
from ..signals import sync_started
from .batches import write_batch
from .bulk import max_parameters
from .context import RunContext
from .deletion import delete_ids
from .duplicates import report_duplicates
from .history import finish_run, record_outcome
from .locks import mark_pushed
from .results import RecordError, SyncResult, add_outcome, copy_result, record_failer
from .upsert import Outcome

__all__ = ["apply_records"]


def apply_records(model: type[SyncedModel], records: Iterable[Any], *, deleted: Iterable[Any] = ()) -> SyncResult:
    """Write `records` into `model` as a sync writes the records of its listing, delete the rows whose external
    ids are in `deleted`, record a `SyncRun` with mode `"push"` and return the result.

    For records that did not come from the datasource's listing: a webhook's payload, a burst of changes
    delivered some other way. Each record goes through the model's `SyncConfig` as in a sync (`field_map`,
    foreign keys, many-to-many and inverse relations, references not stored yet fetched once with the related
    datasource's `get()`, embedded records through the related model's own mapping); local-only columns are
    not touched and unchanged rows are not written. The records are written in batches of
    `SyncConfig.batch_size`, each in one transaction, through the same code as a listing's batches.

    The rows whose ids are in `deleted` are deleted after the records are written, whatever
    `SyncConfig.on_delete` says: that option is about rows missing from a listing, and these ids were named
    explicitly. The foreign keys pointing at them apply their own `on_delete`. An id with no row is ignored.

    A push does not apply the datasource's `filter`, and leaves the incremental cursor and the checkpoint of
    the model's listing alone. The `sync_started` and `sync_finished` signals are sent as for a sync. On
    PostgreSQL, processes pushing to the same model at once (and the syncs of a model that receives pushes)
    take turns batch by batch, so that no record is stored twice (this needs the `READ COMMITTED` isolation
    level, Django's default).

    Args:
        model: a concrete `SyncedModel`.
        records: resource objects of the model's datasource `resource_type`, in any iterable (read batch by
            batch: a generator is never held whole).
        deleted: the external ids of records that are gone; they are converted as the records' ids are.

    Returns:
        The push's `SyncResult`, with `mode="push"`. The records that could not be written are counted in
            `failed` and described, with their ids, in `errors`; the others are written.

    Raises:
        ConfigurationError: `model` is not a concrete `SyncedModel`.
        TypeError: `records` or `deleted` is not an iterable of records or ids (a lone record, a dict, a
            string).
    """
    if not (isinstance(model, type) and issubclass(model, SyncedModel)) or model._meta.abstract:
        raise ConfigurationError(f"apply_records(): expected a concrete SyncedModel subclass, got {model!r}.")
    config = model.sync_config
    datasource = config.datasource
    _check_iterable("records", records, datasource.resource_type)
    _check_iterable("deleted", deleted, datasource.resource_type)
    ids = list(deleted)
    label = model._meta.label
    # A batch's rows are looked up and written with one query parameter each: within the database's limit.
    batch_size = min(config.get_batch_size(), max_parameters(model))
    # Other processes may write the model meanwhile: a reference another one stored is looked up again, and
    # a push touches few of a table's rows, so the table's whole id map is not worth loading.
    context = RunContext(concurrent=True, load_id_maps=False)

    clock = time.perf_counter()
    result = SyncResult(model=label, started=timezone.now(), mode=SyncRun.Mode.PUSH.value)
    sync_run = SyncRun.objects.create(model=label, started=result.started, partition="", mode=SyncRun.Mode.PUSH, resumed=False)
    sync_started.send(sender=model)
    fail = record_failer(result, config.max_errors, label, datasource)
    unexpected: BaseException | None = None
    # The outcome written with the last batch, in its transaction (a flush to disk fewer), if it was.
    recorded: dict[str, Any] | None = None

    def end(outcome: Outcome) -> None:
        nonlocal recorded
        ending = copy_result(result)
        add_outcome(ending, outcome, record_failer(ending, config.max_errors, label, datasource))
        ending.status = SyncStatus.PARTIAL if ending.failed else SyncStatus.SUCCEEDED
        recorded = record_outcome(sync_run.pk, ending, datasource, clock)

    try:
        mark_pushed(model)
        for batch, last in _batches(records, batch_size):
            add_outcome(result, write_batch(context, model, batch, end if last and not ids else None), fail)
        if ids:
            delete_ids(model, ids, result, fail, batch_size)
        result.status = SyncStatus.PARTIAL if result.failed else SyncStatus.SUCCEEDED
    except BaseException as error:
        result.status = SyncStatus.FAILED
        result.errors.insert(0, RecordError(None, f"The push to {label} crashed: {error!r}"))
        del result.errors[max(config.max_errors, 1):]
        unexpected = error

    report_duplicates(context, result)
    refused = finish_run(model, sync_run.pk, result, datasource, clock, recorded)
    unexpected = unexpected or refused
    if unexpected is not None:
        raise unexpected
    return result


def _check_iterable(name: str, value: Any, resource_type: Any) -> None:
    """Refuse what is not an iterable of records or ids: a mistake that would otherwise write garbage quietly (a
    string is an iterable of characters, a dict of its keys)."""
    lone = isinstance(resource_type, type) and isinstance(value, resource_type)
    if lone or isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(
            f"apply_records({name}=...): expected an iterable (a list, a generator) of "
            f"{'records' if name == 'records' else 'external ids'}, got {type(value).__name__} {value!r:.100}; "
            f"for one, pass [{'record' if name == 'records' else 'id'}]."
        )


def _batches(records: Iterable[Any], size: int) -> Iterator[tuple[list[Any], bool]]:
    """The records in lists of `size`, each with whether it is the last one (read one batch ahead)."""
    iterator = iter(records)
    batch = list(islice(iterator, size))
    while batch:
        following = list(islice(iterator, size))
        yield batch, not following
        batch = following


