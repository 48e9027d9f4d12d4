"""Which column of a sheet fills which field of a resource type: `sheet_field`, and `SheetColumns`.

A field reads the column whose header is its `sheet_field("Header")`, else the column headed with its own name.
An empty cell, or one the API left out (it drops a row's trailing empty cells: "For output, empty trailing rows
and columns will not be included", https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values#ValueRange),
gives the field its type's empty value, as `airtable_field` does for the cells Airtable omits: `False` for
`bool`, `""` for `str`, `[]` for a list, `{}` for a dict, else `None` (so an optional field is null, and a
required one of another type fails its row).
"""

from __future__ import annotations

import dataclasses
import threading
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pyck.core.exceptions import ConfigurationError

__all__ = ["Column", "SheetColumns", "sheet_field"]

# The key of a field's metadata that holds its column's header (as groundwork's airtable_field keeps its own).
_METADATA_KEY = __name__


def sheet_field(header: str, **kwargs: Any) -> Any:
    """A dataclass field read from the column headed `header` (the header row's text, compared without the
    spaces around it). Takes `dataclasses.field`'s keyword arguments too (`default=None`):

    ```python
    @dataclass
    class Volunteer:
        email: str = sheet_field("Email")
        joined: date | None = sheet_field("Date joined", default=None)
    ```

    A field with a default may have no column in the sheet: it then gets its default, and a sync leaves the
    column of the rows it updates as it was. A field without one must have its column.
    """
    if not isinstance(header, str) or not header.strip():
        raise ConfigurationError(f"sheet_field() takes the column's header text, got {header!r}")
    metadata = {_METADATA_KEY: header.strip(), **(kwargs.pop("metadata", None) or {})}
    return dataclasses.field(metadata=metadata, **kwargs)


@dataclass(frozen=True)
class Column:
    """One field of a resource type, and the column it reads."""

    name: str
    """The field's name."""
    header: str
    """The header of its column."""
    key: str
    """The key the resource type's deserialiser reads the field's value from."""
    empty: Any
    """The value an empty cell gives (its type's empty value, see the module docstring)."""
    kind: type | None
    """`date` or `datetime` for fields that take serial numbers, `str` or `int` for those that take a number
    as their own type (`17` as `"17"`, `17.0` as `17`), else `None`."""
    required: bool
    """Whether the field has no default, so that a sheet without its column cannot be read."""

    def empty_value(self) -> Any:
        """The value an empty cell gives, a new list or dict each time."""
        return type(self.empty)() if isinstance(self.empty, (list, dict)) else self.empty


class SheetColumns:
    """The columns of a resource type (a dataclass), read once per type: `SheetColumns.of(Volunteer)`."""

    _known: typing.ClassVar[dict[type, SheetColumns]] = {}
    _lock: typing.ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, resource_type: type) -> None:
        if not dataclasses.is_dataclass(resource_type):
            raise ConfigurationError(
                f"A sheet's resource_type must be a dataclass whose fields name their columns with sheet_field(), "
                f"got {resource_type!r}"
            )
        hints = typing.get_type_hints(resource_type, include_extras=False)
        self.columns: tuple[Column, ...] = tuple(
            _column(f, hints.get(f.name, Any)) for f in dataclasses.fields(resource_type) if f.init
        )
        self.by_name = {column.name: column for column in self.columns}

    @classmethod
    def of(cls, resource_type: type) -> SheetColumns:
        """The columns of `resource_type`, built on first use."""
        known = cls._known.get(resource_type)
        if known is None:
            with cls._lock:
                known = cls._known[resource_type] = cls._known.get(resource_type) or cls(resource_type)
        return known


def _column(field: dataclasses.Field[Any], annotation: Any) -> Column:
    header = field.metadata.get(_METADATA_KEY, field.name) if field.metadata else field.name
    key = field.metadata.get("json_key", field.name) if field.metadata else field.name
    required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    base, nullable = _unwrap_optional(annotation)
    origin = typing.get_origin(base) or base
    empty: Any = None
    if not nullable:
        empty = {bool: False, str: "", list: [], dict: {}}.get(origin) if isinstance(origin, type) else None
    kind = origin if origin in (date, datetime, str, int) else None
    return Column(name=field.name, header=str(header), key=str(key), empty=empty, kind=kind, required=required)


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """`(X, True)` for `X | None` and `Optional[X]`, `(annotation, False)` for anything else."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        if len(members) < len(typing.get_args(annotation)):
            return (members[0] if len(members) == 1 else annotation), True
    return annotation, False
