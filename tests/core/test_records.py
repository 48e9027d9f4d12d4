"""pyck.core.records: JSON -> typed resources, strict types, error paths, extension points."""

from __future__ import annotations

import enum
import ipaddress
import pickle
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar, Literal, NewType, Optional, Union
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyck.core import records
from pyck.core.exceptions import ConfigurationError, InvalidResourceError
from pyck.core.records import (
    CONVERTERS,
    deserialize,
    deserializer_for,
    register_converter,
    to_camel_case,
    unregister_converter,
)

# --- Resource types (module level, with `from __future__ import annotations`: every hint is a string) --------


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class House(enum.IntEnum):
    COMMONS = 1
    LORDS = 2


UserId = NewType("UserId", int)


@dataclass
class Party:
    id: int
    name: str
    colour: str | None = None


@dataclass(kw_only=True)
class Member:
    id: int
    name_display_as: str | None = None
    name: str | None = field(default=None, metadata={"json_key": "nameDisplayAs"})
    thumbnail_url: str | None = None
    latest_party: Party | None = None
    parties: list[Party] = field(default_factory=list)


@dataclass
class Everything:
    text: str
    count: int
    ratio: float
    flag: bool
    price: Decimal
    when: datetime
    day: date
    uid: UUID
    colour: Colour
    house: House
    anything: Any
    obj: object
    kind: Literal["a", "b", 3]
    user: UserId
    tags: list[str]
    legacy_tags: typing.List[int]  # noqa: UP006
    pair: tuple[int, str]
    many: tuple[int, ...]
    scores: dict[str, float]
    legacy_scores: typing.Dict[str, int]  # noqa: UP006
    plain_list: list
    plain_dict: dict
    seq: Sequence[int]
    mapping: Mapping[str, str]
    maybe: Optional[int]  # noqa: UP045
    either: Union[int, str]  # noqa: UP007


@dataclass
class Node:
    """Self-referential."""

    name: str
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None


@dataclass
class Forward:
    """Refers to a class defined further down the module."""

    later: Later


@dataclass
class Later:
    value: int


@dataclass
class Basket:
    items: list[Item]
    by_name: dict[str, Item] = field(default_factory=dict)


@dataclass
class Item:
    name: str
    price: Decimal


EVERYTHING = {
    "text": "hello",
    "count": 3,
    "ratio": 0.5,
    "flag": True,
    "price": "12.50",
    "when": "2024-07-04T10:30:00+01:00",
    "day": "2024-07-04",
    "uid": "12345678-1234-5678-1234-567812345678",
    "colour": "green",
    "house": 2,
    "anything": {"x": [1, 2]},
    "obj": [None],
    "kind": 3,
    "user": 42,
    "tags": ["a", "b"],
    "legacy_tags": [1, 2],
    "pair": [1, "one"],
    "many": [1, 2, 3],
    "scores": {"x": 1, "y": 2.5},
    "legacy_scores": {"x": 1},
    "plain_list": [1, "a"],
    "plain_dict": {"k": None},
    "seq": [4, 5],
    "mapping": {"a": "b"},
    "maybe": None,
    "either": "two",
    "not_a_field": "ignored",
}


def invalid(resource_type: Any, data: Any, **kwargs: Any) -> InvalidResourceError:
    with pytest.raises(InvalidResourceError) as caught:
        deserialize(data, resource_type, **kwargs)
    return caught.value


# --- Every supported type ----------------------------------------------------------------------------------


def test_every_supported_type() -> None:
    result = deserialize(EVERYTHING, Everything)
    assert result == Everything(
        text="hello",
        count=3,
        ratio=0.5,
        flag=True,
        price=Decimal("12.50"),
        when=datetime(2024, 7, 4, 10, 30, tzinfo=timezone(timedelta(hours=1))),
        day=date(2024, 7, 4),
        uid=UUID("12345678-1234-5678-1234-567812345678"),
        colour=Colour.GREEN,
        house=House.LORDS,
        anything={"x": [1, 2]},
        obj=[None],
        kind=3,
        user=UserId(42),
        tags=["a", "b"],
        legacy_tags=[1, 2],
        pair=(1, "one"),
        many=(1, 2, 3),
        scores={"x": 1.0, "y": 2.5},
        legacy_scores={"x": 1},
        plain_list=[1, "a"],
        plain_dict={"k": None},
        seq=[4, 5],
        mapping={"a": "b"},
        maybe=None,
        either="two",
    )
    assert type(result.scores["x"]) is float
    assert type(result.house) is House


