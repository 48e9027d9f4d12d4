"""Set-based upsert of one batch of resources into one model, relations included: `upsert` and its `Outcome`.

Part of the sync engine; the docs page "How a sync works" describes the whole.

`upsert` is called with the records of one listing batch, and recursively with the embedded or fetched
records they reference. Each call costs a bounded number of queries whatever the batch size: one to load the
existing rows, one insert, one update of the changed rows (every changed column and their `last_sync_time`),
and a few per relation; `.bulk` picks the fastest way each database offers to send them. Rows found
unchanged are not written: the run notes them in memory (`RunContext.confirmations`), or, for a run
whose deletions another process decides, stamps their `last_sync_time`.
"""

from __future__ import annotations

import datetime
import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q

from ..base import has_tombstones
from ..exceptions import ConfigurationError, DatasourceError, NotFoundError, SyncError
from ..records import absent_fields
from . import bulk
from .changes import note
from .context import RunContext
from .links import link_values, write_links
from .lookups import among, is_indexed
from .plan import MISSING, FieldMapping, Plan, RecordFailure, get_plan, is_reference_id, read

__all__ = ["Outcome", "upsert"]

logger = logging.getLogger("pyck.sync")

# Deepest chain of embedded resources followed (a guard against cyclic data).
_MAX_DEPTH = 32


@dataclass
class _Row:
    resource: Any
    raw_id: Any
    key: Any
    extra: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    to_many: dict[str, list[uuid.UUID] | None] = field(default_factory=dict)
    # Per many-to-many field with mapped through columns: the values of each link, by the related row's pk.
    link_values: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=dict)
    existing: dict[str, Any] | None = None
    pk: uuid.UUID | None = None
    error: str | None = None
    # The resource's attributes whose JSON keys were absent (see records.absent_fields): left alone on a row that
    # exists, rather than set to the resource's default.
    absent: frozenset[str] = frozenset()


@dataclass
class Outcome:
    """What an upsert did: pks of the rows written, counts, and the records that failed."""

    pks: dict[Any, uuid.UUID] = field(default_factory=dict)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Rows whose ``last_sync_time`` was stamped although nothing else changed (see ``RunContext.confirmations``).
    stamped: int = 0
    failures: list[tuple[Any, str]] = field(default_factory=list)
    # The ids of the records not written because their row holds a newer version (`SyncConfig.version_field`).
    stale: list[Any] = field(default_factory=list)
    # How many times each (kind, model label, field) of results.SyncWarning happened: references nulled, links
    # left out, fields absent from the listing's records.
    warnings: Counter[tuple[str, str, str | None]] = field(default_factory=Counter)

    def add(self, other: Outcome) -> None:
        """Add `other`'s counts, failures and warnings to this outcome (its `pks` are not carried over)."""
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.stamped += other.stamped
        self.failures.extend(other.failures)
        self.stale.extend(other.stale)
        self.warnings.update(other.warnings)

    @property
    def wrote(self) -> bool:
        """True when the listing's own rows were written (created, changed or stamped), or some failed."""
        return bool(self.created or self.updated or self.stamped or self.failures)


