"""The database's own bulk paths (``COPY``, ``UPDATE ... FROM (VALUES ...)``, ``executemany``) against the ORM's.

Each comparison syncs (or writes) the same data twice, once through :mod:`pyck.core.sync.bulk` and once with it
switched off (``bulk.ENABLED = False``: ``bulk_create`` and one ``bulk_update`` per column), and asserts that the
tables end up holding the same values.
"""

from __future__ import annotations

import datetime
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import signals
from django.test.utils import CaptureQueriesContext

from pyck.core.sync import bulk
from pyck.core.sync import sync_model
from tests.testapp import resources as r
from tests.testapp.models import MP, Article, City, Constituency, Country, Employee, Party, Player, Team
from tests.testapp.testing import use

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
_TRICKY = "tab\there, new\nline, back\\slash, quote ' \" , \\N, é, 🐍, carriage\rreturn"


@pytest.fixture(autouse=True, params=["copy-updates", "values-updates"])
def _copy_every_batch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """COPY for every insert; on PostgreSQL, updates through a COPY-filled temporary table, or through VALUES."""
    monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 1)
    monkeypatch.setattr(bulk, "COPY_UPDATE_MIN_ROWS", 1 if request.param == "copy-updates" else 10**9)


def _articles(n: int, generation: int) -> list[r.ArticleResource]:
    """``n`` articles; each generation changes a different subset of columns per article."""
    items = []
    for i in range(n):
        g = generation if i % 3 else 0  # a third never changes
        items.append(
            r.ArticleResource(
                id=i,
                headline=(f"Headline {i} {_TRICKY}" if i % 2 else f"H{i}")[:39] + ("!" * (g % 2)),
                author=None if i % 5 == 0 else r.ByLine(name=None if i % 7 == 0 else f"Author {i + g}"),
                published=None if i % 4 == 0 else datetime.datetime(2020, 1, 1, 12, 0, i % 60, 123456, tzinfo=UTC)
                + datetime.timedelta(days=g * (i % 2)),
                price=None if i % 6 == 0 else [Decimal("1.005"), "2.5", 3, 12.345, "-0.015"][i % 5] if g == 0 or i % 2 else "9.99",
                words=i * 10 + (g if i % 4 == 1 else 0),
            )
        )
    return items


