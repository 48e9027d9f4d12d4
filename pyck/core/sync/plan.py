"""Which model fields a sync writes, where their values come from, and how values are converted.

A `Plan` is built once per model and resource type and says, for every synced field, the resource
attribute it reads and what kind of field it is (plain value, foreign key, many-to-many, inverse relation).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import functools
import math
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connections, models, router
from django.db.backends.base.operations import BaseDatabaseOperations
from django.utils import timezone

from ..exceptions import ConfigurationError
from ..models.synced import SyncedModel
from .attributes import is_index, resource_attributes, undeclared_step
from .through import ThroughColumn, is_explicit, through_columns, through_problems

__all__ = [
    "MISSING", "FieldMapping", "Plan", "RecordFailure", "build_plan", "convert", "get_plan", "is_reference_id", "read",
    "refuse_undeclared_sources", "reverse_relations",
]

_Kind = Literal["value", "fk", "m2m", "reverse"]

# Fields a sync never writes from a resource.
_RESERVED = frozenset({"id", "last_sync_time"})

# Converts one value for one field and database alias (see :func:`_converter`).
_Converter = Callable[[Any], Any]


class RecordFailure(Exception):
    """One record cannot be written; the message says why (the caller adds the record id)."""


@dataclass(frozen=True)
class FieldMapping:
    """One synced field of a plan: the model field, the resource attribute it reads, and its kind."""

    name: str  # the model field name (or reverse accessor name)
    source: str  # the resource attribute path
    kind: _Kind
    field: Any  # Field for value/fk/m2m, ForeignObjectRel for reverse
    related: type[models.Model] | None = None
    through: tuple[ThroughColumn, ...] = ()  # m2m: the mapped extra columns of its own through model

    @property
    def attname(self) -> str:
        return self.field.attname


@dataclass
class Plan:
    """The synced fields of one model for one resource type (see `get_plan`)."""

    model: type[models.Model]
    external_id: models.Field[Any, Any]
    mappings: list[FieldMapping]
    # Built by key_function() and value_converters(), per database alias (per tuple of aliases for the values:
    # one per model their fields belong to).
    _keys: dict[str, _Converter] = dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)
    _values: dict[tuple[str, ...], list[tuple[str, str, _Converter]]] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def columns(self) -> list[FieldMapping]:
        """Mappings stored in the model's own table (values and foreign keys)."""
        return [m for m in self.mappings if m.kind in ("value", "fk")]

    def of_kind(self, *kinds: _Kind) -> list[FieldMapping]:
        return [m for m in self.mappings if m.kind in kinds]

    def key(self, raw_id: Any, alias: str | None = None) -> Any:
        """Convert a remote id to the external_id column's Python type, so `"5"` and `5` match.

        Ids are strings, integers or UUIDs (a whole float such as `5.0` passes for an integer). A boolean, a
        float with a fraction, a UUID for an integer column, or an id the column cannot store (too long, out of
        range, a NUL character, text that is not valid Unicode) is refused rather than matched to another record.
        `alias` is the database the row goes to (by default, the one the router picks for the model).
        """
        if raw_id is None:
            raise RecordFailure("the record has no id")
        field = self.external_id
        if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int, float, decimal.Decimal, uuid.UUID)):
            raise RecordFailure(f"its id {_show(raw_id)} is a {type(raw_id).__name__}, not a string, integer or UUID")
        if isinstance(raw_id, uuid.UUID) and isinstance(field, models.IntegerField):
            raise RecordFailure(f"its id {_show(raw_id)} is a UUID, so it does not fit the integer field {field.name}")
        try:
            key = field.to_python(raw_id)
        except ValidationError as error:
            raise RecordFailure(f"its id {_show(raw_id)} does not fit {field.name}: {_messages(error)}") from None
        except (ArithmeticError, TypeError, ValueError):  # int(float("inf")) and the like: Django lets them out
            raise RecordFailure(f"its id {_show(raw_id)} does not fit {field.name}") from None
        if isinstance(raw_id, (float, decimal.Decimal)) and isinstance(key, int) and key != raw_id:
            raise RecordFailure(f"its id {_show(raw_id)} is not a whole number, so it does not fit {field.name}")
        problem = _unstorable(field, key, alias)
        if problem:
            raise RecordFailure(f"its id {_show(raw_id)} does not fit {field.name}: {problem}")
        return key

    def key_function(self) -> _Converter:
        """Return `key` for the database the router picks for the model now, with a shortcut for the
        common ids (see `_converter`). Ask once per batch: the router is asked here, not per id."""
        alias = router.db_for_write(self.external_id.model)
        function = self._keys.get(alias)
        if function is None:
            slow = functools.partial(self.key, alias=alias)
            function = self._keys[alias] = _converter(self.external_id, alias, slow, ids=True)
        return function

    def value_converters(self) -> list[tuple[str, str, _Converter]]:
        """Return `(source, attname, to_value)` for each plain value mapping, where `to_value(value)` is
        `convert(field, value)` for the database the router picks for the field's model now, with shortcuts
        for the common values (see `_converter`). Ask once per batch: the router is asked here, once per
        model, not per value."""
        values = self.of_kind("value")
        routed: dict[Any, str] = {}
        for mapping in values:
            model = mapping.field.model
            if model not in routed:
                routed[model] = router.db_for_write(model)
        aliases = tuple(routed.values())
        converters = self._values.get(aliases)
        if converters is None:
            converters = self._values[aliases] = [
                (m.source, m.attname, _value_converter(m.field, routed[m.field.model])) for m in values
            ]
        return converters


