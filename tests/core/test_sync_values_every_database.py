"""Values one database would store and another refuse (or change) behave the same on every database.

NaN: a float column keeps it where it can (PostgreSQL), and an unchanged record holding it is not rewritten;
where it cannot (SQLite would store NULL), the record fails naming the field. A decimal field and a JSON field
refuse NaN everywhere (Django's `DecimalField` refuses it; JSON has no NaN). Integers: Django's documented range
of each integer field decides, on SQLite too, which would store any 64-bit integer.

Run the file with `DATABASE_URL=postgres://...` for PostgreSQL; the throwaway model is created in the test
database for each test.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, models
from django.test.utils import CaptureQueriesContext, isolate_apps

from pyck.core.datasources import MockDatasource, SyncConfig, SyncedModel
from pyck.core.models import registry
from pyck.core.sync import sync_model

pytestmark = pytest.mark.django_db(transaction=True)

POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture
def reading() -> Iterator[type[SyncedModel]]:
    """A throwaway synced model with float, decimal, JSON and integer columns, its table created for the test."""
    with isolate_apps("tests.testapp"):

        class Reading(SyncedModel):
            sync_config = SyncConfig(datasource=MockDatasource(resource_type=dict, name="readings"))
            external_id = models.IntegerField(unique=True)
            value = models.FloatField(null=True)
            total = models.FloatField(default=0.0)
            amount = models.DecimalField(max_digits=8, decimal_places=2, null=True)
            data = models.JSONField(null=True)
            count = models.IntegerField(null=True)
            big = models.BigIntegerField(null=True)
            small = models.PositiveSmallIntegerField(null=True)

            class Meta:
                app_label = "testapp"

        with connection.schema_editor() as editor:
            editor.create_model(Reading)
        try:
            yield Reading
        finally:
            with connection.schema_editor() as editor:
                editor.delete_model(Reading)
            registry.unregister(Reading)


def _sync(model: type[SyncedModel], records: list[dict[str, Any]]) -> Any:
    model.sync_config.datasource.data = records  # type: ignore[attr-defined]
    return sync_model(model, mode="full")


def _messages(result: Any) -> list[str]:
    return [error.message for error in result.errors]


def _data_writes(queries: CaptureQueriesContext, table: str) -> list[str]:
    return [
        q["sql"][:120]
        for q in queries.captured_queries
        if table in q["sql"] and q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "COPY", "DELETE"))
    ]


# --- NaN ------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not POSTGRESQL, reason="only PostgreSQL's float columns hold NaN")
@pytest.mark.parametrize("count", [3, 60])  # 60: new rows go by COPY, changed rows through a temporary table
def test_nan_is_stored_in_a_float_column_and_an_unchanged_listing_writes_nothing(reading, count) -> None:
    records = [{"id": i, "value": math.nan, "total": math.nan} for i in range(1, count + 1)]
    first = _sync(reading, records)
    assert (first.created, first.failed) == (count, 0), _messages(first)
    assert all(math.isnan(v) and math.isnan(t) for v, t in reading.objects.values_list("value", "total"))

    with CaptureQueriesContext(connection) as queries:
        again = _sync(reading, records)
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, count, 0)
    assert _data_writes(queries, reading._meta.db_table) == []

    changed = _sync(reading, [{**record, "value": 1.5} for record in records])
    assert (changed.updated, changed.unchanged) == (count, 0)
    back = _sync(reading, records)
    assert (back.updated, back.unchanged) == (count, 0)
    assert all(math.isnan(v) for v in reading.objects.values_list("value", flat=True))


@pytest.mark.skipif(POSTGRESQL, reason="PostgreSQL's float columns hold NaN")
@pytest.mark.parametrize("field", ["value", "total"])  # nullable: SQLite would store NULL; not null: refuse it
def test_nan_fails_its_record_naming_the_field_where_the_column_cannot_hold_it(reading, field) -> None:
    result = _sync(reading, [{"id": 1, field: math.nan}, {"id": 2, field: 2.5}])
    assert (result.created, result.failed) == (1, 1)
    assert _messages(result) == [
        f"field {field!r} cannot store NaN on sqlite, which would store it as NULL (only PostgreSQL's float "
        "columns hold NaN) (model testapp.Reading, datasource readings, record id 1)"
    ]
    assert list(reading.objects.values_list("external_id", field)) == [(2, 2.5)]


def test_infinities_are_stored_in_a_float_column_on_every_database(reading) -> None:
    records = [{"id": 1, "value": math.inf, "total": -math.inf}]
    assert _sync(reading, records).created == 1
    assert list(reading.objects.values_list("value", "total")) == [(math.inf, -math.inf)]
    assert _sync(reading, records).unchanged == 1


@pytest.mark.parametrize("value", [math.nan, "NaN", math.inf, "-Infinity"])
def test_a_decimal_field_refuses_nan_and_infinity_on_every_database(reading, value) -> None:
    result = _sync(reading, [{"id": 1, "amount": value}])
    assert (result.created, result.failed) == (0, 1)
    assert _messages(result) == [
        f"field 'amount' rejects the value {value!r}: “{value}” value must be a decimal number. "
        "(model testapp.Reading, datasource readings, record id 1)"
    ]


@pytest.mark.parametrize("data", [math.nan, {"a": [1, math.nan]}, [{"b": math.inf}], {"c": -math.inf}])
def test_a_json_field_refuses_nan_and_infinity_on_every_database(reading, data) -> None:
    result = _sync(reading, [{"id": 1, "data": data}, {"id": 2, "data": {"a": [1.5, None]}}])
    assert (result.created, result.failed) == (1, 1)
    assert _messages(result) == [
        f"field 'data' cannot store NaN or infinity: JSON has neither (the value {data!r}) "
        "(model testapp.Reading, datasource readings, record id 1)"
    ]
    assert _sync(reading, [{"id": 2, "data": {"a": [1.5, None]}}]).unchanged == 1


# --- Integer ranges -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "low", "high"),
    [
        ("count", 2**40, -(2**31), 2**31 - 1),
        ("count", -(2**31) - 1, -(2**31), 2**31 - 1),
        ("small", 40_000, 0, 32767),
        ("small", -1, 0, 32767),
        ("big", 2**63, -(2**63), 2**63 - 1),
    ],
)
def test_an_integer_outside_the_fields_range_fails_its_record_on_every_database(reading, field, value, low, high) -> None:
    result = _sync(reading, [{"id": 1, field: value}, {"id": 2, field: high}, {"id": 3, field: low}])
    assert (result.created, result.failed) == (2, 1)
    assert _messages(result) == [
        f"field {field!r} holds integers from {low} to {high}; the value {value} is out of range "
        "(model testapp.Reading, datasource readings, record id 1)"
    ]
    assert sorted(reading.objects.values_list(field, flat=True)) == [low, high]


def test_an_integer_id_outside_the_fields_range_fails_its_record_on_every_database(reading) -> None:
    result = _sync(reading, [{"id": 2**40, "count": 1}, {"id": 2, "count": 2}])
    assert (result.created, result.failed) == (1, 1)
    assert _messages(result) == [
        "cannot read its id (its id 1099511627776 does not fit external_id: holds integers from -2147483648 to "
        "2147483647; the value 1099511627776 is out of range) (model testapp.Reading, datasource readings, record id "
        "1099511627776)"
    ]


def test_a_big_integer_field_takes_what_an_integer_field_refuses(reading) -> None:
    result = _sync(reading, [{"id": 1, "big": 2**40}])
    assert (result.created, result.failed) == (1, 0)
    assert reading.objects.get().big == 2**40
