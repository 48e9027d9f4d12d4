"""Set-based writing: bounded queries per batch, no needless writes, failures isolated, deletions guarded."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pyck.core.datasources import Datasource, InvalidResourceError, OnDelete, SyncRun, TransportError
from pyck.core.signals import sync_finished, sync_started
from pyck.core.sync import SyncProgress, sync_model
from pyck.geo.territories.uk import parliament as P
from tests.testapp import resources as r
from tests.testapp.models import MP, Article, Author, Book, Constituency, Party, Player, Team

from tests.testapp.testing import use

pytestmark = pytest.mark.django_db


def _seats(n: int, *, parties: int = 3, suffix: str = "") -> tuple[list[Any], list[Any], list[Any]]:
    party_list = [P.Party(id=p, name=f"Party {p}", background_colour="abcdef") for p in range(parties)]
    members = [P.Member(id=i, name=f"MP {i}{suffix}", latest_party=party_list[i % parties]) for i in range(n)]
    seats = [P.Constituency(id=10_000 + i, name=f"Seat {i}{suffix}", current_mp=members[i]) for i in range(n)]
    return party_list, members, seats


def _use_parliament(monkeypatch: pytest.MonkeyPatch, party_list: list[Any], members: list[Any], seats: list[Any]) -> None:
    use(monkeypatch, Party, party_list, P.Party)
    use(monkeypatch, MP, members, P.Member)
    use(monkeypatch, Constituency, seats, P.Constituency)


def _split_allowance(*writes: tuple[Any, int, int]) -> int:
    """Extra statements Django needs when a backend caps the parameters per query (SQLite on Django 5.2).

    ``writes``: (model, columns written, rows) per bulk statement of the larger sync.
    """
    extra = 0
    for model, width, rows in writes:
        fields = model._meta.concrete_fields[:width]
        extra += math.ceil(rows / connection.ops.bulk_batch_size(fields, [None] * rows)) - 1
    return extra


def _count(monkeypatch: pytest.MonkeyPatch, n: int, suffix: str = "") -> int:
    _use_parliament(monkeypatch, *_seats(n, suffix=suffix))
    with CaptureQueriesContext(connection) as queries:
        result = sync_model(Constituency, batch_size=n)
    assert result.ok and result.created + result.updated == n
    return len(queries)


def test_queries_per_batch_do_not_grow_with_the_batch(monkeypatch):
    small = _count(monkeypatch, 50)
    Constituency.objects.all().delete()
    MP.objects.all().delete()
    Party.objects.all().delete()  # cold: an empty table needs no read by primary key
    large = _count(monkeypatch, 500)

    # Cold syncs of a three-model chain (seat -> embedded MP -> embedded party), one batch each.
    assert large - small <= _split_allowance((Constituency, 5, 500), (MP, 6, 500))
    assert small <= 27  # 25, and the model's sync lease taken and freed (issue 17: two statements a run)

    # And a re-sync that changes every row (one UPDATE per changed column, whatever the row count).
    small_update = _count(monkeypatch, 50, suffix="!")
    large_update = _count(monkeypatch, 500, suffix="?")
    assert large_update - small_update <= _split_allowance((Constituency, 2, 500), (MP, 2, 500))


def test_queries_per_batch_with_many_to_many_and_embedded_resources(monkeypatch):
    def count(n: int, first: int) -> int:
        authors = [r.AuthorResource(id=f"a{first + i}", name="A") for i in range(2 * n)]
        use(monkeypatch, Author, authors[n:])
        sync_model(Author)  # the second half is stored, and referenced by id
        books = [r.BookResource(id=f"b{first + i}", title="T", authors=[authors[i], authors[n + i].id]) for i in range(n)]
        use(monkeypatch, Book, books)
        with CaptureQueriesContext(connection) as queries:
            assert sync_model(Book, batch_size=n).ok
        return len(queries)

    through = Book.authors.through
    small = count(50, 0)  # first: it also creates the model's SyncState row
    assert count(500, 1000) - small <= _split_allowance((Author, 4, 500), (Book, 4, 500), (through, 2, 1000))
    assert Book.objects.get(external_id="b1000").authors.count() == 2


def test_resync_of_unchanged_data_writes_no_data_column(monkeypatch):
    _use_parliament(monkeypatch, *_seats(20))
    sync_model(Constituency)
    use(monkeypatch, Book, [r.BookResource(id="b", title="T", authors=[r.AuthorResource(id="a", name="A")])])
    use(monkeypatch, Team, [r.TeamResource(id=1, name="Reds", players=[r.PlayerResource(id=1, name="P")])])
    Book.sync(), Team.sync()

    with CaptureQueriesContext(connection) as queries:
        results = [Constituency.sync(), Book.sync(), Team.sync()]

    assert [(x.created, x.updated) for x in results] == [(0, 0)] * 3
    writes = [q["sql"] for q in queries if re.match(r"\s*(INSERT|UPDATE|DELETE)", q["sql"])]
    synced_tables = [m._meta.db_table for m in (Constituency, MP, Party, Book, Author, Team, Player, Book.authors.through)]
    for sql in writes:
        if not any(table in sql for table in synced_tables):
            continue  # the SyncRun rows
        assert sql.lstrip().startswith("UPDATE"), sql
        assigned = sql.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
        assert re.fullmatch(r'"last_sync_time" = [^,]+', assigned.strip()), sql


@pytest.mark.parametrize("transactional", [False, True])
def test_a_database_constraint_fails_only_its_record(monkeypatch, transactional, request):
    if transactional:  # real commits, so deferred constraints are checked as in production
        request.getfixturevalue("transactional_db")
    articles = [r.ArticleResource(id=i, headline=f"A{i}", words=-1 if i == 3 else i) for i in range(1, 6)]
    use(monkeypatch, Article, articles)

    result = Article.sync()

    assert (result.created, result.failed, result.status) == (4, 1, "partial")
    assert sorted(Article.objects.values_list("external_id", flat=True)) == [1, 2, 4, 5]
    assert result.errors[0].record_id == 3 and "refused" in result.errors[0].message


@pytest.mark.django_db(transaction=True)
def test_records_before_a_listing_failure_are_committed(monkeypatch):
    class Flaky(Datasource[Any]):
        resource_type = r.ArticleResource

        def get(self, id: Any) -> Any:
            raise AssertionError("not called")

        def list(self, **filter: Any) -> Any:
            for i in range(1, 6):
                yield r.ArticleResource(id=i, headline=f"A{i}")
            raise TransportError("Connection reset", datasource=self, url="https://api.example.com/articles?page=2")

    monkeypatch.setattr(Article.sync_config, "datasource", Flaky())
    Article.objects.create(external_id=99, title="local")

    result = sync_model(Article, batch_size=2, on_delete=OnDelete.DELETE)

    assert result.status == "failed" and not result.ok
    assert "Connection reset" in result.errors[0].message and "page=2" in result.errors[0].message
    # Records before the failure landed; nothing was deleted after the failed listing.
    assert sorted(Article.objects.values_list("external_id", flat=True)) == [1, 2, 3, 4, 5, 99]
    assert result.deleted == 0


def test_delete_after_a_complete_listing_only(monkeypatch):
    source = use(monkeypatch, Team, [r.TeamResource(id=i, name=f"T{i}") for i in range(1, 5)])
    Team.sync()
    Team.objects.create(external_id=77, name="made by hand")
    source.data = source.data[:2] + [r.TeamResource(id="bad", name="x")]  # one failing record

    partial = sync_model(Team, on_delete=OnDelete.DELETE)

    assert (partial.status, partial.deleted) == ("partial", 0)
    assert Team.objects.count() == 5

    source.data = source.data[:2]
    kept = Team.sync()
    assert (kept.status, kept.deleted, Team.objects.count()) == ("succeeded", 0, 5)  # OnDelete.KEEP by default

    complete = sync_model(Team, on_delete=OnDelete.DELETE, max_delete_fraction=1.0)  # 3 of 5 rows go
    assert (complete.status, complete.deleted) == ("succeeded", 3)
    assert sorted(Team.objects.values_list("external_id", flat=True)) == [1, 2]


def test_bad_records_in_the_listing_are_skipped_when_the_iterator_survives(monkeypatch):
    class Listing:
        def __init__(self) -> None:
            self.items = [r.TeamResource(id=1, name="a"), None, r.TeamResource(id=2, name="b")]

        def __iter__(self) -> Listing:
            return self

        def __next__(self) -> Any:
            if not self.items:
                raise StopIteration
            item = self.items.pop(0)
            if item is None:
                raise InvalidResourceError("name: expected a string", record_id=7, url="https://api.example.com/teams")
            return item

    source = use(monkeypatch, Team, [])
    monkeypatch.setattr(source, "list", lambda **filter: Listing())

    result = Team.sync()

    assert (result.created, result.failed, result.status) == (2, 1, "partial")
    assert result.errors[0].record_id == 7
    assert "mock.Team" in result.errors[0].message and "https://api.example.com/teams" in result.errors[0].message


def test_a_generator_that_raises_invalid_resource_fails_the_listing(monkeypatch):
    def listing(**filter: Any) -> Any:
        yield r.TeamResource(id=1, name="a")
        raise InvalidResourceError("bad record", record_id=2)

    source = use(monkeypatch, Team, [])
    monkeypatch.setattr(source, "list", listing)

    result = sync_model(Team, on_delete=OnDelete.DELETE)

    assert result.status == "failed" and result.created == 1
    assert "bad record" in result.errors[0].message


def test_sync_run_signals_and_progress(monkeypatch):
    use(monkeypatch, Team, [r.TeamResource(id=i, name=f"T{i}") for i in range(5)] + [r.TeamResource(id="x", name="bad")])
    events: list[Any] = []
    started = lambda sender, **kw: events.append(("started", sender))  # noqa: E731
    finished = lambda sender, result, **kw: events.append(("finished", sender, result.status))  # noqa: E731
    sync_started.connect(started)
    sync_finished.connect(finished)
    progress: list[SyncProgress] = []
    try:
        result = sync_model(Team, batch_size=2, progress=progress.append)
    finally:
        sync_started.disconnect(started)
        sync_finished.disconnect(finished)

    assert events == [("started", Team), ("finished", Team, "partial")]
    assert [(p.model, p.batches, p.records) for p in progress] == [("testapp.Team", 1, 2), ("testapp.Team", 2, 4), ("testapp.Team", 3, 6)]
    run = SyncRun.objects.get()
    assert (run.model, run.status, run.created, run.failed) == ("testapp.Team", "partial", 5, 1)
    assert run.errors[0]["record_id"] == "x" and "id 'x'" in run.errors[0]["message"]
    assert run.finished >= run.started and run.duration == pytest.approx(result.duration)
    assert str(result).startswith("Sync of testapp.Team partial: 5 created, 0 updated, 0 unchanged, 0 deleted, 1 failed in ")


def test_errors_kept_are_capped_but_all_counted(monkeypatch):
    use(monkeypatch, Team, [r.TeamResource(id=f"bad{i}", name="x") for i in range(10)])

    result = sync_model(Team, max_errors=3)

    assert (result.failed, len(result.errors)) == (10, 3)


def test_unknown_options_are_rejected():
    with pytest.raises(TypeError, match="batchsize"):
        sync_model(Team, batchsize=3)