def test_datetimes_are_aware_only_when_the_input_has_an_offset() -> None:
    @dataclass
    class When:
        at: datetime

    assert deserialize({"at": "2024-07-04T00:00:00"}, When).at == datetime(2024, 7, 4)
    assert deserialize({"at": "2024-07-04T00:00:00"}, When).at.tzinfo is None
    assert deserialize({"at": "2024-07-04T00:00:00Z"}, When).at == datetime(2024, 7, 4, tzinfo=timezone.utc)
    assert deserialize({"at": "2024-07-04"}, When).at == datetime(2024, 7, 4)
    already = datetime(2020, 1, 1)
    assert deserialize({"at": already}, When).at is already


def test_date_accepts_midnight_datetimes_but_not_a_time_of_day() -> None:
    @dataclass
    class Day:
        on: date

    assert deserialize({"on": "2024-07-04T00:00:00"}, Day).on == date(2024, 7, 4)
    assert type(deserialize({"on": "2024-07-04"}, Day).on) is date
    error = invalid(Day, {"on": "2024-07-04T10:00:00"})
    assert error.field == "on"
    assert "expected an ISO 8601 date string, got '2024-07-04T10:00:00' (str)" in error.reason


def test_numbers_int_for_float_and_decimal() -> None:
    @dataclass
    class Numbers:
        ratio: float
        price: Decimal

    result = deserialize({"ratio": 2, "price": 3}, Numbers)
    assert (result.ratio, type(result.ratio)) == (2.0, float)
    assert result.price == Decimal(3)
    # A JSON number with a fraction keeps its shortest decimal form, not the binary expansion.
    assert deserialize({"ratio": 0.1, "price": 0.1}, Numbers).price == Decimal("0.1")


def test_enum_by_value_is_strict_about_bool_and_type() -> None:
    @dataclass
    class Seat:
        house: House

    assert deserialize({"house": 1}, Seat).house is House.COMMONS
    assert deserialize({"house": House.LORDS}, Seat).house is House.LORDS
    for wrong in (True, 1.0, "1", 3, [1]):
        error = invalid(Seat, {"house": wrong})
        assert error.field == "house"
        assert "expected one of 1, 2 (House)" in error.reason


class Size(enum.Enum):
    SMALL = "s"
    LARGE = "l"

    @classmethod
    def _missing_(cls, value: object) -> Size | None:
        return cls.SMALL if value == "small" else None


def test_enum_missing_hook_is_honoured() -> None:
    @dataclass
    class Shirt:
        size: Size

    assert deserialize({"size": "small"}, Shirt).size is Size.SMALL
    assert deserialize({"size": "l"}, Shirt).size is Size.LARGE
    assert invalid(Shirt, {"size": "huge"}).reason == "Invalid Shirt: expected one of 's', 'l' (Size), got 'huge' (str)"


def test_literal_is_strict_about_type() -> None:
    @dataclass
    class Flagged:
        kind: Literal[1, "x"]

    assert deserialize({"kind": 1}, Flagged).kind == 1
    for wrong in (True, 1.0, "1", {}):
        assert "expected one of 1, 'x'" in invalid(Flagged, {"kind": wrong}).reason


def test_unions_are_tried_in_order() -> None:
    @dataclass
    class Either:
        first: float | int
        second: int | float
        shape: Party | list[int]

    result = deserialize({"first": 1, "second": 1, "shape": [1, 2]}, Either)
    assert (type(result.first), type(result.second), result.shape) == (float, int, [1, 2])
    assert deserialize({"first": 1, "second": 1, "shape": {"id": 1, "name": "x"}}, Either).shape == Party(1, "x")
    error = invalid(Either, {"first": 1, "second": 1, "shape": "nope"})
    assert error.field == "shape"
    assert error.reason == "Invalid Either: expected an object (Party); or a list, got 'nope' (str)"


def test_nested_and_list_of_nested() -> None:
    member = deserialize(
        {"id": 1, "latest_party": {"id": 15, "name": "Labour"}, "parties": [{"id": 15, "name": "Labour"}]},
        Member,
    )
    assert member.latest_party == Party(15, "Labour")
    assert member.parties == [Party(15, "Labour")]


