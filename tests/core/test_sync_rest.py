"""The sync engine over HTTP: RestDatasources (and the real UK Parliament datasources) on ``responses``."""

from __future__ import annotations

import pytest
from responses import matchers

from pyck.core.datasources import OffsetPaginator, OnDelete, RestDatasource
from pyck.core.sync import sync_model, sync_models
from tests.conftest import load_fixture
from tests.testapp import resources as r
from tests.testapp.models import MP, Constituency, Party, Player, Team

pytestmark = pytest.mark.django_db

PARLIAMENT = "https://members-api.parliament.uk/api"
API = "https://api.example.com"


def _active_parties_body() -> dict:
    # No recording of Parties/GetActive exists (tests/fixtures/uk/SOURCES.md): its documented search envelope is
    # built around the real Party objects recorded by StateOfTheParties (the Speaker's colour is null there).
    parties = [item["value"]["party"] for item in load_fixture("uk/parliament_state_of_parties_commons.json")["items"]]
    return {"items": [{"value": party, "links": []} for party in parties], "totalResults": len(parties),
            "resultContext": None, "skip": 0, "take": len(parties), "links": []}


def test_tutorial_models_sync_from_the_parliament_datasources(mock_api):
    mock_api.get(f"{PARLIAMENT}/Parties/GetActive/Commons", json=_active_parties_body())
    mock_api.get(f"{PARLIAMENT}/Members/Search", json=load_fixture("uk/parliament_members_search_page.json"),
                 match=[matchers.query_param_matcher({"House": "1", "IsCurrentMember": "true", "skip": "0", "take": "20"})])
    mock_api.get(f"{PARLIAMENT}/Location/Constituency/Search", json=load_fixture("uk/parliament_constituency_search_page.json"),
                 match=[matchers.query_param_matcher({"skip": "0", "take": "20"})])

    results = sync_models([Constituency, MP, Party])

    assert [(x.model, x.status, x.created) for x in results] == [
        ("testapp.Party", "succeeded", 15), ("testapp.MP", "succeeded", 1), ("testapp.Constituency", "succeeded", 1)]
    # One request per listing page: the MP and party embedded in the constituency needed no get().
    assert len(mock_api.calls) == 3
    seat = Constituency.objects.get(external_id=4483)
    assert seat.name == "Inverness, Skye and West Ross-shire"
    assert (seat.current_mp.external_id, seat.current_mp.name) == (5362, "Mr Angus MacDonald")
    assert seat.current_mp.thumbnail_url == "https://members-api.parliament.uk/api/Members/5362/Thumbnail"
    assert (seat.current_mp.latest_party.name, seat.current_mp.latest_party.background_colour) == ("Liberal Democrat", "faa01a")
    assert Party.objects.get(external_id=47).background_colour == ""  # the Speaker: null colour, required field
    assert MP.objects.get(external_id=4514).latest_party.name == "Labour"

    again = sync_models([Constituency, MP, Party])
    assert [(x.created, x.updated) for x in again] == [(0, 0)] * 3
    assert (Party.objects.count(), MP.objects.count(), Constituency.objects.count()) == (15, 2, 1)


def _rest(monkeypatch: pytest.MonkeyPatch, model: type, path: str, resource_type: type, **kwargs) -> RestDatasource:
    source = RestDatasource(base_url=API, path=path, resource_type=resource_type, name=f"example{path}", retries=0, **kwargs)
    monkeypatch.setattr(model.sync_config, "datasource", source)
    return source


def test_ids_are_fetched_with_get_embedded_records_upserted_and_bad_records_skipped(monkeypatch, mock_api):
    _rest(monkeypatch, Team, "/teams", r.TeamResource)
    _rest(monkeypatch, Player, "/players", r.PlayerResource)
    mock_api.get(f"{API}/teams", json=[
        {"id": 1, "name": "Reds", "players": [1, "2", {"id": 3, "name": "Cat"}]},
        {"id": 2, "name": ["not", "a", "string"]},
        {"id": 3, "name": "Blues", "players": [404, 1]},
    ])
    one = mock_api.get(f"{API}/players/1", json={"id": 1, "name": "Ada"})
    two = mock_api.get(f"{API}/players/2", json={"id": 2, "name": "Bo"})
    missing = mock_api.get(f"{API}/players/404", status=404, json={"detail": "Not found."})

    result = Team.sync()

    assert (result.created, result.failed, result.status) == (2, 1, "partial")
    [error] = result.errors
    assert error.record_id == 2
    assert "example/teams" in error.message and "https://api.example.com/teams" in error.message
    assert one.call_count == two.call_count == missing.call_count == 1
    # Ada is listed by both teams: the later one in the batch wins.
    assert sorted(Player.objects.filter(team__external_id=1).values_list("name", flat=True)) == ["Bo", "Cat"]
    assert list(Player.objects.filter(team__external_id=3).values_list("name", flat=True)) == ["Ada"]

    again = Team.sync()  # the players are local now, and the 404 is asked again only in a new run
    assert (again.unchanged, one.call_count, two.call_count, missing.call_count) == (2, 1, 1, 2)


def test_nothing_is_deleted_after_a_listing_that_failed_over_http(monkeypatch, mock_api):
    paginator = OffsetPaginator(limit=2)
    _rest(monkeypatch, Team, "/teams", r.TeamResource, paginator=paginator)
    Team.objects.create(external_id=99, name="not listed")
    mock_api.get(f"{API}/teams", json=[{"id": 1, "name": "A"}, {"id": 2, "name": "B"}],
                 match=[matchers.query_param_matcher({"offset": "0", "limit": "2"})])
    mock_api.get(f"{API}/teams", status=503, body="<html>down</html>",
                 match=[matchers.query_param_matcher({"offset": "2", "limit": "2"})])

    result = sync_model(Team, on_delete=OnDelete.DELETE)

    assert (result.status, result.created, result.deleted) == ("failed", 2, 0)
    assert "503" in result.errors[0].message and "offset=2" in result.errors[0].message
    assert sorted(Team.objects.values_list("external_id", flat=True)) == [1, 2, 99]
