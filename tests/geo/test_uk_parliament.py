"""The UK Parliament datasources against recorded Members API responses (tests/fixtures/uk/, see SOURCES.md)."""

from __future__ import annotations

import copy
import subprocess
import sys
from datetime import datetime
from typing import Any

import pytest
import responses
from django.test import override_settings
from responses import matchers

from pyck.core.datasources import InvalidResourceError, NotFoundError, RateLimitError
from pyck.geo.territories.uk import parliament
from pyck.geo.territories.uk.parliament import (
    Constituency,
    House,
    Member,
    ParliamentDatasource,
    PartiesDatasource,
    Party,
)
from tests.conftest import load_fixture

API = "https://members-api.parliament.uk/api"


def recorded_commons_members() -> list[dict[str, Any]]:
    """The recorded wrapped items of current Commons MPs: Starmer (search page), Abbott (Members/172) and
    MacDonald (embedded in Constituency/4483)."""
    return [
        load_fixture("uk/parliament_members_search_page.json")["items"][0],
        load_fixture("uk/parliament_member.json"),
        load_fixture("uk/parliament_constituency.json")["value"]["currentRepresentation"]["member"],
    ]


def active_parties_body() -> dict[str, Any]:
    """A Parties/GetActive/Commons answer. No recording of that endpoint exists: its items are the recorded
    Party objects of StateOfTheParties/Commons, wrapped as the API wraps records, in the search envelope the
    OpenAPI spec gives it (PartyMembersServiceSearchResult)."""
    state = load_fixture("uk/parliament_state_of_parties_commons.json")
    items = [{"value": item["value"]["party"], "links": []} for item in state["items"]]
    return {
        "items": items,
        "totalResults": len(items),
        "resultContext": None,
        "skip": 0,
        "take": len(items),
        "links": [],
        "resultType": None,
    }


def search_page(items: list[dict[str, Any]], *, skip: int, total: int) -> dict[str, Any]:
    """A Members/Search page in the recorded envelope (parliament_members_search_page.json) around ``items``."""
    page = load_fixture("uk/parliament_members_search_page.json")
    page.update(items=items, skip=skip, take=20, totalResults=total)
    return page


# --- Paging and filters ----------------------------------------------------------------------------------


def test_members_list_walks_skip_take_pages_of_20_until_total_results(mock_api: responses.RequestsMock) -> None:
    # The recordings hold three Commons MPs; pages 1-3 (45 items) are built from them, each copy given its
    # own id so the order can be checked.
    recorded = recorded_commons_members()
    items = []
    for number in range(45):
        item = copy.deepcopy(recorded[number % 3])
        item["value"]["id"] = 10_000 + number
        items.append(item)
    for skip in (0, 20, 40):
        mock_api.get(
            f"{API}/Members/Search",
            json=search_page(items[skip : skip + 20], skip=skip, total=45),
            match=[
                matchers.query_param_matcher({"House": "1", "IsCurrentMember": "true", "skip": str(skip), "take": "20"})
            ],
        )

    found = list(parliament.members.list())

    assert [m.id for m in found] == [10_000 + n for n in range(45)]
    assert [m.name for m in found[:3]] == ["Sir Keir Starmer", "Ms Diane Abbott", "Mr Angus MacDonald"]
    assert len(mock_api.calls) == 3


def test_members_list_filters_go_to_the_api_over_the_default_commons_query(mock_api: responses.RequestsMock) -> None:
    mock_api.get(
        f"{API}/Members/Search",
        json=search_page([], skip=0, total=0),
        match=[
            matchers.query_param_matcher(
                {"House": "2", "IsCurrentMember": "true", "PartyId": "4", "skip": "0", "take": "20"}
            )
        ],
    )

    assert list(parliament.members.list(House=2, PartyId=4)) == []


def test_constituencies_list_sends_search_text_only_when_given(mock_api: responses.RequestsMock) -> None:
    recorded = load_fixture("uk/parliament_constituency_search_page.json")
    mock_api.get(
        f"{API}/Location/Constituency/Search",
        json=recorded,
        match=[matchers.query_param_matcher({"searchText": "inverness", "skip": "0", "take": "20"})],
    )
    mock_api.get(
        f"{API}/Location/Constituency/Search",
        json=recorded,
        match=[matchers.query_param_matcher({"skip": "0", "take": "20"})],
    )

    searched = list(parliament.constituencies.list(searchText="inverness"))
    everything = list(parliament.constituencies.list())

    assert [c.name for c in searched] == ["Inverness, Skye and West Ross-shire"]
    assert [c.id for c in everything] == [4483]


# --- Wrappers and fields ---------------------------------------------------------------------------------


