"""Which rows each batch created, updated and deleted: noted while the batch is written, announced with the
`records_changed` signal once its transaction has committed (at once when no transaction is open any more;
after the outer transaction when the batch ran inside one of yours). Rows of a rolled-back batch, or of a record
whose savepoint was rolled back, are never announced.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import models, transaction

from ..signals import records_changed
from .context import RunContext

__all__ = ["announce", "delete_rows", "mark", "note", "undo"]


def note(context: RunContext, model: type[models.Model], created: list[Any], updated: list[Any]) -> None:
    """Note that the batch being written created the rows `created` of `model` and changed the rows `updated`."""
    context.changed.extend((model, "created", pk) for pk in created)
    context.changed.extend((model, "updated", pk) for pk in updated)


def mark(context: RunContext) -> int:
    """Where the notes stand now: `undo(context, mark)` forgets the ones taken since (a rolled-back savepoint)."""
    return len(context.changed)


def undo(context: RunContext, position: int) -> None:
    """Forget the notes taken since `position` (see `mark`)."""
    del context.changed[position:]


def announce(context: RunContext) -> None:
    """Send `records_changed` once per model for the rows noted so far, after the current transaction commits
    (now, outside of one), and clear the notes."""
    if not context.changed:
        return
    grouped: dict[type[models.Model], dict[str, list[Any]]] = defaultdict(lambda: {"created": [], "updated": []})
    for model, kind, pk in context.changed:
        grouped[model][kind].append(pk)
    context.changed.clear()
    for model, pks in grouped.items():
        _send_on_commit(model, created=pks["created"], updated=pks["updated"], deleted=[])


def delete_rows(queryset: models.QuerySet[Any]) -> dict[str, int]:
    """Delete the rows of `queryset` and announce their pks with `records_changed` after commit; return the
    deleted counts per model label, as `QuerySet.delete()` does. Rows deleted by a cascade are counted, not
    announced."""
    model = queryset.model
    with transaction.atomic():
        pks = list(queryset.values_list("pk", flat=True))
        if not pks:
            return {}
        _, per_model = model._base_manager.filter(pk__in=pks).delete()
    _send_on_commit(model, created=[], updated=[], deleted=pks)
    return per_model


def _send_on_commit(model: type[models.Model], **pks: list[Any]) -> None:
    transaction.on_commit(lambda: records_changed.send(sender=model, **pks))
