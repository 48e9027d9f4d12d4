"""A batch within the database's limit on query parameters (SQLite's is 999 before 3.32 and can be lowered)."""

from __future__ import annotations

import sqlite3

import pytest
from django.db import connection

from pyck.core.sync.context import RunContext
from pyck.core.datasources import MockDatasource
from pyck.core.sync import sync_model
from tests.testapp import resources as r
from tests.testapp.models import Employee

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="lowers SQLite's own limit on query parameters"),
]

LIMIT = 40


@pytest.fixture
def low_limit():
    connection.ensure_connection()
    raw = connection.connection
    before = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, LIMIT)
    try:
        yield
    finally:
        raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, before)


def test_a_batch_larger_than_the_limit_is_cut_to_it(low_limit, monkeypatch):
    employees = [r.EmployeeResource(id=i, name=f"E{i}") for i in range(1, 131)]
    monkeypatch.setattr(Employee.sync_config, "datasource", MockDatasource(employees, name="test.employees"))
    batches = []

    first = sync_model(Employee, batch_size=100, progress=lambda p: batches.append(p.records))
    Employee.objects.filter(external_id__lte=50).update(name="changed")
    again = sync_model(Employee, batch_size=100)

    assert (first.status, first.created, again.updated, again.unchanged) == ("succeeded", 130, 50, 80)
    assert batches == [32, 64, 96, 128, 130]  # 40 parameters, 8 of them left for the queries' own
    assert Employee.objects.count() == 130 and not Employee.objects.filter(name="changed").exists()


def test_ids_beyond_the_limit_are_looked_up_in_parts(low_limit):
    rows = [Employee.objects.create(external_id=i, name=f"E{i}") for i in range(1, 101)]

    found = RunContext().pks_by_external_id(Employee, Employee._meta.get_field("external_id"), list(range(1, 121)))

    assert found == {row.external_id: row.pk for row in rows}
