"""pyck.core.records: the generated dataclass converters do exactly what the generic loop does.

``records._dataclass`` generates straight-line code per dataclass (``_generated_convert``) and keeps the loop
(``_generic_convert``) as the reference and the fallback. Here both are built for the same classes and given the
same inputs: random dataclass shapes and random JSON-ish records with Hypothesis, then the cases one by one
(defaults, errors and their paths, ``cls()`` refusing the data, mappings, recursion, ``InitVar``, ``init=False``,
JSON keys, hostile keys, many fields, names that cannot be generated).
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import InitVar, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, NamedTuple
from unittest import mock
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyck.core import records
from pyck.core.exceptions import InvalidResourceError
from pyck.core.records import deserializer_for, to_camel_case

# --- Building both converters and comparing what they do --------------------------------------------------


def _converters(cls: type, camel_case: bool = False) -> tuple[records._Convert, records._Convert]:
    """The generated and the generic converter of ``cls``, each built afresh with its nested dataclasses."""
    records._clear_plans()
    try:
        generated = records._dataclass(cls, camel_case, {}).convert
        records._clear_plans()
        with mock.patch.object(records, "_GENERATE_CONVERTERS", False):
            generic = records._dataclass(cls, camel_case, {}).convert
    finally:
        records._clear_plans()
    return generated, generic


def _is_generated(convert: records._Convert) -> bool:
    return convert.__code__.co_filename.startswith("<pyck.records: generated converter")


def _typed(value: Any) -> Any:
    """``value`` with the type of every part and every attribute of a dataclass (``1 == True`` must not pass)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type(value), {name: _typed(item) for name, item in vars(value).items()}
    if isinstance(value, (list, tuple)):
        return type(value), [_typed(item) for item in value]
    if isinstance(value, dict):
        return type(value), [(_typed(key), _typed(item)) for key, item in value.items()]
    return type(value), repr(value)


def _outcome(convert: records._Convert, data: Any) -> tuple[Any, ...]:
    try:
        result = convert(data)
    except records._Invalid as invalid:
        cause = invalid.__cause__
        return "invalid", invalid.reason, list(invalid.parts), type(cause), str(cause)
    except Exception as error:
        return "raised", type(error), str(error)
    return "ok", _typed(result)


def _assert_same(cls: type, inputs: list[Any], camel_case: bool = False, *, generated: bool = True) -> None:
    """Both converters of ``cls`` give the same result or the same error for each input."""
    generated_convert, generic_convert = _converters(cls, camel_case)
    assert _is_generated(generated_convert) is generated
    assert not _is_generated(generic_convert)
    for data in inputs:
        assert _outcome(generated_convert, data) == _outcome(generic_convert, data), data


# --- Random dataclass shapes --------------------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)

# Leaf kinds: the annotation, and values that mostly fit it (any JSON is added to each).
_LEAVES: dict[str, tuple[Any, st.SearchStrategy[Any]]] = {
    "int": (int, st.integers()),
    "str": (str, st.text(max_size=3)),
    "float": (float, st.floats() | st.integers()),
    "bool": (bool, st.booleans()),
    "decimal": (Decimal, st.integers() | st.floats() | st.sampled_from(["1.50", "-0", "1e3", "NaN", "x"])),
    "date": (date, st.dates().map(date.isoformat) | st.sampled_from(["2024-02-30", "2024-01-01T00:00", "2024"])),
    "datetime": (datetime, st.datetimes().map(datetime.isoformat)),
    "uuid": (UUID, st.uuids().map(str)),
    "list_int": (list[int], st.lists(st.integers(), max_size=3)),
    "tuple": (tuple[int, str], st.tuples(st.integers(), st.text(max_size=3)).map(list)),
    "dict": (dict[str, int], st.dictionaries(st.text(max_size=3), st.integers(), max_size=3)),
    "union": (int | str, st.integers() | st.text(max_size=3)),
    "literal": (Literal["a", 1], st.sampled_from(["a", 1, True, 1.0, "b"])),
    "enum": (Colour, st.sampled_from(["red", "green", "blue"])),
    "any": (Any, _json),
    "none": (None, st.none()),
}

