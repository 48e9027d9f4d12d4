"""New rows' UUIDs, dates and decimals are prepared directly, to exactly what ``get_db_prep_save`` returns.

``bulk._direct_preparation`` computes the last step of Django's own preparation for a value of exactly the
type a ``UUIDField``, ``DateField`` or ``DecimalField`` (or a foreign key to one) expects; every other value,
field and overriding subclass goes through ``get_db_prep_save`` as before. Checked here on this database's
connection (the suite runs on SQLite and PostgreSQL) against ``get_db_prep_save`` itself: same type, same repr,
same error.
"""

from __future__ import annotations

import datetime
import random
import uuid
from decimal import Decimal
from functools import partial
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection, models

from pyck.core.sync import bulk
from tests.testapp.models import Article, Player, Team

_random = random.Random(20240615)


class _Uuid(uuid.UUID):
    pass


class _Day(datetime.date):
    def __str__(self) -> str:
        return f"day {self.isoformat()}"


class _Amount(Decimal):
    pass


class _Hyphenated(models.UUIDField):  # type: ignore[type-arg]
    """Stores the UUID's text with hyphens: overrides get_db_prep_value."""

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        return None if value is None else str(value)


class _DayAfter(models.DateField):  # type: ignore[type-arg]
    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return None if value is None else value + datetime.timedelta(days=1)


class _Cents(models.DecimalField):  # type: ignore[type-arg]
    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return None if value is None else value.quantize(Decimal("0.01"))


class _Ordinal(models.DateField):  # type: ignore[type-arg]
    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        value = super().get_db_prep_value(value, connection, prepared)
        return value if value is None else f"ordinal {value}"


class _Tagged(models.DecimalField):  # type: ignore[type-arg]
    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return None if value is None else -value


class _Counted(models.UUIDField):  # type: ignore[type-arg]
    """A custom preparation (an encrypting field, say): overrides get_db_prep_save itself."""

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        return None if value is None else f"sealed {value}"


class _NextWeek(models.Field):  # type: ignore[type-arg]
    """A custom field holding dates that is no DateField: adds a week where Django's fields do nothing."""

    def get_internal_type(self) -> str:
        return "DateField"

    def get_prep_value(self, value: Any) -> Any:
        return None if value is None else value + datetime.timedelta(days=7)


class _ShiftedPrep(models.Field):  # type: ignore[type-arg]
    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return value + datetime.timedelta(days=1) if isinstance(value, datetime.date) else value


class _Mixed(models.DateField, _ShiftedPrep):  # type: ignore[type-arg]
    """Has DateField's four methods, yet DateField.get_prep_value's ``super()`` call reaches _ShiftedPrep."""


class _SealedKey(models.ForeignKey):  # type: ignore[type-arg]
    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        return None if value is None else f"sealed {value}"


def _field(cls: type, **options: Any) -> Any:
    field = cls(**options)
    field.set_attributes_from_name("f")
    field.model = Article  # any model: only the connection matters here
    return field


def _foreign_key(to: type[models.Model], cls: type = models.ForeignKey, **options: Any) -> Any:
    field = cls(to, on_delete=models.CASCADE, **options)
    field.set_attributes_from_name("ref")
    field.model = Player
    return field


def _key_to(target: models.Field[Any, Any]) -> Any:
    """A foreign key whose target field is ``target`` (the key of a model that needs no table here)."""
    field = _foreign_key(Team)
    field.__dict__["foreign_related_fields"] = (target,)
    return field


def _uuids() -> list[Any]:
    many = [uuid.UUID(int=_random.getrandbits(128)) for _ in range(200)] + [uuid.uuid4() for _ in range(50)]
    edges = [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), uuid.NAMESPACE_DNS, _Uuid(int=12345)]
    text = [str(uuid.UUID(int=7)), uuid.UUID(int=8).hex, "{%s}" % uuid.UUID(int=9), 2**100, "not a uuid", "", 1.5]
    return [*many, *edges, *text, None]


def _dates() -> list[Any]:
    many = [datetime.date.fromordinal(_random.randrange(1, 3_652_059)) for _ in range(250)]
    edges = [datetime.date.min, datetime.date.max, datetime.date(2024, 2, 29), _Day(2024, 5, 6)]
    late = datetime.timezone(datetime.timedelta(hours=-5))
    datetimes = [
        datetime.datetime(2024, 1, 1, 23, 30),
        datetime.datetime(2024, 1, 1, 23, 30, tzinfo=late),  # 2 January in UTC
        datetime.datetime(2024, 1, 1, 0, 30, tzinfo=datetime.timezone.utc),
    ]
    text = ["2024-01-02", "2024-13-01", "yesterday", "", 20240102]
    return [*many, *edges, *datetimes, *text, None]


