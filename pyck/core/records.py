"""Turn parsed JSON into typed resources (dataclasses), by their type hints.

`deserializer_for` reads a resource type's hints once and returns a function that converts one record:

```python
@dataclass
class Party:
    id: int
    name: str

@dataclass
class Member:
    id: int
    name: str = field(metadata={"json_key": "nameDisplayAs"})
    thumbnail_url: str | None = None
    latest_party: Party | None = None

to_member = deserializer_for(Member, camel_case=True)
to_member({"id": 172, "nameDisplayAs": "Ms Diane Abbott", "latestParty": {"id": 15, "name": "Labour"}})
```

**Supported annotations:** dataclasses (nested, self-referential, with forward references),
`X | None`/`Optional[X]`, other unions (each member tried in order), `list[X]`/`Sequence[X]`,
`tuple[X, ...]` and `tuple[X, Y]`, `dict[K, V]`/`Mapping[K, V]`, `str`, `int`, `float`, `bool`,
`Decimal`, `datetime` and `date` (ISO 8601 strings, parsed with `dateutil.parser.isoparse`: aware when the
string carries an offset, naive otherwise), `UUID`, `Enum` (by value), `Literal[...]`, `Any` and
`object` (passed through), `Annotated[X, ...]` and `NewType` (as `X`), a class that is not a dataclass
with a `from_json(data)` classmethod, and any type in `CONVERTERS`. `InitVar` fields are read like the
others; `init=False` fields and `ClassVar` are not.

**Strict types.** A missing required field, `null` for a field that is not optional, or a value of the wrong
type raises `InvalidResourceError` whose `field` is the dotted path to the
problem (`latest_party.id`, `items[2].name`). `bool` is not an `int`. The only conversions made are an
`int` for a `float`; an `int`, a `float` or a numeric string for a `Decimal`; and a string for a
`UUID`, `date` or `datetime`. Unknown JSON keys are ignored; fields with defaults may be missing: they get
their defaults, and `absent_fields(record)` names them, so that a key absent from the JSON can be told from a
key present with `null` (the sync engine leaves the columns of absent fields alone).

**JSON keys.** A field reads the key of its own name, or its camelCase form with `camel_case=True`
(`thumbnail_url` reads `thumbnailUrl`). `field(metadata={"json_key": "nameDisplayAs"})` names the key
explicitly, with or without `camel_case`; two fields may read the same key.

**Extending.** Give a class a `from_json(data)` classmethod (its errors become `InvalidResourceError`), or
register a converter for a leaf type with `register_converter`. An annotation that none of these covers
raises `ConfigurationError` when the deserialiser is built.
"""

from __future__ import annotations

import dataclasses
import enum
import keyword
import logging
import threading
import types
import typing
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from datetime import time as time_of_day
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, overload
from uuid import UUID

from dateutil.parser import isoparse

from .exceptions import ConfigurationError, InvalidResourceError

__all__ = [
    "CONVERTERS",
    "absent_fields",
    "deserialize",
    "deserializer_for",
    "register_converter",
    "to_camel_case",
    "unregister_converter",
]

T = TypeVar("T")

logger = logging.getLogger("pyck.records")

# Converters for leaf types, by exact type: each takes the raw JSON value (never ``None``) and returns the
# value to store, raising any exception for data it cannot convert (it becomes an ``InvalidResourceError``).
# An entry takes precedence over pyck's own handling of that type. Prefer :func:`register_converter`, which
# also forgets the deserialisers already built; an entry added here directly is only seen by deserialisers
# built afterwards.
CONVERTERS: dict[type, Callable[[Any], Any]] = {}

# How much of a value an error message quotes.
_MAX_SHOWN = 80

_MISSING: Any = object()
_NoneType = type(None)

# The attribute a deserialiser sets on a record some of whose fields with defaults had no JSON key (see
# absent_fields): the names of those fields.
_ABSENT = "_pyck_absent_fields"
_NOTHING_ABSENT: frozenset[str] = frozenset()
_MIDNIGHT = time_of_day()

# An internal converter: takes one raw value, returns the converted value, raises _Invalid.
_Convert = Callable[[Any], Any]

