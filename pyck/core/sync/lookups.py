"""Finding a batch's rows by external id: `Among` (`field IN (values)` without the ORM's work per value),
`among` (cut to the database's parameter limit), `is_indexed` and `is_unique`.

Each batch looks its rows up by external id (`external_id__in=[... 500 ids]`). The ORM's `__in` prepares every
value through the field's lookup machinery, and on PostgreSQL psycopg then parses a statement with 500
placeholders: a noticeable part of a sync's time for values that need no preparation at all (integers and
text, already converted to the field's type by the plan). `Among` is that condition as one expression
that hands the values to the database driver as they are (preparing only those the field would change), and on
PostgreSQL sends them as one array: `field = ANY(%s::bigint[])`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import models
from django.db.models import F, Lookup

from .bulk import max_parameters, unprepared_types

__all__ = ["Among", "among", "is_indexed", "is_unique"]


class Among(Lookup):
    """A filter condition: `field` is one of `values` (`queryset.filter(Among(field, values))`).

    Same rows as `filter(**{f"{field.attname}__in": values})`; `values` must already be of the field's Python
    type (as `field.to_python` gives them) and must not be empty. A lookup rather than a plain boolean
    expression, so that the `WHERE` clause holds the condition itself: on a database without a boolean type
    (SQLite) Django 6 compares another expression with true (`... IN (...) = 1`), which no index serves.
    """

    lookup_name = "pyck_among"
    prepare_rhs = False  # the values are prepared in as_sql, only those the field would change

    def __init__(self, field: models.Field[Any, Any], values: Sequence[Any]) -> None:
        if not values:
            raise ValueError("Among() needs at least one value")
        self.target = field
        super().__init__(F(field.attname), list(values))

    @property
    def values(self) -> list[Any]:
        """The values the field is compared with."""
        return self.rhs  # type: ignore[no-any-return]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, params = compiler.compile(self.lhs)
        field = self.target
        if connection.vendor == "postgresql" and _array_castable(field):
            # psycopg sends a list as one array; the cast names its type, so the values need no wrapping either.
            prepare = field.get_db_prep_value
            values = [v if type(v) in _DRIVER_TYPES else prepare(v, connection) for v in self.values]
            return f"{lhs} = ANY(%s::{_ARRAY_TYPES[field.get_internal_type()]}[])", [*params, values]
        unprepared = unprepared_types(field, connection)
        prepare = field.get_db_prep_value
        values = [v if type(v) in unprepared else prepare(v, connection) for v in self.values]
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*params, *values]


# Types psycopg sends in an array as the column types of :data:`_ARRAY_TYPES` take them.
_DRIVER_TYPES = frozenset({int, str, uuid.UUID})

# Django's internal types, and the array type to compare their columns with: unbounded (``text``, ``bigint``) so
# that a value the column could not hold matches nothing, as with ``IN``, instead of being cut to fit.
_ARRAY_TYPES = {
    **dict.fromkeys(["CharField", "TextField", "SlugField", "EmailField", "URLField"], "text"),
    **dict.fromkeys(["IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
                     "PositiveBigIntegerField", "PositiveSmallIntegerField"], "bigint"),
    "UUIDField": "uuid",
}


def _array_castable(field: models.Field[Any, Any]) -> bool:
    """True when `field`'s column is of the type Django gives its internal type (no custom `db_type`, such as
    `citext`, whose comparisons differ), so an array of `_ARRAY_TYPES` compares with it as `=` does."""
    return type(field).db_type is models.Field.db_type and field.get_internal_type() in _ARRAY_TYPES


def among(model: type[models.Model], field: models.Field[Any, Any], values: list[Any]) -> Iterator[Among]:
    """`Among(field, values)` in as many parts as the database's limit on query parameters needs (SQLite's
    is 999 before 3.32, and can be lowered per connection): one part, almost always."""
    limit = max_parameters(model, write=False)
    for start in range(0, len(values), limit):
        yield Among(field, values[start : start + limit])


def is_indexed(model: type[models.Model], field: models.Field[Any, Any]) -> bool:
    """True when the database can find rows by `field` without scanning the table (Django's own metadata)."""
    if field.primary_key or field.unique or field.db_index:
        return True
    name = field.name
    for index in model._meta.indexes:
        if index.fields and index.fields[0].lstrip("-") == name:
            return True
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields and constraint.fields[0] == name:
            return True
    return any(together and together[0] == name for together in model._meta.unique_together)


def is_unique(model: type[models.Model], field: models.Field[Any, Any]) -> bool:
    """True when the database refuses two rows with the same `field` (`unique=True`, or an unconditional
    `UniqueConstraint` on that field alone)."""
    if field.unique:
        return True
    return any(
        isinstance(c, models.UniqueConstraint) and tuple(c.fields) == (field.name,) and c.condition is None
        for c in model._meta.constraints
    )