def _decimals() -> list[Any]:
    many = [Decimal(_random.randrange(-(10**9), 10**9)).scaleb(-_random.randrange(0, 6)) for _ in range(250)]
    edges = [
        Decimal("0"),
        Decimal("-0"),
        Decimal("-0.00"),
        Decimal("0E-7"),
        Decimal("1E+999999"),
        Decimal("-1E-999999"),
        Decimal("123456.789"),  # more places than the field keeps: not rounded here
        Decimal("1" * 60),
        _Amount("1.25"),
    ]
    invalid = [Decimal("NaN"), Decimal("-NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity")]
    other = ["1.50", "-0", "1e3", "NaN", "abc", "", 3, 1.1, True]
    return [*many, *edges, *invalid, *other, None]


def _outcome(prepare: Any) -> tuple[Any, ...]:
    try:
        value = prepare()
    except (ValidationError, ArithmeticError, TypeError, ValueError, AttributeError) as error:
        return ("raises", type(error), getattr(error, "messages", str(error)))
    return (type(value), repr(value))


def _assert_prepared_as_django(field: Any, values: list[Any], db: Any = connection) -> None:
    """``_prepared_column`` gives, for ``values``, what ``get_db_prep_save`` gives for each one: the same type and
    repr, or the same error."""
    expected = [_outcome(partial(field.get_db_prep_save, value, db)) for value in values]
    valid = [(value, outcome) for value, outcome in zip(values, expected) if outcome[0] != "raises"]
    column = bulk._prepared_column(field, [value for value, _ in valid], db)
    assert [(type(got), repr(got)) for got in column] == [outcome for _, outcome in valid], field
    for value, outcome in zip(values, expected):
        if outcome[0] == "raises":  # beside a valid value, so that no row shares one value
            assert _outcome(partial(bulk._prepared_column, field, [valid[0][0], value], db)) == outcome, value


def _name(param: Any) -> str:
    if isinstance(param, models.Field):
        target = getattr(param, "target_field", None) if param.is_relation else None
        return type(param).__name__ + (f"->{type(target).__name__}" if target is not None else "")
    return getattr(param, "__name__", None) or repr(param)


def _direct(field: Any, db: Any = connection) -> Any:
    found = bulk._direct_preparation(field, db, field.get_db_prep_save)
    return None if found is None else found[0]


@pytest.mark.parametrize(
    ("field", "kind"),
    [
        (_field(models.UUIDField), uuid.UUID),
        (_field(models.UUIDField, primary_key=True), uuid.UUID),
        (_field(models.DateField), datetime.date),
        (_field(models.DateField, null=True), datetime.date),
        (_field(models.DecimalField, max_digits=8, decimal_places=2), Decimal),
        (_field(models.DecimalField, max_digits=30, decimal_places=0), Decimal),
        (_field(models.DecimalField), Decimal),  # no precision (Django 6.x allows it on PostgreSQL)
        (Player._meta.get_field("team"), uuid.UUID),
        (_foreign_key(Article, to_field="price"), Decimal),
        (_key_to(_field(models.DateField)), datetime.date),
        (Permission._meta.get_field("content_type"), None),  # to an AutoField
        (_foreign_key(Article, to_field="published"), None),
        (_foreign_key(Team, cls=_SealedKey), None),
        (_key_to(_field(_Hyphenated)), None),
        (_key_to(_field(_DayAfter)), None),
        (_field(models.DateTimeField), None),
        (_field(models.CharField, max_length=10), None),
        (_field(models.IntegerField), None),
        (_field(_Hyphenated), None),
        (_field(_Counted), None),
        (_field(_DayAfter), None),
        (_field(_Ordinal), None),
        (_field(_Mixed), None),
        (_field(_NextWeek), None),
        (_field(_Cents, max_digits=8, decimal_places=2), None),
        (_field(_Tagged, max_digits=8, decimal_places=2), None),
    ],
    ids=_name,
)
def test_only_djangos_own_fields_prepare_a_type_directly(field, kind) -> None:
    assert _direct(field) is kind


@pytest.mark.parametrize(
    ("field", "values"),
    [
        (_field(models.UUIDField), _uuids),
        (_field(models.UUIDField, primary_key=True), _uuids),
        (Player._meta.get_field("team"), _uuids),
        (_field(_Hyphenated), _uuids),
        (_field(_Counted), _uuids),
        (_key_to(_field(_Hyphenated)), _uuids),
        (_foreign_key(Team, cls=_SealedKey), _uuids),
        (_field(models.DateField), _dates),
        (_key_to(_field(models.DateField)), _dates),
        (_field(_DayAfter), _dates),
        (_field(_Ordinal), _dates),
        (_field(_Mixed), _dates),
        (_field(_NextWeek), _dates),
        (_field(models.DecimalField, max_digits=8, decimal_places=2), _decimals),
        (_field(models.DecimalField, max_digits=65, decimal_places=30), _decimals),
        (_field(models.DecimalField), _decimals),
        (_foreign_key(Article, to_field="price"), _decimals),
        (_field(_Cents, max_digits=8, decimal_places=2), _decimals),
        (_field(_Tagged, max_digits=8, decimal_places=2), _decimals),
        (Permission._meta.get_field("content_type"), lambda: [1, 2, 2**31 - 1, "3", None, True, uuid.UUID(int=1)]),
    ],
    ids=_name,
)
def test_a_column_is_prepared_as_get_db_prep_save_prepares_each_value(field, values) -> None:
    _assert_prepared_as_django(field, values())


