"""`merge_rows`: what a NationBuilder "person merged" event does to your database. NationBuilder merges two
people into one; every local row that referred to the person merged away must then refer to the surviving one
(https://nationbuilder.com/webhooks_overview lists "Person merged" among the people webhooks).

In one transaction, with both rows locked (`select_for_update`, where the database has it):

1. Every foreign key in any installed model (synced or yours, the hidden through models of many-to-many
   fields included) that points at the merged-away row is re-pointed at the surviving row. Where a unique
   constraint would then hold the same row twice (a tag link both people had), the merged-away copy is deleted
   instead.
2. The merged-away row is deleted.

When only the merged-away row exists locally, it becomes the surviving one: its `external_id` changes, and
every reference to it stays. When the merged-away row is not there (already merged: a redelivered event), nothing
happens. A one-to-one field that both rows fill fails the merge (nothing is changed), rather than losing one.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import models, transaction

__all__ = ["merge_rows"]

logger = logging.getLogger("pyck.contrib.nationbuilder")


def merge_rows(model: type[models.Model], merged_id: Any, surviving_id: Any) -> str:
    """Merge the row of `model` whose `external_id` is `merged_id` into the one whose is `surviving_id` (see the
    module docstring).

    Returns:
        What happened: `"merged"`, `"renamed"` (only the merged-away row existed) or `"absent"`.
    """
    merged_id, surviving_id = str(merged_id), str(surviving_id)
    if merged_id == surviving_id:
        return "absent"
    with transaction.atomic():
        rows = {
            row.external_id: row  # type: ignore[attr-defined]
            for row in model._default_manager.select_for_update().filter(external_id__in=[merged_id, surviving_id])
        }
        merged, surviving = rows.get(merged_id), rows.get(surviving_id)
        if merged is None:
            return "absent"
        if surviving is None:
            model._default_manager.filter(pk=merged.pk).update(external_id=surviving_id)
            logger.info("%s: merged-away %s kept as %s", model._meta.label, merged_id, surviving_id)
            return "renamed"
        for relation in model._meta.get_fields(include_hidden=True):
            if relation.auto_created and not relation.concrete and (relation.one_to_many or relation.one_to_one):
                _repoint(relation.field, merged, surviving)
        merged.delete()
    logger.info("%s: %s merged into %s", model._meta.label, merged_id, surviving_id)
    return "merged"


def _repoint(field: Any, merged: models.Model, surviving: models.Model) -> None:
    """Point `field` (a foreign key to the merged model) of every row that references `merged` at `surviving`,
    first deleting the rows that would then duplicate a row of `surviving` under a unique constraint."""
    related = field.model
    manager = related._default_manager
    target = field.target_field.attname
    old, new = getattr(merged, target), getattr(surviving, target)
    for together in _unique_sets(related):
        if field.name not in together:
            continue
        others = [name for name in together if name != field.name]
        if not others:
            continue
        attnames = [related._meta.get_field(name).attname for name in others]
        taken = set(manager.filter(**{field.attname: new}).values_list(*attnames))
        for row in manager.filter(**{field.attname: old}).values_list("pk", *attnames):
            if tuple(row[1:]) in taken:
                manager.filter(pk=row[0]).delete()
    manager.filter(**{field.attname: old}).update(**{field.attname: new})


def _unique_sets(model: Any) -> list[tuple[str, ...]]:
    sets = [tuple(names) for names in model._meta.unique_together]
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields and constraint.condition is None:
            sets.append(tuple(constraint.fields))
    return sets
