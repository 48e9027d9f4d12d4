"""The per-field converters of the sync engine's hot path give exactly what the long way gives.

``plan._converter`` puts a shortcut in front of ``convert(field, value)`` (and of ``_Plan.key``) for Django's own
field classes and values of exactly the type the field stores. Each shortcut must return what the long way
returns, and leave everything else (``None``, other types, values to refuse) to it, so that results and error
messages are the same. Compared here value by value, on the facts of this database and on those of SQLite and
PostgreSQL (their decimal rounding; integer ranges are Django's on both), with hand-picked edge cases and with
Hypothesis.

Also: the router is asked once per batch, not once per value; new rows' primary keys are the UUIDs
``uuid.uuid4()`` would make, from one ``os.urandom`` call; ``upsert`` reads values as ``plan.read`` does.
"""

from __future__ import annotations

import datetime
import enum
import functools
import io
import os
import uuid
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connections, models, router
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyck.core.sync import plan, upsert
from pyck.core.sync.plan import MISSING, Plan as _Plan, RecordFailure as _RecordFailure, convert, get_plan, read
from pyck.core.sync import sync_model
from tests.testapp import resources as r
from tests.testapp.models import Article, Author
from tests.testapp.testing import use

UTC = datetime.timezone.utc

INTEGER_TYPES = [
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.PositiveBigIntegerField,
]


# --- Fields whose to_python is not Django's: the long way only --------------------------------------------


class _ShoutedText(models.CharField):  # type: ignore[type-arg]
    def to_python(self, value: Any) -> Any:
        return None if value is None else str(value).upper()


class _ShoutedLongText(models.TextField):  # type: ignore[type-arg]
    def to_python(self, value: Any) -> Any:
        return None if value is None else str(value).upper()


class _Doubled(models.IntegerField):  # type: ignore[type-arg]
    def to_python(self, value: Any) -> Any:
        return None if value is None else 2 * int(value)


class _Negated(models.BooleanField):  # type: ignore[type-arg]
    def to_python(self, value: Any) -> Any:
        return None if value is None else not value


class _NextDay(models.DateField):  # type: ignore[type-arg]
    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return None if value is None else value + datetime.timedelta(days=1)


class _Halved(models.DecimalField):  # type: ignore[type-arg]
    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return None if value is None else value / 2


class _UnknownInteger(models.IntegerField):  # type: ignore[type-arg]
    """An integer type no backend knows a range for (``integer_field_range`` raises ``KeyError`` on most)."""

    def get_internal_type(self) -> str:
        return "UnknownIntegerField"


class _DatesAsDatetimes(models.DateTimeField):  # type: ignore[type-arg]
    """A DateTimeField reading values as a DateField does: convert() still turns dates into datetimes first."""

    to_python = models.DateField.to_python  # type: ignore[assignment]


class _FalseIsEmpty(models.BooleanField):  # type: ignore[type-arg]
    """Django's to_python, but ``False`` counts as empty: a nullable one reads ``False`` as ``None``."""

    empty_values = [None, False]


class _TextSubclass(str):
    pass


class _IntSubclass(int):
    pass


class _Level(enum.IntEnum):
    LOW = 1


class _DecimalSubclass(Decimal):
    pass


def _field(cls: type, **options: Any) -> Any:
    field = cls(**options)
    field.set_attributes_from_name("f")
    field.model = Article  # any model: the router decides by it when no alias is given
    return field


FIELDS = [
    (models.CharField, {"max_length": 5}),
    (models.CharField, {"max_length": 5, "null": True}),
    (models.CharField, {"max_length": 5, "default": "dflt"}),
    (models.CharField, {"max_length": 0}),
    (models.CharField, {"max_length": None}),
    (models.EmailField, {}),
    (models.SlugField, {"max_length": 5}),
    (models.URLField, {"max_length": 12}),
    (models.TextField, {}),
    (models.TextField, {"max_length": 5, "null": True}),
    *[(cls, {}) for cls in INTEGER_TYPES],
    (models.IntegerField, {"null": True}),
    (models.IntegerField, {"default": 7}),
    (models.BooleanField, {}),
    (models.BooleanField, {"null": True}),
    (models.DateField, {}),
    (models.DateField, {"null": True}),
    (models.DecimalField, {"max_digits": 5, "decimal_places": 2}),
    (models.DecimalField, {"max_digits": 3, "decimal_places": 0, "null": True}),
    (models.DecimalField, {"max_digits": 20, "decimal_places": 10}),
    (models.DateTimeField, {"null": True}),
    (models.FloatField, {"null": True}),
    (models.UUIDField, {"null": True}),
    (_ShoutedText, {"max_length": 5}),
    (_ShoutedLongText, {"null": True}),
    (_Doubled, {}),
    (_Negated, {"null": True}),
    (_NextDay, {}),
    (_Halved, {"max_digits": 5, "decimal_places": 2}),
    (_UnknownInteger, {}),
    (_DatesAsDatetimes, {"null": True}),
    (_FalseIsEmpty, {"null": True}),
]