# One field of a dataclass as its converter reads it: (attribute, json_key, exact, field_convert, required).
_FieldSpec = tuple[str, str, type | None, _Convert, bool]

# Whether dataclass converters are generated code (_generated_convert) rather than a loop (_generic_convert).
# Tests turn it off to compare the two.
_GENERATE_CONVERTERS = True

# Past this many fields a dataclass keeps the loop: compiling grows faster than the number of fields.
_MAX_GENERATED_FIELDS = 1000


class _Invalid(Exception):
    """A value does not fit; `parts` is the path to it, innermost first (`"name"`, `"[2]"`, `"items"`)."""

    def __init__(self, reason: str, parts: list[str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.parts = parts if parts is not None else []

    def path(self) -> str | None:
        text = ""
        for part in reversed(self.parts):
            text += part if part.startswith("[") or not text else f".{part}"
        return text or None


class _Converter(typing.NamedTuple):
    """How to convert one annotation: `convert`, what it expects (for messages), and a fast path.

    `exact` is a type whose instances `convert` would return unchanged, so callers may skip the call when
    `type(value) is exact`; `None` when there is no such shortcut.
    """

    convert: _Convert
    expected: str
    exact: type | None = None


# --- Public API ------------------------------------------------------------------------------------------------

_PLANS: dict[tuple[Any, bool], Callable[[Any], Any]] = {}
_DATACLASS_CONVERTERS: dict[tuple[type, bool], _Converter] = {}
_LOCK = threading.RLock()


@overload
def deserializer_for(resource_type: type[T], *, camel_case: bool = False) -> Callable[[Any], T]: ...
@overload
def deserializer_for(resource_type: Any, *, camel_case: bool = False) -> Callable[[Any], Any]: ...
def deserializer_for(resource_type: Any, *, camel_case: bool = False) -> Callable[[Any], Any]:
    """Return a function that converts one parsed-JSON value into a `resource_type` instance.

    The type hints are read once per `(resource_type, camel_case)` and the result is cached, so calling the
    returned function once per record does no reflection. `dict`, `Any` and `None` (no resource type)
    pass the data through.

    Raises:
        ConfigurationError: (when building) a field's annotation cannot be deserialised; the message names the
            class, the field and the type, and says how to fix it.

    The returned function raises `InvalidResourceError` for data that does not
    fit, with `field` set to the path of the problem; the caller adds the datasource, URL and record id with
    `with_context`.
    """
    key = (resource_type, bool(camel_case))
    try:
        return _PLANS[key]
    except KeyError:
        pass
    except TypeError:
        raise ConfigurationError(f"Cannot deserialise into {resource_type!r}: it is not a type") from None
    with _LOCK:
        if key not in _PLANS:
            _PLANS[key] = _build_plan(resource_type, bool(camel_case))
        return _PLANS[key]


def deserialize(data: Any, resource_type: type[T], *, camel_case: bool = False) -> T:
    """Convert one parsed-JSON value into a `resource_type` instance: `deserializer_for(...)(data)`.

    For many records, call `deserializer_for` once and reuse the function it returns.
    """
    return deserializer_for(resource_type, camel_case=camel_case)(data)


def absent_fields(record: Any) -> frozenset[str]:
    """The attributes of `record` whose JSON keys were absent from the data a deserialiser of this module made
    it from: they hold their defaults, where a key present with `null` gives `None`. Empty for a record that
    had every key, and for any other object.

    A record whose class has `__slots__` (and no `__dict__`) cannot carry the names: its absent fields read as
    present.
    """
    names = getattr(record, _ABSENT, _NOTHING_ABSENT)
    return names if type(names) is frozenset else _NOTHING_ABSENT


def register_converter(type_: type, converter: Callable[[Any], Any]) -> None:
    """Deserialise fields annotated with exactly `type_` with `converter(raw_value)`.

    `converter` gets the raw JSON value (never `None`: a `null` is only accepted for `type_ | None`)
    and returns the value to store; any exception it raises becomes an `InvalidResourceError` naming the
    field. It takes precedence over pyck's own handling of `type_`, so it can also change how, say,
    `datetime` is parsed. The cached plans are forgotten, so every later `deserializer_for` call (which
    `RestDatasource` makes per record, and a sync once per listing) sees it; a function
    returned before keeps the old behaviour. Register converters at start-up, for example in an
    `AppConfig.ready()`:

    ```python
    register_converter(ipaddress.IPv4Address, ipaddress.IPv4Address)
    ```
    """
    if not isinstance(type_, type):
        raise TypeError(f"register_converter() takes a type, got {type_!r}")
    if not callable(converter):
        raise TypeError(f"register_converter() takes a callable converter, got {converter!r}")
    with _LOCK:
        CONVERTERS[type_] = converter
        _clear_plans()


def unregister_converter(type_: type) -> None:
    """Remove the converter registered for `type_` (nothing happens if there is none)."""
    with _LOCK:
        CONVERTERS.pop(type_, None)
        _clear_plans()


def to_camel_case(name: str) -> str:
    """Return the camelCase JSON key for an attribute name: `"thumbnail_url"` -> `"thumbnailUrl"`.

    Leading underscores are kept; each later part has its first letter upper-cased (`"lsoa_2021a"` ->
    `"lsoa2021a"`).
    """
    stripped = name.lstrip("_")
    head, *rest = stripped.split("_")
    return name[: len(name) - len(stripped)] + head + "".join(part[:1].upper() + part[1:] for part in rest)


def _clear_plans() -> None:
    with _LOCK:
        _PLANS.clear()
        _DATACLASS_CONVERTERS.clear()


# --- Plans -----------------------------------------------------------------------------------------------------


def _build_plan(resource_type: Any, camel_case: bool) -> Callable[[Any], Any]:
    if resource_type is None or resource_type is Any or resource_type is object:
        return _pass_through
    building: dict[Any, list[_Converter]] = {}
    try:
        convert = _build(resource_type, camel_case, building, None).convert
    except BaseException:
        # A type finished during a failed build may refer back to one that never was: forget them all.
        for key in building:
            _DATACLASS_CONVERTERS.pop(key, None)
        raise
    name = getattr(resource_type, "__name__", None) or repr(resource_type)

    def deserialize_one(data: Any) -> Any:
        try:
            return convert(data)
        except _Invalid as invalid:
            error = InvalidResourceError(f"Invalid {name}: {invalid.reason}", field=invalid.path())
            raise error from invalid.__cause__

    deserialize_one.__doc__ = f"Convert one parsed-JSON value into {name}; see pyck.core.records."
    logger.debug("Built the deserialiser for %s (camel_case=%s)", name, camel_case)
    return deserialize_one


def _pass_through(data: Any) -> Any:
    return data


def _build(tp: Any, camel_case: bool, building: dict[Any, list[_Converter]], owner: str | None) -> _Converter:
    """Return the converter for the annotation `tp`; `owner` ("Member.party") names it in errors."""
    if isinstance(tp, type) and tp in CONVERTERS:
        return _registered(tp, CONVERTERS[tp])
    leaf = _LEAVES.get(tp) if isinstance(tp, type) else None
    if leaf is not None:
        return leaf
    if tp is Any or tp is object:
        return _Converter(_pass_through, "any value")
    if tp is None or tp is _NoneType:
        return _Converter(_none_only, "null", _NoneType)
    if isinstance(tp, TypeVar):
        return _Converter(_pass_through, "any value")
    supertype = getattr(tp, "__supertype__", None)  # typing.NewType
    if supertype is not None:
        return _build(supertype, camel_case, building, owner)

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _union([_build(arg, camel_case, building, owner) for arg in args])
    if origin is typing.Literal:
        return _literal(args)
    if origin is typing.Annotated:
        return _build(args[0], camel_case, building, owner)
    if origin in (list, Sequence):
        return _list(_build(args[0], camel_case, building, owner) if args else None, tuple_=False)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _list(_build(args[0], camel_case, building, owner), tuple_=True)
        if not args:  # typing.Tuple, or tuple[()]
            return _list(None, tuple_=True)
        return _fixed_tuple([_build(arg, camel_case, building, owner) for arg in args])
    if origin in (dict, Mapping):
        if not args:
            return _LEAVES[dict]
        return _dict(_build(args[0], camel_case, building, owner), _build(args[1], camel_case, building, owner))

    if isinstance(tp, type):
        if tp in (list, Sequence):
            return _LEAVES[list]
        if tp is tuple:
            return _list(None, tuple_=True)
        if tp is Mapping:
            return _LEAVES[dict]
        if issubclass(tp, enum.Enum):
            return _enum(tp)
        if dataclasses.is_dataclass(tp):
            return _dataclass(tp, camel_case, building)
        if hasattr(tp, "from_json"):
            return _from_json(tp)
    where = f"field {owner}" if owner else "the resource type"
    if isinstance(tp, type):
        shown, fix = f"{tp.__module__}.{tp.__qualname__}", f"register_converter({tp.__name__}, <function>)"
    else:
        shown, fix = repr(tp), "register_converter(<type>, <function>)"
    raise ConfigurationError(
        f"Cannot deserialise {where}: pyck has no converter for {shown}. Register one with "
        f"pyck.core.records.{fix}, give the type a from_json(data) classmethod, or annotate the field with a "
        f"supported type (see pyck.core.records)."
    )


def _dataclass(cls: type, camel_case: bool, building: dict[Any, list[_Converter]]) -> _Converter:
    key = (cls, camel_case)
    cached = _DATACLASS_CONVERTERS.get(key)
    if cached is not None:
        return cached
    expected = f"an object ({cls.__name__})"
    if key in building:
        # A type that contains itself (directly or not): refer to the converter being built, once it exists.
        cell = building[key]

        def recursive(value: Any) -> Any:
            return cell[0].convert(value)

        return _Converter(recursive, expected)
    cell: list[_Converter] = []
    building[key] = cell

    hints = _type_hints(cls)
    specs: list[_FieldSpec] = []
    regular = {f.name for f in dataclasses.fields(cls)}
    for f in cls.__dataclass_fields__.values():  # type: ignore[attr-defined]
        annotation = hints.get(f.name, Any)
        if isinstance(annotation, dataclasses.InitVar):
            annotation = annotation.type
        elif f.name not in regular or not f.init:  # a ClassVar, or a field __init__ does not take
            continue
        json_key = f.metadata.get("json_key") if f.metadata else None
        if json_key is None:
            json_key = to_camel_case(f.name) if camel_case else f.name
        elif not isinstance(json_key, str):
            raise ConfigurationError(
                f"{cls.__qualname__}.{f.name}: metadata['json_key'] must be a string, got {json_key!r}"
            )
        converter = _build(annotation, camel_case, building, f"{cls.__qualname__}.{f.name}")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        specs.append((f.name, json_key, converter.exact, converter.convert, required))
    fields = tuple(specs)
    convert = _generated_convert(cls, fields, expected) if _GENERATE_CONVERTERS else None
    if convert is None:
        convert = _generic_convert(cls, fields, expected)
    converter = _Converter(convert, expected, None)
    cell.append(converter)
    _DATACLASS_CONVERTERS[key] = converter
    return converter


def _generic_convert(cls: type, fields: tuple[_FieldSpec, ...], expected: str) -> _Convert:
    """Return the converter of `cls` as a loop over its fields: the reference for `_generated_convert`."""
    name = cls.__name__

    def convert(data: Any) -> Any:
        if type(data) is not dict and not isinstance(data, Mapping):
            raise _Invalid(f"expected {expected}, got {_show(data)}")
        get = data.get
        kwargs: dict[str, Any] = {}
        absent: list[str] = []
        try:
            for attribute, json_key, exact, field_convert, required in fields:
                value = get(json_key, _MISSING)
                if value is _MISSING:
                    if required:
                        raise _Invalid(_missing_reason(attribute, json_key))
                    absent.append(attribute)
                elif type(value) is exact:
                    kwargs[attribute] = value
                else:
                    kwargs[attribute] = field_convert(value)
        except _Invalid as invalid:
            invalid.parts.append(attribute)
            raise
        try:
            record = cls(**kwargs)
        except InvalidResourceError as error:
            raise _from_resource_error(error) from error
        except Exception as error:
            raise _rejected(name, error) from error
        if not absent:
            return record
        return _mark_absent(record, [attribute for attribute in absent if _holds_default(cls, record, attribute)])

    return convert


def _generated_convert(cls: type, fields: tuple[_FieldSpec, ...], expected: str) -> _Convert | None:
    """Return the converter of `cls` as generated straight-line code, or `None` if it cannot be generated.

    Why: the sync engine calls a resource's converter once per record, hundreds of thousands of times per sync,
    and `_generic_convert` spends much of each call on its loop: unpacking a field's tuple, filling a
    `kwargs` dict, `cls(**kwargs)`. The code generated here, once per dataclass, does the same work field
    after field in local variables `v0`, `v1`... and ends with `cls(attribute=v0, ...)`; about a fifth
    faster for a record of eight scalar fields. Its results and errors are the same as the loop's, for every
    input (`tests/core/test_records_compiled.py` compares them). Fields with defaults that are missing are
    left out of the call (`_marked`, which names them for `absent_fields`), off the common path.

    Only the attribute names appear in the source, as keyword arguments, and only when each is a plain
    identifier (`_can_generate`); JSON keys, converters and messages reach the code through the namespace
    it runs in, so no data becomes code.
    """
    if not _can_generate(fields):
        return None
    namespace = _generated_namespace(cls, fields, expected)
    filename = f"<pyck.records: generated converter for {cls.__qualname__}>"
    try:
        code = compile(_generated_source(fields), filename, "exec")
    except SyntaxError:  # a name that the checks let through and Python refuses (``__debug__``)
        logger.debug("Using the generic converter for %s: its source does not compile", cls.__qualname__)
        return None
    exec(code, namespace)
    convert: _Convert = namespace["convert"]
    return convert


def _can_generate(fields: tuple[_FieldSpec, ...]) -> bool:
    """Whether `_generated_source` can write a converter for these fields."""
    if len(fields) > _MAX_GENERATED_FIELDS:
        return False
    for attribute, _json_key, exact, _convert, _required in fields:
        # The generated code tells a missing key by the type of _MISSING, before comparing with _MISSING.
        if exact is object:
            return False
        # Python normalises (NFKC) identifiers in source: a name that changes would name another argument.
        if not (
            type(attribute) is str
            and attribute.isidentifier()
            and not keyword.iskeyword(attribute)
            and unicodedata.normalize("NFKC", attribute) == attribute
        ):
            return False
    return True


def _generated_namespace(cls: type, fields: tuple[_FieldSpec, ...], expected: str) -> dict[str, Any]:
    """The globals of a generated converter: the shared names, and `k<i>`, `e<i>`... for field `i`."""
    namespace: dict[str, Any] = {
        "Mapping": Mapping,
        "InvalidResourceError": InvalidResourceError,
        "_Invalid": _Invalid,
        "_MISSING": _MISSING,
        "_show": _show,
        "_from_resource_error": _from_resource_error,
        "_rejected": _rejected,
        "_marked": _marked,
        "cls": cls,
        "name": cls.__name__,
        "expected": expected,
        "attributes": tuple(spec[0] for spec in fields),
    }
    for index, (attribute, json_key, exact, field_convert, required) in enumerate(fields):
        namespace[f"a{index}"] = attribute
        namespace[f"k{index}"] = json_key
        namespace[f"e{index}"] = exact
        namespace[f"c{index}"] = field_convert
        if required:
            namespace[f"m{index}"] = _missing_reason(attribute, json_key)
    return namespace


def _generated_source(fields: tuple[_FieldSpec, ...]) -> str:
    """The source of a converter for `fields`; see `_generated_convert` for what it does."""
    optional = not all(spec[4] for spec in fields)
    lines = [
        "def convert(data):",
        "    if type(data) is not dict and not isinstance(data, Mapping):",
        '        raise _Invalid(f"expected {expected}, got {_show(data)}")',
        "    get = data.get",
    ]
    if optional:
        lines.append("    missing = False")
    for index, spec in enumerate(fields):
        lines += _generated_field(index, required=spec[4])
    values = ", ".join(f"v{index}" for index in range(len(fields)))
    arguments = ", ".join(f"{spec[0]}=v{index}" for index, spec in enumerate(fields))
    lines.append("    try:")
    if optional:
        # Keys of fields with defaults that are missing must not be passed: the dataclass fills them in.
        lines += ["        if missing:", f"            return _marked(cls, attributes, ({values},))"]
    lines += [
        f"        return cls({arguments})",
        "    except InvalidResourceError as error:",
        "        raise _from_resource_error(error) from error",
        "    except Exception as error:",
        "        raise _rejected(name, error) from error",
    ]
    return "\n".join(lines) + "\n"


def _generated_field(index: int, *, required: bool) -> list[str]:
    """The lines that read field `index` into `v<index>`: one turn of `_generic_convert`'s loop."""
    v = f"v{index}"
    return [
        "    try:",
        f"        {v} = get(k{index}, _MISSING)",
        f"        if type({v}) is not e{index}:",
        f"            if {v} is _MISSING:",
        f"                raise _Invalid(m{index})" if required else "                missing = True",
        "            else:",
        f"                {v} = c{index}({v})",
        "    except _Invalid as invalid:",
        f"        invalid.parts.append(a{index})",
        "        raise",
    ]


def _missing_reason(attribute: str, json_key: str) -> str:
    return f"required field {attribute!r} is missing (no {json_key!r} key)"


def _rejected(name: str, error: Exception) -> _Invalid:
    return _Invalid(f"{name}() rejected the data: {type(error).__name__}: {error}")


def _marked(cls: type, attributes: tuple[str, ...], values: tuple[Any, ...]) -> Any:
    """The record a generated converter makes when a field with a default is missing: built from the values
    present, the others named by `absent_fields`."""
    present = {attribute: value for attribute, value in zip(attributes, values, strict=True) if value is not _MISSING}
    record = cls(**present)
    return _mark_absent(record, [a for a in attributes if a not in present and _holds_default(cls, record, a)])


def _holds_default(cls: type, record: Any, attribute: str) -> bool:
    """Whether `record`'s `attribute`, whose key the data lacked, still holds its declared default: a
    `__post_init__` that computed it from other fields made it a value of the record, not an absent one."""
    declared = getattr(cls, "__dataclass_fields__", {}).get(attribute)
    if declared is None:
        return True
    value = getattr(record, attribute, _MISSING)
    if declared.default is not dataclasses.MISSING:
        return value is declared.default or value == declared.default
    if declared.default_factory is not dataclasses.MISSING:
        return value == declared.default_factory()
    return True


def _mark_absent(record: Any, attributes: list[str]) -> Any:
    """`record`, noting that `attributes` had no JSON key (see `absent_fields`)."""
    try:
        object.__setattr__(record, _ABSENT, frozenset(attributes))
    except (AttributeError, TypeError):
        pass  # a class with __slots__ has nowhere to keep the names
    return record


def _type_hints(cls: type) -> dict[str, Any]:
    # The class's own name resolves even when it is defined in a function (self-referential types).
    try:
        return typing.get_type_hints(cls, localns={cls.__name__: cls})
    except NameError as error:
        raise ConfigurationError(
            f"Cannot read the type hints of {cls.__qualname__}: {error}. Define the types its annotations name "
            f"at module level (a string annotation is resolved in the module of {cls.__qualname__})."
        ) from error
    except Exception as error:
        raise ConfigurationError(
            f"Cannot read the type hints of {cls.__qualname__}: {type(error).__name__}: {error}"
        ) from error


# --- Converters ------------------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 1] + "…"
    return f"{text} ({type(value).__name__})"


def _from_resource_error(error: InvalidResourceError) -> _Invalid:
    return _Invalid(error.reason, [error.field] if error.field else [])


def _none_only(value: Any) -> None:
    if value is not None:
        raise _Invalid(f"expected null, got {_show(value)}")


def _convert_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Invalid(f"expected a string, got {_show(value)}")


def _convert_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _Invalid(f"expected an integer, got {_show(value)}")


def _convert_float(value: Any) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    raise _Invalid(f"expected a number, got {_show(value)}")


def _convert_bool(value: Any) -> bool:
    raise _Invalid(f"expected a boolean, got {_show(value)}")


def _convert_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        # repr() is the shortest string that reads back as the same float: 0.1 -> Decimal("0.1").
        return Decimal(repr(value))
    elif isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    raise _Invalid(f"expected a decimal number (a number or a numeric string), got {_show(value)}")


def _convert_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return isoparse(value)
        except (ValueError, OverflowError):
            pass
    raise _Invalid(f"expected an ISO 8601 datetime string, got {_show(value)}")


def _convert_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        if len(value) == 10 and value[4] == "-" == value[7] and value.isascii():
            # "YYYY-MM-DD", by far the commonest form: the C parser, ~15 times faster than isoparse and the same
            # result; anything it refuses goes on to isoparse, whose error is the one reported.
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        try:
            parsed = isoparse(value)
        except (ValueError, OverflowError):
            pass
        else:
            # A date-only field must not silently drop a time of day or an offset.
            if parsed.time() == _MIDNIGHT and parsed.tzinfo is None:
                return parsed.date()
    raise _Invalid(f"expected an ISO 8601 date string, got {_show(value)}")


def _convert_uuid(value: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            pass
    raise _Invalid(f"expected a UUID string, got {_show(value)}")


def _convert_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    raise _Invalid(f"expected a list, got {_show(value)}")


def _convert_dict(value: Any) -> dict[Any, Any]:
    if isinstance(value, dict):
        return value
    raise _Invalid(f"expected an object, got {_show(value)}")


_LEAVES: dict[Any, _Converter] = {
    str: _Converter(_convert_str, "a string", str),
    int: _Converter(_convert_int, "an integer", int),
    float: _Converter(_convert_float, "a number", float),
    bool: _Converter(_convert_bool, "a boolean", bool),
    Decimal: _Converter(_convert_decimal, "a decimal number", Decimal),
    datetime: _Converter(_convert_datetime, "an ISO 8601 datetime string", datetime),
    date: _Converter(_convert_date, "an ISO 8601 date string", date),
    UUID: _Converter(_convert_uuid, "a UUID string", UUID),
    list: _Converter(_convert_list, "a list", list),
    dict: _Converter(_convert_dict, "an object", dict),
}


def _registered(tp: type, function: Callable[[Any], Any]) -> _Converter:
    expected = f"a value for {tp.__name__}"

    def convert(value: Any) -> Any:
        if value is None:
            raise _Invalid(f"expected {expected}, got null")
        try:
            return function(value)
        except InvalidResourceError as error:
            raise _from_resource_error(error) from error
        except Exception as error:
            raise _Invalid(
                f"the converter for {tp.__name__} rejected {_show(value)}: {type(error).__name__}: {error}"
            ) from error

    return _Converter(convert, expected, None)


def _from_json(tp: type) -> _Converter:
    for klass in tp.__mro__:
        if "from_json" in klass.__dict__:
            if not isinstance(klass.__dict__["from_json"], (classmethod, staticmethod)):
                raise ConfigurationError(
                    f"{tp.__qualname__}.from_json must be a classmethod (decorate it with @classmethod), so that "
                    f"pyck can call {tp.__name__}.from_json(data)"
                )
            break
    from_json: Callable[[Any], Any] = tp.from_json  # type: ignore[attr-defined]
    expected = f"a value for {tp.__name__}.from_json()"

    def convert(value: Any) -> Any:
        if value is None:
            raise _Invalid(f"expected {expected}, got null")
        try:
            return from_json(value)
        except InvalidResourceError as error:
            raise _from_resource_error(error) from error
        except Exception as error:
            raise _Invalid(
                f"{tp.__name__}.from_json() rejected {_show(value)}: {type(error).__name__}: {error}"
            ) from error

    return _Converter(convert, expected, None)


def _enum(tp: type[enum.Enum]) -> _Converter:
    by_value = {member.value: member for member in tp}
    expected = f"one of {', '.join(repr(v) for v in by_value)} ({tp.__name__})"
    # Only an enum with its own _missing_ hook gets a say over values that match no member exactly.
    has_missing_hook = getattr(tp._missing_, "__func__", None) is not enum.Enum._missing_.__func__

    def convert(value: Any) -> Any:
        try:
            member = by_value.get(value)
        except TypeError:  # unhashable
            member = None
        # True == 1 and 1 == 1.0 in a dict: only a value of the member's own type selects it.
        if member is not None and type(member.value) is type(value):
            return member
        if has_missing_hook and value is not None:
            try:
                return tp(value)  # the enum's own _missing_ hook, if any
            except (ValueError, TypeError):
                pass
        raise _Invalid(f"expected {expected}, got {_show(value)}")

    return _Converter(convert, expected, tp)


def _literal(values: tuple[Any, ...]) -> _Converter:
    allowed = {(type(v), v) for v in values}
    expected = f"one of {', '.join(repr(v) for v in values)}"

    def convert(value: Any) -> Any:
        try:
            if (type(value), value) in allowed:
                return value
        except TypeError:  # unhashable
            pass
        raise _Invalid(f"expected {expected}, got {_show(value)}")

    return _Converter(convert, expected, None)


def _union(members: list[_Converter]) -> _Converter:
    nullable = any(m.exact is _NoneType for m in members)
    others = [m for m in members if m.exact is not _NoneType]
    if len(others) == 1:
        inner = others[0]
    else:
        converts = tuple(m.convert for m in others)
        joined = "; or ".join(m.expected for m in others)

        def try_each(value: Any) -> Any:
            for convert in converts:
                try:
                    return convert(value)
                except _Invalid:
                    continue
            raise _Invalid(f"expected {joined}, got {_show(value)}")

        inner = _Converter(try_each, joined, None)
    if not nullable:
        return inner
    inner_convert = inner.convert

    def optional(value: Any) -> Any:
        if value is None:
            return None
        return inner_convert(value)

    return _Converter(optional, f"{inner.expected}, or null", inner.exact)


def _index_of_failure(convert: _Convert, items: Any) -> int:
    # Only called on the error path, to name the failing item; the converters have no side effects.
    for index, item in enumerate(items):
        try:
            convert(item)
        except _Invalid:
            return index
    return 0


def _list(item: _Converter | None, *, tuple_: bool) -> _Converter:
    expected = "a list"
    if item is None or item.convert is _pass_through:

        def convert_plain(value: Any) -> Any:
            if isinstance(value, (list, tuple)):
                return tuple(value) if tuple_ else list(value)
            raise _Invalid(f"expected {expected}, got {_show(value)}")

        return _Converter(convert_plain, expected, None)

    item_convert, exact = item.convert, item.exact

    def convert(value: Any) -> Any:
        if type(value) is not list and not isinstance(value, (list, tuple)):
            raise _Invalid(f"expected {expected}, got {_show(value)}")
        try:
            if exact is None:
                converted = [item_convert(x) for x in value]
            else:
                converted = [x if type(x) is exact else item_convert(x) for x in value]
        except _Invalid as invalid:
            invalid.parts.append(f"[{_index_of_failure(item_convert, value)}]")
            raise
        return tuple(converted) if tuple_ else converted

    return _Converter(convert, expected, None)


def _fixed_tuple(items: list[_Converter]) -> _Converter:
    converts = tuple(item.convert for item in items)
    expected = f"a list of {len(converts)} items"

    def convert(value: Any) -> Any:
        if not isinstance(value, (list, tuple)) or len(value) != len(converts):
            raise _Invalid(f"expected {expected}, got {_show(value)}")
        index = 0
        try:
            result: list[Any] = []
            for index, (item_convert, item) in enumerate(zip(converts, value, strict=True)):
                result.append(item_convert(item))
        except _Invalid as invalid:
            invalid.parts.append(f"[{index}]")
            raise
        return tuple(result)

    return _Converter(convert, expected, None)


def _dict(key: _Converter, item: _Converter) -> _Converter:
    key_convert, key_exact = key.convert, key.exact
    item_convert, item_exact = item.convert, item.exact
    expected = "an object"

    def convert(value: Any) -> Any:
        if type(value) is not dict and not isinstance(value, Mapping):
            raise _Invalid(f"expected {expected}, got {_show(value)}")
        result: dict[Any, Any] = {}
        for raw_key, raw in value.items():
            try:
                converted_key = raw_key if type(raw_key) is key_exact else key_convert(raw_key)
                result[converted_key] = raw if type(raw) is item_exact else item_convert(raw)
            except _Invalid as invalid:
                invalid.parts.append(f"[{raw_key!r}]")
                raise
            except TypeError as error:  # a converted key that cannot be hashed
                raise _Invalid(f"key {_show(raw_key)} cannot be used: {error}", [f"[{raw_key!r}]"]) from error
        return result

    return _Converter(convert, expected, None)
