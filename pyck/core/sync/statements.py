"""Statements the engine sends once per batch, compiled by the ORM once per run instead of once per batch.

Building a queryset, its `WHERE` clause and its SQL costs a few hundred microseconds of CPU each time; a run
that records a checkpoint after every batch would spend more on that than on the statement itself.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, router
from django.db.models import Model
from django.db.models.sql import UpdateQuery


class RowUpdate:
    """`UPDATE` of some columns of one row, by primary key: the SQL the ORM's `filter(pk=pk).update(...)`
    sends, compiled at the first call and then sent again with the new values.

    Each call prepares its values with the fields' `get_db_prep_save`, as `update()` does. A value that is
    `None` or an expression changes the SQL itself, so such a call goes through `update()` instead.
    """

    def __init__(self, model: type[Model], pk: Any, fields: tuple[str, ...]) -> None:
        self.model = model
        self.pk = pk
        self.fields = [model._meta.get_field(name) for name in fields]
        self._alias: str | None = None
        self._sql: str | None = None
        self._where_params: list[Any] = []

    def __call__(self, *values: Any) -> None:
        """Set the fields, in the order given to the constructor, to `values`."""
        alias = router.db_for_write(self.model)
        if any(value is None or hasattr(value, "resolve_expression") for value in values):
            self._queryset(alias).update(**{field.name: value for field, value in zip(self.fields, values)})
            return
        if self._sql is None or alias != self._alias:
            self._compile(alias, values)
        connection = connections[alias]
        params = [field.get_db_prep_save(value, connection) for field, value in zip(self.fields, values)]
        with connection.cursor() as cursor:
            cursor.execute(self._sql, [*params, *self._where_params])

    def _queryset(self, alias: str) -> Any:
        return self.model._base_manager.using(alias).filter(pk=self.pk)

    def _compile(self, alias: str, values: tuple[Any, ...]) -> None:
        query = self._queryset(alias).query.chain(UpdateQuery)
        query.add_update_values({field.name: value for field, value in zip(self.fields, values)})
        sql, params = query.get_compiler(alias).as_sql()
        self._alias, self._sql, self._where_params = alias, sql, list(params[len(self.fields) :])