# Attribute names, several of them names the generated code itself uses.
_NAMES = [
    "id", "name", "thumbnail_url", "_private", "data", "get", "cls", "missing", "v0", "k0", "a0", "attributes",
    "error", "invalid", "type", "dict", "self", "expected", "_MISSING", "x",
]  # fmt: skip

_HOSTILE_KEYS = ['"); raise SystemExit("injected"); ("', "k0", "v0", "data", "\\", "'", "{}", "\n", "a\x00b", ""]


class _Field(NamedTuple):
    name: str
    kind: Any  # a key of _LEAVES, "self" (the class itself) or a nested _Shape
    wrap: str  # "plain", "optional" or "list"
    default: str | None  # None (required), "value" or "factory"
    json_key: str | None
    init: bool
    initvar: bool


class _Shape(NamedTuple):
    fields: tuple[_Field, ...]
    kw_only: bool
    post_init: str | None  # None, "record", "reject" (ValueError for 0 or false), "invalid" ("" or [])


def _field(kinds: st.SearchStrategy[Any], name: str) -> st.SearchStrategy[_Field]:
    return st.builds(
        _Field,
        name=st.just(name),
        kind=kinds,
        wrap=st.sampled_from(["plain", "plain", "optional", "list"]),
        default=st.sampled_from([None, None, "value", "factory"]),
        json_key=st.none() | st.none() | st.text(max_size=3) | st.sampled_from(_HOSTILE_KEYS),
        init=st.integers(0, 4).map(lambda n: n != 0),
        initvar=st.integers(0, 9).map(lambda n: n == 0),
    )


@st.composite
def _shapes(draw: st.DrawFn, depth: int = 2, min_size: int = 1) -> _Shape:
    kinds: st.SearchStrategy[Any] = st.sampled_from([*_LEAVES, "self"])
    if depth > 0:
        kinds = st.one_of(kinds, kinds, kinds, _shapes(depth - 1, 0))  # mostly leaves: a record fits now and then
    names = draw(st.lists(st.sampled_from(_NAMES), unique=True, min_size=min_size, max_size=7))
    fields = tuple(draw(_field(kinds, name)) for name in names)
    return _Shape(fields, draw(st.booleans()), draw(st.sampled_from([None, "record", "reject", "invalid"])))


_counter = itertools.count()


def _post_init(kind: str) -> Callable[..., None]:
    def __post_init__(self: Any, *initvars: Any) -> None:
        self.initvars = initvars
        values = [*vars(self).values(), *initvars]
        if kind == "reject" and any(type(v) in (int, bool) and not v for v in values):
            raise ValueError("zero or false")
        if kind == "invalid" and any(type(v) in (str, list) and not v for v in values):
            raise InvalidResourceError("empty", field="inner.part")

    return __post_init__


def _make(shape: _Shape) -> type:
    """The dataclass of ``shape`` (and of the shapes nested in it)."""
    class_name = f"Shape{next(_counter)}"
    specs = []
    for f in sorted(shape.fields, key=lambda f: f.default is not None or not f.init):
        if f.kind == "self":
            annotation: Any = class_name
        elif isinstance(f.kind, _Shape):
            annotation = _make(f.kind)
        else:
            annotation = _LEAVES[f.kind][0]
        if f.wrap == "optional" or (f.kind == "self" and f.wrap == "plain"):
            # Optional[None] is NoneType where None | None is an error.
            annotation = f"{class_name} | None" if f.kind == "self" else typing.Optional[annotation]  # noqa: UP045
        elif f.wrap == "list":
            annotation = f"list[{class_name}]" if f.kind == "self" else list[annotation]
        options: dict[str, Any] = {"metadata": {"json_key": f.json_key} if f.json_key is not None else {}}
        if f.initvar and f.init and f.kind != "self":  # InitVar["Name"] would stay a string
            annotation = InitVar[annotation]  # type: ignore[valid-type]
            if f.default is not None:
                options["default"] = "default"
        elif not f.init:
            options.update(init=False, default="not-init")
        elif f.default == "value":
            options["default"] = "default"
        elif f.default == "factory":
            options["default_factory"] = list
        specs.append((f.name, annotation, field(**options)))
    namespace = {"__post_init__": _post_init(shape.post_init)} if shape.post_init else {}
    return dataclasses.make_dataclass(class_name, specs, kw_only=shape.kw_only, namespace=namespace)