TEXTS = ["", "abc", "abcde", "abcdef", "a\x00b", "\x00", "ab\ud800", "\udfff", "é🐍", "éé🐍é🐍", " 5", "5", "-7", "1_0",
         "t", "False", "2024-01-02", "1.25", "NaN", "x" * 300, _TextSubclass("abc")]
INTEGERS = [0, 1, -1, 7, 2**15 - 1, 2**15, -(2**15), -(2**15) - 1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1,
            2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**70, -(2**70), _IntSubclass(5), _Level.LOW]
OTHERS = [
    None, True, False, 1.0, 1.5, -0.0, float("nan"), float("inf"), 1e300,
    Decimal("1.005"), Decimal("1.015"), Decimal("-1.005"), Decimal("1.5"), Decimal("123.456"), Decimal("999.995"),
    Decimal("99999"), Decimal("1E+2"), Decimal("1E-30"), Decimal("-0"), Decimal("0E-7"), Decimal("NaN"),
    Decimal("-NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity"), _DecimalSubclass("1.5"),
    datetime.date(2024, 1, 2), datetime.date.min, datetime.date.max, datetime.datetime(2024, 1, 2, 3, 4, 5),
    datetime.datetime(2024, 1, 2, 23, 30, tzinfo=UTC), datetime.datetime.max.replace(tzinfo=UTC),
    uuid.UUID(int=5), [1], {"a": 1}, b"abc", object,
]
VALUES = TEXTS + INTEGERS + OTHERS


def _outcome(function: Any, value: Any) -> tuple[Any, ...]:
    """What ``function(value)`` gives: its result's type and repr (a Decimal's places count), or its error."""
    try:
        result = function(value)
    except Exception as error:  # noqa: BLE001 - which exception, and its message, is what is compared
        return ("raises", type(error), str(error))
    return ("returns", type(result), repr(result))


def _facts(monkeypatch: pytest.MonkeyPatch, vendor: str) -> str:
    """An alias with the facts of ``vendor`` (``"this"``: the test database's own alias, facts read as usual)."""
    if vendor == "this":
        return router.db_for_write(Article)
    alias = f"facts-of-{vendor}"
    ops = _operations(vendor)
    monkeypatch.setitem(plan._VENDORS, alias, vendor)
    for internal_type in [cls().get_internal_type() for cls in INTEGER_TYPES] + ["UnknownIntegerField"]:
        # Django's documented range for its own types, the backend's for another (see plan._integer_range).
        limits = BaseDatabaseOperations.integer_field_ranges.get(internal_type)
        if limits is None:
            try:
                limits = ops.integer_field_range(internal_type)
            except KeyError:
                limits = None
        monkeypatch.setitem(plan._INTEGER_RANGES, (alias, internal_type), limits)
    return alias


VENDORS = ["this", "sqlite", "postgresql"]


def _operations(vendor: str) -> Any:
    """The ``DatabaseOperations`` of ``vendor``'s backend (their integer ranges need no connection)."""
    if vendor == "this":
        return connections[router.db_for_write(Article)].ops
    return (PostgresWrapper if vendor == "postgresql" else SQLiteWrapper).ops_class(None)


def _same_both_ways(field: Any, alias: str, values: list[Any]) -> None:
    fast = plan._value_converter(field, alias)
    slow = functools.partial(convert, field, alias=alias)
    for value in values:
        assert _outcome(fast, value) == _outcome(slow, value), (type(field).__name__, field.null, value)


