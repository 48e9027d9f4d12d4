"""Deleting what a complete listing did not include: `delete_missing`, each row confirmed gone with the
datasource's `get()` first, within `SyncConfig.max_delete_fraction`.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Q

from ..exceptions import DatasourceError, NotFoundError
from ..models.runs import SyncStatus
from ..models.synced import SyncedModel
from ..options import RunOptions, SyncConfig
from .batches import write_batch
from .changes import delete_rows
from .context import RunContext, SeenRows
from .locks import lock_writes
from .plan import RecordFailure, get_plan
from .results import RecordError, SyncResult, warn

__all__ = ["delete_ids", "delete_missing", "delete_options", "deletion_arguments", "nothing_deleted"]

logger = logging.getLogger("pyck.sync")


def deletion_arguments(options: RunOptions) -> dict[str, Any]:
    """The keyword arguments of `delete_missing` for a run with `options`."""
    return {
        "max_fraction": options.max_delete_fraction,
        "confirm": options.confirm_delete,
        "batch_size": options.batch_size,
        "max_errors": options.max_errors,
    }


def delete_options(config: SyncConfig, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of `delete_missing` for a model with `config`, and the `sync_model()` `overrides`."""
    return deletion_arguments(RunOptions.from_config(config, **overrides))


def delete_missing(
    context: RunContext,
    model: type[SyncedModel],
    result: SyncResult,
    fail: Callable[[Any, str], None],
    *,
    since: datetime,
    seen: SeenRows | None,
    keep: set[Any] | frozenset[Any] = frozenset(),
    max_fraction: float,
    confirm: bool,
    batch_size: int,
    max_errors: int,
    spare: Q | None = None,
) -> None:
    """Delete the rows a complete listing did not include, once each is confirmed gone (see `SyncConfig`).

    `since` is when the listing started (an interrupted run's start, when this run resumed it): rows neither
    written since then nor in `seen` (the rows it found unchanged) were not in it. `keep` holds the external
    ids (the column's type) of the records that failed in the listing: their rows were in it, and are left
    as they were (not counted as missing, not asked about with `get()`, not refreshed). Rows matching `spare`
    are left alone too (a child listing's rows under parents whose listing did not complete).
    """
    label = model._meta.label
    config = model.sync_config
    datasource = config.datasource
    ext = model._meta.get_field(config.external_id).attname
    manager = model._base_manager
    seen = seen or SeenRows()
    stale = Q(last_sync_time__lt=since) | Q(last_sync_time__isnull=True)
    if spare is not None:
        stale &= ~spare
    total = manager.count()
    rows: list[tuple[Any, Any]] = []
    missing = 0
    duplicated = context.duplicates.get(model, set())
    held_back: dict[Any, list[Any]] = {}
    failed_rows = 0
    for pk, key in manager.filter(stale).order_by().values_list("pk", ext).iterator(chunk_size=10_000):
        if pk in seen:
            continue
        if key in keep:
            failed_rows += 1
            continue
        if key in duplicated:
            held_back.setdefault(key, []).append(pk)
            continue
        missing += 1
        if missing <= max_fraction * total:
            rows.append((pk, key))
    for pk, key in _unlisted(manager, ext, held_back):
        missing += 1
        if missing <= max_fraction * total:
            rows.append((pk, key))
    warn(result, ("failed_kept", label, None), failed_rows)
    if not missing:
        return
    if missing > max_fraction * total:
        result.status = SyncStatus.PARTIAL
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
        for done, (pk, key) in enumerate(rows):
            try:
                record = datasource.get(key)
            except NotFoundError:
                gone.append(pk)
                continue
            except DatasourceError as error:
                # Maybe transient, maybe the API is down: stop asking; the next run tries again.
                error = error.with_context(datasource=datasource, record_id=key)
                result.status = SyncStatus.PARTIAL
                unconfirmed = len(rows) - done
                result.errors.insert(0, RecordError(key, (
                    f"{unconfirmed} of the {len(rows)} rows of {label} missing from the listing were kept: could "
                    f"not confirm with get() that their records are gone: {error}"
                )))
                del result.errors[max(max_errors, 1):]
                break
            if not datasource.includes(record):
                gone.append(pk)  # it exists, but the datasource's filter leaves it out of the listing
            else:
                live.append(record)
    context.confirmations[model] = seen
    try:
        for start in range(0, len(live), batch_size):
            # Counted in ``kept``, not in created/updated/unchanged: the counts are about the listing.
            for record_id, reason in write_batch(context, model, live[start : start + batch_size], None).failures:
                fail(record_id, reason)
    finally:
        context.confirmations.pop(model, None)
    result.kept += len(live)
    warn(result, ("kept", label, None), len(live))  # logged with the run's other warnings
    if live:
        if result.failed and result.status == SyncStatus.SUCCEEDED:
            result.status = SyncStatus.PARTIAL
    # Seen or written since (fetched as a reference of a refreshed record): it exists after all.
    gone = [pk for pk in gone if pk not in seen]
    for start in range(0, len(gone), 500):
        per_model = delete_rows(manager.filter(stale, pk__in=gone[start : start + 500]))
        result.deleted += per_model.get(label, 0)
    if gone:
        context.forget()  # cascades may have removed rows of other models too
    if failed_rows:
        logger.info(
            "%s: deleted %d rows missing from the listing; kept the %d rows whose records failed in it",
            label, result.deleted, failed_rows,
        )



def delete_ids(model: type[SyncedModel], ids: list[Any], result: SyncResult, fail: Callable[[Any, str], None], size: int) -> None:
    """Delete the rows of `model` whose external ids are `ids` (as records carry them: `apply_records(deleted=...)`,
    the `Deleted` markers of a listing), `size` ids per transaction, each under the write lock; count them in
    `result.deleted`, and fail the ids the external id column cannot hold. An id with no row is ignored."""
    plan = get_plan(model)
    key_of = plan.key_function()
    keys: dict[Any, None] = {}
    for raw_id in ids:
        try:
            keys[key_of(raw_id)] = None
        except (RecordFailure, AttributeError, KeyError, TypeError) as error:
            fail(raw_id, f"cannot read its id ({error})")
    manager = model._base_manager
    ext = plan.external_id.attname
    label = model._meta.label
    pending = list(keys)
    for start in range(0, len(pending), size):
        with transaction.atomic():
            lock_writes(model)
            per_model = delete_rows(manager.filter(**{f"{ext}__in": pending[start : start + size]}))
        result.deleted += per_model.get(label, 0)

def nothing_deleted(result: SyncResult, label: str, why: str, max_errors: int) -> None:
    """Say, in `result`'s errors and the log, that nothing was deleted after a complete listing, and `why`."""
    message = f"{label}: nothing deleted: {why}"
    logger.warning("%s", message)
    result.status = SyncStatus.PARTIAL
    result.errors.insert(0, RecordError(None, message))
    del result.errors[max(max_errors, 1):]


def _unlisted(manager: Any, ext: str, held_back: dict[Any, list[Any]]) -> list[tuple[Any, Any]]:
    """The rows of `held_back` (external id -> rows neither found unchanged nor written by the listing, for ids
    that have several rows) whose id the listing did not include: all the rows of their id are there.

    The others are extra rows of an id the listing included: its record exists, and `get()` could say no more;
    they are left alone (the run reports them, see `duplicates.report_duplicates`).
    """
    if not held_back:
        return []
    counts = dict(manager.filter(**{f"{ext}__in": list(held_back)}).order_by().values_list(ext).annotate(n=Count("pk")))
    return [(pk, key) for key, pks in held_back.items() if counts.get(key) == len(pks) for pk in pks]