def upsert(
    ctx: RunContext,
    model: type[models.Model],
    items: list[tuple[Any, dict[str, Any]]],
    *,
    stamp: datetime.datetime,
    depth: int = 0,
) -> Outcome:
    """Write `items` (resource, extra column values) into `model`; return what happened.

    The extra column values of the listing's own records (`depth` 0: a child listing's parent, see
    `SyncConfig.for_each`) are written like the values the records carry, on new and existing rows; those of
    embedded records (the parent of a child embedded in an inverse relation) only when the row is created.

    Must run inside a transaction: rows may point at rows of the same batch inserted later in it.
    """
    outcome = Outcome()
    if not items:
        return outcome
    label = model._meta.label
    if depth > _MAX_DEPTH:
        raise SyncError(f"{label}: embedded resources nest deeper than {_MAX_DEPTH} levels; is the data cyclic?")
    plan = get_plan(model, sample=items[0][0])
    datasource = model.sync_config.datasource  # type: ignore[attr-defined]

    rows: dict[Any, _Row] = {}
    # Built once per batch, for the database the router picks now: no router call per value.
    key_of = plan.key_function()
    converters = plan.value_converters()
    one_step = all("." not in source for source, _, _ in converters)
    for resource, extra in items:
        raw_id = None
        try:
            raw_id = datasource.get_id(resource)
            key = key_of(raw_id)
        except (RecordFailure, AttributeError, KeyError, TypeError) as error:
            outcome.failures.append((raw_id, f"cannot read its id ({error})"))
            continue
        if depth and (label, key) in ctx.pending:
            outcome.pks[key] = ctx.pending[(label, key)]
            continue
        row = _Row(resource=resource, raw_id=raw_id, key=key, extra=extra)
        try:
            _read_values(resource, converters, one_step, row.values)
        except RecordFailure as error:
            outcome.failures.append((raw_id, str(error)))
            continue
        if extra and not depth:
            row.values.update(extra)
        absent = absent_fields(resource)
        if absent:
            row.absent = absent
        if not depth and (absent or (len(row.values) < len(converters) and isinstance(resource, dict))):
            _count_absent(plan, row, outcome)
        rows.pop(key, None)  # a record listed twice: the later one wins
        rows[key] = row

    # The columns of the listing's extra values, compared with the rows' current ones like the records' values.
    also = {name for _, extra in items for name in extra} if not depth else set()
    existing = _load_existing(ctx, plan, list(rows), also)
    new_pks = iter(_new_pks(model, len(rows.keys() - existing.keys())))
    for key, row in rows.items():
        row.existing = existing.get(key)
        row.pk = row.existing["pk"] if row.existing else next(new_pks)
        ctx.pending[(label, key)] = row.pk

    _drop_stale(plan, rows, outcome)
    for mapping in plan.of_kind("fk", "m2m", "reverse"):
        _resolve(ctx, plan, mapping, list(rows.values()), outcome, stamp=stamp, depth=depth)
    _drop_failed(ctx, plan, rows, outcome)

    ok = [row for row in rows.values() if row.error is None]
    outcome.failures.extend((row.raw_id, row.error) for row in rows.values() if row.error is not None)
    _write_rows(ctx, plan, ok, outcome, stamp=stamp)
    ctx.learn(plan.model, {row.key: row.pk for row in ok if row.existing is None})  # type: ignore[misc]
    for mapping in plan.of_kind("m2m"):
        write_links(mapping, ok)  # type: ignore[arg-type]
    for mapping in plan.of_kind("reverse"):
        _write_reverse(mapping, ok)
    outcome.pks.update({row.key: row.pk for row in ok})  # type: ignore[misc]
    return outcome


def _drop_stale(plan: Plan, rows: dict[Any, _Row], outcome: Outcome) -> None:
    """Leave out the records older than their row (`SyncConfig.version_field`), and note their ids as stale."""
    name = getattr(plan.model.sync_config, "version_field", None)  # type: ignore[attr-defined]
    if name is None:
        return
    try:
        attname = plan.model._meta.get_field(name).attname
    except FieldDoesNotExist:
        raise ConfigurationError(
            f"{plan.model._meta.label}: SyncConfig(version_field={name!r}) names no field of the model."
        ) from None
    for key, row in list(rows.items()):
        old = row.existing.get(attname) if row.existing is not None else None
        new = row.values.get(attname)
        if old is None or new is None:
            continue
        try:
            older = new < old
        except TypeError:
            continue
        if older:
            outcome.stale.append(row.raw_id)
            del rows[key]


def _read_values(
    resource: Any, converters: list[tuple[str, str, Callable[[Any], Any]]], one_step: bool, values: dict[str, Any]
) -> None:
    """Put the converted values `resource` carries into `values` (`one_step`: no source is a dotted path,
    so each is read as `.plan.read` reads one step, without calling it)."""
    if one_step and isinstance(resource, dict):
        get = resource.get
        for source, attname, to_value in converters:
            value = get(source, MISSING)
            if value is not MISSING:
                values[attname] = to_value(value)
    elif one_step and resource is not None:
        for source, attname, to_value in converters:
            value = getattr(resource, source, MISSING)
            if value is not MISSING:
                values[attname] = to_value(value)
    else:
        for source, attname, to_value in converters:
            value = read(resource, source)
            if value is not MISSING:
                values[attname] = to_value(value)


def _count_absent(plan: Plan, row: _Row, outcome: Outcome) -> None:
    """Count, for the warnings, the plain fields a record of the listing carries no value for (see
    `SyncWarning`): attributes whose JSON key was absent, and keys missing from a record that is a dict
    (`_resolve` counts the relations)."""
    label = plan.model._meta.label
    for mapping in plan.of_kind("value"):
        root = mapping.source.partition(".")[0]
        if root in row.absent or (isinstance(row.resource, dict) and read(row.resource, mapping.source) is MISSING):
            outcome.warnings["absent", label, mapping.name] += 1


