"""`AirtableDatasource` and `airtable_field` against answers shaped as Airtable documents them (`responses`):
https://airtable.com/developers/web/api/list-records and https://airtable.com/developers/web/api/get-record."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from pyck.contrib.airtable.datasources import AirtableDatasource, airtable_field, modified_since
from pyck.core.datasources import (
    ConfigurationError,
    InvalidResourceError,
    NotFoundError,
    RequestBudget,
    ResponseError,
)

API = "https://api.airtable.com/v0"
BASE = "appA1b2C3d4E5f6G7"
TABLE_URL = f"{API}/{BASE}/Active%20Members"
TOKEN = "patSECRET.abcdef0123456789"


@dataclass
class Person:
    """The original's example, with every kind of empty cell."""

    id: str
    first_name: str = airtable_field("First Name")
    last_name: str = airtable_field("Last Name")
    active: bool = airtable_field("Active")
    tags: list[str] = airtable_field("Tags")
    extra: dict[str, Any] = airtable_field("Extra")
    age: int | None = airtable_field("Age")
    team: str | None = airtable_field("Team")
    score: int = airtable_field("Score", default=0)
    created_time: datetime | None = None


def people(**kwargs: Any) -> AirtableDatasource[Person]:
    return AirtableDatasource(
        **{"resource_type": Person, "base_id": BASE, "table_name": "Active Members", "api_key": TOKEN,
           "request_budget": None, "rate_limit": None, **kwargs}
    )


def record(id: str, **cells: Any) -> dict[str, Any]:
    return {"id": id, "createdTime": "2024-05-01T10:00:00.000Z", "fields": cells}