_plans: dict[tuple[Any, ...], Plan] = {}


def get_plan(model: type[models.Model], sample: Any = None) -> Plan:
    """Return the plan of `model` for its current datasource (cached while the config stays the same)."""
    config = model.sync_config  # type: ignore[attr-defined]
    resource_type = config.datasource.resource_type
    field_map = tuple(sorted((config.field_map or {}).items()))
    through_map = tuple(sorted((k, tuple(sorted(v.items()))) for k, v in (config.through_map or {}).items()))
    cache_key = (model, id(config.datasource), resource_type, config.external_id, field_map, through_map)
    plan = _plans.get(cache_key)
    if plan is None:
        refuse_undeclared_sources(model)
        attributes = resource_attributes(resource_type, sample)
        plan = build_plan(model, attributes)
        if attributes is not None and isinstance(resource_type, type):
            _plans[cache_key] = plan
    return plan


def refuse_undeclared_sources(model: type[models.Model]) -> None:
    """Refuse a `field_map` path that the resource type does not declare (see `attributes.undeclared_step`):
    every record would lack it, and the field would be left empty in every row.

    Raises:
        ConfigurationError: naming the model, the `field_map` entry, the resource type, and the close matches.
    """
    config = model.sync_config  # type: ignore[attr-defined]
    resource_type = config.datasource.resource_type
    for name, source in sorted((config.field_map or {}).items()):
        undeclared = undeclared_step(resource_type, source) if source is not None else None
        if undeclared is not None:
            raise ConfigurationError(
                f"{model._meta.label}: SyncConfig(field_map={{{name!r}: {source!r}}}) reads {undeclared.describe()}, "
                f"which the resource type {undeclared.owner_name} does not declare, so {name} would be left empty in "
                f"every row: the sync refuses to run. {undeclared.suggestion()}"
            )


def reverse_relations(model: type[models.Model]) -> dict[str, Any]:
    """The inverse one-to-many relations of `model` a sync may fill (accessor name -> relation)."""
    return {
        rel.get_accessor_name(): rel
        for rel in model._meta.related_objects
        if rel.one_to_many and not rel.field.many_to_many and rel.get_accessor_name()
    }