# --- Values: the shortcut gives what convert() gives ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(("cls", "options"), FIELDS, ids=lambda x: getattr(x, "__name__", None) or str(x))
def test_a_converter_gives_what_convert_gives(monkeypatch, vendor, cls, options) -> None:
    _same_both_ways(_field(cls, **options), _facts(monkeypatch, vendor), VALUES)


@pytest.mark.django_db
@pytest.mark.parametrize("vendor", VENDORS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spec=st.sampled_from(FIELDS),
    values=st.lists(
        st.none()
        | st.text()
        | st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\x00\ud800\udc00"), max_size=8)
        | st.integers()
        | st.integers(min_value=-(2**64), max_value=2**64)
        | st.booleans()
        | st.dates()
        | st.datetimes(timezones=st.none() | st.just(UTC))
        | st.decimals()
        | st.decimals(places=3, min_value=-1000, max_value=1000)
        | st.floats(),
        max_size=20,
    ),
)
def test_converters_give_what_convert_gives_on_any_value(monkeypatch, vendor, spec, values) -> None:
    cls, options = spec
    _same_both_ways(_field(cls, **options), _facts(monkeypatch, vendor), values)


@pytest.mark.django_db
def test_convert_without_an_alias_asks_the_router_and_gives_the_same() -> None:
    alias = router.db_for_write(Article)
    for cls, options in FIELDS:
        field = _field(cls, **options)
        for value in VALUES:
            assert _outcome(functools.partial(convert, field), value) == _outcome(
                functools.partial(convert, field, alias=alias), value
            )


#: What the long way returns in the tests counting its calls.
SLOW = object()


def _counting() -> Any:
    def slow(value: Any) -> Any:
        slow.calls.append(value)  # type: ignore[attr-defined]
        return SLOW

    slow.calls = []  # type: ignore[attr-defined]
    return slow


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cls", "options", "taken", "left"),
    [
        (models.CharField, {"max_length": 5}, ["", "abc", "abcde", "é🐍"], [None, "abcdef", "a\x00", "a\ud800", 5,
                                                                         _TextSubclass("a")]),
        (models.TextField, {}, ["x" * 10_000, "é"], [None, "\x00", "\ud800", b"a"]),
        (models.EmailField, {}, ["a@b.c"], [None]),
        (models.IntegerField, {}, [0, -(2**31), 2**31 - 1], [None, True, False, 1.0, "1", _IntSubclass(1), _Level.LOW]),
        (models.BooleanField, {"null": True}, [True, False], [None, 1, 0, "t"]),
        (models.DateField, {}, [datetime.date(2024, 1, 2)], [None, datetime.datetime(2024, 1, 2), "2024-01-02"]),
        (models.DecimalField, {"max_digits": 5, "decimal_places": 2},
         [Decimal("1.005"), Decimal("-999.99"), Decimal("0")],
         [None, Decimal("1000"), Decimal("NaN"), Decimal("Infinity"), Decimal("sNaN"), 1.5, "1.5", 1,
          _DecimalSubclass("1")]),
        (models.DateTimeField, {}, [], [datetime.datetime(2024, 1, 2, tzinfo=UTC), datetime.date(2024, 1, 2)]),
        (_ShoutedText, {"max_length": 5}, [], ["abc"]),
        (_Doubled, {}, [], [1]),
        (_Negated, {}, [], [True]),
        (_NextDay, {}, [], [datetime.date(2024, 1, 2)]),
        (_Halved, {"max_digits": 5, "decimal_places": 2}, [], [Decimal("1")]),
        (_DatesAsDatetimes, {}, [], [datetime.date(2024, 1, 2)]),
        (_FalseIsEmpty, {"null": True}, [], [True, False]),
        (_UnknownInteger, {}, [2**70, -(2**70)], [None, True]),  # no range known: the database judges
    ],
)
def test_the_shortcut_covers_the_common_values_and_leaves_the_rest_to_the_long_way(
    monkeypatch, cls, options, taken, left
) -> None:
    alias = _facts(monkeypatch, "postgresql")  # a 32-bit IntegerField
    slow = _counting()
    converter = plan._converter(_field(cls, **options), alias, slow)
    for value in taken:
        assert converter(value) is not SLOW, value
    assert slow.calls == []
    for value in left:
        assert converter(value) is SLOW, value
    assert slow.calls == left


