"""The per-record shortcuts of the sync engine's hot path give exactly what the long way gives.

- ``bulk.unprepared_types``: the value types a field's ``get_db_prep_save`` provably returns unchanged, so that
  an insert can skip the call; checked here against the call itself, field class by field class.
- ``bulk._prepared_column``: a value shared by every row is prepared once (Django's own fields only).
- ``plan``: the backend facts a value check needs (integer ranges, the vendor's decimal rounding) are read once
  per database alias, not through ``connections[...]`` for every value; ASCII text skips the UTF-8 check.
- ``plan.read`` of a one-step path, and ``RestDatasource.get_raw_id``, which no longer build anything per record.

Whole syncs through the shortcuts against the ORM's own bulk methods are compared in ``test_sync_bulk.py``.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection, connections, models, router
from django.db.backends.base.operations import BaseDatabaseOperations

from pyck.core.sync import bulk, plan
from pyck.core.sync.plan import MISSING, RecordFailure as _RecordFailure, convert, read
from pyck.core.datasources import RestDatasource
from tests.testapp.models import Article, Player

UTC = datetime.timezone.utc


class _Upper(models.CharField):  # type: ignore[type-arg]
    """Text stored upper-cased: overrides get_prep_value, so every value must go through it."""

    def get_prep_value(self, value: Any) -> Any:
        return None if value is None else str(value).upper()


class _Negated(models.BooleanField):  # type: ignore[type-arg]
    def to_python(self, value: Any) -> Any:
        return None if value is None else not value


class _Doubled(models.IntegerField):  # type: ignore[type-arg]
    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        return None if value is None else 2 * int(value)


class _Stripped(models.CharField):  # type: ignore[type-arg]
    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        return None if value is None else value.strip()


class _Counted(models.DateTimeField):  # type: ignore[type-arg]
    """A custom preparation (an encrypting field, say, with a random nonce): must see every value."""

    calls = 0

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        type(self).calls += 1
        return super().get_db_prep_save(value, connection)


_SAMPLES: dict[type, list[Any]] = {
    str: ["", "plain", "é🐍", "tab\there", "a" * 300],
    int: [0, 1, -1, 2**31 - 1, -(2**31), 2**40],
    bool: [True, False],
    type(None): [None],
}


def _field(cls: type, **options: Any) -> Any:
    field = cls(**options)
    field.set_attributes_from_name("f")
    field.model = Article  # any model: only the connection matters here
    return field


@pytest.mark.parametrize(
    ("cls", "options", "expected"),
    [
        (models.CharField, {"max_length": 300}, {str, type(None)}),
        (models.EmailField, {}, {str, type(None)}),
        (models.SlugField, {}, {str, type(None)}),
        (models.URLField, {}, {str, type(None)}),
        (models.TextField, {}, {str, type(None)}),
        (models.BooleanField, {}, {bool, type(None)}),
        (models.BooleanField, {"null": True}, {bool, type(None)}),
        (models.IntegerField, {}, {int, type(None)}),
        (models.BigIntegerField, {}, {int, type(None)}),
        (models.SmallIntegerField, {}, {int, type(None)}),
        (models.PositiveIntegerField, {}, {int, type(None)}),
    ],
)
def test_the_types_passed_through_are_those_get_db_prep_save_returns_unchanged(cls, options, expected) -> None:
    field = _field(cls, **options)
    if isinstance(field, models.IntegerField) and _adapts_integers(connection):
        expected = set()  # PostgreSQL with psycopg 3 wraps each integer in its type (Int4, Int8...)
    unprepared = bulk.unprepared_types(field, connection)
    assert unprepared == expected
    for kind in unprepared:
        for value in _SAMPLES[kind]:
            prepared = field.get_db_prep_save(value, connection)
            assert prepared == value and type(prepared) is type(value), (cls, value, prepared)


def _adapts_integers(connection: Any) -> bool:
    return type(connection.ops).adapt_integerfield_value is not BaseDatabaseOperations.adapt_integerfield_value


@pytest.mark.parametrize(
    "cls",
    [
        models.DateField,
        models.DateTimeField,
        models.DecimalField,
        models.UUIDField,
        models.JSONField,
        models.FloatField,
        models.BigAutoField,
        _Upper,
        _Negated,
        _Doubled,
        _Stripped,
    ],
)
def test_other_fields_and_overriding_subclasses_prepare_every_value(cls) -> None:
    options = {"max_digits": 8, "decimal_places": 2} if cls is models.DecimalField else {}
    if cls in (_Upper, _Stripped):
        options = {"max_length": 10}
    if cls is models.BigAutoField:
        options = {"primary_key": True}
    assert bulk.unprepared_types(_field(cls, **options), connection) == frozenset()


def test_a_foreign_key_prepares_every_value() -> None:
    assert bulk.unprepared_types(Player._meta.get_field("team"), connection) == frozenset()


def test_integers_are_prepared_on_a_backend_that_adapts_them() -> None:
    class Ops(type(connection.ops)):  # type: ignore[misc]
        def adapt_integerfield_value(self, value: Any, internal_type: str) -> Any:
            return value

    adapting = SimpleNamespace(ops=Ops(connection))
    integers = _field(models.IntegerField)
    assert bulk.unprepared_types(integers, adapting) == frozenset()
    assert bulk.unprepared_types(_field(models.CharField, max_length=5), adapting) == {str, type(None)}
    # This database: SQLite passes integers through, PostgreSQL with psycopg 3 adapts them.
    assert (bulk.unprepared_types(integers, connection) == frozenset()) == _adapts_integers(connection)


def test_a_column_is_prepared_as_get_db_prep_save_prepares_each_value() -> None:
    cases = [
        (_field(models.CharField, max_length=20), ["a", None, "é", "b"]),
        (_field(models.IntegerField), [1, None, 2**31 - 1, True]),  # True is not an int here: prepared
        (_field(models.DecimalField, max_digits=8, decimal_places=2), [Decimal("1.5"), None, Decimal("-0.01")]),
        (_field(models.DateTimeField), [datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None]),
        (_field(models.UUIDField), [uuid.UUID(int=5), None]),
        (_field(_Upper, max_length=10), ["abc", None, "Déf"]),
    ]
    for field, values in cases:
        expected = [field.get_db_prep_save(value, connection) for value in values]
        assert bulk._prepared_column(field, values, connection) == expected, field


def test_a_value_every_row_shares_is_prepared_once(monkeypatch) -> None:
    field = _field(models.DateTimeField)
    stamp = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    calls: list[Any] = []
    prep = field.get_db_prep_save

    def counting(value: Any, connection: Any) -> Any:
        calls.append(value)
        return prep(value, connection)

    monkeypatch.setattr(field, "get_db_prep_save", counting)
    column = bulk._prepared_column(field, [stamp] * 50, connection)
    assert column == [prep(stamp, connection)] * 50
    assert len(calls) == 1
    # Equal values that are not the same object are prepared one by one, as are mixed columns.
    calls.clear()
    bulk._prepared_column(field, [stamp, stamp.replace(), stamp], connection)
    assert len(calls) == 3


def test_a_custom_preparation_sees_every_value_even_when_all_rows_share_it() -> None:
    field = _field(_Counted)
    _Counted.calls = 0
    stamp = datetime.datetime(2024, 5, 6, tzinfo=UTC)
    bulk._prepared_column(field, [stamp] * 7, connection)
    assert _Counted.calls == 7


def test_value_checks_do_not_look_the_connection_up_per_value(monkeypatch) -> None:
    field = Article._meta.get_field("word_count")
    price = Article._meta.get_field("price")
    convert(field, 1)
    convert(price, Decimal("1.005"))  # the facts of this alias are known from here on

    class Counting:
        lookups = 0

        def __getitem__(self, alias: str) -> Any:
            Counting.lookups += 1
            return connections[alias]

    monkeypatch.setattr(plan, "connections", Counting())
    for value in range(200):
        assert convert(field, value) == value
        convert(price, Decimal(value) / 3)
    assert Counting.lookups == 0


def test_integer_ranges_are_djangos_on_every_database() -> None:
    field = Article._meta.get_field("word_count")
    low, high = BaseDatabaseOperations.integer_field_ranges[field.get_internal_type()]
    assert (low, high) == (-(2**31), 2**31 - 1)
    assert convert(field, high) == high
    assert convert(field, low) == low
    for value in (high + 1, low - 1):
        with pytest.raises(_RecordFailure, match="out of range"):
            convert(field, value)
    with pytest.raises(_RecordFailure, match="out of range"):
        plan.get_plan(Article).key(high + 1)


@pytest.mark.parametrize(("vendor", "expected"), [("postgresql", Decimal("0.13")), ("sqlite", Decimal("0.12"))])
def test_decimals_round_halves_as_the_alias_vendor_does(monkeypatch, vendor, expected) -> None:
    price = Article._meta.get_field("price")  # two decimal places
    convert(price, Decimal("1"))
    monkeypatch.setitem(plan._VENDORS, router.db_for_write(Article), vendor)
    assert convert(price, Decimal("0.125")) == expected
    assert convert(price, Decimal("-0.125")) == -expected
    with pytest.raises(_RecordFailure, match="at most 8 digits"):
        convert(price, Decimal("1234567.891"))


def test_text_checks_are_the_same_for_ascii_and_other_text() -> None:
    field = Article._meta.get_field("title")  # max_length=40
    assert convert(field, "plain ascii") == "plain ascii"
    assert convert(field, "é🐍 and more") == "é🐍 and more"
    with pytest.raises(_RecordFailure, match="lone surrogate at position 2"):
        convert(field, "ab\ud800")
    with pytest.raises(_RecordFailure, match="NUL character"):
        convert(field, "a\x00b")
    with pytest.raises(_RecordFailure, match="at most 40 characters"):
        convert(field, "x" * 41)


def test_read_one_step_and_dotted_paths() -> None:
    record = SimpleNamespace(name="N", party=SimpleNamespace(id=3), gone=None)
    assert read(record, "name") == "N"
    assert read(record, "missing") is MISSING
    assert read(None, "name") is None
    assert read({"name": "D"}, "name") == "D"
    assert read({"other": 1}, "name") is MISSING
    assert read({"name": None}, "name") is None
    assert read(record, "party.id") == 3
    assert read(record, "gone.id") is None
    assert read({"party": {"id": 4}}, "party.id") == 4
    assert read({"party": {}}, "party.id") is MISSING


def test_get_raw_id_reads_the_identifier_then_its_camel_case_form() -> None:
    datasource = RestDatasource(base_url="https://api.example.com", path="things", identifier="member_id")
    assert datasource.get_raw_id({"member_id": 1, "memberId": 2}) == 1
    assert datasource.get_raw_id({"memberId": 2}) == 2
    assert datasource.get_raw_id({"id": 3}) is None
    assert datasource.get_raw_id(["member_id"]) is None