def _snapshot(model: Any, *related: str) -> list[tuple[Any, ...]]:
    """Every row's values (the random primary keys replaced by the external ids they point at)."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname not in ("id", "last_sync_time") and not f.is_relation]
    names += [f"{name}__external_id" for name in related]
    return sorted(model.objects.values_list(*names), key=repr)


def _both_paths(monkeypatch: pytest.MonkeyPatch, run: Any, snapshot: Any, clear: Any, caplog: Any = None) -> None:
    run()
    fast = snapshot()
    if caplog is not None:  # the fast path itself wrote the batches: none was redone row by row after an error
        assert not [m for m in caplog.messages if "retrying it record by record" in m]
    clear()
    monkeypatch.setattr(bulk, "ENABLED", False)
    run()
    assert snapshot() == fast


def test_synced_articles_are_identical_through_copy_values_update_and_the_orm(monkeypatch, caplog):
    """Every value type of Article (text with COPY's special characters, aware datetimes, decimals rounded by
    the database, integers, nulls, defaults of unsynced columns such as the JSON ``extra``), cold then with
    rows changing different columns."""

    def run() -> None:
        for generation in (0, 1, 2):
            use(monkeypatch, Article, _articles(90, generation))
            result = sync_model(Article)
            assert result.ok, result.errors

    _both_paths(monkeypatch, run, lambda: _snapshot(Article), lambda: Article.objects.all().delete(), caplog)


def test_relations_are_identical_through_both_paths(monkeypatch, caplog):
    """Foreign keys (nullable, required, to self), inverse relations re-pointed by an update, and a chain of
    embedded resources (URLField included)."""
    from pyck.geo.territories.uk import parliament as P

    def run() -> None:
        for gen in (0, 1):
            parties = [P.Party(id=p, name=f"Party {p}", background_colour=f"{gen}abcde") for p in range(4)]
            mps = [P.Member(id=i, name=f"MP {i}", latest_party=parties[(i + gen) % 4], thumbnail_url=f"https://x.test/{i}?g={gen % (i % 2 + 1)}") for i in range(60)]
            seats = [P.Constituency(id=1000 + i, name=f"Seat {i}{_TRICKY[:10]}", current_mp=mps[(i + gen * (i % 2)) % 60]) for i in range(60)]
            use(monkeypatch, Party, parties, P.Party)
            use(monkeypatch, MP, mps, P.Member)
            use(monkeypatch, Constituency, seats, P.Constituency)
            assert sync_model(Constituency).ok
            employees = [r.EmployeeResource(id=i, name=f"E{i}", manager=None if i == 0 else (i * 7 + gen) % 60) for i in range(60)]
            use(monkeypatch, Employee, employees)
            assert sync_model(Employee).ok
            use(monkeypatch, Player, [r.PlayerResource(id=i, name=f"P{i}") for i in range(60)])
            assert sync_model(Player).ok
            teams = [r.TeamResource(id=t, name=f"T{t}", players=[i for i in range(60) if (i + gen) % 5 == t]) for t in range(5)]
            use(monkeypatch, Team, teams)
            assert sync_model(Team).ok

    def snapshot() -> list[Any]:
        return [
            _snapshot(Party), _snapshot(MP, "latest_party"), _snapshot(Constituency, "current_mp"),
            _snapshot(Employee, "manager"), _snapshot(Player, "team"), _snapshot(Team),
        ]

    def clear() -> None:
        for model in (Constituency, MP, Party, Employee, Player, Team):
            model.objects.all().delete()

    _both_paths(monkeypatch, run, snapshot, clear, caplog)


@pytest.mark.parametrize("listener", [False, True], ids=["values", "instances"])
def test_every_column_type_written_directly_is_identical(monkeypatch, listener):
    """bulk.insert and bulk.update against bulk_create / bulk_update on every column of Article, JSON included,
    with rows setting different columns."""
    pks = [uuid.uuid4() for _ in range(6)]
    stamp = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    changes = [
        (pks[0], {"extra": {"a": [1, 2.5, None, True], "é": "🐍\t\n\\"}, "title": _TRICKY[:40]}),
        (pks[1], {"price": Decimal("-12.345"), "published": None}),
        (pks[2], {"extra": "text", "notes": _TRICKY, "starred": True}),
        (pks[3], {"published": datetime.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "word_count": 2**31 - 1}),
        (pks[4], {"extra": [], "author_name": ""}),
    ]

    def run() -> None:
        rows = [
            dict(id=pk, external_id=i, title=f"T{i}", extra={"n": i, "s": _TRICKY} if i % 2 else "plain string",
                 price=Decimal("0.5") if i % 2 else None, published=stamp if i % 3 else None, notes=_TRICKY)
            for i, pk in enumerate(pks)
        ]  # word_count, starred, author_name: the model's defaults
        bulk.insert(Article, rows)
        bulk.update(Article, changes, stamp=("last_sync_time", stamp))

    def snapshot() -> list[Any]:
        return sorted(Article.objects.values_list("pk", "last_sync_time", *[f.attname for f in Article._meta.concrete_fields]), key=repr)

    if listener:  # a post_init receiver: the rows are built as instances, as bulk_create builds them
        monkeypatch.setattr(signals.post_init, "has_listeners", lambda sender=None: True)
    _both_paths(monkeypatch, run, snapshot, lambda: Article.objects.all().delete())
    stamped = set(Article.objects.filter(last_sync_time=stamp).values_list("pk", flat=True))
    assert stamped == set(pks[:5])


def test_a_batch_of_changes_is_one_update_statement_whatever_the_columns(monkeypatch):
    """Rows changing different columns are written by one UPDATE that also stamps them; the unchanged rows are
    not written at all; new rows are one COPY (PostgreSQL) or one executemany INSERT (SQLite)."""
    use(monkeypatch, Article, _articles(90, 0))
    with CaptureQueriesContext(connection) as cold:
        assert sync_model(Article).ok
    # (Django logs an executemany as "90 times: INSERT ...".)
    inserts = [q["sql"] for q in cold.captured_queries if re.match(r'(\d+ times: )?(INSERT INTO|COPY) "testapp_article"', q["sql"])]
    assert len(inserts) == 1, inserts

    cold_stamps = dict(Article.objects.values_list("pk", "last_sync_time"))
    use(monkeypatch, Article, _articles(90, 1))
    with CaptureQueriesContext(connection) as warm:
        result = sync_model(Article)
    assert result.ok and result.updated == 60 and result.unchanged == 30
    updates = [q["sql"] for q in warm.captured_queries if q["sql"].startswith('UPDATE "testapp_article"')]
    assert len(updates) == 1, updates
    assert " FROM " in updates[0]  # FROM (VALUES ...) or FROM the temporary table
    for column in ("title", "author_name", "published", "price", "word_count", "last_sync_time"):
        assert f'"{column}" =' in updates[0]
    warm_stamps = dict(Article.objects.values_list("pk", "last_sync_time"))
    restamped = [pk for pk in warm_stamps if warm_stamps[pk] != cold_stamps[pk]]
    assert len(restamped) == 60 and len(set(warm_stamps[pk] for pk in restamped)) == 1  # the changed rows only


def test_copy_leaves_foreign_keys_deferred_to_the_end_of_the_transaction():
    if bulk.vendor_path(City) != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    country = uuid.uuid4()
    with transaction.atomic():
        bulk.insert(City, [dict(id=uuid.uuid4(), external_id=f"c{i}", name="C", country_id=country) for i in range(3)])
        Country.objects.create(pk=country, external_id="X", name="Land")  # after its cities: fine until commit
        connection.check_constraints(table_names=[City._meta.db_table])
    assert City.objects.filter(country_id=country).count() == 3
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert(City, [dict(id=uuid.uuid4(), external_id="orphan", name="C", country_id=uuid.uuid4())])
        connection.check_constraints(table_names=[City._meta.db_table])


def test_a_refused_copy_raises_djangos_database_error_and_the_batch_is_redone_row_by_row(monkeypatch):
    """A unique violation inside COPY (or executemany) is a DatabaseError, which the engine answers by redoing the
    batch record by record: only the culprit fails."""
    with pytest.raises(DatabaseError), transaction.atomic():
        bulk.insert(Article, [dict(id=uuid.uuid4(), external_id=1, title="a") for _ in range(2)])

    Article.objects.create(external_id=5, title="local")  # same id written by someone else, outside the sync
    items = _articles(20, 0)
    use(monkeypatch, Article, items)
    # The existing row is invisible to the sync's lookup (as if inserted concurrently after it looked).
    from pyck.core.sync import upsert as upsert_module

    real = upsert_module._load_existing
    monkeypatch.setattr(
        upsert_module, "_load_existing", lambda ctx, plan, keys, *also: {k: v for k, v in real(ctx, plan, keys, *also).items() if k != 5}
    )
    result = sync_model(Article)
    assert result.failed == 1 and result.created == 19
    assert [e.record_id for e in result.errors] == [5]


def test_old_sqlite_and_switched_off_fall_back_to_the_orm(monkeypatch):
    if connection.vendor == "sqlite":
        monkeypatch.setattr(connection.Database, "sqlite_version_info", (3, 32, 3))
        assert bulk.vendor_path(Article) == "orm"
        monkeypatch.undo()
    assert bulk.vendor_path(Article) in ("postgresql", "sqlite")
    monkeypatch.setattr(bulk, "ENABLED", False)
    assert bulk.vendor_path(Article) == "orm"
    with CaptureQueriesContext(connection) as queries:
        bulk.update(Article, [(uuid.uuid4(), {"title": "a"}), (uuid.uuid4(), {"word_count": 1})])
    assert not any("VALUES" in q["sql"] for q in queries.captured_queries)
