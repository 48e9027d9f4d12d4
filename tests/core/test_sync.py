"""The sync engine on the guide's tutorial models and on every kind of relation, from MockDatasources."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from pyck.core.sync import sync_model, sync_models
from pyck.geo.territories.uk import parliament as P
from tests.testapp import resources as r
from tests.testapp.models import (
    MP,
    Article,
    Author,
    Book,
    City,
    Constituency,
    Country,
    Employee,
    Membership,
    Party,
    Player,
    Team,
)

from tests.testapp.testing import use

pytestmark = pytest.mark.django_db



def _parliament():
    labour = P.Party(id=15, name="Labour", background_colour="d50000")
    speaker = P.Party(id=47, name="Speaker", background_colour=None)
    abbott = P.Member(id=172, name="Ms Diane Abbott", thumbnail_url="https://x/172", latest_party=labour)
    hoyle = P.Member(id=467, name="Sir Lindsay Hoyle", thumbnail_url=None, latest_party=speaker)
    seats = [
        P.Constituency(id=4000, name="Hackney North and Stoke Newington", current_mp=abbott),
        P.Constituency(id=4001, name="Chorley", current_mp=hoyle),
        P.Constituency(id=4002, name="Abolished", current_mp=None),
    ]
    return [labour, speaker], [abbott, hoyle], seats


def test_tutorial_models_sync_embedded_resources(monkeypatch):
    parties, members, seats = _parliament()
    use(monkeypatch, Party, parties, P.Party)
    use(monkeypatch, MP, members, P.Member)
    use(monkeypatch, Constituency, seats, P.Constituency)

    result = Constituency.sync()

    assert (result.created, result.failed, result.status) == (3, 0, "succeeded")
    hackney = Constituency.objects.get(external_id=4000)
    assert hackney.name == "Hackney North and Stoke Newington"
    assert hackney.current_mp.name == "Ms Diane Abbott"
    assert hackney.current_mp.thumbnail_url == "https://x/172"
    assert hackney.current_mp.latest_party.name == "Labour"
    assert Constituency.objects.get(external_id=4002).current_mp is None
    # A null colour in a required text field becomes "" instead of losing the Speaker.
    assert Party.objects.get(external_id=47).background_colour == ""
    assert MP.objects.get(external_id=467).thumbnail_url is None
    assert hackney.last_sync_time is not None


def test_second_sync_creates_no_duplicates(monkeypatch):
    parties, members, seats = _parliament()
    use(monkeypatch, Party, parties, P.Party)
    use(monkeypatch, MP, members, P.Member)
    use(monkeypatch, Constituency, seats, P.Constituency)
    Constituency.sync()
    ids = set(Constituency.objects.values_list("pk", flat=True))

    again = Constituency.sync()

    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert set(Constituency.objects.values_list("pk", flat=True)) == ids
    assert (MP.objects.count(), Party.objects.count()) == (2, 2)


def test_remote_changes_update_only_changed_rows(monkeypatch):
    parties, members, seats = _parliament()
    use(monkeypatch, Party, parties, P.Party)
    use(monkeypatch, MP, members, P.Member)
    use(monkeypatch, Constituency, seats, P.Constituency)
    Constituency.sync()
    seats[1].name = "Chorley (renamed)"
    seats[0].current_mp = members[1]

    result = Constituency.sync()

    assert (result.created, result.updated, result.unchanged) == (0, 2, 1)
    assert Constituency.objects.get(external_id=4001).name == "Chorley (renamed)"
    assert Constituency.objects.get(external_id=4000).current_mp.external_id == 467


def test_references_by_id_are_fetched_once_per_run(monkeypatch):
    labour = P.Party(id=15, name="Labour", background_colour="d50000")
    party_source = use(monkeypatch, Party, [labour], P.Party)
    members = [P.Member(id=i, name=f"MP {i}", latest_party=None) for i in range(1, 8)]
    for member in members:
        member.latest_party = 15  # an id, not an embedded party
    use(monkeypatch, MP, members, P.Member)

    result = sync_model(MP, batch_size=3)  # three batches reference the same party

    assert result.created == 7
    assert party_source.gets == [15]
    assert set(MP.objects.values_list("latest_party__name", flat=True)) == {"Labour"}


def test_missing_references_are_asked_for_once_per_run_even_when_not_found(monkeypatch):
    party_source = use(monkeypatch, Party, [], P.Party)
    members = [P.Member(id=i, name=f"MP {i}") for i in range(1, 6)]
    for member in members:
        member.latest_party = 99
    use(monkeypatch, MP, members, P.Member)

    result = sync_model(MP, batch_size=2)

    # latest_party is nullable: the records land with no party.
    assert (result.created, result.failed) == (5, 0)
    assert party_source.gets == [99]
    assert not MP.objects.filter(latest_party__isnull=False).exists()


def test_sync_models_runs_in_dependency_order_without_gets(monkeypatch):
    parties, members, seats = _parliament()
    for member in members:
        member.latest_party = member.latest_party.id
    for seat in seats:
        seat.current_mp = seat.current_mp.id if seat.current_mp else None
    party_source = use(monkeypatch, Party, parties, P.Party)
    member_source = use(monkeypatch, MP, members, P.Member)
    use(monkeypatch, Constituency, seats, P.Constituency)

    results = sync_models([Constituency, MP, Party])

    assert [result.model for result in results] == ["testapp.Party", "testapp.MP", "testapp.Constituency"]
    assert all(result.ok for result in results)
    assert party_source.gets == member_source.gets == []
    assert Constituency.objects.get(external_id=4001).current_mp.latest_party.name == "Speaker"


def test_unresolvable_required_reference_fails_only_that_record(monkeypatch):
    use(monkeypatch, Party, [P.Party(id=15, name="Labour")], P.Party)
    use(monkeypatch, Membership, [r.MembershipResource(id=1, party=15), r.MembershipResource(id=2, party=404),
                                  r.MembershipResource(id=3, party=15)])

    result = Membership.sync()

    assert (result.created, result.failed, result.status) == (2, 1, "partial")
    assert sorted(Membership.objects.values_list("external_id", flat=True)) == [1, 3]
    [error] = result.errors
    assert error.record_id == 2
    assert "party" in error.message and "404" in error.message and "testapp.Membership" in error.message


def test_many_to_many_by_id_and_embedded_is_diffed(monkeypatch):
    use(monkeypatch, Author, [r.AuthorResource(id="a1", name="Ann"), r.AuthorResource(id="a2", name="Bob")])
    books = [
        r.BookResource(id="b1", title="One", authors=["a1", r.AuthorResource(id="a3", name="Cy")]),
        r.BookResource(id="b2", title="Two", authors=["a1", "a2"]),
        r.BookResource(id="b3", title="Three", authors=None),
    ]
    use(monkeypatch, Book, books)

    assert Book.sync().created == 3
    assert sorted(Book.objects.get(external_id="b1").authors.values_list("name", flat=True)) == ["Ann", "Cy"]
    assert sorted(Book.objects.get(external_id="b2").authors.values_list("name", flat=True)) == ["Ann", "Bob"]
    assert not Book.objects.get(external_id="b3").authors.exists()

    through = Book.authors.through
    kept = set(through.objects.filter(book__external_id="b2", author__external_id="a1").values_list("pk", flat=True))
    books[1].authors = ["a1"]  # Bob removed
    books[0].authors = ["a1", "a3", "a2"]  # Bob added
    result = Book.sync()

    assert (result.updated, result.unchanged) == (0, 3)  # links are not columns
    assert sorted(Book.objects.get(external_id="b1").authors.values_list("name", flat=True)) == ["Ann", "Bob", "Cy"]
    assert list(Book.objects.get(external_id="b2").authors.values_list("name", flat=True)) == ["Ann"]
    # Unchanged links are kept, not deleted and recreated.
    assert kept <= set(through.objects.values_list("pk", flat=True))
    assert Author.objects.count() == 3


def test_inverse_relation_sets_the_childrens_foreign_key(monkeypatch):
    use(monkeypatch, Player, [r.PlayerResource(id=1, name="Ada"), r.PlayerResource(id=2, name="Bo")])
    teams = [
        r.TeamResource(id=10, name="Reds", players=[1, r.PlayerResource(id=3, name="Cat")]),
        r.TeamResource(id=20, name="Blues", players=[2]),
    ]
    use(monkeypatch, Team, teams)

    assert Team.sync().ok
    assert sorted(Player.objects.filter(team__external_id=10).values_list("name", flat=True)) == ["Ada", "Cat"]
    assert list(Player.objects.filter(team__external_id=20).values_list("name", flat=True)) == ["Bo"]

    teams[0].players = [3]  # Ada left the Reds
    teams[1].players = [2, 1]  # and joined the Blues
    Team.sync()

    assert Player.objects.get(external_id=1).team.external_id == 20
    assert Player.objects.get(external_id=3).team.external_id == 10
    teams[1].players = [2]
    Team.sync()
    assert Player.objects.get(external_id=1).team is None


def test_self_reference_within_and_across_batches(monkeypatch):
    staff = [
        r.EmployeeResource(id=1, name="Report", manager=2),  # manager listed later, same batch
        r.EmployeeResource(id=2, name="Boss", manager=None),
        r.EmployeeResource(id=3, name="Other", manager=4),  # manager in the next batch
        r.EmployeeResource(id=4, name="Lead", manager=r.EmployeeResource(id=2, name="Boss")),
    ]
    source = use(monkeypatch, Employee, staff)

    result = sync_model(Employee, batch_size=3)

    # Lead was created when batch 1 fetched it, so batch 2 finds it unchanged.
    assert (result.created, result.unchanged, result.failed) == (3, 1, 0)
    assert Employee.objects.count() == 4
    assert Employee.objects.get(external_id=1).manager.name == "Boss"
    assert Employee.objects.get(external_id=3).manager.name == "Lead"
    assert Employee.objects.get(external_id=4).manager.name == "Boss"
    assert source.gets == [4]  # fetched ahead of its batch, then found locally
    assert Employee.sync().unchanged == 4


def test_cycles_work_both_ways(monkeypatch):
    countries = [r.CountryResource(id="fr", name="France", capital=r.CityResource(id="par", name="Paris", country="fr"))]
    cities = [r.CityResource(id="par", name="Paris", country="fr"), r.CityResource(id="lyo", name="Lyon", country="fr")]
    use(monkeypatch, Country, countries)
    use(monkeypatch, City, cities)

    results = sync_models([City, Country])

    assert [result.model for result in results] == ["testapp.Country", "testapp.City"]
    assert all(result.ok for result in results), results
    france = Country.objects.get(external_id="fr")
    assert france.capital.name == "Paris" and france.capital.country == france
    assert sorted(france.cities.values_list("name", flat=True)) == ["Lyon", "Paris"]


def test_cycle_by_ids_fetches_the_other_side(monkeypatch):
    use(monkeypatch, Country, [r.CountryResource(id="it", name="Italy", capital="rom")])
    use(monkeypatch, City, [r.CityResource(id="rom", name="Rome", country="it")])

    assert City.sync().ok  # City.country is required: Italy is fetched, and Italy's capital points back

    rome = City.objects.get(external_id="rom")
    assert rome.country.name == "Italy"
    assert rome.country.capital == rome


def test_field_map_conversions_and_local_columns(monkeypatch):
    published = datetime.datetime(2024, 7, 4, 9, 30)  # naive, as many APIs send
    articles = [
        r.ArticleResource(id=1, headline="Hello", author=r.ByLine(name="Ann"), published=published, price="12.5",
                          words=None, extra={"x": 1}),
        r.ArticleResource(id=2, headline=None, author=None, price=Decimal("3"), words=7),
    ]
    use(monkeypatch, Article, articles)

    assert Article.sync().created == 2

    first = Article.objects.get(external_id=1)
    assert (first.title, first.author_name, first.price, first.word_count) == ("Hello", "Ann", Decimal("12.50"), 0)
    assert first.published == timezone.make_aware(published)
    assert first.extra == {}  # excluded by field_map
    second = Article.objects.get(external_id=2)
    assert (second.title, second.author_name, second.word_count) == ("", "", 7)

    Article.objects.filter(external_id=1).update(notes="my note", starred=True)
    articles[0].headline = "Hello again"
    result = Article.sync()

    assert (result.updated, result.unchanged) == (1, 1)
    first.refresh_from_db()
    assert (first.title, first.notes, first.starred) == ("Hello again", "my note", True)


def test_values_the_field_rejects_fail_the_record_with_a_clear_error(monkeypatch):
    articles = [
        r.ArticleResource(id=1, headline="ok"),
        r.ArticleResource(id=2, headline="ok", price="not a number"),
        r.ArticleResource(id=3, headline="x" * 41),
        r.ArticleResource(id=4, headline="ok", published="2024-13-45"),
    ]
    use(monkeypatch, Article, articles)

    result = Article.sync()

    assert (result.created, result.failed, result.status) == (1, 3, "partial")
    messages = {error.record_id: error.message for error in result.errors}
    assert "price" in messages[2] and "'not a number'" in messages[2] and "record id 2" in messages[2]
    assert "title" in messages[3] and "40" in messages[3]
    assert "published" in messages[4] and "mock.Article" in messages[4]


def test_string_ids_match_an_integer_external_id(monkeypatch):
    source = use(monkeypatch, Team, [r.TeamResource(id="10", name="Reds")])
    Team.sync()
    source.data = [r.TeamResource(id=10, name="Reds")]

    assert Team.sync().unchanged == 1
    assert Team.objects.count() == 1


def test_an_embedded_copy_that_cannot_be_written_falls_back_to_the_stored_row(monkeypatch):
    party_source = use(monkeypatch, Party, [], P.Party)
    Party.objects.create(external_id=15, name="Labour")
    too_long = "x" * 300
    members = [
        P.Member(id=1, name="A", latest_party=P.Party(id=15, name=too_long)),
        P.Member(id=2, name="B", latest_party=P.Party(id=16, name=too_long)),
    ]
    use(monkeypatch, MP, members, P.Member)
    use(monkeypatch, Membership, [r.MembershipResource(id=1, party=P.Party(id=17, name=too_long))])

    result = MP.sync()

    assert (result.created, result.failed) == (2, 0)
    assert MP.objects.get(external_id=1).latest_party.name == "Labour"
    assert MP.objects.get(external_id=2).latest_party is None
    assert party_source.gets == []  # embedded data is not re-fetched
    required = Membership.sync()
    assert (required.created, required.failed) == (0, 1)
    assert "party" in required.errors[0].message and "256 characters" in required.errors[0].message


def test_fetch_missing_false_leaves_unknown_references_unresolved(monkeypatch):
    party_source = use(monkeypatch, Party, [P.Party(id=15, name="Labour")], P.Party)
    monkeypatch.setattr(Party.sync_config, "fetch_missing", False)
    use(monkeypatch, MP, [P.Member(id=1, name="A", latest_party=15)], P.Member)

    assert MP.sync().created == 1

    assert party_source.gets == []
    assert MP.objects.get().latest_party is None
