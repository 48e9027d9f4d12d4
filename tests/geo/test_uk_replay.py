"""The replay server, for real over 127.0.0.1, read through the UK datasources."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from django.test import override_settings

from pyck.core.datasources import NotFoundError, OffsetPaginator
from pyck.geo.territories.uk import parliament
from pyck.geo.territories.uk.parliament import House, Member, ParliamentDatasource, PartiesDatasource
from pyck.geo.territories.uk.postcodes import postcode
from pyck.geo.territories.uk.replay import ReplayServer, main


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as running:
        yield running


@pytest.fixture
def replayed(server: ReplayServer) -> Iterator[ReplayServer]:
    with override_settings(PYCK=server.pyck_settings()):
        yield server


def test_it_listens_on_loopback_and_says_which_settings_to_use(server: ReplayServer) -> None:
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.pyck_settings() == {
        "UK_PARLIAMENT_BASE_URL": f"http://127.0.0.1:{server.port}/api",
        "UK_POSTCODES_BASE_URL": f"http://127.0.0.1:{server.port}",
    }


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_it_refuses_other_addresses(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        ReplayServer(host=host)
    with pytest.raises(SystemExit):
        main(["--host", host, "--port", "0"])


# --- Parliament ------------------------------------------------------------------------------------------


def test_constituencies_list_and_get(replayed: ReplayServer) -> None:
    listed = list(parliament.constituencies.list())
    assert [(c.id, c.name) for c in listed] == [(4483, "Inverness, Skye and West Ross-shire")]

    constituency = parliament.constituencies.get(4483)
    assert constituency.current_mp is not None and constituency.current_mp.id == 5362
    assert [c.id for c in parliament.constituencies.list(searchText="skye")] == [4483]
    assert list(parliament.constituencies.list(searchText="nowhere")) == []
    with pytest.raises(NotFoundError):
        parliament.constituencies.get(1)


def test_members_list_and_get(replayed: ReplayServer) -> None:
    listed = list(parliament.members.list())

    # The recordings also hold two Lords (one former, one on leave): House=1 leaves them out.
    assert sorted(m.id for m in listed) == [172, 4514, 5362]
    assert all(m.latest_house_membership and m.latest_house_membership.house is House.COMMONS for m in listed)
    assert parliament.members.get(4514).name == "Sir Keir Starmer"
    assert [m.id for m in parliament.members.list(House=2, IsCurrentMember="false")] == [3305]
    with pytest.raises(NotFoundError, match=r"uk.parliament.members.*record id 1\b"):
        parliament.members.get(1)


def test_paging_over_http_honours_skip_and_take(replayed: ReplayServer) -> None:
    small_pages: ParliamentDatasource[Member] = ParliamentDatasource(
        path="/Members/Search",
        item_path="/Members/{id}",
        resource_type=Member,
        paginator=OffsetPaginator("skip", "take", limit=2, items_path="items", total_path="totalResults"),
    )

    assert len(list(small_pages.list())) == 5
    answer = requests.get(
        f"{replayed.parliament_base_url}/Members/Search", params={"skip": 1, "take": 50}, timeout=5
    ).json()
    assert (answer["skip"], answer["take"], len(answer["items"]), answer["totalResults"]) == (1, 20, 4, 5)


def test_parties_list_and_get(replayed: ReplayServer) -> None:
    source = PartiesDatasource()

    listed = list(source.list())

    assert len(listed) == 15
    assert source.get(17).name == "Liberal Democrat"
    answer = requests.get(f"{replayed.parliament_base_url}/Parties/GetActive/Commons", params={"skip": 20}, timeout=5)
    assert len(answer.json()["items"]) == 15


def test_the_dataset_fills_every_field_of_the_tutorial_models(replayed: ReplayServer) -> None:
    party_ids = {p.id for p in PartiesDatasource().list()}
    member_ids = {m.id for m in parliament.members.list()}

    for constituency in parliament.constituencies.list():
        assert constituency.name and constituency.current_mp is not None
        assert constituency.current_mp.id in member_ids
        assert parliament.members.get(constituency.current_mp.id).name == constituency.current_mp.name
    for member in parliament.members.list():
        assert member.name and member.thumbnail_url and member.latest_party is not None
        assert member.latest_party.id in party_ids
        assert member.latest_party.name and member.latest_party.background_colour


# --- postcodes.io ----------------------------------------------------------------------------------------


def test_postcode_get_get_many_and_nearest(replayed: ReplayServer) -> None:
    assert postcode.get("sw1a 2dd").parliamentary_constituency_2024 == "Cities of London and Westminster"
    assert postcode.get("tr185eg").codes.admin_district == "E06000052"

    found = postcode.get_many(["PR3 0SG", "ZZ1 1ZZ", "br8 7re"])
    assert [p.postcode if p else None for p in found] == ["PR3 0SG", None, "BR8 7RE"]

    assert [p.postcode for p in postcode.nearest(longitude=-0.127, latitude=51.507)] == ["SW1A 2DD"]


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        ("ZZ1 1ZZ", "Postcode 'ZZ1 1ZZ' not found"),
        ("AB1 0AA", "was terminated in June 1996"),
        ("hello", "Invalid postcode 'HELLO'"),
    ],
)
def test_postcode_404s(replayed: ReplayServer, asked: str, message: str) -> None:
    with pytest.raises(NotFoundError, match=message):
        postcode.get(asked)


def test_bulk_over_100_is_refused_as_postcodes_io_does(server: ReplayServer) -> None:
    answer = requests.post(f"{server.url}/postcodes", json={"postcodes": ["PR3 0SG"] * 101}, timeout=5)

    assert answer.status_code == 400
    assert "Up to 100 postcodes" in answer.json()["error"]


# --- The command -----------------------------------------------------------------------------------------


def test_the_command_serves_and_prints_the_settings() -> None:
    command = subprocess.Popen(
        [sys.executable, "-m", "pyck.geo.territories.uk.replay", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert command.stdout is not None
        line = command.stdout.readline()
        url = line.split(" at ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        assert f'"UK_PARLIAMENT_BASE_URL": "{url}/api"' in line
        assert f'"UK_POSTCODES_BASE_URL": "{url}"' in line
        answer = requests.get(f"{url}/api/Members/172", timeout=5)
        assert answer.json()["value"]["nameDisplayAs"] == "Ms Diane Abbott"
    finally:
        command.terminate()
        command.wait(timeout=10)
