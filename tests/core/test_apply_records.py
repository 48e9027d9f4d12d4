"""`apply_records`: writing records that did not come from a listing (a webhook's one record, a burst of
10,000), through the same batches as a listing sync, on SQLite and PostgreSQL.

Only the public API is used. `apply_records` is imported by a fixture, not at the top of the module, so that
this module is collected (and every other test runs) while it does not exist yet.

Two processes pushing at once are in `tests/faults/test_concurrent_push.py` (PostgreSQL only).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pyck.core.datasources import ConfigurationError, OnDelete, SyncResult, SyncRun
from pyck.core.models import SyncState
from pyck.core.signals import sync_finished, sync_started
from pyck.geo.territories.uk import parliament as P
from tests.testapp import resources as r
from tests.testapp.models import MP, Article, Author, Book, Constituency, Party, Player, Team, Ticket
from tests.testapp.testing import use

from .helpdesk import T0

pytestmark = pytest.mark.django_db

ApplyRecords = Callable[..., SyncResult]

# A statement that writes, and the table it writes to (a "N times: " prefix is how executemany is captured).
_WRITE = re.compile(r'^(?:\d+ times: )?(?:INSERT INTO|UPDATE|DELETE FROM|COPY)\s+"?(\w+)', re.I)

# Statistics upkeep, not per batch: the first insert of a process into a table reads its row estimate, and a
# process that has inserted as many rows as the statistics count (20,000 at least) refreshes them.
_UPKEEP = re.compile(r"^\s*(?:ANALYZE\b|SELECT GREATEST\(reltuples)", re.I)


@pytest.fixture
def apply_records() -> ApplyRecords:
    """The function under test, from its public import path."""
    from pyck.core.datasources import apply_records

    return apply_records


def _written_tables(queries: CaptureQueriesContext) -> list[str]:
    """The table of every captured statement that writes, in order."""
    tables = []
    for query in queries.captured_queries:
        match = _WRITE.match(query["sql"].lstrip())
        if match:
            tables.append(match.group(1))
    return tables


def _party(id: int, name: str | None = None) -> P.Party:
    return P.Party(id=id, name=name or f"Party {id}", background_colour="abcdef")


def _member(id: int, party: Any) -> P.Member:
    member = P.Member(id=id, name=f"MP {id}")
    member.latest_party = party  # an embedded Party, or its id
    return member


def test_one_record_is_written_and_returns_a_push_result(apply_records, monkeypatch):
    use(monkeypatch, Party, [], P.Party)

    result = apply_records(Party, [_party(15, "Labour")])

    assert isinstance(result, SyncResult)
    assert (result.model, result.mode, result.status, result.ok) == ("testapp.Party", "push", "succeeded", True)
    assert (result.created, result.updated, result.unchanged, result.deleted, result.failed) == (1, 0, 0, 0, 0)
    assert result.errors == []
    assert result.started is not None and result.finished is not None and result.finished >= result.started
    party = Party.objects.get()
    assert (party.external_id, party.name, party.background_colour) == (15, "Labour", "abcdef")
    assert party.last_sync_time is not None


def test_ten_thousand_records_in_constant_queries_per_batch(apply_records, monkeypatch):
    """A burst goes through the same batches as a listing (`SyncConfig.batch_size`), each in a number of
    statements that depends neither on the batch nor on how many came before it."""
    use(monkeypatch, Party, [], P.Party)
    monkeypatch.setattr(Party.sync_config, "batch_size", 500)
    next_id = iter(range(1, 1_000_000))

    def push(count: int) -> int:
        ids = [next(next_id) for _ in range(count)]
        records = (_party(id) for id in ids)  # a generator: the records are streamed, never all in a list
        with CaptureQueriesContext(connection) as queries:
            result = apply_records(Party, records)
        assert (result.created, result.failed, result.status) == (count, 0, "succeeded"), result.errors
        return len([q for q in queries.captured_queries if not _UPKEEP.match(q["sql"])])

    push(1)  # whatever a process does once (its first insert into the table) is done here
    one, two, twenty = push(500), push(1_000), push(10_000)

    per_batch = two - one
    assert 1 <= per_batch <= 10, (one, two)
    assert twenty - one == 19 * per_batch, (one, two, twenty)
    assert Party.objects.count() == 1 + 500 + 1_000 + 10_000
    assert SyncRun.objects.get(model="testapp.Party", created=10_000).mode == "push"


def test_a_reference_not_stored_yet_is_fetched_once(apply_records, monkeypatch):
    parties = use(monkeypatch, Party, [_party(15, "Labour")], P.Party)
    use(monkeypatch, MP, [], P.Member)
    monkeypatch.setattr(MP.sync_config, "batch_size", 3)  # three batches point at the same party

    result = apply_records(MP, [_member(id, 15) for id in range(1, 8)])

    assert (result.created, result.failed, result.status) == (7, 0, "succeeded")
    assert parties.gets == [15]
    assert Party.objects.count() == 1
    assert set(MP.objects.values_list("latest_party__name", flat=True)) == {"Labour"}


def test_an_embedded_resource_is_written_through_the_related_models_mapping(apply_records, monkeypatch):
    parties = use(monkeypatch, Party, [], P.Party)
    members = use(monkeypatch, MP, [], P.Member)
    use(monkeypatch, Constituency, [], P.Constituency)
    labour = _party(15, "Labour")
    seat = P.Constituency(id=4000, name="Hackney North and Stoke Newington", current_mp=_member(172, labour))

    result = apply_records(Constituency, [seat])

    assert (result.created, result.failed) == (1, 0)  # rows written as references are not counted
    hackney = Constituency.objects.get(external_id=4000)
    assert (hackney.current_mp.external_id, hackney.current_mp.latest_party.name) == (172, "Labour")
    assert parties.gets == members.gets == []


def test_a_many_to_many_change_is_applied(apply_records, monkeypatch):
    ann, bob, cy = (r.AuthorResource(id=id, name=name) for id, name in [("a1", "Ann"), ("a2", "Bob"), ("a3", "Cy")])
    authors = use(monkeypatch, Author, [ann, bob, cy])
    use(monkeypatch, Book, [])
    apply_records(Author, [ann, bob])
    assert apply_records(Book, [r.BookResource(id="b1", title="One", authors=["a1", "a2"])]).created == 1
    through = Book.authors.through
    kept = through.objects.get(book__external_id="b1", author__external_id="a2").pk

    result = apply_records(Book, [r.BookResource(id="b1", title="One", authors=["a2", "a3"])])

    assert (result.created, result.updated, result.unchanged, result.failed) == (0, 0, 1, 0)  # links are not columns
    book = Book.objects.get(external_id="b1")
    assert sorted(book.authors.values_list("name", flat=True)) == ["Bob", "Cy"]
    assert authors.gets == ["a3"]  # not stored: fetched once
    assert through.objects.filter(pk=kept).exists()  # an unchanged link is kept, not deleted and re-created


def test_an_inverse_relation_is_applied(apply_records, monkeypatch):
    use(monkeypatch, Player, [r.PlayerResource(id=1, name="Ada")])
    use(monkeypatch, Team, [])

    apply_records(Team, [r.TeamResource(id=10, name="Reds", players=[1, r.PlayerResource(id=3, name="Cat")])])

    assert sorted(Player.objects.filter(team__external_id=10).values_list("name", flat=True)) == ["Ada", "Cat"]

    apply_records(Team, [r.TeamResource(id=10, name="Reds", players=[3])])  # Ada left the Reds

    assert Player.objects.get(external_id=1).team is None
    assert Player.objects.get(external_id=3).team.external_id == 10


def test_deleted_ids_delete_their_rows(apply_records, monkeypatch):
    """`deleted` names records the caller knows are gone: their rows are deleted, whatever `on_delete` says
    (it is about rows missing from a listing), with no `get()` to confirm it."""
    parties = use(monkeypatch, Party, [], P.Party)
    use(monkeypatch, MP, [], P.Member)
    assert Party.sync_config.on_delete is OnDelete.KEEP
    apply_records(Party, [_party(id) for id in (1, 2, 3, 4)])
    apply_records(MP, [_member(100, 2)])

    result = apply_records(Party, [_party(5)], deleted=[2, "3", 99])  # "3": ids convert as in records

    assert (result.created, result.deleted, result.failed, result.status) == (1, 2, 0, "succeeded")
    assert sorted(Party.objects.values_list("external_id", flat=True)) == [1, 4, 5]
    assert parties.gets == []
    # The foreign keys' own on_delete applies: MP.latest_party is SET_NULL.
    assert MP.objects.get(external_id=100).latest_party is None
    run = SyncRun.objects.filter(model="testapp.Party").latest("pk")
    assert (run.mode, run.deleted, run.created) == ("push", 2, 1)

    only = apply_records(Party, [], deleted=[1])

    assert (only.created, only.deleted, only.status) == (0, 1, "succeeded")
    assert sorted(Party.objects.values_list("external_id", flat=True)) == [4, 5]


def test_a_bad_record_is_reported_with_its_id_and_the_others_are_written(apply_records, monkeypatch):
    use(monkeypatch, Article, [])
    records = [
        r.ArticleResource(id=1, headline="Fine", words=1),
        r.ArticleResource(id=2, headline="Refused by the database", words=-1),  # check constraint: row by row
        r.ArticleResource(id=3, headline="x" * 41),  # longer than max_length: refused before the database
        r.ArticleResource(id=4, headline="Fine too", words=4),
    ]

    result = apply_records(Article, records)

    assert (result.created, result.failed, result.status) == (2, 2, "partial")
    messages = {error.record_id: error.message for error in result.errors}
    assert sorted(messages) == [2, 3]
    assert "article_word_count_gte_0" in messages[2] and "record id 2" in messages[2]
    assert "title" in messages[3] and "record id 3" in messages[3]
    assert sorted(Article.objects.values_list("external_id", flat=True)) == [1, 4]


def test_local_only_columns_are_preserved(apply_records, monkeypatch):
    use(monkeypatch, Article, [])
    apply_records(Article, [r.ArticleResource(id=1, headline="Hello", words=3)])
    Article.objects.filter(external_id=1).update(notes="my note", starred=True)

    result = apply_records(Article, [r.ArticleResource(id=1, headline="Hello again", words=3)])

    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    article = Article.objects.get(external_id=1)
    assert (article.title, article.word_count, article.notes, article.starred) == ("Hello again", 3, "my note", True)


def test_an_unchanged_record_writes_nothing(apply_records, monkeypatch):
    use(monkeypatch, Article, [])

    def record() -> r.ArticleResource:
        return r.ArticleResource(id=1, headline="Hello", author=r.ByLine(name="Ann"), price="1.5", words=3)

    apply_records(Article, [record()])
    before = Article.objects.get().last_sync_time

    with CaptureQueriesContext(connection) as queries:
        result = apply_records(Article, [record()])

    assert (result.created, result.updated, result.unchanged, result.status) == (0, 0, 1, "succeeded")
    assert set(_written_tables(queries)) <= {"pyck_syncrun"}, _written_tables(queries)
    assert Article.objects.get().last_sync_time == before


def test_a_push_records_a_sync_run_in_push_mode(apply_records, monkeypatch):
    use(monkeypatch, Article, [])

    result = apply_records(Article, [r.ArticleResource(id=1, headline="A", words=1), r.ArticleResource(id=2, headline="B", words=2)])

    run = SyncRun.objects.get(model="testapp.Article")
    assert (run.mode, run.partition, run.resumed, run.status) == ("push", "", False, "succeeded")
    assert (run.created, run.updated, run.unchanged, run.deleted, run.failed, run.errors) == (2, 0, 0, 0, 0, [])
    assert run.finished == result.finished and run.duration == pytest.approx(result.duration)

    failed = apply_records(Article, [r.ArticleResource(id=1, headline="A", words=1), r.ArticleResource(id=3, headline="C", words=-1)])

    run = SyncRun.objects.filter(model="testapp.Article").latest("pk")
    assert (failed.status, run.mode, run.status, run.unchanged, run.failed) == ("partial", "push", "partial", 1, 1)
    assert [error["record_id"] for error in run.errors] == [3]
    assert [error["message"] for error in run.errors] == [error.message for error in failed.errors]


def test_a_push_sends_the_sync_signals(apply_records, monkeypatch):
    use(monkeypatch, Party, [], P.Party)
    events: list[tuple[Any, ...]] = []

    def started(sender: Any, **kwargs: Any) -> None:
        events.append(("started", sender))

    def finished(sender: Any, result: SyncResult, **kwargs: Any) -> None:
        events.append(("finished", sender, result.mode, result.status, result.created))

    sync_started.connect(started)
    sync_finished.connect(finished)
    try:
        result = apply_records(Party, [_party(1), _party(2)])
    finally:
        sync_started.disconnect(started)
        sync_finished.disconnect(finished)

    assert events == [("started", Party), ("finished", Party, "push", "succeeded", 2)]
    assert result.created == 2


def test_a_push_does_not_move_the_incremental_cursor(apply_records, helpdesk):
    """Pushed records may arrive in any order; the cursor says how far the listing has read, so a push leaves
    it, the checkpoint and the time of the last full listing alone."""
    assert Ticket.sync().created == 35
    state = SyncState.objects.get(model="testapp.Ticket", partition="")
    before = (state.cursor, state.cursor_updated, state.checkpoint, state.last_full_sync)
    requests = len(helpdesk.requests)
    later = r.TicketResource(id=99, subject="Pushed", status="open", updated_at=T0 + timedelta(days=30))

    result = apply_records(Ticket, [later])

    assert (result.created, result.status) == (1, "succeeded")
    state.refresh_from_db()
    assert (state.cursor, state.cursor_updated, state.checkpoint, state.last_full_sync) == before
    assert SyncState.objects.filter(model="testapp.Ticket").count() == 1
    assert len(helpdesk.requests) == requests  # nothing was listed
    assert Ticket.objects.get(external_id=99).subject == "Pushed"


def test_records_must_be_an_iterable_of_records(apply_records, monkeypatch):
    use(monkeypatch, Party, [], P.Party)

    for wrong in (_party(1), {"id": 1, "name": "x"}, "12"):
        with pytest.raises(TypeError):
            apply_records(Party, wrong)
    with pytest.raises(TypeError):
        apply_records(Party, [], deleted="12")
    with pytest.raises(ConfigurationError):
        apply_records(SyncRun, [])
    assert not Party.objects.exists()
    assert not SyncRun.objects.exists()