def test_self_referential_and_forward_references() -> None:
    tree = deserialize({"name": "root", "children": [{"name": "a", "children": [{"name": "b"}]}]}, Node)
    assert tree.children[0].children[0] == Node("b")
    assert deserialize({"later": {"value": 3}}, Forward) == Forward(Later(3))
    error = invalid(Node, {"name": "root", "children": [{"name": "a", "children": [{"name": 5}]}]})
    assert error.field == "children[0].children[0].name"


def test_locally_defined_self_referential_type() -> None:
    @dataclass
    class Local:
        value: int
        next: Local | None = None

    assert deserialize({"value": 1, "next": {"value": 2}}, Local) == Local(1, Local(2))


def test_top_level_list_and_plain_resource_types() -> None:
    assert deserialize([{"id": 1, "name": "a"}], list[Party]) == [Party(1, "a")]
    data = {"anything": [1]}
    assert deserializer_for(dict)(data) is data
    assert deserializer_for(Any)(data) is data  # type: ignore[arg-type]
    assert deserializer_for(None)(data) is data  # type: ignore[arg-type]
    error = invalid(dict, [1])
    assert (error.field, error.reason) == (None, "Invalid dict: expected an object, got [1] (list)")


# --- Keys: camel_case, json_key, aliases, defaults, unknown keys --------------------------------------------


def test_camel_case_json_key_and_alias() -> None:
    data = {
        "id": 172,
        "nameDisplayAs": "Ms Diane Abbott",
        "thumbnailUrl": "https://example.org/172.jpg",
        "latestParty": {"id": 15, "name": "Labour"},
        "thumbnail_url": "snake case is not read with camel_case",
    }
    member = deserialize(data, Member, camel_case=True)
    assert member.name == member.name_display_as == "Ms Diane Abbott"
    assert member.thumbnail_url == "https://example.org/172.jpg"
    assert member.latest_party == Party(15, "Labour")


def test_json_key_works_without_camel_case() -> None:
    member = deserialize({"id": 1, "nameDisplayAs": "X", "name_display_as": "Y"}, Member)
    assert (member.name, member.name_display_as) == ("X", "Y")


def test_camel_case_plans_are_separate() -> None:
    assert deserializer_for(Member) is deserializer_for(Member)
    assert deserializer_for(Member) is not deserializer_for(Member, camel_case=True)
    assert deserialize({"id": 1, "thumbnailUrl": "u"}, Member).thumbnail_url is None


def test_defaults_may_be_missing_and_unknown_keys_are_ignored() -> None:
    member = deserialize({"id": 1, "surprise": {"deep": [1]}}, Member)
    assert member == Member(id=1)
    assert member.parties == [] and member.parties is not Member(id=2).parties


def test_init_false_fields_are_not_read() -> None:
    @dataclass
    class Computed:
        a: int
        double: int = field(init=False)

        def __post_init__(self) -> None:
            self.double = self.a * 2

    assert deserialize({"a": 2, "double": "ignored"}, Computed).double == 4


@pytest.mark.parametrize(
    ("name", "key"),
    [("thumbnail_url", "thumbnailUrl"), ("id", "id"), ("parliamentary_constituency_2024",
     "parliamentaryConstituency2024"), ("_private_name", "_privateName"), ("a_b_c", "aBC")],
)
def test_to_camel_case(name: str, key: str) -> None:
    assert to_camel_case(name) == key


def test_init_var_is_read_and_class_var_is_not() -> None:
    @dataclass
    class Scaled:
        base: int
        factor: InitVar[int] = 1
        unit: ClassVar[str] = "m"
        total: int = field(init=False, default=0)

        def __post_init__(self, factor: int) -> None:
            self.total = self.base * factor

    assert deserialize({"base": 2, "factor": 5, "unit": "km"}, Scaled).total == 10
    assert deserialize({"base": 2}, Scaled).total == 2
    assert Scaled.unit == "m"
    assert invalid(Scaled, {"base": 2, "factor": "5"}).field == "factor"


# --- Errors: message and field path -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"name": "x"}, "id", "required field 'id' is missing (no 'id' key)"),
        ({"id": None, "name": "x"}, "id", "expected an integer, got null"),
        ({"id": "5", "name": "x"}, "id", "expected an integer, got '5' (str)"),
        ({"id": True, "name": "x"}, "id", "expected an integer, got True (bool)"),
        ({"id": 1.0, "name": "x"}, "id", "expected an integer, got 1.0 (float)"),
        ({"id": 1, "name": 5}, "name", "expected a string, got 5 (int)"),
        ({"id": 1, "name": "x", "colour": 0xFF}, "colour", "expected a string, got 255 (int)"),
        ([1, 2], None, "expected an object (Party), got [1, 2] (list)"),
        (None, None, "expected an object (Party), got null"),
    ],
)
def test_type_errors(data: Any, field: str | None, reason: str) -> None:
    error = invalid(Party, data)
    assert error.field == field
    assert error.reason == f"Invalid Party: {reason}"
    assert str(error) == (f"Invalid Party: {reason} (field {field!r})" if field else f"Invalid Party: {reason}")


