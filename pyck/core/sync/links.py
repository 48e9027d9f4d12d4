"""Many-to-many links of one batch, written set-based: `link_values` reads a link's mapped through columns, and
`write_links` adds, keeps and removes the links of the batch's rows, through Django's automatic through table or
a model's own (`.through` says which columns that one gets).

Per many-to-many field and batch: one query reads the current links of the rows that existed, one deletes the
links no longer listed, one inserts the new ones, and, only when a mapped through column changed on a link that
is kept, one updates those. A kept link is never deleted and recreated, and its unmapped columns are never
written: they are yours.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

from typing import Any, Protocol

from . import bulk
from .plan import MISSING, FieldMapping, RecordFailure, convert, read
from .through import ThroughColumn, fills_itself

__all__ = ["LinkedRow", "link_values", "write_links"]


class LinkedRow(Protocol):
    """What `write_links` reads of a row of the batch (`upsert`'s rows)."""

    pk: Any
    existing: dict[str, Any] | None
    to_many: dict[str, list[Any] | None]
    link_values: dict[str, dict[Any, dict[str, Any]]]


def link_values(columns: tuple[ThroughColumn, ...], resource: Any, item: Any) -> dict[str, Any]:
    """The values of the mapped through `columns` for the link that `item` (an item of `resource`'s list) makes,
    by attname, converted as the database gives them back. A path the record or the item does not carry leaves
    its column out (a new link gets the column's default, a kept one keeps its value), unless the column cannot
    do without a value (see `.through.fills_itself`): then the record fails, whether its link is new or not.

    Raises:
        RecordFailure: a value the column rejects, or none for a column that cannot do without one.
    """
    values: dict[str, Any] = {}
    for column in columns:
        value = read(resource if column.origin == "record" else item, column.path)
        if value is MISSING:
            if not fills_itself(column.field):
                where = "the record" if column.origin == "record" else f"the list item {item!r}"
                raise RecordFailure(
                    f"through column {column.field.name!r} is required but {where} has no {column.path!r}"
                )
            continue
        values[column.attname] = convert(column.field, value)
    return values


def write_links(mapping: FieldMapping, rows: list[LinkedRow]) -> None:
    """Make the links of `mapping` (a many-to-many field) of the written `rows` those their records listed.

    Rows whose record did not carry the list (`to_many` is `None` or absent) keep their links.
    """
    field = mapping.field
    through = field.remote_field.through
    source = through._meta.get_field(field.m2m_field_name()).attname
    target = through._meta.get_field(field.m2m_reverse_field_name()).attname
    columns = [column.attname for column in mapping.through]
    desired: dict[tuple[Any, Any], dict[str, Any]] = {}
    owners = []
    for row in rows:
        pks = row.to_many.get(mapping.name)
        if pks is None:
            continue
        if row.existing is not None:
            owners.append(row.pk)
        values = row.link_values.get(mapping.name, {}) if columns else {}
        for pk in pks:
            desired[(row.pk, pk)] = values.get(pk, {})
    current: dict[tuple[Any, Any], tuple[Any, dict[str, Any]]] = {}
    if owners:
        links = through._base_manager.filter(**{f"{source}__in": owners}).values_list("pk", source, target, *columns)
        for link_pk, src, tgt, *stored in links:
            current[(src, tgt)] = (link_pk, dict(zip(columns, stored)))
    stale = [link_pk for pair, (link_pk, _) in current.items() if pair not in desired]
    if stale:
        through._base_manager.filter(pk__in=stale).delete()
    changed = []
    for pair, (link_pk, stored) in current.items():
        values = desired.get(pair)
        if values:
            different = {name: value for name, value in values.items() if stored[name] != value}
            if different:
                changed.append((link_pk, different))
    bulk.update(through, changed)
    added = [
        through(**{source: src, target: tgt, **values}) for (src, tgt), values in desired.items() if (src, tgt) not in current
    ]
    if added:
        through._base_manager.bulk_create(added)
