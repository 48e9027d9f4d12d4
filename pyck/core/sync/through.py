"""Explicit `through` models of synced many-to-many fields: which of their extra columns a sync fills, and from
where (`through_columns`), and what stops it from filling one (`through_problems`).

A through row's two foreign keys come from the link itself. Its other columns get their model defaults, or,
when `SyncConfig.through_map` maps them, a value read from the record (`"record.<path>"`) or from the list
item that made the link (`"link.<path>"`: an embedded related record; a bare id carries nothing). A column
neither mapped nor able to fill itself (nullable, a default, `auto_now`...) stops the sync: `manage.py check`
reports it (`pyck.E014`) and the sync refuses to run. `.links` writes the rows.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from django.db import models

from .attributes import undeclared_step

__all__ = ["ThroughColumn", "extra_columns", "fills_itself", "is_explicit", "through_columns", "through_problems"]


@dataclass(frozen=True)
class ThroughColumn:
    """One extra column of a through model that `SyncConfig.through_map` maps."""

    field: models.Field[Any, Any]
    """The through model's field."""
    origin: Literal["record", "link"]
    """Where the value is read: the record holding the many-to-many list, or the list's item."""
    path: str
    """The dotted path read from it (list indexes included, as in `field_map`)."""

    @property
    def attname(self) -> str:
        return self.field.attname


def is_explicit(field: Any) -> bool:
    """True when the many-to-many `field` has a `through` model of its own (not one Django created)."""
    return not field.remote_field.through._meta.auto_created


def extra_columns(field: Any) -> list[models.Field[Any, Any]]:
    """The concrete columns of `field`'s through model other than its primary key and its two link keys."""
    through = field.remote_field.through
    links = {field.m2m_field_name(), field.m2m_reverse_field_name()}
    return [f for f in through._meta.concrete_fields if not f.primary_key and f.name not in links]


def through_columns(model: type[models.Model], field: Any) -> tuple[ThroughColumn, ...]:
    """The columns of `field`'s through model mapped by `model.sync_config.through_map` (assumed valid: see
    `through_problems`)."""
    mapped = (model.sync_config.through_map or {}).get(field.name) or {}  # type: ignore[attr-defined]
    columns = {f.name: f for f in extra_columns(field)}
    return tuple(
        ThroughColumn(field=columns[name], origin=source.partition(".")[0], path=source.partition(".")[2])  # type: ignore[arg-type]
        for name, source in sorted(mapped.items())
        if name in columns
    )


def fills_itself(field: models.Field[Any, Any]) -> bool:
    """True when a new row gets a value for `field` without the sync giving one."""
    return (
        field.null
        or field.has_default()
        or getattr(field, "db_default", models.NOT_PROVIDED) is not models.NOT_PROVIDED
        or bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))
        or isinstance(field, (models.CharField, models.TextField))  # the sync writes "" for none, as for any field
        or getattr(field, "generated", False)
    )


def through_problems(model: type[models.Model], synced: list[Any]) -> list[tuple[str, str]]:
    """Say, as `(message, hint)` pairs, what stops a sync from filling the through models of `model`'s synced
    many-to-many fields `synced`, and what is wrong in `SyncConfig.through_map`; `[]` when nothing."""
    config = model.sync_config  # type: ignore[attr-defined]
    label = model._meta.label
    through_map = config.through_map or {}
    explicit = {f.name: f for f in model._meta.many_to_many if is_explicit(f)}
    problems: list[tuple[str, str]] = []
    for name in sorted(set(through_map) - set(explicit)):
        problems.append((
            f"{label}: SyncConfig(through_map=...) names {name!r}, which is not a many-to-many field of the model "
            "with a through model of its own.",
            f"through_map keys are such fields: {', '.join(sorted(explicit)) or 'the model has none'}.",
        ))
    for field in synced:
        if not is_explicit(field):
            continue
        through = field.remote_field.through
        where = f"{label}.{field.name} (through {through._meta.label})"
        mapped = through_map.get(field.name) or {}
        columns = {f.name: f for f in extra_columns(field)}
        for column, source in sorted(mapped.items()):
            target = columns.get(column)
            if target is None or target.is_relation:
                problems.append((
                    f"{where}: SyncConfig(through_map={{{field.name!r}: {{{column!r}: {source!r}}}}}) names "
                    f"{column!r}, which is not {'a plain' if target is not None else 'an extra'} column of "
                    f"{through.__name__}.",
                    "Map the through model's own value columns (not its primary key, nor a relation): "
                    f"{', '.join(n for n, f in sorted(columns.items()) if not f.is_relation) or 'it has none'}.",
                ))
                continue
            origin, _, path = source.partition(".")
            if origin == "link":  # read from an item of the record's list: follow the list's item type
                path = f"{(config.field_map or {}).get(field.name) or field.name}.0.{path}"
            undeclared = undeclared_step(config.datasource.resource_type, path)
            if undeclared is not None:
                problems.append((
                    f"{where}: SyncConfig(through_map={{{field.name!r}: {{{column!r}: {source!r}}}}}) reads "
                    f"{undeclared.describe()}, which {undeclared.owner_name} does not declare, so {column} would "
                    "never be filled.",
                    f"{undeclared.suggestion()} 'record.' paths read the record, 'link.' paths the list item.",
                ))
        for column in [f for name, f in columns.items() if name not in mapped and not fills_itself(f)]:
            problems.append((
                f"{where} has the required column {column.name!r} (not nullable, no default), which the sync engine "
                "cannot fill.",
                f"Give {through.__name__}.{column.name} a default or null=True, or map it: SyncConfig(through_map="
                f"{{{field.name!r}: {{{column.name!r}: 'link.<attribute>'}}}}) ('record.<attribute>' reads the "
                f"record); or exclude the field with field_map={{{field.name!r}: None}} and fill the links yourself.",
            ))
    return problems