def _records(shape: _Shape, camel_case: bool, depth: int = 2) -> st.SearchStrategy[Any]:
    """Records for ``shape``: its keys, some missing, with fitting values, nulls and any JSON; extra keys."""
    values: dict[str, st.SearchStrategy[Any]] = {}
    for f in shape.fields:
        key = f.json_key if f.json_key is not None else to_camel_case(f.name) if camel_case else f.name
        if f.kind == "self":
            inner = _records(shape, camel_case, depth - 1) if depth > 0 else st.none()
        elif isinstance(f.kind, _Shape):
            inner = _records(f.kind, camel_case, depth - 1) if depth > 0 else _json
        else:
            inner = _LEAVES[f.kind][1]
        if f.wrap == "optional" or f.kind == "self":
            inner = st.none() | inner
        elif f.wrap == "list":
            inner = st.lists(inner, max_size=3)
        values.setdefault(key, st.one_of(inner, inner, inner, inner, _json))
    # Most records have every key, so that they get past the first field often enough.
    dropped = st.just([])
    if values:
        dropped = st.one_of(dropped, dropped, dropped, st.lists(st.sampled_from(sorted(values)), max_size=2))
    extra = st.dictionaries(st.text(max_size=3), _json, max_size=2)
    record = st.builds(_record, st.fixed_dictionaries(values), dropped, extra)
    return st.one_of(record, record, record, record, record.map(types.MappingProxyType), _json)


def _record(values: dict[str, Any], dropped: list[str], extra: dict[str, Any]) -> dict[str, Any]:
    return {**extra, **{key: value for key, value in values.items() if key not in dropped}}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_generated_converters_do_what_the_loop_does(data: st.DataObject) -> None:
    shape = data.draw(_shapes(), label="shape")
    camel_case = data.draw(st.booleans(), label="camel_case")
    cls = _make(shape)
    inputs = data.draw(st.lists(_records(shape, camel_case), min_size=1, max_size=10), label="inputs")
    _assert_same(cls, inputs, camel_case)


# --- One case at a time ----------------------------------------------------------------------------------------


@dataclass
class Party:
    id: int
    name: str
    colour: str | None = None


@dataclass
class Member:
    id: int
    name: str
    party: Party | None
    joined_on: date
    dues: Decimal = Decimal(0)
    nickname: str | None = None
    tags: list[str] = field(default_factory=list)
    parties: list[Party] = field(default_factory=list)


_MEMBER = {
    "id": 1,
    "name": "Ann",
    "party": {"id": 2, "name": "Blue"},
    "joined_on": "2024-07-04",
    "dues": "1.50",
    "nickname": None,
    "tags": ["a"],
    "parties": [{"id": 3, "name": "Red", "colour": "f00"}],
}


def test_the_benchmark_member_is_generated_and_gives_the_same_records() -> None:
    from benchmarks.benchapp.datasources import MemberResource
    from benchmarks.server import BenchData

    bench = BenchData(200)
    _assert_same(MemberResource, [bench.member(i) for i in range(1, 201)])
    assert _is_generated(records._dataclass(MemberResource, False, {}).convert)


def test_missing_fields_with_defaults_get_them() -> None:
    to_member = deserializer_for(Member)
    first = to_member({key: _MEMBER[key] for key in ("id", "name", "party", "joined_on")})
    second = to_member({key: _MEMBER[key] for key in ("id", "name", "party", "joined_on")})
    assert (first.dues, first.nickname, first.tags, first.parties) == (Decimal(0), None, [], [])
    assert first.tags is not second.tags  # default_factory, once per record
    partial = {key: _MEMBER[key] for key in ("id", "name", "party", "joined_on", "tags")}
    assert to_member(partial).tags == ["a"]
    _assert_same(Member, [_MEMBER, partial, {**_MEMBER, "nickname": "Nan"}, {**_MEMBER, "tags": None}])