def query_of(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def test_list_pages_with_page_size_and_offset_and_sends_the_token_as_bearer(mock_api: responses.RequestsMock) -> None:
    mock_api.get(TABLE_URL, json={"records": [record("rec1", **{"First Name": "Stafford"})], "offset": "itr1/rec2"})
    mock_api.get(TABLE_URL, json={"records": [record("rec2", **{"First Name": "Clara"})]})
    assert [p.first_name for p in people().list()] == ["Stafford", "Clara"]
    first, second = mock_api.calls
    assert query_of(first) == {"pageSize": ["100"]}
    assert query_of(second) == {"pageSize": ["100"], "offset": ["itr1/rec2"]}
    assert urlsplit(first.request.url).path == f"/v0/{BASE}/Active%20Members"
    assert first.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_omitted_cells_get_their_types_empty_value_and_id_and_created_time_come_from_the_record(mock_api: responses.RequestsMock) -> None:
    mock_api.get(TABLE_URL, json={"records": [record("recEMPTY")]})
    (person,) = people().list()
    assert person == Person(
        id="recEMPTY", first_name="", last_name="", active=False, tags=[], extra={}, age=None, team=None, score=0,
        created_time=datetime(2024, 5, 1, 10, tzinfo=UTC),
    )


def test_present_cells_are_read_and_a_single_link_becomes_its_id(mock_api: responses.RequestsMock) -> None:
    cells = {"First Name": "Clara", "Active": True, "Tags": ["a", "b"], "Extra": {"k": 1}, "Age": 30,
             "Team": ["recTEAM"], "Score": 7}
    mock_api.get(f"{TABLE_URL}/recFULL", json=record("recFULL", **cells))
    person = people().get("recFULL")
    assert (person.first_name, person.active, person.tags, person.extra, person.age, person.team, person.score) == (
        "Clara", True, ["a", "b"], {"k": 1}, 30, "recTEAM", 7,
    )
    assert urlsplit(mock_api.calls[0].request.url).query == ""


def test_two_links_in_a_one_value_field_fail_that_record_naming_the_field(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{TABLE_URL}/recX", json=record("recX", Team=["recA", "recB"]))
    with pytest.raises(InvalidResourceError, match=r"Column 'Team' holds 2 values .* field 'team' holds one") as caught:
        people().get("recX")
    assert caught.value.record_id == "recX"


def test_get_quotes_the_table_name_and_the_record_id(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/{BASE}/Members%2FOld%20%7Bv1%7D/rec%2F1", json=record("rec/1"))
    source = people(table_name="Members/Old {v1}")
    assert source.get("rec/1").id == "rec/1"


def test_a_missing_record_is_not_found(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{TABLE_URL}/recGONE", status=404, json={"error": "NOT_FOUND"})
    with pytest.raises(NotFoundError):
        people().get("recGONE")


def test_base_url_can_be_overridden_for_a_proxy(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"https://proxy.example/airtable/v0/{BASE}/Active%20Members", json={"records": []})
    assert list(people(base_url="https://proxy.example/airtable/v0").list()) == []


def test_the_token_defaults_to_the_setting_read_for_each_request(mock_api: responses.RequestsMock, settings: Any) -> None:
    mock_api.get(TABLE_URL, json={"records": []})
    source = people(api_key=None)
    settings.AIRTABLE_API_KEY = "patFROMSETTINGS"
    list(source.list())
    settings.AIRTABLE_API_KEY = "patROTATED"
    list(source.list())
    assert [c.request.headers["Authorization"] for c in mock_api.calls] == ["Bearer patFROMSETTINGS", "Bearer patROTATED"]


def test_no_token_at_all_is_a_configuration_error_before_any_request(mock_api: responses.RequestsMock, settings: Any) -> None:
    if hasattr(settings, "AIRTABLE_API_KEY"):
        del settings.AIRTABLE_API_KEY
    with pytest.raises(ConfigurationError, match="AIRTABLE_API_KEY"):
        list(people(api_key=None).list())
    assert len(mock_api.calls) == 0


def test_the_token_never_appears_in_errors_or_logs(mock_api: responses.RequestsMock, caplog: pytest.LogCaptureFixture) -> None:
    # An answer that echoes the token back (a proxy's error page, say).
    mock_api.get(TABLE_URL, status=422, json={"error": {"type": "INVALID_REQUEST", "message": f"bad token {TOKEN}"}})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ResponseError) as caught:
        list(people(retries=0).list())
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value.body)
    assert TOKEN not in caplog.text


@dataclass
class ById:
    id: str
    name: str = airtable_field("fldNAME0000000001")
    active: bool = airtable_field("fldACTIVE00000001")


def test_field_ids_ask_for_cells_keyed_by_field_id_on_list_and_get(mock_api: responses.RequestsMock) -> None:
    source = people(resource_type=ById)
    mock_api.get(TABLE_URL, json={"records": [record("rec1", fldNAME0000000001="Ada", fldACTIVE00000001=True)]})
    mock_api.get(f"{TABLE_URL}/rec1", json=record("rec1", fldNAME0000000001="Ada"))
    assert list(source.list()) == [ById(id="rec1", name="Ada", active=True)]
    assert source.get("rec1") == ById(id="rec1", name="Ada", active=False)
    assert [query_of(c)["returnFieldsByFieldId"] for c in mock_api.calls] == [["true"], ["true"]]


def test_mixing_field_ids_and_column_names_is_refused_when_the_datasource_is_built() -> None:
    @dataclass
    class Mixed:
        id: str
        name: str = airtable_field("fldNAME0000000001")
        email: str = airtable_field("Email")

    with pytest.raises(ConfigurationError, match=r"Mixed: some fields name their Airtable column by field id \(name\) and others by name \(email\)"):
        people(resource_type=Mixed)


def test_the_originals_constructor_spelling_and_metadata_still_work() -> None:
    @dataclass
    class Row:
        id: str
        notes: str = airtable_field("Notes", metadata={"help": "free text"})

    source = AirtableDatasource(base_id=BASE, table_name="Table 1", resource_class=Row, api_key=TOKEN)
    assert source.resource_type is Row
    assert dataclass_field(Row, "notes").metadata["help"] == "free text"
    assert source.url == f"{API}/{BASE}/Table%201"


def dataclass_field(cls: type, name: str) -> Any:
    return {f.name: f for f in cls.__dataclass_fields__.values()}[name]


def test_without_base_and_table_the_datasource_says_what_it_needs() -> None:
    with pytest.raises(ConfigurationError, match="needs base_id .* and table_name"):
        AirtableDatasource(resource_type=Person, base_id=BASE, api_key=TOKEN)


REDIS = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/9"}}


def test_every_table_of_a_base_shares_one_rate_limit_and_with_a_shared_cache_one_budget(settings: Any) -> None:
    members = AirtableDatasource(resource_type=Person, base_id=BASE, table_name="Members")
    teams = AirtableDatasource(resource_type=Person, base_id=BASE, table_name="Teams")
    other = AirtableDatasource(resource_type=Person, base_id="appOTHER000000000", table_name="Members")
    assert members.rate_limit == teams.rate_limit == pytest.approx(5 / 1.1)
    assert members.rate_limit_key == teams.rate_limit_key == f"airtable:{BASE}" != other.rate_limit_key
    assert members.retry_after_429 == 30
    # A cache each process keeps for itself: no budget (the rate limit is the process's), nothing for check to warn of.
    assert members.request_budget is None
    settings.CACHES = REDIS  # read for each request: no connection is made here
    budget = RequestBudget(requests=5, per=1, key=f"airtable:{BASE}", margin=0.1)
    assert members.request_budget == teams.request_budget == budget
    assert members.request_budget.key_for(members) == teams.request_budget.key_for(teams) != other.request_budget.key_for(other)
    assert people(request_budget=None).request_budget is None


def test_a_budget_given_to_the_constructor_or_a_subclass_is_kept(settings: Any) -> None:
    settings.CACHES = REDIS
    mine = RequestBudget(requests=2, per=1, key="mine")

    class Throttled(AirtableDatasource[Person]):
        request_budget = mine

    assert people(request_budget=mine).request_budget is mine
    assert Throttled(resource_type=Person, base_id=BASE, table_name="T").request_budget is mine
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert people(request_budget=mine).request_budget is mine


def test_changes_are_asked_for_with_last_modified_time_joined_to_the_callers_formula(mock_api: responses.RequestsMock) -> None:
    mock_api.get(TABLE_URL, json={"records": []})
    since = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    list(people().list_changed(since))
    list(people().list_changed(since, filterByFormula="{Active}"))
    list(people(list_query={"filterByFormula": "{Active}"}).list_changed(since))
    formulas = [query_of(c)["filterByFormula"][0] for c in mock_api.calls]
    assert formulas == [
        "IS_AFTER(LAST_MODIFIED_TIME(), '2026-03-01T12:30:00Z')",
        "AND({Active}, IS_AFTER(LAST_MODIFIED_TIME(), '2026-03-01T12:30:00Z'))",
        "AND({Active}, IS_AFTER(LAST_MODIFIED_TIME(), '2026-03-01T12:30:00Z'))",
    ]


def test_modified_since_sends_datetimes_in_utc() -> None:
    from datetime import timedelta, timezone  # only this test needs a fixed offset

    paris = timezone(timedelta(hours=1))
    assert modified_since(datetime(2026, 3, 1, 13, 30, tzinfo=paris)) == "IS_AFTER(LAST_MODIFIED_TIME(), '2026-03-01T12:30:00Z')"
    assert modified_since(datetime(2026, 3, 1, 12, 30)) == "IS_AFTER(LAST_MODIFIED_TIME(), '2026-03-01T12:30:00Z')"


def test_a_record_that_is_not_an_airtable_record_is_invalid(mock_api: responses.RequestsMock) -> None:
    mock_api.get(TABLE_URL, json={"records": [["not", "a", "record"]]})
    with pytest.raises(InvalidResourceError, match="Expected an Airtable record"):
        list(people().list())


@dataclass
class Defaults:
    id: str
    count: int = airtable_field("Count", default=3)
    labels: list[str] = airtable_field("Labels", default_factory=lambda: ["x"])
    when: datetime | None = field(default=None)


def test_a_default_is_used_only_where_the_type_has_no_empty_value(mock_api: responses.RequestsMock) -> None:
    mock_api.get(TABLE_URL, json={"records": [record("rec1"), record("rec2")]})
    first, second = people(resource_type=Defaults).list()
    assert (first.count, first.labels, first.when) == (3, [], None)
    first.labels.append("y")
    assert second.labels == []