def build_plan(model: type[models.Model], attributes: set[str] | None) -> Plan:
    """Work out the synced fields of `model` given the resource's attribute names (`None`: unknown)."""
    config = model.sync_config  # type: ignore[attr-defined]
    label = model._meta.label
    try:
        external_id = model._meta.get_field(config.external_id)
    except FieldDoesNotExist:
        raise ConfigurationError(
            f"{label}: SyncConfig(external_id={config.external_id!r}) names no field of the model. "
            f"Add `{config.external_id} = models.IntegerField(db_index=True)` (or CharField) or point external_id at an existing field."
        ) from None
    field_map = dict(config.field_map or {})
    attributes = attributes or set()
    reverse = reverse_relations(model)
    skip = _RESERVED | {external_id.name}
    if config.for_each is not None:  # set from the parent each record is listed under, never from the record
        skip |= {config.for_each.field}

    candidates: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        candidates[field.name] = field
    for field in model._meta.many_to_many:
        candidates[field.name] = field
    for accessor, rel in reverse.items():
        candidates.setdefault(accessor, rel)

    mappings: list[FieldMapping] = []
    for name, field in candidates.items():
        if name in skip or field is model._meta.pk:
            continue
        if name in field_map:
            source = field_map[name]
            if source is None:
                continue
        elif name in attributes:
            source = name
        elif getattr(field, "attname", name) in attributes and isinstance(field, models.ForeignKey):
            source = field.attname
        else:
            continue
        if isinstance(field, models.ForeignObjectRel):
            kind: _Kind = "reverse"
            related = field.related_model
        elif field.many_to_many:
            kind, related = "m2m", field.related_model
        elif field.is_relation:
            kind, related = "fk", field.related_model
        else:
            kind, related = "value", None
        if related is not None and not (isinstance(related, type) and issubclass(related, SyncedModel)):
            raise ConfigurationError(
                f"{label}.{name} relates to {getattr(related, '__name__', related)}, which is not a SyncedModel, so its "
                f"values cannot be resolved. Make it a SyncedModel or exclude the field: field_map={{{name!r}: None}}."
            )
        through = through_columns(model, field) if kind == "m2m" and is_explicit(field) else ()
        mappings.append(FieldMapping(name=name, source=source, kind=kind, field=field, related=related, through=through))
    problems = through_problems(model, [m.field for m in mappings if m.kind == "m2m"])
    if problems:
        raise ConfigurationError(" ".join(f"{message} {hint}" for message, hint in problems))
    unknown = sorted(set(field_map) - set(candidates) - _RESERVED)
    if unknown:
        raise ConfigurationError(
            f"{label}: SyncConfig(field_map=...) names {', '.join(map(repr, unknown))}, which "
            f"{'is not a field' if len(unknown) == 1 else 'are not fields'} of the model. "
            f"Keys are model field names; the fields are: {', '.join(sorted(candidates))}."
        )
    return Plan(model=model, external_id=external_id, mappings=mappings)


# What :func:`read` returns for an attribute the record does not carry at all (a key absent from a dict).
MISSING: Any = object()


def read(resource: Any, path: str) -> Any:
    """Read a dotted attribute path from a resource (objects or dicts).

    A step that is an integer indexes into a list or tuple: `identifiers.0` is the first identifier,
    `links.-1.href` the last link's `href` (negative indexes count from the end, as in Python). A dict's key
    comes first: on a dict, `0` reads the key `"0"`.

    A null step gives `None`; an absent attribute or key gives `MISSING`, and so does an index out of range or
    an index into something that is not a list or tuple, so that partial records (embedded copies often are)
    leave the columns they do not carry alone.
    """
    if "." not in path:  # one step, as most paths are: no list of parts to build
        if resource is None:
            return None
        if isinstance(resource, dict):
            return resource.get(path, MISSING)
        return getattr(resource, path, MISSING)
    value = resource
    for part in path.split("."):
        if value is None:
            return None
        if isinstance(value, dict):
            value = value.get(part, MISSING)
        else:
            found = getattr(value, part, MISSING)
            # Only a step no attribute answers can be an index: attribute paths cost no more than before.
            value = found if found is not MISSING or not isinstance(value, (list, tuple)) else _index(value, part)
        if value is MISSING:
            return MISSING
    return value


def _index(items: list[Any] | tuple[Any, ...], step: str) -> Any:
    """`items[int(step)]`, or `MISSING` when `step` is not an index (see `is_index`) or is out of range."""
    if not is_index(step):
        return MISSING
    try:
        return items[int(step)]
    except IndexError:
        return MISSING


def is_reference_id(value: Any) -> bool:
    """True when `value` is an id to look up (`str`, `int`, `UUID`) rather than an embedded resource."""
    return isinstance(value, (str, int, uuid.UUID)) and not isinstance(value, bool)