def test_fields_absent_from_the_json_are_named_and_null_ones_are_not() -> None:
    """A key absent from the JSON is told from a key present with null (issue 17, item 8), by both converters."""
    partial = {key: _MEMBER[key] for key in ("id", "name", "party", "joined_on")}
    for convert in _converters(Member):
        assert records.absent_fields(convert(partial)) == {"dues", "nickname", "tags", "parties"}
        assert records.absent_fields(convert({**partial, "nickname": None, "tags": []})) == {"dues", "parties"}
        assert records.absent_fields(convert(_MEMBER)) == frozenset()
        assert convert(partial) == convert({**partial, "nickname": None})  # the mark is no field


@dataclass
class _Seat:
    id: int
    representation: dict[str, Any] | None = None
    mp: str | None = None  # filled in from representation, as parliament.Constituency.current_mp is
    note: str | None = None

    def __post_init__(self) -> None:
        if self.mp is None and self.representation is not None:
            self.mp = self.representation["member"]


def test_a_field_a_post_init_computes_is_not_absent() -> None:
    # The demo's constituencies warned that "current_mp" was absent from every record, which __post_init__ fills.
    for convert in _converters(_Seat):
        assert records.absent_fields(convert({"id": 1, "representation": {"member": "Ann"}})) == {"note"}
        assert records.absent_fields(convert({"id": 1})) == {"representation", "mp", "note"}


def test_absent_fields_of_what_no_deserialiser_made_is_empty() -> None:
    @dataclass(slots=True)
    class Slotted:
        id: int
        note: str | None = None

    assert records.absent_fields(deserializer_for(Slotted)({"id": 1})) == frozenset()  # nowhere to keep them
    assert records.absent_fields({"id": 1}) == records.absent_fields(None) == frozenset()


def test_a_required_field_that_is_missing_is_named() -> None:
    generated, generic = _converters(Member)
    incomplete = {key: value for key, value in _MEMBER.items() if key != "joined_on"}
    assert _outcome(generated, incomplete) == _outcome(generic, incomplete)
    assert _outcome(generated, incomplete)[1:3] == (
        "required field 'joined_on' is missing (no 'joined_on' key)",
        ["joined_on"],
    )
    with pytest.raises(InvalidResourceError) as caught:
        deserializer_for(Member)(incomplete)
    assert caught.value.field == "joined_on"


@pytest.mark.parametrize(
    ("data", "reason", "parts"),
    [
        ({**_MEMBER, "id": "1"}, "expected an integer, got '1' (str)", ["id"]),
        ({**_MEMBER, "party": {"id": True, "name": "x"}}, "expected an integer, got True (bool)", ["id", "party"]),
        ({**_MEMBER, "party": {"id": 1}}, "required field 'name' is missing (no 'name' key)", ["name", "party"]),
        ({**_MEMBER, "parties": [{"id": 1, "name": "a"}, {"id": 1, "name": 2}]}, "expected a string, got 2 (int)",
         ["name", "[1]", "parties"]),
        ({**_MEMBER, "joined_on": "2024-07-04T10:00"}, "expected an ISO 8601 date string, got '2024-07-04T10:00' "
         "(str)", ["joined_on"]),
        ({**_MEMBER, "dues": None}, "expected a decimal number (a number or a numeric string), got null", ["dues"]),
        ([], "expected an object (Member), got [] (list)", []),
    ],
)  # fmt: skip
def test_a_field_that_does_not_fit_is_the_path_of_the_error(data: Any, reason: str, parts: list[str]) -> None:
    generated, generic = _converters(Member)
    assert _outcome(generated, data) == _outcome(generic, data)
    assert _outcome(generated, data)[1:3] == (reason, parts)


@dataclass
class Checked:
    value: int
    label: str = ""

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")
        if self.value == 0:
            raise InvalidResourceError("zero is not a value", field="value.inner")
        if self.value == 1:
            raise InvalidResourceError("one is not a value")


@dataclass
class HoldsChecked:
    checked: Checked
    many: list[Checked] = field(default_factory=list)


