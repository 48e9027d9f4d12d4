"""The fastest way each database offers to insert and update many rows, with the ORM's bulk methods elsewhere.

`insert` writes new rows: PostgreSQL `COPY table (columns) FROM STDIN` (psycopg 3), SQLite one prepared
`INSERT` run for every row (`executemany`), other databases `bulk_create`. `update` sets the changed
columns of many rows, and optionally their `last_sync_time`, in one `UPDATE ... FROM` statement: from
`(VALUES ...)` (SQLite 3.33+, and PostgreSQL for a few rows) or from a temporary table filled by `COPY`
(PostgreSQL), where `bulk_update` sends one `CASE WHEN` statement per column.

Every value is prepared by the field's `get_db_prep_save` (and, for new rows, `pre_save`), as the ORM's own
bulk methods do, so the rows stored are the same whichever path wrote them; the call is only left out where
Django's own code provably returns the value unchanged (text for a `CharField`...) or where a new row's value
gets only the last step of Django's own preparation (a UUID's `hex` on SQLite...), and made once for a value
every new row shares (`last_sync_time`). A database error raises Django's
`DatabaseError` (`IntegrityError`...) as the ORM would, inside the caller's transaction. Foreign keys stay
checked at commit: PostgreSQL runs its deferred constraint triggers for `COPY` as for `INSERT`.

Statements go through the connection's execute wrappers (`COPY` too, counted once per batch), so query
counters and `connection.execute_wrapper` see them.
"""

from __future__ import annotations

import datetime
import decimal
import re
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

from django.db import NotSupportedError, connections, models, router
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.backends.utils import CursorDebugWrapper
from django.db.models import NOT_PROVIDED, signals

__all__ = [
    "COPY_MIN_ROWS", "COPY_UPDATE_MIN_ROWS", "ENABLED", "OWN_PARAMETERS", "insert", "max_parameters", "unprepared_types",
    "update", "vendor_path",
]

# Set to False to send every write through the ORM's bulk methods (tests compare the two paths with it).
ENABLED = True

# Fewest new rows for which PostgreSQL gets a ``COPY`` rather than ``bulk_create``'s ``INSERT``.
COPY_MIN_ROWS = 50

# Fewest changed rows for which PostgreSQL gets ``COPY`` into a temporary table rather than ``UPDATE ... FROM
# (VALUES ...)``. ``VALUES`` is faster below about 100 rows (by about 1 ms a batch at 50), ``COPY`` above (1.7 times
# at 500, 2.8 at 5,000); the same threshold as inserts keeps the statements of a batch the same from 50 rows up.
COPY_UPDATE_MIN_ROWS = 50

_TEMP_TABLE = "pyck_bulk_update"

# Most parameters in one PostgreSQL statement (the protocol allows 65,535 with server-side binding).
_PG_MAX_PARAMS = 30_000

_TYPE_MODIFIER = re.compile(r"\([^)]*\)")


def vendor_path(model: type[models.Model]) -> str:
    """Which path writes `model`'s rows: `"postgresql"`, `"sqlite"` or `"orm"`."""
    connection = _connection(model)
    if not ENABLED:
        return "orm"
    if connection.vendor == "postgresql" and getattr(getattr(connection, "Database", None), "__name__", "") == "psycopg":
        return "postgresql"
    if connection.vendor == "sqlite" and connection.Database.sqlite_version_info >= (3, 33, 0):
        return "sqlite"
    return "orm"