@pytest.mark.django_db
def test_a_to_python_replaced_on_the_field_itself_takes_the_long_way(monkeypatch) -> None:
    field = _field(models.CharField, max_length=5)
    monkeypatch.setattr(field, "to_python", lambda value: value.upper())
    slow = _counting()
    assert plan._converter(field, router.db_for_write(Article), slow)("abc") is SLOW
    assert plan._value_converter(field, router.db_for_write(Article))("abc") == "ABC"


@pytest.mark.django_db
@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("cls", INTEGER_TYPES)
def test_integer_bounds_of_each_type_are_djangos_on_every_backend(monkeypatch, vendor, cls) -> None:
    alias = _facts(monkeypatch, vendor)
    field = _field(cls)
    # Django's documented ranges ("safe in all databases supported by Django"), not SQLite's 64 bits for all.
    low, high = BaseDatabaseOperations.integer_field_ranges[field.get_internal_type()]
    converter = plan._value_converter(field, alias)
    assert converter(low) == low and converter(high) == high
    for value in (low - 1, high + 1):
        message = f"field 'f' holds integers from {low} to {high}; the value {value!r} is out of range"
        with pytest.raises(_RecordFailure) as error:
            converter(value)
        assert str(error.value) == message
    # A bool is not an integer to the shortcut: the long way reads it as Django does (int(True)).
    assert _outcome(converter, True) == _outcome(functools.partial(convert, field, alias=alias), True)
    assert type(converter(True)) is int


@pytest.mark.django_db
@pytest.mark.parametrize(("vendor", "half"), [("postgresql", "0.13"), ("sqlite", "0.12")])
def test_decimals_are_rounded_as_the_vendor_rounds_and_errors_are_the_long_ways(monkeypatch, vendor, half) -> None:
    field = _field(models.DecimalField, max_digits=5, decimal_places=2)
    converter = plan._value_converter(field, _facts(monkeypatch, vendor))
    assert repr(converter(Decimal("0.125"))) == repr(Decimal(half))
    assert repr(converter(Decimal("-0.125"))) == repr(-Decimal(half))
    assert repr(converter(Decimal("7"))) == "Decimal('7.00')"
    cases = {
        Decimal("1000"): "holds at most 5 digits, 2 of them decimals; the value Decimal('1000') does not fit",
        Decimal("999.995"): "holds at most 5 digits, 2 of them decimals; the value Decimal('999.995') does not fit",
        Decimal("NaN"): "rejects the value Decimal('NaN'): “NaN” value must be a decimal number.",
        Decimal("-Infinity"): "rejects the value Decimal('-Infinity'): “-Infinity” value must be a decimal number.",
    }
    for value, message in cases.items():
        with pytest.raises(_RecordFailure) as error:
            converter(value)
        assert str(error.value) == f"field 'f' {message}"


@pytest.mark.django_db
def test_text_errors_are_the_long_ways() -> None:
    converter = plan._value_converter(_field(models.CharField, max_length=5), router.db_for_write(Article))
    cases = {
        "abcdef": "holds at most 5 characters; the value has 6",
        "a\x00b": "cannot store the NUL character in 'a\\x00b' (PostgreSQL refuses it in text)",
        "éa\ud800": "cannot store 'éa\\ud800': it is not valid Unicode (a lone surrogate at position 2)",
    }
    for value, message in cases.items():
        with pytest.raises(_RecordFailure) as error:
            converter(value)
        assert str(error.value) == f"field 'f' {message}"
    assert convert(_field(models.CharField, max_length=5, null=True), None) is None


@pytest.mark.django_db
def test_a_datetime_in_a_date_field_is_read_as_django_reads_it() -> None:
    converter = plan._value_converter(_field(models.DateField), router.db_for_write(Article))
    assert converter(datetime.datetime(2024, 1, 2, 23, 30, tzinfo=UTC)) == datetime.date(2024, 1, 2)
    assert type(converter(datetime.datetime(2024, 1, 2, 3, 4))) is datetime.date


# --- Ids: the shortcut gives what _Plan.key gives -------------------------------------------------------------