def _new_pks(model: type[models.Model], count: int) -> list[uuid.UUID]:
    """`count` primary keys for new rows: `uuid.uuid4()` each, made from one `os.urandom` call (rather than
    one system call per row) when `uuid.uuid4` is the primary key's default."""
    if model._meta.pk.default is not uuid.uuid4:
        return [uuid.uuid4() for _ in range(count)]
    random, to_int, UUID = os.urandom(16 * count), int.from_bytes, uuid.UUID
    # What UUID(bytes=..., version=4) does, with the version and variant bits set on the integer directly.
    return [UUID(int=to_int(random[start : start + 16]) & _V4_CLEAR | _V4_SET) for start in range(0, 16 * count, 16)]


# The bits of a 128-bit UUID that say "version 4" and "RFC 4122 variant" (see uuid.UUID.__init__).
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (4 << 76) | (0x8000 << 48)


def _load_existing(
    ctx: RunContext, plan: Plan, keys: list[Any], also: set[str] | frozenset[str] = frozenset()
) -> dict[Any, dict[str, Any]]:
    if not keys:
        return {}
    ext = plan.external_id.attname
    columns = [m.attname for m in plan.columns]
    columns += sorted(also - set(columns))
    found: dict[Any, dict[str, Any]] = {}
    if is_indexed(plan.model, plan.external_id) or not ctx.load_id_maps:
        lookups = among(plan.model, plan.external_id, keys)
    else:
        pks = ctx.pks_by_external_id(plan.model, plan.external_id, keys)
        if not pks:
            return {}
        lookups = among(plan.model, plan.model._meta.pk, list(pks.values()))
    for condition in lookups:
        for values in plan.model._base_manager.filter(condition).values("pk", ext, *columns):
            key = values.pop(ext)
            if key in found:
                ctx.note_duplicate(plan.model, key)  # several rows have this id: the first is synced
                continue
            found[key] = values
    return found