def test_nested_error_paths() -> None:
    error = invalid(Member, {"id": 1, "latestParty": {"id": "15", "name": "Labour"}}, camel_case=True)
    assert error.field == "latest_party.id"
    assert error.reason == "Invalid Member: expected an integer, got '15' (str)"

    error = invalid(Basket, {"items": [{"name": "a", "price": 1}, {"name": "b", "price": 2}, {"price": 3}]})
    assert error.field == "items[2].name"
    assert "required field 'name' is missing" in error.reason

    error = invalid(Basket, {"items": [], "by_name": {"apple": {"name": "apple", "price": "cheap"}}})
    assert error.field == "by_name['apple'].price"
    assert "expected a decimal number (a number or a numeric string), got 'cheap' (str)" in error.reason


@pytest.mark.parametrize(
    ("field_name", "value", "expected"),
    [
        ("ratio", "0.5", "expected a number, got '0.5' (str)"),
        ("ratio", False, "expected a number, got False (bool)"),
        ("flag", 1, "expected a boolean, got 1 (int)"),
        ("flag", "true", "expected a boolean, got 'true' (str)"),
        ("price", True, "expected a decimal number (a number or a numeric string), got True (bool)"),
        ("when", "yesterday", "expected an ISO 8601 datetime string, got 'yesterday' (str)"),
        ("when", 1720000000, "expected an ISO 8601 datetime string, got 1720000000 (int)"),
        ("uid", "not-a-uuid", "expected a UUID string, got 'not-a-uuid' (str)"),
        ("colour", "blue", "expected one of 'red', 'green' (Colour), got 'blue' (str)"),
        ("tags", "a,b", "expected a list, got 'a,b' (str)"),
        ("tags[1]", ["a", 2], "expected a string, got 2 (int)"),
        ("pair", [1], "expected a list of 2 items, got [1] (list)"),
        ("pair[1]", [1, 2], "expected a string, got 2 (int)"),
        ("many[2]", [1, 2, "3"], "expected an integer, got '3' (str)"),
        ("scores['y']", {"x": 1, "y": "2"}, "expected a number, got '2' (str)"),
        ("scores", [], "expected an object, got [] (list)"),
        ("plain_list", {}, "expected a list, got {} (dict)"),
        ("plain_dict", [], "expected an object, got [] (list)"),
        ("either", 1.5, "expected an integer; or a string, got 1.5 (float)"),
        ("maybe", "1", "expected an integer, got '1' (str)"),
        ("user", "42", "expected an integer, got '42' (str)"),
    ],
)
def test_every_error_of_every_type(field_name: str, value: Any, expected: str) -> None:
    attribute = field_name.split("[")[0]
    error = invalid(Everything, {**EVERYTHING, attribute: value})
    assert error.field == field_name
    assert error.reason == f"Invalid Everything: {expected}"


def test_long_values_are_truncated_in_messages() -> None:
    error = invalid(Party, {"id": "x" * 1000, "name": "n"})
    assert len(error.reason) < 150
    assert error.reason.startswith("Invalid Party: expected an integer, got 'xxxx")
    assert error.reason.endswith("… (str)")


def test_constructor_errors_are_wrapped() -> None:
    @dataclass
    class Checked:
        value: int

        def __post_init__(self) -> None:
            if self.value < 0:
                raise ValueError("value must not be negative")

    with pytest.raises(InvalidResourceError) as caught:
        deserialize({"value": -1}, Checked)
    assert caught.value.reason == "Invalid Checked: Checked() rejected the data: ValueError: value must not be negative"
    assert isinstance(caught.value.__cause__, ValueError)


def test_errors_take_context_from_the_layer_above_and_pickle() -> None:
    error = invalid(Member, {"id": 1, "latest_party": {"id": 1}})
    with_context = error.with_context(datasource="members", url="https://api.example.org/members", record_id=1)
    assert str(with_context) == (
        "Invalid Member: required field 'name' is missing (no 'name' key) (datasource members, "
        "url https://api.example.org/members, record id 1, field 'latest_party.name')"
    )
    assert pickle.loads(pickle.dumps(with_context)).field == "latest_party.name"


