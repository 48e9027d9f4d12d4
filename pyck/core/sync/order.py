"""`sync_order`: the order in which several models are synced, each after the models it references.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..exceptions import ConfigurationError
from ..models.synced import SyncedModel
from .children import parent_model
from .plan import get_plan

__all__ = ["sync_order"]


def sync_order(models: Iterable[type[SyncedModel]]) -> list[type[SyncedModel]]:
    """Order `models` so that each comes after the models it references.

    Only synced relations count (fields the model's mapping fills): foreign keys and many-to-many fields point
    at dependencies; an inverse relation makes the children a dependency of the parent; the parent model of a
    child listing (`SyncConfig.for_each`) comes before it. Cycles are broken on nullable relations (a required foreign key is honoured
    whenever possible); otherwise the given order is kept.
    """
    ordered = list(dict.fromkeys(models))
    members = set(ordered)
    hard: dict[Any, set[Any]] = {model: set() for model in ordered}
    soft: dict[Any, set[Any]] = {model: set() for model in ordered}
    for model in ordered:
        try:
            mappings = get_plan(model).mappings
        except ConfigurationError:
            continue  # its own run fails, saying why (and is recorded); the others still run, in order
        for mapping in mappings:
            target = mapping.related
            if target in members and target is not model:
                required = mapping.kind == "fk" and not mapping.field.null
                (hard if required else soft)[model].add(target)
        parent = parent_model(model)
        if parent in members and parent is not model:
            hard[model].add(parent)  # a child listing reads the parent's rows: they must be synced first
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