def test_the_class_refusing_the_data_is_reported_the_same_way() -> None:
    generated, _generic = _converters(Checked)
    assert _outcome(generated, {"value": -1}) == (
        "invalid", "Checked() rejected the data: ValueError: negative", [], ValueError, "negative"
    )
    assert _outcome(generated, {"value": 0})[:3] == ("invalid", "zero is not a value", ["value.inner"])
    assert _outcome(generated, {"value": 1})[:3] == ("invalid", "one is not a value", [])
    # The same, with a default left out: the other call in the generated code.
    inputs = [{"value": v, **extra} for v in (-1, 0, 1, 2) for extra in ({}, {"label": "x"})]
    _assert_same(Checked, inputs)
    _assert_same(HoldsChecked, [{"checked": d, "many": [{"value": 5}, d]} for d in inputs])
    with pytest.raises(InvalidResourceError) as caught:
        deserializer_for(HoldsChecked)({"checked": {"value": 0}})
    assert caught.value.field == "checked.value.inner"
    with pytest.raises(InvalidResourceError) as caught:
        deserializer_for(Checked)({"value": -1})
    assert isinstance(caught.value.__cause__, ValueError)


class _LoggingMapping(Mapping[str, Any]):
    """A mapping that is not a dict and logs the keys asked for."""

    def __init__(self, data: dict[str, Any], log: list[str]) -> None:
        self._data, self._log = data, log

    def __getitem__(self, key: str) -> Any:
        self._log.append(key)
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_mappings_that_are_not_dicts_are_read_the_same_way() -> None:
    generated, generic = _converters(Member)
    for data in [_MEMBER, {**_MEMBER, "id": None}, {"id": 1}]:
        logs: tuple[list[str], list[str]] = ([], [])
        assert _outcome(generated, _LoggingMapping(data, logs[0])) == _outcome(
            generic, _LoggingMapping(data, logs[1])
        )
        assert logs[0] == logs[1] and logs[0]  # the same keys, in the same order, stopping at the same field
    _assert_same(Member, [types.MappingProxyType(_MEMBER), "not an object", None, 1, [_MEMBER]])


@dataclass
class Node:
    name: str
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None


@dataclass
class Ping:
    pong: Pong | None = None


@dataclass
class Pong:
    ping: Ping


def test_recursive_dataclasses() -> None:
    tree = {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}, {"name": "d"}]}
    _assert_same(Node, [tree, {"name": "a", "parent": {"name": "p", "parent": {"name": 1}}}, {"children": []}])
    assert deserializer_for(Node)(tree).children[0].children[0].name == "c"
    _assert_same(Ping, [{"pong": {"ping": {"pong": {"ping": {}}}}}, {"pong": {"ping": {"pong": {}}}}])


@dataclass
class WithInitVars:
    total: int = field(init=False)
    base: InitVar[int]
    extra: InitVar[int | None] = None
    computed: str = field(init=False, default="computed")
    registry: ClassVar[dict[str, int]] = {}

    def __post_init__(self, base: int, extra: int | None) -> None:
        self.total = base + (extra or 0)


def test_initvar_fields_are_read_and_init_false_fields_are_not() -> None:
    to_record = deserializer_for(WithInitVars)
    record = to_record({"base": 2, "extra": 3, "total": 100, "computed": "from JSON", "registry": {}})
    assert (record.total, record.computed) == (5, "computed")
    _assert_same(
        WithInitVars,
        [{"base": 2}, {"base": 2, "extra": None}, {"base": "2"}, {"extra": 1}, {"base": 1, "total": "x"}],
    )


@dataclass
class Keyed:
    display_name: str = field(metadata={"json_key": "nameDisplayAs"})
    thumbnail_url: str | None = None
    same_key: str | None = field(default=None, metadata={"json_key": "nameDisplayAs"})


@pytest.mark.parametrize("camel_case", [False, True])
def test_json_keys_and_camel_case(camel_case: bool) -> None:
    data = {"nameDisplayAs": "Ann", "thumbnailUrl": "t.png", "thumbnail_url": "u.png"}
    record = deserializer_for(Keyed, camel_case=camel_case)(data)
    assert record == Keyed("Ann", "t.png" if camel_case else "u.png", "Ann")
    _assert_same(Keyed, [data, {"nameDisplayAs": 1}, {"thumbnailUrl": None}], camel_case)