IDS = [None, "", "a", "abc", "x" * 50, "x" * 51, "a\x00", "\ud800", "é", " 1", "01", "+1", "1_000", "\u0661", 0, 1,
       -1, True, False, 1.0, 1.5, float("inf"), float("nan"), Decimal("2"), Decimal("2.5"), 2**31 - 1, 2**31, 2**63,
       -(2**63) - 1, 2**70, _IntSubclass(3), _TextSubclass("t"), uuid.UUID(int=5), str(uuid.UUID(int=5)), [1],
       {"id": 1}]


@pytest.mark.django_db
@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(
    ("cls", "options"),
    [
        (models.CharField, {"max_length": 50}),
        (models.TextField, {}),
        *[(cls, {}) for cls in INTEGER_TYPES],
        (models.UUIDField, {}),
        (models.BooleanField, {}),
        (models.DecimalField, {"max_digits": 5, "decimal_places": 2}),
        (_ShoutedText, {"max_length": 50}),
        (_Doubled, {}),
        (_UnknownInteger, {}),
    ],
)
def test_a_key_function_gives_what_key_gives(monkeypatch, vendor, cls, options) -> None:
    alias = _facts(monkeypatch, vendor)
    key_plan = _Plan(model=Article, external_id=_field(cls, **options), mappings=[])
    fast = plan._converter(key_plan.external_id, alias, functools.partial(key_plan.key, alias=alias), ids=True)
    for raw_id in IDS:
        assert _outcome(fast, raw_id) == _outcome(functools.partial(key_plan.key, alias=alias), raw_id), (cls, raw_id)


@pytest.mark.django_db
def test_key_function_is_built_once_per_alias_and_takes_the_common_ids(monkeypatch) -> None:
    article_plan = get_plan(Article)
    assert article_plan.key_function() is article_plan.key_function()
    high = plan._integer_range(article_plan.external_id, router.db_for_write(Article))[1]  # type: ignore[index]
    monkeypatch.setattr(article_plan, "key", lambda *args, **kwargs: pytest.fail("took the long way"))
    monkeypatch.setattr(article_plan, "_keys", {})
    assert article_plan.key_function()(high) == high
    author_plan = get_plan(Author)
    monkeypatch.setattr(author_plan, "key", lambda *args, **kwargs: pytest.fail("took the long way"))
    monkeypatch.setattr(author_plan, "_keys", {})
    assert author_plan.key_function()("x" * 50) == "x" * 50


# --- The router: asked once per batch, still honoured ---------------------------------------------------------


