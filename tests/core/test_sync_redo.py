"""A batch the database refuses is redone record by record: what that costs, and which records fail.

Each record is written under a savepoint of its own, but foreign keys are deferred to the commit and checking
them scans whole tables on SQLite (`PRAGMA foreign_key_check`): the redo checks them once for the batch, not
once per record, so a record costs what writing it costs, however large the tables. When the check finds a
broken foreign key, the batch is undone and its halves written again, down to the records at fault, which fail
alone.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from pyck.core.sync import sync_model
from pyck.core.sync import upsert as upsert_module
from tests.testapp import resources as r
from tests.testapp.models import City, Country
from tests.testapp.testing import use

pytestmark = pytest.mark.django_db

RECORDS = 20


def _fail_the_first_attempt(monkeypatch: pytest.MonkeyPatch, after: Callable[[list[Any]], None] | None = None) -> None:
    """Make the first write of a whole batch of cities fail after its rows are written, as a lock would: the batch
    is then redone record by record. `after(rows)` runs after each record the redo writes."""
    real = upsert_module._write_rows
    failed: list[bool] = []

    def flaky(ctx: Any, plan: Any, rows: list[Any], outcome: Any, *, stamp: Any) -> None:
        real(ctx, plan, rows, outcome, stamp=stamp)
        if plan.model is not City:
            return
        if len(rows) > 1 and not failed:
            failed.append(True)
            raise DatabaseError("database is locked (simulated)")
        if after is not None:
            after(rows)

    monkeypatch.setattr(upsert_module, "_write_rows", flaky)


@pytest.fixture
def countries(monkeypatch: pytest.MonkeyPatch) -> list[Country]:
    use(monkeypatch, Country, [r.CountryResource(id=f"c{n}", name=f"Country {n}") for n in range(1, 5)])
    assert sync_model(Country).created == 4
    return list(Country.objects.order_by("external_id"))


def _cities(monkeypatch: pytest.MonkeyPatch) -> None:
    cities = [r.CityResource(id=f"t{n}", name=f"Town {n}", country=f"c{1 + n % 4}") for n in range(RECORDS)]
    use(monkeypatch, City, cities)


def _stored_before(country: Country, count: int) -> None:
    City.objects.all().delete()
    City.objects.bulk_create(
        City(external_id=f"old{n}", name=f"Old {n}", country=country, last_sync_time=country.last_sync_time)
        for n in range(count)
    )


class _Work:
    """Counts the SQLite virtual machine's steps (in thousands) while active: the work the database does."""

    def __init__(self) -> None:
        self.steps = 0

    def __enter__(self) -> _Work:
        connection.ensure_connection()
        connection.connection.set_progress_handler(self._step, 1000)
        return self

    def _step(self) -> int:
        self.steps += 1
        return 0

    def __exit__(self, *exc_info: object) -> None:
        connection.connection.set_progress_handler(None, 1000)


def _redo(monkeypatch: pytest.MonkeyPatch, stored: int, countries: list[Country]) -> tuple[list[str], int]:
    """Sync the cities in one batch that is redone record by record, with `stored` other cities in the table;
    return the statements sent and (on SQLite) the work done."""
    _stored_before(countries[0], stored)
    _cities(monkeypatch)
    _fail_the_first_attempt(monkeypatch)
    work = _Work() if connection.vendor == "sqlite" else None
    with CaptureQueriesContext(connection) as queries, (work or contextlib.nullcontext()):
        result = sync_model(City, batch_size=RECORDS)
    assert (result.created, result.failed) == (RECORDS, 0), result.errors
    return [q["sql"] for q in queries.captured_queries], work.steps if work else 0


def _foreign_key_checks(statements: list[str]) -> list[str]:
    return [s for s in statements if "foreign_key_check" in s or "SET CONSTRAINTS ALL IMMEDIATE" in s]


def test_a_redone_batch_costs_per_record_what_writing_it_costs_whatever_the_tables_size(monkeypatch, countries):
    _redo(monkeypatch, 50, countries)  # the first run also creates the model's sync state
    small, small_work = _redo(monkeypatch, 50, countries)
    large, large_work = _redo(monkeypatch, 5_000, countries)

    assert len(large) == len(small)  # the same statements, one set per record, whatever the table's size
    # The foreign keys are checked once for the batch (one statement per table on SQLite), not once per record.
    tables = 1 if connection.vendor == "postgresql" else len(set(_foreign_key_checks(large)))
    assert len(_foreign_key_checks(large)) == tables
    if connection.vendor == "sqlite":
        with _Work() as scan:
            connection.check_constraints(table_names=[City._meta.db_table, Country._meta.db_table])
        # 4,950 more rows cost the redo one more scan of them (for the batch), not one per record (20 scans).
        assert scan.steps >= 10 and large_work - small_work <= 2 * scan.steps, (small_work, large_work, scan.steps)


def _break_the_country_of(ids: set[str]) -> Callable[[list[Any]], None]:
    """After the record of each of `ids` is written, point its row at a country that does not exist."""

    def after(rows: list[Any]) -> None:
        for row in rows:
            if row.key in ids:
                City.objects.filter(pk=row.pk).update(country_id=uuid.uuid4())

    return after


@pytest.mark.django_db(transaction=True)  # the foreign keys are really checked, and the batch really commits
@pytest.mark.parametrize("culprits", [{"t3"}, {"t0", "t19"}, {"t4", "t5", "t11"}])
def test_only_the_records_breaking_a_foreign_key_fail_and_the_checks_grow_with_them_not_the_batch(
    monkeypatch, countries, culprits
):
    _cities(monkeypatch)
    _fail_the_first_attempt(monkeypatch, after=_break_the_country_of(culprits))

    with CaptureQueriesContext(connection) as queries:
        result = sync_model(City, batch_size=RECORDS)

    assert (result.created, result.failed) == (RECORDS - len(culprits), len(culprits))
    assert {error.record_id for error in result.errors} == culprits
    assert all("the database refused it" in error.message for error in result.errors)
    assert set(City.objects.values_list("external_id", flat=True)) == {f"t{n}" for n in range(RECORDS)} - culprits
    # Halving down to each culprit: a few checks per culprit (log2 of the batch), far fewer than one per record.
    statements = _foreign_key_checks([q["sql"] for q in queries.captured_queries])
    checks = len(statements) // (1 if connection.vendor == "postgresql" else len(set(statements)))
    assert checks <= 1 + 2 * len(culprits) * 5, checks
