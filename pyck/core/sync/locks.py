"""The write lock: on PostgreSQL, the batches of writers that may run at the same time (pushes, and the listings
of models that pushes write) take turns, model by model, so that two of them never both insert a row with the
same external id.

`lock_writes` takes it at the start of a batch's transaction; `mark_pushed` notes durably, on the
`SyncState` rows, that pushes write a model (the first time, after the syncs already running that write it
have ended: they read the rows before); `load_state` reads a listing's `SyncState` row and tells it whether
its batches must take the lock.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

import hashlib
import logging

from django.db import IntegrityError, connection, models, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..exceptions import ConfigurationError
from ..models import registry
from ..models.cron import CronTask
from ..models.leases import SYNC_PREFIX, describe_holder, free_lease, held_here, wait_for_release
from ..models.runs import SyncRun
from ..models.state import SyncState
from .attributes import resource_attributes
from .plan import get_plan, reverse_relations

__all__ = ["load_state", "lock_writes", "mark_pushed", "wait_for_listings", "writable_models"]

logger = logging.getLogger("pyck.sync")

# Locks the keys in ascending order, all in one statement: two writers that need several cannot deadlock.
_LOCK = "SELECT pg_advisory_xact_lock(k) FROM (SELECT k FROM unnest(%s::bigint[]) AS k ORDER BY k) AS keys"

_keys: dict[type[models.Model], int] = {}


def writable_models(model: type[models.Model]) -> list[type[models.Model]]:
    """`model` and every synced model a batch of it may write rows into: the models its plan's foreign keys,
    many-to-many fields and inverse relations point at, and theirs in turn (embedded and fetched records).

    A model whose resource type does not name its attributes (its plan depends on the records) counts every
    model it relates to.
    """
    found: dict[type[models.Model], None] = {}
    todo = [model]
    while todo:
        current = todo.pop()
        if current not in found:
            found[current] = None
            todo.extend(_related(current))
    return list(found)


def _related(model: type[models.Model]) -> list[type[models.Model]]:
    """The synced models `model`'s records may write rows into directly."""
    if resource_attributes(model.sync_config.datasource.resource_type) is not None:  # type: ignore[attr-defined]
        try:
            return [mapping.related for mapping in get_plan(model).mappings if mapping.related is not None]
        except ConfigurationError:
            pass  # the batch will say why; meanwhile, every model it relates to
    related = [
        *(field.related_model for field in model._meta.concrete_fields if field.is_relation),
        *(field.related_model for field in model._meta.many_to_many),
        *(relation.related_model for relation in reverse_relations(model).values()),
    ]
    return [other for other in related if isinstance(other, type) and hasattr(other, "sync_config")]


def lock_writes(model: type[models.Model]) -> None:
    """Wait for, then hold until the current transaction ends, the write lock of every model a batch of `model`
    may write (see `writable_models`).

    Call it before the transaction's first read: under `READ COMMITTED` each statement sees what was committed
    when it started, so only the statements after this one see the rows the previous holder wrote.
    PostgreSQL only (an advisory lock); elsewhere nothing: SQLite writes one transaction at a time anyway.
    """
    if connection.vendor != "postgresql":
        return
    keys = sorted({_key(other) for other in writable_models(model)})
    with connection.cursor() as cursor:
        cursor.execute(_LOCK, [keys])


def _key(model: type[models.Model]) -> int:
    """The advisory lock key of `model`'s table: 64 bits of a hash of its name (a collision only makes two
    unrelated models take turns)."""
    key = _keys.get(model)
    if key is None:
        digest = hashlib.blake2b(b"pyck.write:" + model._meta.db_table.encode(), digest_size=8).digest()
        key = _keys[model] = int.from_bytes(digest, "big", signed=True)
    return key