class _Router:
    """Routes writes to ``alias`` and counts the questions asked."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.asked = 0

    def db_for_write(self, model: Any, **hints: Any) -> str:
        self.asked += 1
        return self.alias


def _articles(count: int) -> list[r.ArticleResource]:
    return [
        r.ArticleResource(id=n, headline=f"title {n}", author=r.ByLine(name="Ann"), price=Decimal(n) / 3, words=n)
        for n in range(1, count + 1)
    ]


@pytest.mark.django_db
def test_the_router_is_asked_per_batch_not_per_value(monkeypatch) -> None:
    counting = _Router(router.db_for_write(Article))
    monkeypatch.setattr(plan, "router", counting)
    asked = []
    for count in (5, 60):
        Article.objects.all().delete()
        use(monkeypatch, Article, _articles(count))
        assert sync_model(Article).created == count
        asked.append(counting.asked)
        counting.asked = 0
    assert asked[0] == asked[1] > 0  # 60 records with 3 integers and a decimal each: not one more question


@pytest.mark.django_db
def test_each_batch_converts_for_the_database_the_router_picks_then(monkeypatch) -> None:
    first, second = _facts(monkeypatch, "sqlite"), _facts(monkeypatch, "postgresql")
    routing = _Router(first)
    monkeypatch.setattr(plan, "router", routing)
    article_plan = get_plan(Article)
    monkeypatch.setattr(article_plan, "_keys", {})
    monkeypatch.setattr(article_plan, "_values", {})

    def price(value: Any) -> Any:
        converters = {attname: to_value for _, attname, to_value in article_plan.value_converters()}
        return converters["price"](value)

    assert article_plan.value_converters() is article_plan.value_converters()  # built once per alias
    assert price(Decimal("0.125")) == Decimal("0.12")  # SQLite rounds halves to even
    key = article_plan.key_function()
    routing.alias = second  # a dynamic router: the next batch goes elsewhere
    assert price(Decimal("0.125")) == Decimal("0.13")  # PostgreSQL rounds them away from zero
    assert article_plan.key_function() is not key and set(article_plan._keys) == {first, second}
    routing.alias = first
    assert price(Decimal("0.125")) == Decimal("0.12")
    assert article_plan.key_function() is key


# --- New rows' primary keys ----------------------------------------------------------------------------------


def _replayed_randomness(monkeypatch: pytest.MonkeyPatch, data: bytes) -> list[int]:
    """Make ``os.urandom`` return ``data`` in order, from the start; return the sizes asked for."""
    stream = io.BytesIO(data)
    sizes: list[int] = []

    def urandom(size: int) -> bytes:
        sizes.append(size)
        return stream.read(size)

    monkeypatch.setattr(os, "urandom", urandom)
    return sizes


def test_new_pks_are_what_uuid4_makes_from_one_urandom_call(monkeypatch) -> None:
    data = bytes((7 * n + 3) % 256 for n in range(16 * 40))
    sizes = _replayed_randomness(monkeypatch, data)
    expected = [uuid.uuid4() for _ in range(40)]
    assert sizes == [16] * 40
    sizes = _replayed_randomness(monkeypatch, data)
    pks = upsert._new_pks(Article, 40)
    assert sizes == [16 * 40]
    assert pks == expected
    assert all(pk.version == 4 and pk.variant == uuid.RFC_4122 for pk in pks)
    assert upsert._new_pks(Article, 0) == []


def test_new_pks_are_random_version_4_uuids() -> None:
    pks = upsert._new_pks(Article, 1000)
    assert len(set(pks)) == 1000
    assert all(type(pk) is uuid.UUID and pk.version == 4 and pk.variant == uuid.RFC_4122 for pk in pks)


def test_a_pk_without_the_uuid4_default_gets_uuid4_called_per_row_as_before(monkeypatch) -> None:
    made: list[uuid.UUID] = []

    def uuid4() -> uuid.UUID:
        made.append(uuid.UUID(int=len(made) + 1))
        return made[-1]

    other = SimpleNamespace(_meta=SimpleNamespace(pk=SimpleNamespace(default=lambda: uuid.UUID(int=0))))
    monkeypatch.setattr(uuid, "uuid4", uuid4)
    assert upsert._new_pks(other, 3) == [uuid.UUID(int=n) for n in (1, 2, 3)]  # type: ignore[arg-type]
    # A replaced uuid.uuid4 is honoured for SyncedModel too: the default is no longer that function.
    assert upsert._new_pks(Article, 2) == [uuid.UUID(int=4), uuid.UUID(int=5)]


@pytest.mark.django_db
def test_a_sync_gives_new_rows_version_4_uuids_from_one_urandom_call_per_batch(monkeypatch) -> None:
    use(monkeypatch, Article, _articles(30))
    calls: list[int] = []
    real = os.urandom

    def urandom(size: int) -> bytes:
        calls.append(size)
        return real(size)

    monkeypatch.setattr(os, "urandom", urandom)
    assert sync_model(Article).created == 30
    assert 16 * 30 in calls and 16 not in calls
    pks = list(Article.objects.values_list("pk", flat=True))
    assert len(set(pks)) == 30 and all(pk.version == 4 for pk in pks)


# --- Reading values --------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "resource",
    [
        {"a": 1, "b": None},
        {"a": 1, "b": {"c": 2}},
        {},
        SimpleNamespace(a="x", b=SimpleNamespace(c=3)),
        SimpleNamespace(a="x"),
        SimpleNamespace(b=None),
        None,
    ],
)
@pytest.mark.parametrize("sources", [["a", "b"], ["a", "b.c"], ["b.c"]])
def test_values_are_read_as_plan_read_reads_them(resource, sources) -> None:
    converters = [(source, f"col{n}", lambda value: ("converted", value)) for n, source in enumerate(sources)]
    expected = {}
    for source, attname, to_value in converters:
        value = read(resource, source)
        if value is not MISSING:
            expected[attname] = to_value(value)
    values: dict[str, Any] = {}
    upsert._read_values(resource, converters, all("." not in s for s in sources), values)
    assert values == expected
