"""Rows of a synced model that share an external id: how a run reports them (`report_duplicates`), and how they
are merged into one (`merge_duplicates`, the command `manage.py pyck_merge_duplicates`).

A model without a unique constraint on its external id cannot refuse a second row for the same record. pyck's
own writers never make one (one sync of a model at a time, see `pyck.core.models.leases.SyncLease`; pushes
take turns with them batch by batch, see `locks`), but rows written before that, by hand or by other code
may. A sync then updates one row of the id and leaves the others as they were; it says so in its result, its
log and its `SyncRun` (a `"duplicated"` `SyncWarning`). Merging keeps one row per id (the one synced most recently), points every foreign key
and many-to-many link of other rows at it, and deletes the others.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.db import IntegrityError, models, transaction
from django.db.models import Count, F, ProtectedError, RestrictedError

from ..models.leases import SyncLease
from ..models.synced import SyncedModel
from .context import RunContext
from .locks import lock_writes
from .results import SyncResult, note, warn

__all__ = ["Duplicates", "MergeReport", "find_duplicates", "merge_duplicates", "report_duplicates"]

logger = logging.getLogger("pyck.sync")

# How many duplicated ids a message quotes.
_QUOTED = 5


def report_duplicates(context: RunContext, result: SyncResult) -> None:
    """Say which models the run found several rows of one external id in, then forget them: a `"duplicated"`
    `SyncWarning` per model in `result.warnings` (the run's `SyncRun` keeps them, and they are logged when it
    ends), and a note quoting some of the ids and the command that merges them, logged as a warning."""
    for model, keys in context.duplicates.items():
        label = model._meta.label
        count = context.duplicate_counts.get(model, len(keys))
        warn(result, ("duplicated", label, model.sync_config.external_id), count)
        quoted = ", ".join(repr(key) for key in sorted(keys, key=repr)[:_QUOTED])
        more = ", ..." if count > _QUOTED else ""
        note(
            result,
            f"{label}: {count} external id{'s have' if count != 1 else ' has'} more than one row ({quoted}{more}): a "
            "sync updates one row of each and leaves the others as they were. Merge them with `python manage.py "
            f"pyck_merge_duplicates {label}` (a dry run; add --apply to merge)",
            level=logging.WARNING,
        )
    context.duplicates.clear()
    context.duplicate_counts.clear()


@dataclass
class Duplicates:
    """The rows of one external id: the one kept, and the others, merged into it."""

    external_id: Any
    kept: Any
    """The primary key of the row kept: the one synced most recently (`last_sync_time`), then the lowest."""
    merged: list[Any]
    """The primary keys of the other rows."""
    kept_synced: datetime | None = None


@dataclass
class MergeReport:
    """What `merge_duplicates` found, and did (`applied`) or would do."""

    model: str
    groups: list[Duplicates] = field(default_factory=list)
    references: dict[str, int] = field(default_factory=dict)
    """Rows of other models (`"app.Model.field"`) pointing at a row merged away: pointed at the row kept."""
    deleted: int = 0
    """Rows merged away (deleted), when applied."""
    skipped: list[tuple[Any, str]] = field(default_factory=list)
    """The external ids whose rows could not be merged, and why (a one-to-one relation already taken)."""
    applied: bool = False


def find_duplicates(model: type[SyncedModel]) -> list[Duplicates]:
    """Return the external ids of `model` that have more than one row, with the row each keeps.

    Rows without an external id (`NULL`) are not duplicates of one another.
    """
    ext = model._meta.get_field(model.sync_config.external_id).attname
    manager = model._base_manager
    ids = manager.exclude(**{f"{ext}__isnull": True}).order_by().values(ext).annotate(n=Count("pk")).filter(n__gt=1)
    rows = (
        manager.filter(**{f"{ext}__in": ids.values(ext)})
        .order_by(ext, F("last_sync_time").desc(nulls_last=True), "pk")
        .values_list(ext, "pk", "last_sync_time")
    )
    groups = []
    for key, group in itertools.groupby(rows.iterator(), key=lambda row: row[0]):
        (_, kept, synced), *others = group
        groups.append(Duplicates(key, kept, [pk for _, pk, _ in others], synced))
    return groups


def merge_duplicates(model: type[SyncedModel], *, apply: bool = False, wait: float | timedelta = 0) -> MergeReport:
    """Find the rows of `model` that share an external id and, with `apply`, merge each id's rows into one.

    The row kept is the one synced most recently (then the lowest primary key). Every foreign key of any
    model pointing at another row of the id, and every many-to-many link to it, is pointed at the row kept
    (a link the row kept has already is dropped); then the other rows are deleted, with their own
    many-to-many links. Their local-only columns are lost: the dry run lists the rows. A one-to-one relation
    that the row kept has already leaves that id's rows as they are (in `skipped`). Generic foreign keys
    are not followed.

    With `apply`, it all happens in one transaction, under the model's sync lease (no sync of the model runs
    meanwhile) and, on PostgreSQL, its write lock (pushes wait for it batch by batch). Without, nothing is
    changed: the report says what would be.

    Args:
        model: a concrete `SyncedModel`.
        apply: merge; `False` (the default) only reports.
        wait: seconds to wait for a sync of the model running now (see `SyncLease`).

    Raises:
        SyncInProgressError: with `apply`, a sync of the model held its lease for longer than `wait`.
    """
    report = MergeReport(model=model._meta.label, applied=apply)
    pointers = _pointers(model)
    if not apply:
        report.groups = find_duplicates(model)
        merged = [pk for group in report.groups for pk in group.merged]
        for pointer in pointers:
            values = _targets(model, pointer.target, merged)
            if values:
                count = pointer.rows(list(values.values())).count()
                if count:
                    report.references[pointer.name] = count
        return report
    with SyncLease(model, kind="merge", wait=wait, record_run=False), transaction.atomic():
        lock_writes(model)
        report.groups = find_duplicates(model)
        for group in report.groups:
            try:
                with transaction.atomic():
                    counts = _merge(model, group, pointers)
            except (IntegrityError, ProtectedError, RestrictedError) as error:
                report.skipped.append((group.external_id, f"{error}".strip().splitlines()[0]))
                continue
            for name, count in counts.items():
                report.references[name] = report.references.get(name, 0) + count
            report.deleted += len(group.merged)
    for key, why in report.skipped:
        logger.warning("%s: the rows of external id %r were not merged: %s", report.model, key, why)
    logger.info("%s: %d duplicated rows merged away, %d ids left as they were", report.model, report.deleted, len(report.skipped))
    return report


@dataclass(frozen=True)
class _Pointer:
    """A foreign key of some model (one-to-one included, many-to-many tables too) pointing at the merged model."""

    relation: models.Field[Any, Any]
    target: models.Field[Any, Any]
    """The field of the merged model it points at (its primary key, or its `to_field`)."""
    links: bool
    """Whether its model is the table of a many-to-many field: a link the row kept has already is dropped."""

    @property
    def name(self) -> str:
        return f"{self.relation.model._meta.label}.{self.relation.name}"

    def rows(self, values: list[Any]) -> Any:
        return self.relation.model._base_manager.filter(**{f"{self.relation.attname}__in": values})


def _pointers(model: type[models.Model]) -> list[_Pointer]:
    """The foreign keys of every installed model that point at `model`, but the sides of `model`'s own
    many-to-many tables naming the row linking (its links are its own data, deleted with it)."""
    concrete = model._meta.concrete_model
    own = {(m2m.remote_field.through, m2m.m2m_field_name()) for m2m in model._meta.many_to_many}
    throughs = {m2m.remote_field.through for other in apps.get_models() for m2m in other._meta.many_to_many}
    found = []
    for other in apps.get_models(include_auto_created=True):
        if other._meta.proxy:
            continue
        for relation in other._meta.local_concrete_fields:
            related = relation.related_model if relation.is_relation else None
            if not (isinstance(related, type) and related._meta.concrete_model is concrete):
                continue
            if (other, relation.name) not in own:
                found.append(_Pointer(relation, relation.target_field, other in throughs))
    return found


def _targets(model: type[models.Model], target: models.Field[Any, Any], pks: list[Any]) -> dict[Any, Any]:
    """`{pk: value of target}` for the rows `pks` of `model`."""
    if not pks:
        return {}
    if target.primary_key:
        return {pk: pk for pk in pks}
    return dict(model._base_manager.filter(pk__in=pks).values_list("pk", target.attname))


def _merge(model: type[models.Model], group: Duplicates, pointers: list[_Pointer]) -> dict[str, int]:
    """Point the references to `group`'s other rows at the row it keeps, then delete those rows; return the
    references moved, by relation."""
    counts: dict[str, int] = {}
    for pointer in pointers:
        values = _targets(model, pointer.target, [group.kept, *group.merged])
        kept, merged = values.get(group.kept), [values[pk] for pk in group.merged if pk in values]
        rows = pointer.rows(merged)
        moved = _move_links(rows, pointer.relation, kept) if pointer.links else rows.update(**{pointer.relation.attname: kept})
        if moved:
            counts[pointer.name] = moved
    model._base_manager.filter(pk__in=group.merged).delete()
    return counts


def _move_links(rows: Any, relation: models.Field[Any, Any], kept: Any) -> int:
    """Point the link rows `rows` at `kept` one by one; a link `kept` has already is deleted instead."""
    moved = 0
    for pk in list(rows.values_list("pk", flat=True)):
        try:
            with transaction.atomic():
                moved += relation.model._base_manager.filter(pk=pk).update(**{relation.attname: kept})
        except IntegrityError:
            relation.model._base_manager.filter(pk=pk).delete()
    return moved