def convert(field: models.Field[Any, Any], value: Any, alias: str | None = None) -> Any:
    """Convert a resource value for `field` exactly as it would come back from the database.

    `None` (or a value the field reads as none, such as `""` for a number) becomes `None` in a nullable
    field, else the field's default (`""` for text fields); naive datetimes become aware in the current time
    zone when `USE_TZ` is on; decimals are rounded to the field's decimal places as the database rounds them.
    `alias` is the database the value goes to (by default, the one the router picks for the field's model).

    Raises:
        RecordFailure: the field rejects the value, the database could not store it (see `_unstorable`),
            or it is required and the value is `None`.
    """
    if value is None:
        if field.null:
            return None
        if field.has_default():
            return field.get_default()
        if field.empty_strings_allowed and isinstance(field, (models.CharField, models.TextField)):
            return ""
        raise RecordFailure(f"field {field.name!r} is required but the record has no value for it")
    if isinstance(field, models.DateTimeField):
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            value = datetime.datetime(value.year, value.month, value.day)
        elif not isinstance(value, datetime.datetime):
            value = _to_python(field, value)
        if value is not None and settings.USE_TZ and timezone.is_naive(value):
            try:
                value = timezone.make_aware(value, timezone.get_current_timezone())
            except (OverflowError, ValueError):
                raise RecordFailure(f"field {field.name!r} rejects the value {_show(value)}: out of range") from None
    else:
        value = _to_python(field, value)
    if value is None:  # "" for a number or a date: no value
        return convert(field, None)
    if isinstance(field, models.DecimalField) and isinstance(value, decimal.Decimal):
        try:
            return _round_as_stored(field, value, alias)
        except decimal.InvalidOperation:
            pass  # too many digits: _unstorable() says so
    problem = _unstorable(field, value, alias)
    if problem:
        raise RecordFailure(f"field {field.name!r} {problem}")
    return value


def _to_python(field: models.Field[Any, Any], value: Any) -> Any:
    try:
        return field.to_python(value)
    except ValidationError as error:
        raise RecordFailure(f"field {field.name!r} rejects the value {_show(value)}: {_messages(error)}") from None
    except (ArithmeticError, TypeError, ValueError):  # int(float("inf")), parse_datetime(12): Django lets them out
        raise RecordFailure(f"field {field.name!r} rejects the value {_show(value)}: out of range") from None


# Every check below stands for a value the database would refuse, or that SQLite would store but PostgreSQL would
# refuse (or SQLite would store as something else), failing the whole batch (redone row by row), crashing the sync
# outside any database error (OverflowError, UnicodeEncodeError, decimal.InvalidOperation), or changing the value
# unnoticed. Refusing them here names the record and the field, costs nothing, and behaves the same on every
# database; the one exception is NaN in a float column, which PostgreSQL stores and the others cannot.


def _unstorable(field: models.Field[Any, Any], value: Any, alias: str | None = None) -> str | None:
    """Say why the database cannot store `value` (already converted by `field`) as it is, or return `None`.

    `alias`: the database (by default, the one the router picks for the field's model)."""
    if isinstance(value, str):
        if field.max_length is not None and len(value) > field.max_length:
            return f"holds at most {field.max_length} characters; the value has {len(value)}"
        if "\x00" in value:
            return f"cannot store the NUL character in {_show(value)} (PostgreSQL refuses it in text)"
        if not value.isascii():  # ASCII is valid UTF-8: only other text can hold a lone surrogate
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as error:
                where = f"a lone surrogate at position {error.start}"
                return f"cannot store {_show(value)}: it is not valid Unicode ({where})"
    elif isinstance(value, int) and not isinstance(value, bool) and isinstance(field, models.IntegerField):
        limits = _integer_range(field, _alias(field, alias))
        if limits is None:  # a custom integer field type the backend does not know: let the database judge
            return None
        low, high = limits
        if (low is not None and value < low) or (high is not None and value > high):
            return f"holds integers from {low} to {high}; the value {_show(value)} is out of range"
    elif isinstance(field, models.JSONField):
        if _holds_non_finite(value):
            return f"cannot store NaN or infinity: JSON has neither (the value {_show(value)})"
    elif isinstance(value, float):
        if value != value:  # NaN
            vendor = _vendor(_alias(field, alias))
            if vendor != "postgresql":
                stored = ", which would store it as NULL" if vendor == "sqlite" else ""
                return f"cannot store NaN on {vendor}{stored} (only PostgreSQL's float columns hold NaN)"
    elif isinstance(value, datetime.datetime) and value.tzinfo is not None:
        try:
            value.astimezone(datetime.timezone.utc)
        except OverflowError:
            return f"cannot store {value.isoformat()}: it is out of range once converted to UTC"
    elif isinstance(value, decimal.Decimal) and isinstance(field, models.DecimalField):
        try:
            _round_as_stored(field, value, alias)
        except decimal.InvalidOperation:
            return f"holds at most {field.max_digits} digits, {field.decimal_places} of them decimals; the value {_show(value)} does not fit"
    return None