def insert(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> None:
    """Insert new rows into `model`'s table: each a dict of field attnames (the primary key's included) to
    values; the other fields get their defaults, as `model(**row)` gives them."""
    if not rows:
        return
    path = vendor_path(model)
    fields = _insert_fields(model) if path != "orm" else None
    if fields is None or (path == "postgresql" and len(rows) < COPY_MIN_ROWS):
        model._base_manager.bulk_create([model(**row) for row in rows])
        return
    connection = _connection(model)
    values: list[Sequence[Any]]
    if _plain(model, fields):
        # Model(**row) then pre_save() would only read back the values given and the defaults: skip the instances.
        columns = [_prepared_column(field, _column(field, rows), connection) for field in fields]
        values = list(zip(*columns))
    else:
        instances = [model(**row) for row in rows]
        values = [[f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields] for obj in instances]
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        if path == "sqlite":
            marks = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
        else:
            _copy(connection, cursor, f"COPY {table} ({columns}) FROM STDIN", values)
            _refresh_statistics(connection, cursor, model._meta.db_table, len(values))


def _column(field: models.Field[Any, Any], rows: Sequence[dict[str, Any]]) -> list[Any]:
    """The values of `field` in `rows`, its default where a row has none (as `Model(**row)` would give)."""
    name = field.attname
    if all(name in row for row in rows):
        return [row[name] for row in rows]
    default = field.get_default
    return [row[name] if name in row else default() for row in rows]


def _prepared_column(field: models.Field[Any, Any], values: list[Any], connection: Any) -> list[Any]:
    """`field.get_db_prep_save` of each of `values`, calling it only where it can change the value.

    One value shared by every row (the sync's `last_sync_time`) is prepared once when the field is one of
    Django's own, whose preparation depends on nothing but the value; values of a type the field provably
    passes through unchanged (`unprepared_types`) are not prepared at all, and those of the one type
    whose preparation `_direct_preparation` knows get only its last step.
    """
    prep = field.get_db_prep_save
    first = values[0]
    if _djangos_own(field) and all(value is first for value in values):
        return [prep(first, connection)] * len(values)
    unprepared = unprepared_types(field, connection)
    if unprepared:
        return [value if type(value) in unprepared else prep(value, connection) for value in values]
    direct = _direct_preparation(field, connection, prep)
    if direct is None:
        return [prep(value, connection) for value in values]
    kind, convert = direct
    if convert is None:
        return [value if type(value) is kind else prep(value, connection) for value in values]
    return [convert(value) if type(value) is kind else prep(value, connection) for value in values]


def _djangos_own(field: models.Field[Any, Any]) -> bool:
    """True when `field` prepares values with Django's own methods (a custom one may encrypt with a random
    nonce, say, and must see every value)."""
    cls = type(field)
    own = all(
        getattr(cls, name).__module__.startswith("django.db.models.")
        for name in ("get_db_prep_save", "get_db_prep_value", "get_prep_value")
    )
    target = getattr(field, "target_field", None) if field.is_relation else None
    return own and (target is None or _djangos_own(target))  # a foreign key prepares as its target field does


# Per field class: ``(get_db_prep_value, get_prep_value, to_python)`` as Django defines them, and the types whose
# values those return unchanged (``to_python`` is ``None`` where ``get_prep_value`` does not call it).
_PASS_THROUGH: list[tuple[type[models.Field[Any, Any]], tuple[Any, Any, Any], frozenset[type]]] = [
    (
        models.CharField,
        (models.Field.get_db_prep_value, models.CharField.get_prep_value, models.CharField.to_python),
        frozenset({str, type(None)}),
    ),
    (
        models.TextField,
        (models.Field.get_db_prep_value, models.TextField.get_prep_value, models.TextField.to_python),
        frozenset({str, type(None)}),
    ),
    (
        models.BooleanField,
        (models.Field.get_db_prep_value, models.BooleanField.get_prep_value, models.BooleanField.to_python),
        frozenset({bool, type(None)}),
    ),
    (
        models.IntegerField,
        (models.IntegerField.get_db_prep_value, models.IntegerField.get_prep_value, None),
        frozenset({int, type(None)}),
    ),
]


def unprepared_types(field: models.Field[Any, Any], connection: Any) -> frozenset[type]:
    """The types whose values `field.get_db_prep_save(value, connection)` returns unchanged, checked against
    Django's own code: text (`str`) for a `CharField` or `TextField`, `bool` for a `BooleanField`,
    `int` for an `IntegerField` on a backend that does not adapt integers, and `None` for each; nothing
    for any other field, or a subclass overriding one of the methods the value goes through.
    """
    cls = type(field)
    if cls.get_db_prep_save is not models.Field.get_db_prep_save:
        return frozenset()
    for base, (db_prep_value, prep_value, to_python), types in _PASS_THROUGH:
        if not isinstance(field, base):
            continue
        if cls.get_db_prep_value is not db_prep_value or cls.get_prep_value is not prep_value:
            return frozenset()
        if to_python is not None and cls.to_python is not to_python:
            return frozenset()
        if not _keeps(cls, base, ()):
            return frozenset()  # a class between base and its bases would answer base's super() calls
        if base is models.IntegerField:
            adapt = type(connection.ops).adapt_integerfield_value
            if adapt is not BaseDatabaseOperations.adapt_integerfield_value:
                return frozenset()
        return types
    return frozenset()


def _direct_preparation(
    field: models.Field[Any, Any], connection: Any, prep: Callable[[Any, Any], Any]
) -> tuple[type, Callable[[Any], Any] | None] | None:
    """The one type of value whose `field.get_db_prep_save(value, connection)` this module computes directly,
    and how (`None`: the value is returned as it is); `None` when there is none.

    What Django's own code returns for a value of exactly that type (a subclass may behave otherwise): for a
    `UUIDField` and a `uuid.UUID`, the UUID itself on a backend with a native UUID type, else its `hex`; for
    a `DateField` and a `datetime.date`, `connection.ops.adapt_datefield_value(value)`; for a
    `DecimalField` and a finite `decimal.Decimal` (`to_python` makes an equal copy of it),
    `connection.ops.adapt_decimalfield_value(value, max_digits, decimal_places)`, where `prep` still sees NaN
    and infinities (which it rejects). A `ForeignKey` prepares a value other than `None` and `""` as its
    target field does. Nothing for any other field, or a subclass overriding a method the value goes through.
    """
    cls = type(field)
    if isinstance(field, models.ForeignKey):
        if not _keeps(cls, models.ForeignKey, ("get_db_prep_save",)):
            return None
        return _direct_preparation(field.target_field, connection, prep)
    if isinstance(field, models.UUIDField):
        if not _keeps(cls, models.UUIDField, ("get_db_prep_save", "get_db_prep_value")):
            return None  # to_python is not called for a UUID
        return uuid.UUID, (None if connection.features.has_native_uuid_field else attrgetter("hex"))
    chain = ("get_db_prep_save", "get_db_prep_value", "get_prep_value", "to_python")
    if isinstance(field, models.DecimalField):
        if not _keeps(cls, models.DecimalField, chain):
            return None
        adapt = connection.ops.adapt_decimalfield_value
        max_digits, decimal_places = field.max_digits, field.decimal_places

        def finite(value: decimal.Decimal) -> Any:
            return adapt(value, max_digits, decimal_places) if value.is_finite() else prep(value, connection)

        return decimal.Decimal, finite
    if isinstance(field, models.DateField):
        if not _keeps(cls, models.DateField, chain):
            return None  # DateTimeField among others
        return datetime.date, connection.ops.adapt_datefield_value
    return None


def _keeps(cls: type, base: type, names: tuple[str, ...]) -> bool:
    """True when subclass `cls` of `base` has `base`'s methods `names` and no class of its own between
    `base` and `base`'s bases, where `base`'s `super()` calls would find it."""
    mro = cls.__mro__
    return all(getattr(cls, name) is getattr(base, name) for name in names) and mro[mro.index(base) :] == base.__mro__


def _plain(model: type[models.Model], fields: list[Any]) -> bool:
    """True when building instances adds nothing to the values: no field computes its value when saved (`auto_now`,
    files...) and nothing listens to the model's `pre_init`/`post_init` signals."""
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        return False
    for field in fields:
        pre_save = type(field).pre_save
        if pre_save is models.Field.pre_save:
            continue
        if isinstance(field, (models.DateField, models.TimeField)) and not (field.auto_now or field.auto_now_add):
            continue
        return False
    return True


def update(
    model: type[models.Model],
    changes: Sequence[tuple[Any, dict[str, Any]]],
    *,
    stamp: tuple[str, Any] | None = None,
) -> None:
    """Set, for each `(pk, {attname: value})` of `changes`, those columns of that row.

    Rows may change different columns: a column that only some rows change keeps its value in the others.
    `stamp` (`(attname, value)`) is also set on every row of `changes` in the same statement.
    """
    if not changes:
        return
    path = vendor_path(model)
    opts = model._meta
    attnames = list(dict.fromkeys(name for _, values in changes for name in values))
    fields = [opts.get_field(name) for name in attnames]  # get_field() knows attnames ("author_id") too
    stamp_field = opts.get_field(stamp[0]) if stamp else None
    casts = _casts(model, [opts.pk, *fields, *([stamp_field] if stamp_field else [])]) if path == "postgresql" else {}
    if path == "orm" or casts is None or any(f.primary_key or not f.concrete for f in fields):
        _orm_update(model, changes, fields, stamp)
        return
    connection = _connection(model)
    qn = connection.ops.quote_name
    table = qn(opts.db_table)
    everywhere = {name for name in attnames if all(name in values for _, values in changes)}
    # The VALUES columns: the pk, then per field its value and, when some rows leave it alone, a flag.
    prep_pk = opts.pk.get_db_prep_save
    slots: list[tuple[str, Callable[[Any, dict[str, Any]], Any]]] = [("k", lambda pk, _: prep_pk(pk, connection))]
    assignments = []
    for i, (name, field) in enumerate(zip(attnames, fields)):
        value = f"v{i}"
        slots.append((value, _value_getter(name, field, connection)))
        target = qn(field.column)
        if name in everywhere:
            assignments.append(f"{target} = {_ref(path, slots, value)}")
        else:
            flag = f"f{i}"
            slots.append((flag, _flag_getter(name, path)))
            given, new = _ref(path, slots, flag), _ref(path, slots, value)
            assignments.append(f"{target} = CASE WHEN {given} THEN {new} ELSE {table}.{target} END")
    params_head: list[Any] = []
    if stamp_field is not None:
        assignments.append(f"{qn(stamp_field.column)} = %s")
        params_head.append(stamp_field.get_db_prep_save(stamp[1], connection))  # type: ignore[index]
    if path == "postgresql":
        kinds = [casts[opts.pk]]
        for name, field in zip(attnames, fields):
            kinds.append(casts[field])
            if name not in everywhere:
                kinds.append("boolean")
        row_sql = "(" + ", ".join(f"%s::{kind}" for kind in kinds) + ")"
        alias = "v(" + ", ".join(name for name, _ in slots) + ")"
    else:
        row_sql = "(" + ", ".join(["%s"] * len(slots)) + ")"
        alias = "v"
    where = f"{table}.{qn(opts.pk.column)} = {_ref(path, slots, 'k')}"
    if path == "postgresql" and len(changes) >= COPY_UPDATE_MIN_ROWS and connection.in_atomic_block:
        # COPY into a temporary table then one UPDATE ... FROM it: 1.7 (500 rows) to 2.9 (5,000) times faster than
        # VALUES here, whose every parameter psycopg quotes into the statement (benchmarks/bench_bulk.py).
        temp = qn(_TEMP_TABLE)
        columns = ", ".join(f"{name} {kind}" for (name, _), kind in zip(slots, kinds))
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE {temp} ({columns}) ON COMMIT DROP")
            rows = [[getter(pk, values) for _, getter in slots] for pk, values in changes]
            _copy(connection, cursor, f"COPY {temp} FROM STDIN", rows)
            cursor.execute(f"UPDATE {table} SET {', '.join(assignments)} FROM {temp} AS v WHERE {where}", params_head)
            cursor.execute(f"DROP TABLE {temp}")
        return
    per_statement = max(1, (_max_params(connection) - len(params_head)) // len(slots))
    with connection.cursor() as cursor:
        for start in range(0, len(changes), per_statement):
            chunk = changes[start : start + per_statement]
            params = list(params_head)
            for pk, values in chunk:
                params.extend(getter(pk, values) for _, getter in slots)
            sql = (
                f"UPDATE {table} SET {', '.join(assignments)} FROM (VALUES {', '.join([row_sql] * len(chunk))}) "
                f"AS {alias} WHERE {where}"
            )
            cursor.execute(sql, params)


def _orm_update(
    model: type[models.Model],
    changes: Sequence[tuple[Any, dict[str, Any]]],
    fields: list[models.Field[Any, Any]],
    stamp: tuple[str, Any] | None,
) -> None:
    """`bulk_update` per column (Django's `CASE WHEN`), then the stamp: what `update` replaces."""
    by_field: dict[str, list[models.Model]] = {}
    for pk, values in changes:
        instance = model(pk=pk, **values)
        for name in values:
            by_field.setdefault(name, []).append(instance)
    for field in fields:
        model._base_manager.bulk_update(by_field[field.attname], [field.name])
    if stamp is not None:
        model._base_manager.filter(pk__in=[pk for pk, _ in changes]).update(**{stamp[0]: stamp[1]})


def _value_getter(name: str, field: models.Field[Any, Any], connection: Any) -> Callable[[Any, dict[str, Any]], Any]:
    prep = field.get_db_prep_save
    unprepared = unprepared_types(field, connection)

    def get(pk: Any, values: dict[str, Any]) -> Any:
        if name not in values:
            return None
        value = values[name]
        return value if type(value) in unprepared else prep(value, connection)

    return get


def _flag_getter(name: str, path: str) -> Callable[[Any, dict[str, Any]], Any]:
    if path == "postgresql":
        return lambda pk, values: name in values
    return lambda pk, values: 1 if name in values else 0


def _ref(path: str, slots: list[tuple[str, Any]], name: str) -> str:
    """How the statement names VALUES column `name`: `v.name` (PostgreSQL) or `v.columnN` (SQLite)."""
    if path == "postgresql":
        return f"v.{name}"
    return f"v.column{[slot for slot, _ in slots].index(name) + 1}"


def _casts(model: type[models.Model], fields: list[Any]) -> dict[Any, str] | None:
    """The PostgreSQL type of each field's column, without length or precision (a cast to `varchar(3)` would
    cut a longer value where the assignment refuses it); `None` if one has no type Django knows."""
    connection = _connection(model)
    casts = {}
    for field in fields:
        db_type = field.db_type(connection)
        if not db_type:
            return None
        casts[field] = _TYPE_MODIFIER.sub("", db_type).strip()
    return casts


def _insert_fields(model: type[models.Model]) -> list[Any] | None:
    """The columns an insert writes (those of `bulk_create`), or `None` when only the ORM can insert the rows:
    multi-table inheritance, database defaults (`db_default`)."""
    opts = model._meta
    if opts.parents:
        return None
    fields = [f for f in opts.concrete_fields if not getattr(f, "generated", False)]
    if any(getattr(f, "db_default", NOT_PROVIDED) is not NOT_PROVIDED for f in fields):
        return None
    return fields


# Parameters left for a query's own, beside the values it is given (Django 6 compares a boolean expression
# in ``filter()`` with ``True``, an ``UPDATE`` sets a column...).
OWN_PARAMETERS = 8


def max_parameters(model: type[models.Model], *, write: bool = True) -> int:
    """The most values one query may be given on the database `model` is written to (read from, with
    `write=False`), leaving `OWN_PARAMETERS` for the query's own."""
    alias = router.db_for_write(model) if write else router.db_for_read(model)
    return max(1, _max_params(connections[alias]) - OWN_PARAMETERS)


def _max_params(connection: Any) -> int:
    if connection.vendor == "sqlite":
        raw = connection.connection
        getlimit = getattr(raw, "getlimit", None)
        if getlimit is not None:
            return int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        return int(connection.features.max_query_params or 999)
    return _PG_MAX_PARAMS


def _copy(connection: Any, cursor: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run `COPY ... FROM STDIN` with `rows` through the connection's execute wrappers and query log."""

    def run(sql: str, params: Any, many: bool, context: dict[str, Any]) -> None:
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors:
            raw = cursor.cursor
            if not hasattr(raw, "copy"):
                raise NotSupportedError("COPY needs psycopg 3")
            with raw.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)

    if isinstance(cursor, CursorDebugWrapper):
        with cursor.debug_sql(f"{sql} ({len(rows)} rows)"):
            cursor._execute_with_wrappers(sql, None, False, run)
    else:
        cursor._execute_with_wrappers(sql, None, False, run)


# Per (database alias, table): (rows the planner's statistics last counted, rows inserted by this process since).
_grown: dict[tuple[str, str], list[float]] = {}


def _refresh_statistics(connection: Any, cursor: Any, table: str, inserted: int) -> None:
    """`ANALYZE` a PostgreSQL table once this process has inserted as many rows as its statistics count.

    A bulk load outruns autovacuum (or runs where it is off): a table created empty has no statistics, and the
    planner then guesses that `external_id IN (500 ids)` matches most rows and scans the whole table for each
    batch, so a cold sync slows down as the table grows (quadratic: 5,300 instead of 8,000 records/s over a
    million rows). Refreshing the statistics each time the table has doubled costs about twenty `ANALYZE` (a
    sample of 30,000 rows each) over a million rows.
    """
    key = (connection.alias, table)
    state = _grown.get(key)
    if state is None:
        cursor.execute(
            "SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", [connection.ops.quote_name(table)]
        )
        found = cursor.fetchone()
        state = _grown[key] = [float(found[0]) if found else 0.0, 0.0]
    state[1] += inserted
    if state[1] >= max(_ANALYZE_MIN_ROWS, state[0]):
        cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        state[0], state[1] = state[0] + state[1], 0.0


# Fewest rows inserted between two ``ANALYZE`` of a table.
_ANALYZE_MIN_ROWS = 20_000


def _connection(model: type[models.Model]) -> Any:
    return connections[router.db_for_write(model)]