def test_member_get_unwraps_the_item_and_fills_the_tutorial_fields(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/Members/172", json=load_fixture("uk/parliament_member.json"))

    member = parliament.members.get(172)

    assert isinstance(member, Member)
    assert member.id == 172
    assert member.name == member.name_display_as == "Ms Diane Abbott"
    assert member.name_list_as == "Abbott, Ms Diane"
    assert member.name_address_as == "Ms Abbott"
    assert member.thumbnail_url == "https://members-api.parliament.uk/api/Members/172/Thumbnail"
    assert member.latest_party == Party(
        id=8,
        name="Independent",
        abbreviation="Ind",
        background_colour="909090",
        foreground_colour="FFFFFF",
        is_lords_main_party=False,
        is_lords_spiritual_party=False,
        government_type=None,
        is_independent_party=True,
    )
    membership = member.latest_house_membership
    assert membership is not None
    assert membership.house is House.COMMONS
    assert membership.membership_from_id == 4074
    assert membership.membership_start_date == datetime(1987, 6, 11)
    assert membership.membership_end_date is None
    assert membership.membership_status is not None
    assert membership.membership_status.status_description == "Current Member"
    assert membership.membership_status.status_start_date == datetime(2024, 7, 4)


def test_constituency_get_exposes_the_embedded_member_as_current_mp(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/Location/Constituency/4483", json=load_fixture("uk/parliament_constituency.json"))

    constituency = parliament.constituencies.get(4483)

    assert isinstance(constituency, Constituency)
    assert constituency.name == "Inverness, Skye and West Ross-shire"
    assert constituency.start_date == datetime(2024, 5, 31)
    assert constituency.end_date is None
    mp = constituency.current_mp
    assert isinstance(mp, Member)
    assert (mp.id, mp.name) == (5362, "Mr Angus MacDonald")
    assert mp.latest_party is not None and mp.latest_party.name == "Liberal Democrat"
    representation = constituency.current_representation
    assert representation is not None and representation.member is mp
    assert representation.representation is not None
    assert representation.representation.membership_status is None


def test_lords_items_with_ended_or_null_status_deserialise() -> None:
    # The test-edited envelope of this recording is not used; its three items are genuine.
    items = load_fixture("uk/parliament_members_search_variants.json")["items"]

    starmer, aberconway, mone = (parliament.members.deserialize(item) for item in items)

    assert starmer.latest_party is not None and starmer.latest_party.government_type == 0
    assert aberconway.latest_house_membership is not None
    assert aberconway.latest_house_membership.house is House.LORDS
    assert aberconway.latest_house_membership.membership_end_date == datetime(1999, 11, 11)
    assert aberconway.latest_house_membership.membership_end_reason == "Excluded"
    assert aberconway.latest_house_membership.membership_status is None
    assert mone.latest_house_membership is not None and mone.latest_house_membership.membership_status is not None
    assert mone.latest_house_membership.membership_status.status_is_active is False
    assert mone.latest_house_membership.membership_status.status == 2


def test_missing_optional_fields_are_none(mock_api: responses.RequestsMock) -> None:
    body = load_fixture("uk/parliament_member.json")
    for key in ("nameAddressAs", "thumbnailUrl", "latestParty", "gender", "latestHouseMembership", "nameFullTitle"):
        del body["value"][key]
    del body["links"]
    mock_api.get(f"{API}/Members/172", json=body)

    member = parliament.members.get(172)

    assert member.name == "Ms Diane Abbott"
    assert member.thumbnail_url is None
    assert member.latest_party is None
    assert member.latest_house_membership is None
    assert member.name_address_as is None and member.name_full_title is None and member.gender is None


def test_constituency_without_current_representation_has_no_current_mp(mock_api: responses.RequestsMock) -> None:
    body = load_fixture("uk/parliament_constituency.json")
    body["value"]["currentRepresentation"] = None
    body["value"]["endDate"] = "2024-05-30T00:00:00"
    mock_api.get(f"{API}/Location/Constituency/4483", json=body)

    constituency = parliament.constituencies.get(4483)

    assert constituency.current_mp is None
    assert constituency.end_date == datetime(2024, 5, 30)


def test_a_listed_record_that_does_not_fit_names_its_id_and_field(mock_api: responses.RequestsMock) -> None:
    item = load_fixture("uk/parliament_member.json")
    item["value"]["latestParty"]["name"] = 5
    mock_api.get(f"{API}/Members/Search", json=search_page([item], skip=0, total=1))

    with pytest.raises(InvalidResourceError, match=r"uk.parliament.members.*record id 172.*field 'latest_party.name'"):
        list(parliament.members.list())


# --- Parties: one request, no paging, get() from the listing ---------------------------------------------


def test_parties_are_fetched_in_one_request_without_paging(mock_api: responses.RequestsMock) -> None:
    mock_api.get(
        f"{API}/Parties/GetActive/Commons", json=active_parties_body(), match=[matchers.query_param_matcher({})]
    )

    found = list(PartiesDatasource().list())

    assert len(found) == 15
    assert found[0] == Party(
        id=15,
        name="Labour",
        abbreviation="Lab",
        background_colour="d50000",
        foreground_colour="ffffff",
        is_lords_main_party=True,
        is_lords_spiritual_party=True,
        government_type=0,
        is_independent_party=False,
    )
    speaker = next(p for p in found if p.name == "Speaker")
    assert speaker.background_colour is None and speaker.foreground_colour is None
    assert len(mock_api.calls) == 1


def test_party_get_is_served_from_one_cached_listing(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/Parties/GetActive/Commons", json=active_parties_body())
    source = PartiesDatasource(name="parties")

    assert source.get(17).name == "Liberal Democrat"
    assert source.get("47").name == "Speaker"
    with pytest.raises(NotFoundError, match=r"No party with this id.*datasource parties.*record id 999"):
        source.get(999)
    assert len(mock_api.calls) == 1


def test_party_cache_expires(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/Parties/GetActive/Commons", json=active_parties_body())
    source = PartiesDatasource(cache_seconds=0)

    source.get(17)
    source.get(17)

    assert len(mock_api.calls) == 2


def test_module_parties_list_the_commons() -> None:
    assert parliament.parties.url == f"{API}/Parties/GetActive/Commons"
    assert parliament.parties.resource_type is Party


# --- Errors ----------------------------------------------------------------------------------------------


def test_unknown_member_raises_not_found_naming_source_url_and_id(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/Members/999999", status=404)

    with pytest.raises(NotFoundError) as caught:
        parliament.members.get(999999)

    message = str(caught.value)
    assert "uk.parliament.members" in message
    assert f"{API}/Members/999999" in message
    assert "999999" in message


def test_unknown_constituency_raises_not_found(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/Location/Constituency/1", status=404)

    with pytest.raises(NotFoundError, match=r"uk.parliament.constituencies.*record id 1\b"):
        parliament.constituencies.get(1)


def test_429_is_retried_after_the_wait_asked_for(
    mock_api: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyck.core.http

    waits: list[float] = []
    monkeypatch.setattr(pyck.core.http, "_sleep", waits.append)
    mock_api.get(f"{API}/Members/172", status=429, headers={"Retry-After": "3"})
    mock_api.get(f"{API}/Members/172", json=load_fixture("uk/parliament_member.json"))

    assert parliament.members.get(172).name == "Ms Diane Abbott"
    assert len(mock_api.calls) == 2
    assert waits == [3.0]


def test_429_after_every_retry_raises_rate_limit_error(mock_api: responses.RequestsMock) -> None:
    for _ in range(3):
        mock_api.get(f"{API}/Members/172", status=429, headers={"Retry-After": "1"})

    with override_settings(PYCK={"HTTP_RETRIES": 2}):
        with pytest.raises(RateLimitError, match=r"uk.parliament.members.*record id 172"):
            parliament.members.get(172)
    assert len(mock_api.calls) == 3


# --- Settings --------------------------------------------------------------------------------------------


def test_base_url_comes_from_settings_at_call_time(mock_api: responses.RequestsMock) -> None:
    mock_api.get("http://proxy.test/members-api/Members/172", json=load_fixture("uk/parliament_member.json"))
    mock_api.get(f"{API}/Members/172", json=load_fixture("uk/parliament_member.json"))

    with override_settings(PYCK={"UK_PARLIAMENT_BASE_URL": "http://proxy.test/members-api"}):
        assert parliament.members.get(172).id == 172
    assert parliament.members.get(172).id == 172
    assert [call.request.url for call in mock_api.calls] == [
        "http://proxy.test/members-api/Members/172",
        f"{API}/Members/172",
    ]


def test_an_explicit_base_url_wins_over_the_setting(mock_api: responses.RequestsMock) -> None:
    mock_api.get("http://elsewhere.test/api/Members/172", json=load_fixture("uk/parliament_member.json"))
    source: ParliamentDatasource[Member] = ParliamentDatasource(
        base_url="http://elsewhere.test/api", item_path="/Members/{id}", resource_type=Member
    )

    assert source.get(172).name == "Ms Diane Abbott"


# --- Live (skipped unless -m live) -----------------------------------------------------------------------


@pytest.mark.live
def test_live_member_constituency_and_parties() -> None:
    member = parliament.members.get(172)
    assert member.name and member.latest_party is not None

    first = next(iter(parliament.members.list()))
    assert first.latest_house_membership is not None and first.latest_house_membership.house is House.COMMONS

    found = list(parliament.constituencies.list(searchText="inverness"))
    assert any(c.current_mp is not None for c in found)

    parties = list(PartiesDatasource().list())
    assert any(p.background_colour is None for p in parties)  # the Speaker


def test_the_uk_modules_import_before_django_is_set_up() -> None:
    # Settings files and models modules import datasources before the app registry is ready: nothing here may
    # import Django's model machinery at import time.
    code = (
        "import sys\n"
        "from django.conf import settings\n"
        "settings.configure()\n"
        "import pyck.geo.territories.uk.parliament, pyck.geo.territories.uk.postcodes\n"
        "loaded = [m for m in sys.modules if m.startswith(('django.db', 'django.apps', 'pyck.core.models'))]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60)