def _holds_non_finite(value: Any) -> bool:
    """True when `value` (a JSON field's value: dicts, lists and scalars) holds a float NaN or infinity anywhere."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float):
            if item - item != 0:  # NaN, or an infinity (inf - inf is NaN)
                return True
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return False


def _is_utf8(text: str) -> bool:
    """True when `text` encodes to UTF-8 (holds no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _round_as_stored(
    field: models.DecimalField, value: decimal.Decimal, alias: str | None = None  # type: ignore[type-arg]
) -> decimal.Decimal:
    """Round `value` to the field's decimal places as the database does, so an unchanged record compares equal.

    PostgreSQL rounds halves away from zero; SQLite stores a float, which Django reads back rounding halves to
    even. Raises `decimal.InvalidOperation` when the value has more digits than `max_digits`. `alias`: the
    database (by default, the one the router picks for the field's model).
    """
    exponent, context = _quantizer(field, _alias(field, alias))
    return value.quantize(exponent, context=context)


def _quantizer(
    field: models.DecimalField, alias: str  # type: ignore[type-arg]
) -> tuple[decimal.Decimal, decimal.Context]:
    rounding = decimal.ROUND_HALF_UP if _vendor(alias) == "postgresql" else decimal.ROUND_HALF_EVEN
    key = (rounding, field.max_digits, field.decimal_places)
    quantizer = _QUANTIZERS.get(key)
    if quantizer is None:
        context = decimal.Context(prec=field.max_digits, rounding=rounding, traps=[decimal.InvalidOperation])
        quantizer = _QUANTIZERS[key] = (decimal.Decimal(1).scaleb(-field.decimal_places), context)
    return quantizer


# What a value check needs to know about the database, read once per database alias rather than once per value
# (``connections[alias]`` is a thread-local lookup, about half the cost of checking an integer): an alias's backend
# does not change while the process runs. The router is asked once per batch (see Plan.value_converters), or,
# through convert() without an alias, once per value.

# Per database alias: its vendor (``"postgresql"``, ``"sqlite"``...).
_VENDORS: dict[str, str] = {}

# Per (database alias, field type): the field type's integer range (see _integer_range), or ``None`` when it has none.
_INTEGER_RANGES: dict[tuple[str, str], tuple[int | None, int | None] | None] = {}

# Per (rounding, max_digits, decimal_places): the exponent a decimal is rounded to, and the context rounding it
# (shared by threads: ``quantize`` reads its settings; the flags it sets are never read).
_QUANTIZERS: dict[tuple[str, int, int], tuple[decimal.Decimal, decimal.Context]] = {}


def _alias(field: models.Field[Any, Any], alias: str | None) -> str:
    return alias if alias is not None else router.db_for_write(field.model)


def _vendor(alias: str) -> str:
    vendor = _VENDORS.get(alias)
    if vendor is None:
        vendor = _VENDORS[alias] = connections[alias].vendor
    return vendor


def _integer_range(field: models.Field[Any, Any], alias: str) -> tuple[int | None, int | None] | None:
    """The integers `field` may hold: for Django's integer fields, the ranges Django documents, "safe in all
    databases supported by Django" (`IntegerField`: 32 bits, whatever SQLite would store), so that a value is
    refused alike on every database; for another type, the backend's range, or `None` when it knows none."""
    internal_type = field.get_internal_type()
    try:
        return _INTEGER_RANGES[alias, internal_type]
    except KeyError:
        pass
    limits = BaseDatabaseOperations.integer_field_ranges.get(internal_type)
    if limits is None:
        try:
            limits = connections[alias].ops.integer_field_range(internal_type)
        except KeyError:
            limits = None
    _INTEGER_RANGES[alias, internal_type] = limits
    return limits


def _value_converter(field: models.Field[Any, Any], alias: str) -> _Converter:
    return _converter(field, alias, functools.partial(convert, field, alias=alias))


def _converter(field: models.Field[Any, Any], alias: str, slow: _Converter, *, ids: bool = False) -> _Converter:
    """Return `slow` (`convert` or `Plan.key` for `field` and database `alias`) behind a shortcut for
    the values whose outcome is known without it.

    The shortcut covers Django's own field classes (a subclass overriding `to_python` does not get one) and
    values of exactly the type the field stores: `str` for a `CharField` or `TextField`, `int` for an
    integer field, and, unless `ids`, `bool` for a `BooleanField`, `datetime.date` for a `DateField`,
    a finite `Decimal` for a `DecimalField`. It returns what `slow` would return, only when `slow` would
    accept the value; anything else (`None`, other types, a value to refuse) goes to `slow`, so the results
    and the error messages are the same.
    """
    if isinstance(field, models.DateTimeField):  # convert() reads dates into datetimes before to_python
        return slow
    if isinstance(field, models.DecimalField):
        if ids or not _djangos_to_python(field, models.DecimalField):
            return slow
        exponent, context = _quantizer(field, alias)

        def to_decimal(value: Any) -> Any:
            if type(value) is decimal.Decimal and value.is_finite():
                try:
                    return value.quantize(exponent, context=context)
                except decimal.InvalidOperation:
                    pass  # too many digits: slow() says so
            return slow(value)

        return to_decimal
    if _djangos_to_python(field, models.CharField) or _djangos_to_python(field, models.TextField):
        limit = sys.maxsize if field.max_length is None else field.max_length

        def to_text(value: Any) -> Any:
            if type(value) is str and len(value) <= limit and "\x00" not in value:
                if value.isascii() or _is_utf8(value):  # ASCII is valid UTF-8: skip encoding it
                    return value
            return slow(value)

        return to_text
    if _djangos_to_python(field, models.IntegerField):
        limits = _integer_range(field, alias)
        low, high = limits if limits is not None else (None, None)
        lowest = -math.inf if low is None else low
        highest = math.inf if high is None else high

        def to_integer(value: Any) -> Any:
            if type(value) is int and lowest <= value <= highest:
                return value
            return slow(value)

        return to_integer
    if ids:
        return slow
    if _djangos_to_python(field, models.BooleanField):
        if field.null and (True in field.empty_values or False in field.empty_values):
            return slow  # to_python would read a boolean as none

        def to_boolean(value: Any) -> Any:
            return value if type(value) is bool else slow(value)

        return to_boolean
    if _djangos_to_python(field, models.DateField):

        def to_date(value: Any) -> Any:
            return value if type(value) is datetime.date else slow(value)

        return to_date
    return slow


def _djangos_to_python(field: models.Field[Any, Any], base: type[models.Field[Any, Any]]) -> bool:
    """True when `field` is a `base` reading values with `base`'s own `to_python` (not an override)."""
    return isinstance(field, base) and getattr(field.to_python, "__func__", None) is base.to_python


def _show(value: Any, limit: int = 80) -> str:
    """`repr(value)`, shortened: a record's values may be megabytes long, and error messages are stored."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 15]}...({len(text)} characters)"


def _messages(error: ValidationError, limit: int = 200) -> str:
    """The messages of a `ValidationError`, which quote the value: unprintable characters escaped, shortened."""
    texts = [repr(message)[1:-1] for message in error.messages]
    return "; ".join(t if len(t) <= limit else f"{t[: limit - 15]}...({len(t)} characters)" for t in texts)
