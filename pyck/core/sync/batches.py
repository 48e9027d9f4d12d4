"""Writing one batch: `write_batch` upserts it in one transaction, and redoes it row by row, each row under a
savepoint, when the database refuses it, so that only the culprits are lost.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from .. import http
from ..exceptions import SyncError
from ..models.synced import SyncedModel
from ..signals import batch_written
from .changes import announce, mark, undo
from .context import RunContext
from .locks import lock_writes
from .upsert import Outcome, upsert

__all__ = ["write_batch"]

logger = logging.getLogger("pyck.sync")

# A listed record's extra column values: none (upsert only reads them).
_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})

# A record and its extra column values, as upsert() takes them.
_Item = tuple[Any, Mapping[str, Any]]


def write_batch(
    context: RunContext,
    model: type[SyncedModel],
    batch: list[Any],
    on_write: Callable[[Outcome], None] | None,
    extras: Sequence[Mapping[str, Any]] | None = None,
) -> Outcome:
    """Write one batch in one transaction; on a database error redo it row by row to isolate the culprits.

    `extras`: for each record of `batch`, column values written with it that it does not carry (a child
    listing's parent, see `SyncConfig.for_each`); `None`: none.

    `on_write(outcome)` runs inside the same transaction, after the rows: the run's state (checkpoint,
    cursor) commits with the data it describes, or not at all. In a `concurrent` context each transaction first
    takes the write lock of the models the batch may write (see `locks.lock_writes`). Once the transaction has
    ended, the `records_changed` signal is sent (after the commit) and then the `batch_written` signal.
    """
    items = [(resource, _NO_EXTRA) for resource in batch] if extras is None else list(zip(batch, extras, strict=True))
    outcome = _write(context, model, items, on_write)
    announce(context)
    batch_written.send(sender=model, records=len(batch))
    return outcome


def _write(
    context: RunContext, model: type[SyncedModel], batch: list[_Item], on_write: Callable[[Outcome], None] | None
) -> Outcome:
    stamp = timezone.now()
    if not batch:
        if on_write is not None:
            with transaction.atomic():
                on_write(Outcome())
        return Outcome()
    position = mark(context)
    try:
        with transaction.atomic():
            if context.concurrent:
                lock_writes(model)
            outcome = upsert(context, model, batch, stamp=stamp)
            if on_write is not None:
                on_write(outcome)
            return outcome
    except (DatabaseError, SyncError) as error:
        context.forget()  # rows its id maps learnt were rolled back
        undo(context, position)
        reason = http.redact_secrets(str(error), model.sync_config.datasource)
        logger.warning("%s: a batch of %d failed (%s); retrying it record by record", model._meta.label, len(batch), reason)
    finally:
        context.pending.clear()
    return _write_row_by_row(context, model, batch, stamp, on_write)


def _write_row_by_row(
    context: RunContext, model: type[SyncedModel], batch: list[_Item], stamp: datetime, on_write: Callable[[Outcome], None] | None
) -> Outcome:
    total = Outcome()
    tables = sorted({m._meta.db_table for m in _related_models(model)})
    with transaction.atomic():
        if context.concurrent:
            lock_writes(model)  # here, not under a savepoint: rolling one back would release it
        _write_group(context, model, batch, stamp, tables, total)
        if on_write is not None:
            on_write(total)
    return total


def _write_group(
    context: RunContext,
    model: type[SyncedModel],
    records: list[_Item],
    stamp: datetime,
    tables: list[str],
    total: Outcome,
) -> None:
    """Write `records` one at a time, each under a savepoint, so that a record the database refuses fails alone;
    then check the foreign keys of the tables written once for them all, and add what was written to `total`.

    Foreign keys are deferred to the commit, and checking them costs a scan of every table on SQLite (`PRAGMA
    foreign_key_check`): once per group, not once per record. When the check fails, the group is undone and
    each half written the same way, down to the records that break a foreign key, which fail.
    """
    group = Outcome()
    position = mark(context)
    try:
        with transaction.atomic():
            for item in records:
                _write_record(context, model, item, stamp, group)
            connection.check_constraints(table_names=tables)
    except (DatabaseError, SyncError) as error:
        context.forget()  # rows its id maps learnt were rolled back
        undo(context, position)
        if len(records) == 1:
            total.failures.append((_record_id(model, records[0][0]), f"the database refused it: {error}"))
            return
        middle = len(records) // 2
        _write_group(context, model, records[:middle], stamp, tables, total)
        _write_group(context, model, records[middle:], stamp, tables, total)
        return
    total.add(group)


def _write_record(
    context: RunContext, model: type[SyncedModel], item: _Item, stamp: datetime, group: Outcome
) -> None:
    """Write one record under a savepoint; add its counts to `group`, or its failure when the database refuses it."""
    position = mark(context)
    try:
        with transaction.atomic():
            outcome = upsert(context, model, [item], stamp=stamp)
    except (DatabaseError, SyncError) as error:
        context.forget()
        undo(context, position)
        group.failures.append((_record_id(model, item[0]), f"the database refused it: {error}"))
        return
    finally:
        context.pending.clear()
    group.add(outcome)


def _record_id(model: type[SyncedModel], resource: Any) -> Any:
    try:
        return model.sync_config.datasource.get_id(resource)
    except Exception:
        return None


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