def _resolve(
    ctx: RunContext,
    plan: Plan,
    mapping: FieldMapping,
    rows: list[_Row],
    outcome: Outcome,
    *,
    stamp: datetime.datetime,
    depth: int,
) -> None:
    """Turn the references in `mapping` (ids or embedded resources) into pks of the related model."""
    related = mapping.related
    assert related is not None
    rlabel = related._meta.label
    rconfig = related.sync_config  # type: ignore[attr-defined]
    rdatasource = rconfig.datasource
    reverse_fk = mapping.field.field if mapping.kind == "reverse" else None
    fk = mapping.kind == "fk"
    required = fk and not mapping.field.null
    tombstones = has_tombstones(rdatasource)

    wanted: list[tuple[_Row, list[Any]]] = []  # per row, its references as keys (or _Unreadable)
    raw_ids: dict[Any, Any] = {}
    embedded: dict[Any, tuple[Any, dict[str, Any]]] = {}
    rplan: Plan | None = None
    rkey: Callable[[Any], Any] | None = None
    for row in rows:
        if row.error is not None:
            continue
        value = read(row.resource, mapping.source)
        absent = value is MISSING or (bool(row.absent) and mapping.source.partition(".")[0] in row.absent)
        if absent and not depth:
            outcome.warnings["absent", plan.model._meta.label, mapping.name] += 1
        if value is MISSING or (absent and row.existing is not None):
            continue  # not carried by this record: leave the relation alone
        if fk:
            values = [] if value is None else [value]
        elif value is None:
            row.to_many[mapping.name] = None  # not sent: leave the links alone
            continue
        elif isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
            values = [value]
        else:
            values = list(value)
        keys = []
        for item in values:
            if item is None:
                continue
            extra = {reverse_fk.attname: row.pk} if reverse_fk is not None else {}
            reference = is_reference_id(item)
            if rkey is None:
                rplan = get_plan(related, sample=None if reference else item)
                rkey = rplan.key_function()
            try:
                if reference:
                    key = rkey(item)
                    if key not in raw_ids:
                        raw_ids[key] = (item, extra)
                else:
                    key = rkey(rdatasource.get_id(item))
                    if tombstones and rdatasource.is_tombstone(item):
                        # A deleted record's stub where its copy would be: the reference resolves to nothing.
                        key = _Unreadable(f"{rlabel} {key!r} is deleted (the record embeds a tombstone for it)")
                    else:
                        embedded[key] = (item, extra)
            except (RecordFailure, AttributeError, KeyError, TypeError) as error:
                key = _Unreadable(f"{rlabel} reference {item!r} is unreadable: {error}")
            keys.append(key)
            if mapping.through:  # an explicit through model's mapped columns: read now, while the item is at hand
                try:
                    row.link_values.setdefault(mapping.name, {})[key] = link_values(mapping.through, row.resource, item)
                except RecordFailure as error:
                    row.error = f"field {mapping.name!r}: {error}"
        wanted.append((row, keys))

    pks: dict[Any, uuid.UUID] = {}
    reasons: dict[Any, str] = {}
    if embedded:
        nested = upsert(ctx, related, list(embedded.values()), stamp=stamp, depth=depth + 1)
        outcome.warnings.update(nested.warnings)
        pks.update(nested.pks)
        for raw_id, message in nested.failures:
            _note_nested_failure(rlabel, rplan, raw_id, message, reasons)
    # Ids, and embedded copies that could not be written (the row may still be stored from an earlier sync).
    missing = [key for key in [*raw_ids, *embedded] if key not in pks]
    for key in missing:
        if (rlabel, key) in ctx.pending:
            pks[key] = ctx.pending[(rlabel, key)]
    missing = [key for key in dict.fromkeys(missing) if key not in pks]
    if missing:
        pks.update(ctx.pks_by_external_id(related, related._meta.get_field(rconfig.external_id), missing))
    fetched: list[tuple[Any, dict[str, Any]]] = []
    for key in missing:
        if key in pks or key not in raw_ids:
            continue
        if (rlabel, key) in ctx.unresolvable:
            reasons[key] = ctx.unresolvable[(rlabel, key)]
        elif not rconfig.fetch_missing:
            reasons[key] = "not stored locally (fetch_missing=False)"
        else:
            raw, extra = raw_ids[key]
            ctx.fetches += 1
            try:
                record = rdatasource.get(raw)
                if tombstones and rdatasource.is_tombstone(record):
                    raise NotFoundError(
                        "The record is deleted (get() returned a tombstone)", datasource=rdatasource, record_id=raw
                    )
                fetched.append((record, extra))
            except NotFoundError as error:
                reasons[key] = ctx.unresolvable[(rlabel, key)] = str(error)
            except DatasourceError as error:
                reasons[key] = str(error)  # maybe transient: not remembered, a later batch may retry
    if fetched:
        nested = upsert(ctx, related, fetched, stamp=stamp, depth=depth + 1)
        outcome.warnings.update(nested.warnings)
        pks.update(nested.pks)
        for raw_id, message in nested.failures:
            _note_nested_failure(rlabel, rplan, raw_id, message, reasons)
            if rplan is not None:
                try:
                    ctx.unresolvable[(rlabel, rplan.key(raw_id))] = message
                except RecordFailure:
                    pass

    attname = mapping.attname if fk else ""
    for row, keys in wanted:
        resolved: list[uuid.UUID] = []
        for key in keys:
            if isinstance(key, _Unreadable):
                reason = key.reason
            elif key in pks:
                resolved.append(pks[key])
                continue
            else:
                reason = f"{rlabel} {key!r} could not be resolved: {reasons.get(key, 'not found')}"
            if required:
                row.error = f"field {mapping.name!r} is required but {reason}"
            else:
                logger.warning("%s %r: field %r left %s: %s", plan.model._meta.label, row.raw_id, mapping.name,
                               "null" if fk else "without that link", reason)
                outcome.warnings["nulled" if fk else "dropped", plan.model._meta.label, mapping.name] += 1
        if fk:
            if not keys and required:
                row.error = f"field {mapping.name!r} is required but the record has no value for it"
            row.values[attname] = resolved[0] if resolved else None
        else:
            row.to_many[mapping.name] = list(dict.fromkeys(resolved))
            if mapping.through:
                by_key = row.link_values.get(mapping.name, {})
                row.link_values[mapping.name] = {pks[key]: values for key, values in by_key.items() if key in pks}


class _Unreadable:
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _note_nested_failure(rlabel: str, rplan: Plan | None, raw_id: Any, message: str, reasons: dict[Any, str]) -> None:
    logger.warning("%s record %r (referenced) failed: %s", rlabel, raw_id, message)
    if rplan is not None:
        try:
            reasons[rplan.key(raw_id)] = message
        except RecordFailure:
            pass