# --- Extension: from_json and converters -------------------------------------------------------------------


class Money:
    def __init__(self, amount: Decimal, currency: str) -> None:
        self.amount, self.currency = amount, currency

    @classmethod
    def from_json(cls, data: Any) -> Money:
        amount, currency = data.split(" ")  # "12.50 GBP"
        return cls(Decimal(amount), currency)


class Strict:
    @classmethod
    def from_json(cls, data: Any) -> Strict:
        raise InvalidResourceError("Strict says no", field="inner")


@dataclass
class Priced:
    price: Money
    other: Money | None = None
    strict: Strict | None = None


def test_from_json() -> None:
    priced = deserialize({"price": "12.50 GBP"}, Priced)
    assert (priced.price.amount, priced.price.currency) == (Decimal("12.50"), "GBP")
    assert deserialize("1 EUR", Money).currency == "EUR"


def test_from_json_errors_are_wrapped_with_their_path() -> None:
    error = invalid(Priced, {"price": "1 GBP", "other": "twelve"})
    assert error.field == "other"
    assert error.reason == (
        "Invalid Priced: Money.from_json() rejected 'twelve' (str): ValueError: not enough values to unpack "
        "(expected 2, got 1)"
    )
    assert isinstance(error.__cause__, ValueError)
    error = invalid(Priced, {"price": None})
    assert (error.field, error.reason) == ("price", "Invalid Priced: expected a value for Money.from_json(), got null")
    error = invalid(Priced, {"price": "1 GBP", "strict": {}})
    assert (error.field, error.reason) == ("strict.inner", "Invalid Priced: Strict says no")


@pytest.fixture
def clean_converters() -> Iterator[None]:
    saved = dict(CONVERTERS)
    yield
    CONVERTERS.clear()
    CONVERTERS.update(saved)
    records._clear_plans()


@dataclass
class Host:
    address: ipaddress.IPv4Address
    backup: ipaddress.IPv4Address | None = None


def test_unsupported_annotation_is_a_configuration_error(clean_converters: None) -> None:
    with pytest.raises(ConfigurationError) as caught:
        deserializer_for(Host)
    assert str(caught.value) == (
        "Cannot deserialise field Host.address: pyck has no converter for ipaddress.IPv4Address. Register one "
        "with pyck.core.records.register_converter(IPv4Address, <function>), give the type a from_json(data) "
        "classmethod, or annotate the field with a supported type (see pyck.core.records)."
    )


def test_unsupported_resource_type_and_generic_annotation() -> None:
    with pytest.raises(ConfigurationError, match="Cannot deserialise the resource type: .* for set\\[int\\]"):
        deserializer_for(set[int])
    with pytest.raises(ConfigurationError, match="Cannot deserialise the resource type: .* for builtins.complex"):
        deserializer_for(complex)


def test_register_converter(clean_converters: None) -> None:
    with pytest.raises(ConfigurationError):
        deserializer_for(Host)
    register_converter(ipaddress.IPv4Address, ipaddress.IPv4Address)
    host = deserialize({"address": "10.0.0.1", "backup": None}, Host)
    assert host.address == ipaddress.IPv4Address("10.0.0.1") and host.backup is None

    error = invalid(Host, {"address": "10.0.0.300"})
    assert error.field == "address"
    assert error.reason.startswith(
        "Invalid Host: the converter for IPv4Address rejected '10.0.0.300' (str): AddressValueError:"
    )
    assert "expected a value for IPv4Address, got null" in invalid(Host, {"address": None}).reason

    unregister_converter(ipaddress.IPv4Address)
    with pytest.raises(ConfigurationError):
        deserializer_for(Host)


