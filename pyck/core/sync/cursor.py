"""The cursor's encoding: cursor values as JSON for the `SyncState` table (`pyck.core.models.state`), high-water
marks, and the text a checkpoint's filter is compared by.

Part of the sync engine; the docs page "How a sync works" describes the whole.

Cursor values are stored tagged with their type (`{"datetime": "2026-11-27T10:00:00+00:00"}`) so that they
come back as the same type and compare the same way.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from ..exceptions import SyncError

__all__ = ["aware", "canonical", "decode_value", "describe", "encode_value", "later", "read_cursor"]

_MISSING = object()


def encode_value(value: Any) -> dict[str, Any] | None:
    """Return `value` as tagged JSON; raises `SyncError` for a type a cursor cannot be."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return {"datetime": aware(value).isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, bool):
        raise SyncError(f"A cursor cannot be a bool ({value!r}): use a timestamp, a number or a string.")
    if isinstance(value, int):
        return {"int": value}
    if isinstance(value, float):
        return {"float": value}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, str):
        return {"str": value}
    raise SyncError(f"A cursor must be a datetime, date, number or string; got {type(value).__name__} {value!r}.")


def decode_value(data: Any) -> Any:
    """The inverse of `encode_value`."""
    if data is None:
        return None
    ((kind, raw),) = data.items()
    if kind == "datetime":
        return datetime.fromisoformat(raw)
    if kind == "date":
        return date.fromisoformat(raw)
    if kind == "decimal":
        return Decimal(raw)
    return raw


def aware(value: datetime) -> datetime:
    """`value`, made aware in the default time zone if it is naive (as the engine stores datetimes)."""
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def read_cursor(resource: Any, path: str) -> Any:
    """The value at the dotted `path` of `resource` (attributes or keys); `None` if absent."""
    current = resource
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part, _MISSING)
        else:
            current = getattr(current, part, _MISSING)
        if current is _MISSING or current is None:
            return None
    if isinstance(current, datetime):
        return aware(current)
    return current


def later(high: Any, value: Any, *, field: str) -> Any:
    """The larger of `high` and `value` (either may be `None`)."""
    if value is None:
        return high
    if high is None:
        return value
    try:
        return value if value > high else high
    except TypeError:
        raise SyncError(
            f"The cursor field {field!r} holds values that cannot be compared: {high!r} and {value!r}."
        ) from None


def canonical(filter_: dict[str, Any]) -> str:
    """A stable text for a `list()` filter, to tell whether a checkpoint was made with the same one."""
    return json.dumps(filter_, sort_keys=True, default=str)


def describe(data: Any) -> str:
    """A short human text for a stored cursor (for `--list` and the admin)."""
    if data is None:
        return "-"
    value = decode_value(data)
    return value.isoformat() if isinstance(value, (datetime, date)) else str(value)