def _drop_failed(ctx: RunContext, plan: Plan, rows: dict[Any, _Row], outcome: Outcome) -> None:
    """Unlink rows that failed after being given a pk, and null (or fail) the rows of the batch pointing at them."""
    label = plan.model._meta.label
    self_fks = [m for m in plan.of_kind("fk") if m.related is plan.model]
    failed: set[uuid.UUID] = set()
    while True:
        newly = {row.pk for row in rows.values() if row.error is not None and row.pk not in failed}
        if not newly:
            return
        for row in rows.values():
            if row.error is not None and row.pk in newly:
                ctx.pending.pop((label, row.key), None)
        failed |= newly  # type: ignore[arg-type]
        for row in rows.values():
            if row.error is not None:
                continue
            for mapping in self_fks:
                if row.values.get(mapping.attname) in failed:
                    if mapping.field.null:
                        row.values[mapping.attname] = None
                        outcome.warnings["nulled", label, mapping.name] += 1
                    else:
                        row.error = f"field {mapping.name!r} points at a record of the same batch that failed"
            for name, pks in row.to_many.items():
                if pks:
                    kept = [pk for pk in pks if pk not in failed]
                    if len(kept) < len(pks):
                        row.to_many[name] = kept
                        outcome.warnings["dropped", label, name] += len(pks) - len(kept)


def _write_rows(ctx: RunContext, plan: Plan, rows: list[_Row], outcome: Outcome, *, stamp: datetime.datetime) -> None:
    model = plan.model
    ext = plan.external_id.attname
    pk_name = model._meta.pk.attname
    new = []
    changed: list[tuple[uuid.UUID, dict[str, Any]]] = []
    unchanged: list[uuid.UUID] = []
    for row in rows:
        if row.existing is None:
            # extra: the parent of a child embedded in an inverse relation, needed now if its FK is required.
            new.append({pk_name: row.pk, ext: row.key, "last_sync_time": stamp, **row.values, **row.extra})
            outcome.created += 1
            continue
        existing = row.existing
        if row.absent:  # the columns of fields the record carried no value for are left as they are
            left = {m.attname for m in plan.of_kind("value") if m.source.partition(".")[0] in row.absent}
            values = {name: value for name, value in row.values.items() if name not in left and existing.get(name) != value}
        else:
            values = {name: value for name, value in row.values.items() if existing.get(name) != value}
        if values:  # NaN != NaN: a value NaN on both sides is unchanged (`x == x` fails only for NaN)
            values = {
                name: value for name, value in values.items() if value == value or (old := existing.get(name)) == old
            }
        if values:
            outcome.updated += 1
            changed.append((row.pk, values))  # type: ignore[arg-type]
        else:
            outcome.unchanged += 1
            unchanged.append(row.pk)  # type: ignore[arg-type]
    bulk.insert(model, new)
    bulk.update(model, changed, stamp=("last_sync_time", stamp))
    note(ctx, model, [values[pk_name] for values in new], [pk for pk, _ in changed])
    if unchanged and model in ctx.confirmations:
        seen = ctx.confirmations[model]
        if seen is not None:
            seen.pks.update(pk.int for pk in unchanged)
        else:
            outcome.stamped += model._base_manager.filter(pk__in=unchanged).update(last_sync_time=stamp)


def _write_reverse(mapping: FieldMapping, rows: list[_Row]) -> None:
    fk = mapping.field.field
    child = mapping.related
    assert child is not None
    listed = [row for row in rows if row.to_many.get(mapping.name) is not None]
    if not listed:
        return
    parents = {row.pk for row in listed}
    desired = {pk: row.pk for row in listed for pk in row.to_many[mapping.name]}  # type: ignore[union-attr]
    changes: dict[Any, Any] = {}
    query = Q(**{f"{fk.attname}__in": parents}) | Q(pk__in=list(desired))
    for child_pk, parent_pk in child._base_manager.filter(query).values_list("pk", fk.attname):
        if child_pk in desired:
            if parent_pk != desired[child_pk]:
                changes[child_pk] = desired[child_pk]
        elif fk.null:
            changes[child_pk] = None  # no longer listed by its parent
    bulk.update(child, [(pk, {fk.attname: parent}) for pk, parent in changes.items()])
