"""How an Airtable record becomes the values of a resource: `airtable_field` and `RecordLayout`.

An Airtable record is `{"id": "rec…", "createdTime": "2024-…Z", "fields": {"Name": "Ada", …}}`
([list records](https://airtable.com/developers/web/api/list-records),
[get record](https://airtable.com/developers/web/api/get-record)). A resource (a dataclass) names the column
each of its fields reads with `airtable_field("Column Name")`; a field without it reads the column of its own
name, as in `groundwork.contrib.airtable`.

What the layout does with each record (`RecordLayout.values`):

- **Omitted cells.** Airtable leaves empty cells out of `fields` ("Returned records do not include any fields
  with "empty" values, e.g. "", [], or false", list records). A field whose column is missing gets its type's
  empty value: `False` for `bool`, `""` for `str`, `[]` for a list, `{}` for a mapping, as in the original;
  else its default, if it has one; else `None`. A field typed `X | None` gets `None` (the original gave `""`
  for `Optional[str]`), so that an empty link is a null foreign key, not a link to the id `""`; a list or a
  mapping typed `X | None` still gets `[]` or `{}`. Every field gets a value, so a sync clears a column whose
  cell was emptied.
- **Record id and creation time.** The field named like the datasource's `identifier` (`id`) reads the
  record's `id`; a field named `created_time` or `createdTime` without `airtable_field` reads its
  `createdTime`.
- **Linked records.** A linked-record cell is a list of record ids (`["recA…", "recB…"]`). A field typed as a
  list keeps the list (a many-to-many); a field typed as one value (`str | None`, a foreign key) takes the
  list's only id, or its empty value for an empty list; more than one id there is an `InvalidResourceError`
  naming the field, rather than a link silently dropped. Lookup cells, which are lists too, are read the same
  way.
- **Field ids.** `airtable_field("fldXXXXXXXXXXXXXX")` names the column by its field id, which does not change
  when the column is renamed. A resource that does so names every column by id; the datasource then asks for
  `returnFieldsByFieldId=true` (list records, get record), so that `fields` is keyed by ids.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import re
import threading
import types
import typing
from collections.abc import Mapping
from typing import Any

from pyck.core.datasources import ConfigurationError, InvalidResourceError

__all__ = ["FIELD_ID", "METADATA_KEY", "RecordLayout", "airtable_field", "column_of", "layout_for"]

METADATA_KEY = "pyck.contrib.airtable"
"""The key of `airtable_field`'s entry in a dataclass field's `metadata`."""

FIELD_ID = re.compile(r"fld[A-Za-z0-9]{14}")
"""An Airtable field id: `fld` and 14 letters or digits (`fldAbCdEfGhIjKlMn`)."""

# Fields read from the record itself rather than from its cells (see the module docstring).
_CREATED_TIME_FIELDS = ("created_time", "createdTime")


def airtable_field(name: str, **kwargs: Any) -> Any:
    """Return a [dataclass field](https://docs.python.org/3/library/dataclasses.html#dataclasses.field) that
    reads the Airtable column `name`, a column name (`"First Name"`) or a field id (`"fldAbCdEfGhIjKlMn"`).

    ```python
    @dataclass
    class Person:
        id: str
        first_name: str = airtable_field("First Name")
        last_name: str = airtable_field("Last Name")
    ```

    A field without it reads the column of its own name. An empty cell (which Airtable leaves out) gives the
    field's type's empty value (see `pyck.contrib.airtable.fields`).

    Args:
        name: the column's name or field id.
        kwargs: passed to `dataclasses.field` (`default=...`, `metadata=...`: merged with this one's).
    """
    metadata = {METADATA_KEY: {"airtable_field": name}}
    metadata.update(kwargs.pop("metadata", None) or {})
    return dataclasses.field(metadata=metadata, **kwargs)


def column_of(field: dataclasses.Field[Any]) -> str | None:
    """The column `field` was given with `airtable_field`, or `None`."""
    entry = field.metadata.get(METADATA_KEY)
    return entry.get("airtable_field") if isinstance(entry, Mapping) else None


@dataclasses.dataclass(frozen=True)
class _Slot:
    attribute: str
    # "id", "createdTime" or "fields": where in the record the value is.
    source: str
    column: str
    # A list-typed field (many links), a scalar one (one link at most), or neither (kept as it is).
    shape: str
    empty: Any
    has_empty: bool
    # Whether `empty` is a factory (list, dict, a default_factory) to call for each record.
    factory: bool = False

    def empty_value(self) -> Any:
        return self.empty() if self.factory else self.empty


@dataclasses.dataclass(frozen=True)
class RecordLayout:
    """Where each field of a resource type reads its value in an Airtable record; see the module docstring.

    Build it with `layout_for`, which checks the resource type once.
    """

    resource_type: type
    slots: tuple[_Slot, ...]
    by_field_id: bool
    """Whether the columns are named by field id (`returnFieldsByFieldId=true`)."""

    def values(self, record: Any) -> dict[str, Any]:
        """The values of the resource's fields in `record` (a record as Airtable sends it), by attribute name.

        Raises:
            InvalidResourceError: `record` is not an Airtable record, or a one-value field's cell holds several
                values; `field` names the attribute.
        """
        if not isinstance(record, Mapping) or not isinstance(record.get("fields", {}), Mapping):
            raise InvalidResourceError(
                f"Expected an Airtable record ({{'id': ..., 'createdTime': ..., 'fields': {{...}}}}), got "
                f"{type(record).__name__}"
            )
        cells = record.get("fields") or {}
        values: dict[str, Any] = {}
        for slot in self.slots:
            if slot.source != "fields":
                if slot.source in record:
                    values[slot.attribute] = record[slot.source]
                continue
            if slot.column in cells:
                value = cells[slot.column]
                if slot.shape == "one" and isinstance(value, list):
                    value = _only_value(slot, value)
                    if value is _EMPTY:
                        value = slot.empty_value()
                values[slot.attribute] = value
            elif slot.has_empty:
                values[slot.attribute] = slot.empty_value()
            else:
                values[slot.attribute] = None
        return values


_EMPTY: Any = object()


def _only_value(slot: _Slot, value: list[Any]) -> Any:
    if not value:
        return _EMPTY
    if len(value) == 1:
        return value[0]
    error = InvalidResourceError(
        f"Column {slot.column!r} holds {len(value)} values ({', '.join(map(repr, value[:3]))}"
        f"{', ...' if len(value) > 3 else ''}) but field {slot.attribute!r} holds one: type it as a list "
        "(list[str]) to keep them all, a many-to-many for linked records"
    )
    error.field = slot.attribute
    raise error


_layouts: dict[tuple[type, str], RecordLayout] = {}
_layouts_lock = threading.Lock()


def layout_for(resource_type: type, *, identifier: str = "id") -> RecordLayout:
    """The `RecordLayout` of `resource_type` (a dataclass), built once per type and cached.

    Raises:
        ConfigurationError: `resource_type` is not a dataclass, or it names some columns by field id and others
            by name (Airtable keys one answer's cells by one or the other, `returnFieldsByFieldId`).
    """
    key = (resource_type, identifier)
    layout = _layouts.get(key)
    if layout is None:
        layout = _build_layout(resource_type, identifier)
        with _layouts_lock:
            _layouts[key] = layout
    return layout


def _build_layout(resource_type: type, identifier: str) -> RecordLayout:
    if not (isinstance(resource_type, type) and dataclasses.is_dataclass(resource_type)):
        raise ConfigurationError(
            f"AirtableDatasource: resource_type must be a dataclass whose fields name Airtable columns, got "
            f"{resource_type!r}"
        )
    try:
        hints = typing.get_type_hints(resource_type)
    except Exception:  # an unresolvable forward reference: the deserialiser will say which
        hints = {}
    slots: list[_Slot] = []
    for field in dataclasses.fields(resource_type):
        if not field.init:
            continue
        column = column_of(field)
        if column is None and field.name == identifier:
            slots.append(_Slot(field.name, "id", "id", "keep", None, False))
            continue
        if column is None and field.name in _CREATED_TIME_FIELDS:
            slots.append(_Slot(field.name, "createdTime", "createdTime", "keep", None, False))
            continue
        hint = hints.get(field.name, Any)
        base = _without_none(hint)
        shape, empty = _shape_and_empty(base)
        if base is not hint and shape == "one":
            empty = None  # X | None: an empty cell (an empty link) is None, not "" (see the module docstring)
        has_empty, factory = empty is not _EMPTY, empty in (list, dict)
        if not has_empty:
            if field.default is not dataclasses.MISSING:
                empty, has_empty = field.default, True
            elif field.default_factory is not dataclasses.MISSING:
                empty, has_empty, factory = field.default_factory, True, True
        slots.append(_Slot(field.name, "fields", column or field.name, shape, empty, has_empty, factory))
    columns = [slot for slot in slots if slot.source == "fields"]
    by_id = [slot for slot in columns if FIELD_ID.fullmatch(slot.column)]
    if by_id and len(by_id) != len(columns):
        named = [slot.attribute for slot in columns if not FIELD_ID.fullmatch(slot.column)]
        raise ConfigurationError(
            f"{resource_type.__qualname__}: some fields name their Airtable column by field id "
            f"({', '.join(s.attribute for s in by_id)}) and others by name ({', '.join(named)}). Airtable keys "
            "an answer's cells by one or the other (returnFieldsByFieldId): name every column by its field id, "
            "with airtable_field('fld...'), or none."
        )
    return RecordLayout(resource_type=resource_type, slots=tuple(slots), by_field_id=bool(by_id))


def _without_none(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        if len(members) == 1:
            return _without_none(members[0])
    return tp


_LISTS = (list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Collection, collections.abc.Iterable,
          collections.abc.MutableSequence, collections.abc.Set)
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def _shape_and_empty(tp: Any) -> tuple[str, Any]:
    """`(shape, empty value)` of a field of type `tp` (without `None`): the empty value is `_EMPTY` when the
    type has none; a factory (`list`, `dict`) when it is mutable."""
    origin = typing.get_origin(tp) or tp
    if tp is bool:
        return "one", False
    if tp is str:
        return "one", ""
    if origin in _MAPPINGS:
        return "keep", dict
    if origin in _LISTS:
        return "many", list
    if tp is Any or tp is object or typing.get_origin(tp) in (typing.Union, types.UnionType):
        return "keep", _EMPTY
    return "one", _EMPTY