def mark_pushed(model: type[models.Model]) -> None:
    """Note on the `SyncState` row of each model a push of `model` may write that pushes write it: from then on
    the listings of these models take the write lock too. One query once the rows say so already.

    The first time, a sync already running that writes one of these models read the rows before the mark: its
    batches do not take the lock. The push waits for it to end (see `wait_for_listings`), so that the two never
    write at once; this happens once per model, when pushes start writing it.
    """
    labels = [other._meta.label for other in writable_models(model)]
    marked = set(SyncState.objects.filter(model__in=labels, partition="", pushed=True).values_list("model", flat=True))
    unmarked = [label for label in labels if label not in marked]
    if not unmarked:
        return
    SyncState.objects.filter(model__in=unmarked, partition="").update(pushed=True)
    SyncState.objects.bulk_create(
        [SyncState(model=label, partition="", pushed=True) for label in unmarked], ignore_conflicts=True
    )
    waited = wait_for_listings(model, unmarked)
    running = SyncRun.objects.filter(model__in=unmarked, status=SyncRun.Status.RUNNING).exclude(mode=SyncRun.Mode.PUSH)
    syncing = sorted(set(running.values_list("model", flat=True)) - set(waited))
    if syncing:
        logger.warning(
            "%s: pushes now write %s, but the sync of %s running since before does not take turns with them (the "
            "next syncs will): a record that both write meanwhile may be stored twice",
            model._meta.label, ", ".join(unmarked), ", ".join(syncing),
        )


def wait_for_listings(model: type[models.Model], labels: list[str]) -> list[str]:
    """Wait for the syncs running now (holding their model's sync lease) that may write a model of `labels`;
    return the labels of the models they sync.

    A sync running in this very context (a push made from inside it) is not waited for: it cannot end first.
    """
    now = timezone.now()
    running = (
        CronTask.objects.filter(name__startswith=SYNC_PREFIX, last_status=CronTask.Status.RUNNING)
        .exclude(free_lease(now))
        .values_list("name", "lease_owner")
    )
    waited = []
    for name, owner in running:
        label = name.removeprefix(SYNC_PREFIX)
        try:
            synced = registry.get_model(label)
        except ConfigurationError:
            continue  # a model no longer defined
        written = {other._meta.label for other in writable_models(synced)}
        if held_here(name) is not None or not written & set(labels):
            continue
        logger.warning(
            "%s: the first push to %s waits for the sync of %s that is running (%s): it started before pushes wrote "
            "these models, so it does not take turns with them batch by batch (the next syncs will)",
            model._meta.label, ", ".join(sorted(written & set(labels))), label, describe_holder(owner),
        )
        wait_for_release(name, owner)
        waited.append(label)
    return waited


def load_state(model: type[models.Model], partition: str) -> tuple[SyncState, bool]:
    """Return the `SyncState` row of `model`'s `partition` (created if missing, as `get_or_create` does), and
    whether pushes write any model a batch of `model` may write: then its batches take the write lock.

    The row's `unfinished` attribute says whether a listing run of the model's partition is recorded as
    running (see `history.close_dead_runs`).

    One query, as `get_or_create` makes when the row exists.
    """
    label = model._meta.label
    labels = [other._meta.label for other in writable_models(model)]
    state = None
    pushed = False
    running = SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exclude(mode=SyncRun.Mode.PUSH)
    running_here = running.filter(model=OuterRef("model"), partition=OuterRef("partition"))
    rows = SyncState.objects.filter(Q(model=label, partition=partition) | Q(model__in=labels, partition="", pushed=True))
    for row in rows.annotate(unfinished=Exists(running_here)):
        if row.model == label and row.partition == partition:
            state = row
        pushed = pushed or row.pushed
    if state is None:
        try:
            with transaction.atomic():
                state = SyncState.objects.create(model=label, partition=partition)
        except IntegrityError:
            state = SyncState.objects.get(model=label, partition=partition)
        # A model's first run, or the first since its state was reset: runs from before may still be "running".
        state.unfinished = running.filter(model=label, partition=partition).exists()  # type: ignore[attr-defined]
    return state, pushed