def test_hostile_json_keys_are_only_keys() -> None:
    specs = [(f"f{i}", str | None, field(default=None, metadata={"json_key": key})) for i, key in
             enumerate(_HOSTILE_KEYS)]  # fmt: skip
    quotes = "'''\"\"\""
    hostile = dataclasses.make_dataclass("Hostile", [("required", int, field(metadata={"json_key": quotes})), *specs])
    data = {key: f"value {i}" for i, key in enumerate(_HOSTILE_KEYS)}
    record = deserializer_for(hostile)({**data, quotes: 7})
    assert record.required == 7
    assert [getattr(record, f"f{i}") for i in range(len(_HOSTILE_KEYS))] == list(data.values())
    _assert_same(hostile, [data, {quotes: 1}, {quotes: 1, "\\": 2}, {quotes: 1, _HOSTILE_KEYS[0]: 3}])
    fields = tuple(
        (f.name, f.metadata.get("json_key", f.name), None, records._pass_through, True)
        for f in dataclasses.fields(hostile)
    )
    source = records._generated_source(fields)
    assert "injected" not in source and "SystemExit" not in source


def test_names_the_generated_code_uses_are_fine_as_field_names() -> None:
    clashing = dataclasses.make_dataclass("Clashing", [(name, int | None, field(default=None)) for name in _NAMES])
    full = {name: i for i, name in enumerate(_NAMES)}
    assert vars(deserializer_for(clashing)(full)) == full
    _assert_same(clashing, [full, {}, {"data": 1, "cls": "x"}, {"missing": None}])


def _many_fields(count: int) -> type:
    specs: list[Any] = [(f"field_{i}", int) for i in range(count)]
    specs += [(f"optional_{i}", str | None, field(default=None)) for i in range(count // 10)]
    return dataclasses.make_dataclass(f"Many{count}", specs)


@pytest.mark.parametrize(("count", "generated"), [(300, True), (records._MAX_GENERATED_FIELDS, False)])
def test_many_fields(count: int, generated: bool) -> None:
    cls = _many_fields(count)
    full = {f"field_{i}": i for i in range(count)}
    with_optionals = {**full, **{f"optional_{i}": str(i) for i in range(0, count // 10, 2)}}
    record = deserializer_for(cls)(with_optionals)
    assert record.field_299 == 299 and record.optional_2 == "2" and record.optional_1 is None
    _assert_same(cls, [full, with_optionals, {**full, "field_150": "x"}, {"field_0": 1}], generated=generated)


def test_names_python_would_read_differently_keep_the_loop() -> None:
    # Python reads the identifier "ﬁeld" (with the ligature) as "field": generated, it would be another argument.
    ligature = "\ufb01eld"
    cls = dataclasses.make_dataclass(
        "Normalised", [(ligature, int)], init=False, namespace={"__init__": lambda self, **kw: vars(self).update(kw)}
    )
    record = deserializer_for(cls)({ligature: 1})
    assert vars(record) == {ligature: 1}
    _assert_same(cls, [{ligature: 1}, {}], generated=False)


@pytest.mark.parametrize("name", ["class", "not a name", "1st", "\ufb01eld", "__debug__", "None", "lambda"])
def test_fields_that_cannot_be_generated(name: str) -> None:
    fields = ((name, "key", int, records._convert_int, True), ("ok", "ok", None, records._pass_through, False))
    # __debug__ is a name, but Python refuses it as an argument: only compiling tells.
    assert records._can_generate(fields) is (name == "__debug__")
    assert records._generated_convert(Party, fields, "an object") is None
    assert records._generated_convert(Party, fields[1:], "an object") is not None


def test_an_exact_type_of_object_keeps_the_loop() -> None:
    # The generated code tells a missing key by type(value) not being the exact type: _MISSING is an object().
    fields = (("value", "value", object, records._pass_through, False),)
    assert not records._can_generate(fields)
    assert records._can_generate((("value", "value", int, records._convert_int, False),))