@pytest.mark.parametrize("native", [True, False])
def test_uuids_are_prepared_for_either_kind_of_backend(native) -> None:
    """This database has one kind (PostgreSQL a native UUID type, SQLite text); the other is this connection with
    ``has_native_uuid_field`` turned around."""
    db = SimpleNamespace(
        features=SimpleNamespace(
            has_native_uuid_field=native,
            interprets_empty_strings_as_nulls=connection.features.interprets_empty_strings_as_nulls,
        ),
        ops=connection.ops,
    )
    for field in (_field(models.UUIDField), Player._meta.get_field("team")):
        _assert_prepared_as_django(field, _uuids(), db)
        assert type(bulk._prepared_column(field, [uuid.UUID(int=1), uuid.UUID(int=2)], db)[0]) is (
            uuid.UUID if native else str
        )


def test_dates_and_decimals_are_adapted_by_the_connections_operations() -> None:
    class Ops(type(connection.ops)):  # type: ignore[misc]
        def adapt_datefield_value(self, value: Any) -> Any:
            return None if value is None else ("date", value.toordinal())

        def adapt_decimalfield_value(self, value: Any, max_digits: Any = None, decimal_places: Any = None) -> Any:
            return None if value is None else ("decimal", str(value), max_digits, decimal_places)

    db = SimpleNamespace(features=connection.features, ops=Ops(connection))
    _assert_prepared_as_django(_field(models.DateField), _dates(), db)
    _assert_prepared_as_django(_field(models.DecimalField, max_digits=8, decimal_places=2), _decimals(), db)
    assert bulk._prepared_column(_field(models.DateField), [datetime.date(2024, 1, 2), None], db)[0] == (
        "date",
        738887,
    )


@pytest.mark.parametrize(
    ("field", "kind", "others"),
    [
        (_field(models.UUIDField), uuid.UUID, [_Uuid(int=3), uuid.UUID(int=4).hex, None]),
        (Player._meta.get_field("team"), uuid.UUID, [_Uuid(int=3), str(uuid.UUID(int=4)), None]),
        (_field(models.DateField), datetime.date, [_Day(2024, 1, 2), datetime.datetime(2024, 1, 2, 3), "2024-01-02"]),
        (
            _field(models.DecimalField, max_digits=8, decimal_places=2),
            Decimal,
            [_Amount("1.5"), "1.5", 2, None],
        ),
    ],
    ids=_name,
)
def test_values_of_exactly_the_expected_type_skip_get_db_prep_save(monkeypatch, field, kind, others) -> None:
    prep = field.get_db_prep_save
    seen: list[Any] = []

    def counting(value: Any, connection: Any) -> Any:
        seen.append(value)
        return prep(value, connection)

    monkeypatch.setattr(field, "get_db_prep_save", counting)
    direct = [value for value in _uuids() + _dates() + _decimals() if type(value) is kind][:100]
    column = bulk._prepared_column(field, [*direct, *others], connection)
    assert column == [prep(value, connection) for value in [*direct, *others]]
    assert seen == others


def test_infinite_decimals_are_still_refused() -> None:
    field = _field(models.DecimalField, max_digits=8, decimal_places=2)
    for value in (Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")):
        with pytest.raises(ValidationError):
            bulk._prepared_column(field, [Decimal("1.5"), value], connection)


class _Shouting(models.Field):  # type: ignore[type-arg]
    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return value.upper() if isinstance(value, str) else value


class _MixedText(models.CharField, _Shouting):  # type: ignore[type-arg]
    """Has CharField's methods, yet CharField.get_prep_value's ``super()`` call reaches _Shouting."""


def test_text_passes_through_only_when_nothing_sits_between_the_field_class_and_its_bases() -> None:
    plain, mixed = _field(models.CharField, max_length=20), _field(_MixedText, max_length=20)
    assert str in bulk.unprepared_types(plain, connection)
    assert bulk.unprepared_types(mixed, connection) == frozenset()
    values = ["abc", "Zoë", None]
    assert bulk._prepared_column(mixed, values, connection) == [mixed.get_db_prep_save(v, connection) for v in values]
    assert bulk._prepared_column(mixed, values, connection)[0] == "ABC"
