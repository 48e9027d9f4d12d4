"""Finding rows by external id when that column has no index (the guide's models): no scan per batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from pyck.core.sync import upsert as upsert_module
from pyck.core.sync import sync_model
from tests.testapp import resources as r
from tests.testapp.models import MP, City, Country, Party, Team
from tests.testapp.testing import use

pytestmark = pytest.mark.django_db


@dataclass
class PartyRecord:
    id: int
    name: str
    background_colour: str


@dataclass
class MPRecord:
    id: int
    name: str
    thumbnail_url: str | None
    latest_party: int  # a reference by id


def _use(monkeypatch: pytest.MonkeyPatch, n: int, *, parties: int = 7, suffix: str = "") -> None:
    use(monkeypatch, Party, [PartyRecord(p, f"P{p}", "fff") for p in range(1, parties + 1)], PartyRecord)
    use(monkeypatch, MP, [MPRecord(i, f"M{i}{suffix}", None, 1 + i % parties) for i in range(1, n + 1)], MPRecord)


def _sync_mps() -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        result = sync_model(MP, batch_size=5)
    assert result.ok, result.errors
    return [q["sql"] for q in queries.captured_queries]


def _scans(sql: list[str], table: str) -> list[str]:
    """The lookups of ``table``'s rows by external id: ``IN (...)``, or ``= ANY(array)`` on PostgreSQL."""
    return [q for q in sql if f'FROM "{table}"' in q and ('"external_id" IN (' in q or '"external_id" = ANY(' in q)]


def test_unindexed_external_ids_are_looked_up_by_primary_key_with_constant_queries_per_batch(monkeypatch):
    assert not MP._meta.get_field("external_id").db_index  # the guide's declaration, copied verbatim
    counts = []
    for batches in (2, 4, 8):
        _use(monkeypatch, 5 * batches, suffix=f"-{batches}")
        sync_model(Party)
        sync_model(MP, batch_size=5)  # the rows exist: the next sync reads and updates them
        _use(monkeypatch, 5 * batches, suffix=f"+{batches}")
        sql = _sync_mps()
        assert _scans(sql, "testapp_mp") == [] and _scans(sql, "testapp_party") == []
        # The external_id -> pk maps are read once per run, whatever the number of batches.
        assert len([q for q in sql if 'SELECT "testapp_mp"."external_id"' in q and "WHERE" not in q]) == 1
        assert len([q for q in sql if 'SELECT "testapp_party"."external_id"' in q and "WHERE" not in q]) == 1
        counts.append(len(sql))
    per_batch = (counts[1] - counts[0]) / 2
    assert counts[2] - counts[1] == 4 * per_batch  # linear in the batches: a constant number per batch
    assert MP.objects.count() == 40 and set(MP.objects.values_list("name", flat=True)) >= {"M1+8", "M40+8"}
    assert MP.objects.filter(latest_party__external_id=2, external_id=8).exists()


def test_indexed_external_ids_are_still_looked_up_with_in(monkeypatch):
    use(monkeypatch, Team, [r.TeamResource(id=i, name=f"T{i}") for i in range(1, 11)])
    Team.sync()
    with CaptureQueriesContext(connection) as queries:
        assert sync_model(Team, batch_size=5).unchanged == 10
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(_scans(sql, "testapp_team")) == 2  # one per batch, through the index
    assert not [q for q in sql if 'FROM "testapp_team"' in q and "WHERE" not in q]


def test_rows_inserted_by_a_batch_that_rolled_back_are_forgotten(monkeypatch):
    """A batch redone row by row must not trust ids its rolled-back attempt inserted."""
    _use(monkeypatch, 6)  # the parties are not stored: the MPs' batch fetches and inserts them, then fails
    real = upsert_module._write_rows
    failures = iter([True])

    def flaky(ctx, plan, rows, outcome, *, stamp):
        real(ctx, plan, rows, outcome, stamp=stamp)
        if plan.model is MP and next(failures, False):
            raise DatabaseError("deadlock detected (simulated, after the insert)")

    monkeypatch.setattr(upsert_module, "_write_rows", flaky)

    result = sync_model(MP, batch_size=6)

    assert (result.status, result.created, result.failed) == ("succeeded", 6, 0)
    assert sorted(MP.objects.values_list("external_id", flat=True)) == [1, 2, 3, 4, 5, 6]
    assert MP.objects.filter(latest_party__isnull=True).count() == 0 and Party.objects.count() == 6


def _cities_in_countries(monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, Country, [r.CountryResource(id=f"c{n}", name=f"Country {n}") for n in range(1, 5)])
    use(monkeypatch, City, [r.CityResource(id=f"t{n}", name=f"Town {n}", country=f"c{1 + n % 4}") for n in range(1, 21)])
    assert sync_model(Country).created == 4


def test_references_to_indexed_rows_are_looked_up_once_per_run_not_once_per_batch(monkeypatch):
    _cities_in_countries(monkeypatch)

    with CaptureQueriesContext(connection) as queries:
        result = sync_model(City, batch_size=5)  # 4 batches, each referencing all 4 countries

    assert result.ok and result.created == 20
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(_scans(sql, "testapp_country")) == 1
    assert {c.external_id: c.country.external_id for c in City.objects.select_related("country")} == {
        f"t{n}": f"c{1 + n % 4}" for n in range(1, 21)
    }


@pytest.mark.django_db(transaction=True)  # each batch really commits: foreign keys are checked then
def test_a_remembered_row_deleted_meanwhile_is_looked_up_again(monkeypatch):
    """Another process deletes a country between two batches: the pk the run remembered for it no longer
    exists; the batch fails its foreign key check, is redone row by row with nothing remembered, fetches the
    country again and ends with every city in place."""
    _cities_in_countries(monkeypatch)
    deleted = []

    def delete_country_after_the_first_batch(progress: Any) -> None:
        if progress.batches == 1 and not deleted:
            deleted.append(Country.objects.filter(external_id="c2").delete())

    result = sync_model(City, batch_size=5, progress=delete_country_after_the_first_batch)

    assert deleted and result.ok and result.created == 20, result.errors
    assert Country.objects.filter(external_id="c2").count() == 1  # fetched again with get()
    # The deletion cascaded to the two towns of c2 the first batch had written; the later three are in place.
    assert City.objects.filter(country__external_id="c2").count() == 3 and City.objects.count() == 18
    assert sync_model(City).created == 2 and City.objects.filter(country__external_id="c2").count() == 5


def test_a_run_that_loads_a_large_id_map_says_so_in_its_notes(monkeypatch, caplog):
    from pyck.core.sync import context

    monkeypatch.setattr(context, "_LARGE_ID_MAP", 8)  # 100,000 rows in production
    _use(monkeypatch, 10)
    sync_model(Party)
    assert sync_model(MP).notes == []  # the table was empty when the run read the map
    result = sync_model(MP, batch_size=5)
    assert result.ok and result.unchanged == 10
    (text,) = [n for n in result.notes if "external id -> primary key map" in n]
    assert text.startswith("testapp.MP: this run read the external id -> primary key map of all 10 rows")
    assert "testapp.MP.external_id has no index" in text and "db_index=True" in text and "check --deploy" in text
    assert text in caplog.text
    # The related model's map (7 parties) is under the threshold: no note for it; nor for an indexed model.
    assert not [n for n in result.notes if n.startswith("testapp.Party")]
