"""`AirtableServer` answers as Airtable's Web API documents: https://airtable.com/developers/web/api/list-records,
…/get-record, …/authentication and …/rate-limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import requests

from pyck.contrib.airtable.datasources import AirtableDatasource, airtable_field
from pyck.contrib.airtable.replay import AirtableServer

BASE = "appREPLAY00000001"
TOKEN = "patREPLAYTEST"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def server() -> AirtableServer:
    with AirtableServer(TOKEN, rate=None) as running:
        running.add_table(BASE, "People", [{"id": f"rec{i:014d}", "Name": f"P{i}", "Done": i % 2 == 0, "Tags": []} for i in range(5)])
        yield running


def get(server: AirtableServer, path: str, headers: dict[str, str] = AUTH, **params: str) -> requests.Response:
    return requests.get(f"{server.base_url}/{BASE}/{path}", params=params, headers=headers, timeout=5)


def test_pages_with_page_size_and_offset_and_leaves_empty_cells_out(server: AirtableServer) -> None:
    first = get(server, "People", pageSize="2").json()
    assert [r["id"] for r in first["records"]] == ["rec00000000000000", "rec00000000000001"]
    assert first["records"][1]["fields"] == {"Name": "P1"}  # Done false and Tags [] are empty cells
    second = get(server, "People", pageSize="2", offset=first["offset"]).json()
    last = get(server, "People", pageSize="2", offset=second["offset"]).json()
    assert [r["id"] for r in last["records"]] == ["rec00000000000004"] and "offset" not in last


def test_refuses_what_airtable_refuses(server: AirtableServer) -> None:
    assert get(server, "People", headers={}).status_code == 401
    assert get(server, "People", headers={"Authorization": "Bearer wrong"}).json()["error"]["type"] == "AUTHENTICATION_REQUIRED"
    assert get(server, "Nobody").status_code == 404
    assert get(server, "People/recNOPE").json() == {"error": "NOT_FOUND"}
    assert get(server, "People", pageSize="101").status_code == 422
    assert get(server, "People", filterByFormula="{Done}").json()["error"]["type"] == "INVALID_FILTER_BY_FORMULA"
    assert get(server, "People", offset="nonsense").json()["error"]["type"] == "INVALID_OFFSET_VALUE"


def test_offsets_expire_on_demand(server: AirtableServer) -> None:
    offset = get(server, "People", pageSize="2").json()["offset"]
    server.expire_offsets()
    answer = get(server, "People", pageSize="2", offset=offset)
    assert (answer.status_code, answer.json()["error"]["type"]) == (422, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE")


def test_filters_by_last_modified_time(server: AirtableServer) -> None:
    table = server.tables[(BASE, "People")]
    server.put(table, {"id": "rec00000000000002", "Name": "changed"}, modified=datetime(2030, 1, 1, tzinfo=UTC))
    body = get(server, "People", filterByFormula="IS_AFTER(LAST_MODIFIED_TIME(), '2029-12-31T00:00:00Z')").json()
    assert [r["fields"]["Name"] for r in body["records"]] == ["changed"]


def test_five_requests_a_second_per_base_then_thirty_seconds_of_429() -> None:
    now = [0.0]
    with AirtableServer(TOKEN, clock=lambda: now[0]) as server:
        server.add_table(BASE, "A")
        server.add_table(BASE, "B")
        server.add_table("appOTHERBASE00001", "A")
        statuses = [get(server, "A" if i % 2 else "B").status_code for i in range(6)]  # two tables, one base
        other = requests.get(f"{server.base_url}/appOTHERBASE00001/A", headers=AUTH, timeout=5).status_code
        now[0] = 29.9
        during = get(server, "A").status_code
        now[0] = 31.0
        after = get(server, "A").status_code
    assert statuses == [200] * 5 + [429]
    assert (other, during, after) == (200, 429, 200)
    assert server.rejected == {BASE: 2}


@dataclass
class Person:
    id: str
    name: str = airtable_field("fldPERSONNAME0001")


def test_field_ids_survive_renaming_a_column(server: AirtableServer) -> None:
    table = server.add_table(BASE, "Renamed", [{"id": "recRENAMED0000001", "Full name": "Ada"}], field_ids={"Full name": "fldPERSONNAME0001"})
    people = AirtableDatasource(resource_type=Person, base_id=BASE, table_name="Renamed", api_key=TOKEN, base_url=server.base_url, rate_limit=None)
    assert [p.name for p in people.list()] == ["Ada"]
    table.field_ids = {"Name (legal)": "fldPERSONNAME0001"}  # the column renamed in Airtable; its id stays
    server.put(table, {"id": "recRENAMED0000001", "Name (legal)": "Ada Lovelace"})
    assert people.get("recRENAMED0000001").name == "Ada Lovelace"
    assert [p.name for p in people.list()] == ["Ada Lovelace"]