def test_register_converter_overrides_built_in_types_and_clears_built_plans(clean_converters: None) -> None:
    @dataclass
    class Stamp:
        at: datetime

    assert deserialize({"at": "2024-01-01T00:00:00"}, Stamp).at == datetime(2024, 1, 1)
    register_converter(datetime, lambda value: datetime.fromtimestamp(value, tz=timezone.utc))
    assert deserialize({"at": 0}, Stamp).at == datetime(1970, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(TypeError):
        register_converter("datetime", str)  # type: ignore[arg-type]


class NotAClassmethod:
    def from_json(self, data: Any) -> Any:
        return data


def test_from_json_must_be_a_classmethod() -> None:
    with pytest.raises(ConfigurationError, match=r"NotAClassmethod.from_json must be a classmethod"):
        deserializer_for(NotAClassmethod)


@dataclass(kw_only=True)
class Cyclic:
    child: CyclicChild | None = None
    address: ipaddress.IPv4Address


@dataclass
class CyclicChild:
    parent: Cyclic | None = None
    name: str = ""


def test_a_failed_build_leaves_no_half_built_type_behind(clean_converters: None) -> None:
    # Building Cyclic builds CyclicChild, which refers back to Cyclic; then Cyclic.address fails.
    with pytest.raises(ConfigurationError, match="field Cyclic.address"):
        deserializer_for(Cyclic)
    with pytest.raises(ConfigurationError, match="field Cyclic.address"):
        deserializer_for(CyclicChild)
    register_converter(ipaddress.IPv4Address, ipaddress.IPv4Address)
    child = deserialize({"parent": {"address": "10.0.0.1"}, "name": "c"}, CyclicChild)
    assert child.parent == Cyclic(address=ipaddress.IPv4Address("10.0.0.1"))


def test_unresolvable_forward_reference_is_a_configuration_error() -> None:
    @dataclass
    class Orphan:
        other: Missing  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(ConfigurationError, match="Cannot read the type hints of .*Orphan: name 'Missing'"):
        deserializer_for(Orphan)


def test_bad_json_key_metadata_is_a_configuration_error() -> None:
    @dataclass
    class BadKey:
        a: int = field(metadata={"json_key": 5})

    with pytest.raises(ConfigurationError, match=r"BadKey.a: metadata\['json_key'\] must be a string"):
        deserializer_for(BadKey)


def test_the_plan_is_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass
    class Once:
        a: int
        inner: Party

    calls = []
    real = records._type_hints
    monkeypatch.setattr(records, "_type_hints", lambda cls: calls.append(cls) or real(cls))
    to_once = deserializer_for(Once)
    for i in range(3):
        assert to_once({"a": i, "inner": {"id": 1, "name": "x"}}).a == i
    assert deserializer_for(Once) is to_once
    assert Once in calls and calls.count(Once) == 1


# --- Property: arbitrary JSON only ever raises InvalidResourceError ------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)

_MEMBER_KEYS = ["id", "nameDisplayAs", "thumbnailUrl", "latestParty", "parties", "name", "colour"]


def _member_like() -> st.SearchStrategy[Any]:
    # Mostly the right keys with arbitrary values, so the deserialiser gets past the first field often.
    values = st.fixed_dictionaries({}, optional={key: _json for key in _MEMBER_KEYS})
    party = st.fixed_dictionaries({}, optional={"id": st.integers() | _json, "name": st.text() | _json})
    return st.one_of(
        _json,
        values,
        st.fixed_dictionaries(
            {"id": st.integers()},
            optional={"latestParty": party | _json, "parties": st.lists(party | _json, max_size=3)},
        ),
    )


@settings(max_examples=300, deadline=None)
@given(_member_like())
def test_arbitrary_json_raises_only_invalid_resource_error(data: Any) -> None:
    try:
        member = deserialize(data, Member, camel_case=True)
    except InvalidResourceError as error:
        assert error.reason.startswith("Invalid Member: ")
        assert error.field is None or error.field.split(".")[0].split("[")[0] in {
            "id", "name_display_as", "name", "thumbnail_url", "latest_party", "parties"
        }
    else:
        assert isinstance(member, Member) and type(member.id) is int


@settings(max_examples=200, deadline=None)
@given(_json)
def test_arbitrary_json_against_every_type(data: Any) -> None:
    try:
        deserialize(data, Everything)
    except InvalidResourceError:
        pass
    for field_name in EVERYTHING:
        try:
            deserialize({**EVERYTHING, field_name: data}, Everything)
        except InvalidResourceError as error:
            assert error.field is not None and error.field.startswith(field_name)


# --- The benchmark harness cannot rot -------------------------------------------------------------------------


def test_benchmark_builds_the_same_records_as_its_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import bench_deserialise as bench

    data = bench.make_records(300)
    to_member = deserializer_for(bench.Member)
    assert [to_member(d) for d in data] == [bench.handwritten(d) for d in data]
    figures = bench.main(["--records", "200", "--repeat", "1"])
    assert figures["pyck"] > 0 and figures["handwritten"] > 0
    assert "records per CPU second" in capsys.readouterr().out
