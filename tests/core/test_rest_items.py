"""RestDatasource's single records and tombstones: `item_path` (where `get()` asks), `record_path` (where the record
is in its answer), and `tombstone`/`is_tombstone` (records that say they are deleted) in `get()`, `list()` and the
listing the sync engine reads."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest
import responses
from responses import matchers

from pyck.core.datasources import (
    ConfigurationError,
    InvalidResourceError,
    MockDatasource,
    NoPaginator,
    NotFoundError,
    ResponseError,
    RestDatasource,
)

API = "https://api.example.test/v1"


@dataclass
class Event:
    id: int
    title: str


def events(**kwargs: Any) -> RestDatasource[Event]:
    return RestDatasource(base_url=API, path="/events", resource_type=Event, name="test.events", **kwargs)


# --- item_path ---------------------------------------------------------------------------------------------------


def test_get_asks_for_the_id_under_the_path_without_a_trailing_slash(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/events/7", json={"id": 7, "title": "Folk night"})
    assert events().get(7).title == "Folk night"
    assert mock_api.calls[0].request.url == f"{API}/events/7"


@pytest.mark.parametrize(
    ("item_path", "url"),
    [
        ("{path}/{id}/", f"{API}/events/a%2Fb%3Fc/"),
        ("/events/{id}", f"{API}/events/a%2Fb%3Fc"),
        ("events/{id}/details", f"{API}/events/a%2Fb%3Fc/details"),
        ("{path}?id={id}", f"{API}/events?id=a%2Fb%3Fc"),
    ],
)
def test_item_path_says_where_a_record_is_and_the_id_stays_quoted(item_path: str, url: str) -> None:
    assert events(item_path=item_path).get_item_url("a/b?c") == url


def test_an_item_path_with_a_query_parameter_keeps_the_query_of_get(mock_api: responses.RequestsMock) -> None:
    mock_api.get(
        f"{API}/events",
        json={"id": 7, "title": "Folk night"},
        match=[matchers.query_param_matcher({"id": "7", "expand": "venue"})],
    )
    assert events(item_path="{path}?id={id}").get(7, expand="venue").id == 7


def test_get_of_a_child_listings_record_fills_the_paths_placeholders_from_its_query(
    mock_api: responses.RequestsMock,
) -> None:
    # A child listing's path names its parent (SyncConfig(for_each=...)): get(id, tag_id=...) asks under it.
    mock_api.get(f"{API}/tags/71%2Ff/taggings/8", json={"id": 8, "title": "tagged"})
    taggings = RestDatasource(base_url=API, path="/tags/{tag_id}/taggings", resource_type=Event, name="test.taggings")
    assert taggings.get(8, tag_id="71/f").id == 8
    assert mock_api.calls[0].request.url == f"{API}/tags/71%2Ff/taggings/8"  # the parent's id is one segment
    with pytest.raises(ConfigurationError, match=r"test.taggings: path .* needs the list\(\) argument 'tag_id'"):
        taggings.get(8)


def test_item_path_in_a_subclass_reads_the_path_of_each_instance(mock_api: responses.RequestsMock) -> None:
    class SlashedApi(RestDatasource[Event]):
        base_url = API + "/"
        item_path = "{path}/{id}/"

    mock_api.get(f"{API}/events/7/", json={"id": 7, "title": "Folk night"})
    assert SlashedApi(path="/events/", resource_type=Event).get(7).id == 7


@pytest.mark.parametrize("id", ["..", ".", ""])
@pytest.mark.parametrize("item_path", ["{path}/{id}", "{path}?id={id}"])
def test_ids_that_would_leave_the_path_are_still_refused(mock_api: responses.RequestsMock, id: str, item_path: str) -> None:
    with pytest.raises(NotFoundError, match="cannot name a record"):
        events(item_path=item_path).get(id)
    assert not mock_api.calls


def test_no_item_path_means_no_single_record_endpoint() -> None:
    with pytest.raises(NotImplementedError, match=r"test.events has no single-record endpoint: set item_path"):
        events(item_path=None).get(7)


@pytest.mark.parametrize("item_path", ["{path}/{ident}", "{path}/{0}", "{path}/{id"])
def test_a_broken_item_path_is_a_configuration_error(item_path: str) -> None:
    with pytest.raises(ConfigurationError, match=r"test.events: item_path .* is not a valid template.*\{id\} and \{path\}"):
        events(item_path=item_path).get_item_url(7)


def test_get_item_url_stays_an_override_point(mock_api: responses.RequestsMock) -> None:
    class Legacy(RestDatasource[Event]):
        def get_item_url(self, id: Any) -> str:
            return f"{API}/legacy/event.php?event={id}"

    mock_api.get(f"{API}/legacy/event.php?event=7", json={"id": 7, "title": "Folk night"})
    assert Legacy(base_url=API, path="/events", resource_type=Event).get(7).id == 7


# --- record_path -------------------------------------------------------------------------------------------------


def test_record_path_unwraps_a_single_records_envelope(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/events/7", json={"data": {"id": 7, "title": "Folk night"}, "links": {"self": "/events/7"}})
    assert events(record_path="data").get(7) == Event(7, "Folk night")


def test_record_path_steps_through_objects_and_lists(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/events/7", json={"result": {"events": [{"id": 7, "title": "Folk night"}]}})
    assert events(record_path="result.events.0").get(7).title == "Folk night"


def test_record_path_leaves_the_listing_alone(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/events", json={"data": [{"id": 7, "title": "Folk night"}]})
    datasource = events(record_path="data", paginator=NoPaginator(items_path="data"))
    assert [event.id for event in datasource.list()] == [7]


@pytest.mark.parametrize("body", [{"errors": []}, {"data": None}, [1, 2]])
def test_an_answer_without_a_record_at_record_path_says_where_it_looked(
    mock_api: responses.RequestsMock, body: Any
) -> None:
    mock_api.get(f"{API}/events/7", json=body)
    with pytest.raises(ResponseError, match=r"Expected the record at 'data' \(record_path\)") as caught:
        events(record_path="data").get(7)
    assert caught.value.record_id == 7
    assert caught.value.datasource is not None and f"url {API}/events/7" in str(caught.value)


# --- tombstones --------------------------------------------------------------------------------------------------

STUB = {"id": 8, "deleted": True}


def test_a_tombstone_answer_to_get_is_not_found(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/events/8", json=STUB)
    with pytest.raises(NotFoundError, match="says the record is deleted") as caught:
        events(tombstone={"deleted": True}).get(8)
    assert caught.value.record_id == 8
    assert f"url {API}/events/8" in str(caught.value)


def test_without_a_tombstone_test_the_stub_is_an_invalid_record(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/events/8", json=STUB)
    with pytest.raises(InvalidResourceError, match="title"):
        events().get(8)


def test_the_tombstone_test_sees_the_record_inside_its_envelope(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/events/8", json={"data": {"id": 8, "meta": {"status": "deleted"}}})
    with pytest.raises(NotFoundError):
        events(record_path="data", tombstone={"meta.status": "deleted"}).get(8)


@pytest.mark.parametrize(
    "data",
    [{"id": 8, "deleted": 1}, {"id": 8, "deleted": "true"}, {"id": 8, "deleted": False}, {"id": 8}, ["deleted"], None],
)
def test_only_the_same_value_of_the_same_type_marks_a_tombstone(data: Any) -> None:
    assert not events(tombstone={"deleted": True}).is_tombstone(data)


def test_a_tombstone_that_is_not_a_mapping_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"test.events: tombstone must map dotted paths .* got 'deleted'"):
        events(tombstone="deleted").is_tombstone(STUB)


def test_every_value_of_the_tombstone_must_match() -> None:
    datasource = events(tombstone={"deleted": True, "object": "event"})
    assert datasource.is_tombstone({"id": 8, "deleted": True, "object": "event"})
    assert not datasource.is_tombstone({"id": 8, "deleted": True, "object": "venue"})


def test_the_tombstone_test_reads_attributes_of_records() -> None:
    @dataclass
    class DeletedEvent:
        id: int
        deleted: bool

    assert events(tombstone={"deleted": True}).is_tombstone(DeletedEvent(8, True))
    assert not events(tombstone={"deleted": True}).is_tombstone(Event(8, "Folk night"))


LISTING = [{"id": 7, "title": "Folk night"}, STUB, {"id": 9, "title": "Jazz brunch"}]


def test_a_listing_leaves_tombstones_out(mock_api: responses.RequestsMock, caplog: pytest.LogCaptureFixture) -> None:
    mock_api.get(f"{API}/events", json=LISTING)
    with caplog.at_level(logging.DEBUG, logger="pyck.records"):
        assert [event.id for event in events(tombstone={"deleted": True}).list()] == [7, 9]
    (line,) = [r for r in caplog.records if "tombstone" in r.getMessage()]
    assert line.levelno == logging.DEBUG
    assert line.getMessage() == f"test.events: left a deleted record (a tombstone) out of the listing at {API}/events: 8"


class PagedByHand(RestDatasource[Event]):
    """A listing the sync engine cannot resume: paginate() is overridden."""

    def paginate(self, **query: Any) -> Any:
        yield from self.fetch_url(self.url, query)


@pytest.mark.parametrize("kind", [RestDatasource, PagedByHand], ids=["resumable", "not resumable"])
def test_the_listing_a_sync_reads_leaves_tombstones_out(mock_api: responses.RequestsMock, kind: type) -> None:
    mock_api.get(f"{API}/events", json=LISTING)
    datasource = kind(base_url=API, path="/events", resource_type=Event, tombstone={"deleted": True})
    assert datasource.resumable is (kind is RestDatasource)
    listed = list(datasource.read_listing({}))
    assert [record.id for record, _ in listed] == [7, 9]
    assert all(not isinstance(record, Exception) for record, _ in listed)


def test_without_a_tombstone_test_a_stub_in_the_listing_fails_as_a_record(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/events", json=LISTING)
    listed = [record for record, _ in events().read_listing({})]
    assert isinstance(listed[1], InvalidResourceError)


def test_is_tombstone_is_an_override_point(mock_api: responses.RequestsMock) -> None:
    class Archived(RestDatasource[Event]):
        def is_tombstone(self, data: Any) -> bool:
            return isinstance(data, dict) and str(data.get("title", "")).startswith("[deleted]")

    datasource = Archived(base_url=API, path="/events", resource_type=Event)
    mock_api.get(f"{API}/events", json=[{"id": 7, "title": "[deleted] Folk night"}, {"id": 9, "title": "Jazz"}])
    mock_api.get(f"{API}/events/7", json={"id": 7, "title": "[deleted] Folk night"})
    assert [record.id for record, _ in datasource.read_listing({})] == [9]
    with pytest.raises(NotFoundError):
        datasource.get(7)


def test_a_tombstone_is_not_in_the_listing_as_includes_says() -> None:
    datasource = events(tombstone={"deleted": True})
    assert not datasource.includes({"id": 8, "deleted": True})
    assert datasource.includes(Event(7, "Folk night"))


def test_mock_datasource_treats_tombstones_as_not_found() -> None:
    source = MockDatasource([{"id": 7, "title": "Folk night"}, {"id": 8, "deleted": True}], tombstone={"deleted": True})
    assert [record["id"] for record in source.list()] == [7]
    assert [record["id"] for record, _ in source.read_listing({})] == [7]
    with pytest.raises(NotFoundError, match="deleted"):
        source.get(8)


@dataclass
class Ticket:
    id: int
    # No type for a deleted event's stub: a ticket whose event is one does not fit.
    events: list[Event]
    main_event: Event | None = None
    organiser: str | Event | None = None


def tickets(**kwargs: Any) -> RestDatasource[Ticket]:
    return RestDatasource(base_url=API, path="/tickets", resource_type=Ticket, name="test.tickets", **kwargs)


@pytest.mark.parametrize(
    ("ticket", "field"),
    [
        ({"id": 1, "events": [], "main_event": STUB}, "main_event.title"),
        ({"id": 1, "events": [{"id": 7, "title": "Folk night"}, STUB]}, "events[1].title"),
        ({"id": 1, "events": [], "organiser": STUB}, "organiser"),
    ],
)
def test_a_record_that_does_not_fit_because_of_an_embedded_tombstone_says_so(
    mock_api: responses.RequestsMock, ticket: dict[str, Any], field: str
) -> None:
    mock_api.get(f"{API}/tickets/1", json=ticket)
    mock_api.get(f"{API}/tickets", json=[ticket])
    with pytest.raises(InvalidResourceError, match=r"that value is a tombstone \(a deleted record\)") as caught:
        tickets(tombstone={"deleted": True}).get(1)
    assert caught.value.field == field and caught.value.record_id == 1
    [(listed, _)] = list(tickets(tombstone={"deleted": True}).read_listing({}))
    assert isinstance(listed, InvalidResourceError) and "that value is a tombstone" in str(listed)


def test_a_record_that_does_not_fit_for_another_reason_gets_no_tombstone_hint(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/tickets/1", json={"id": 1, "events": [{"id": 7}]})
    with pytest.raises(InvalidResourceError) as caught:
        tickets(tombstone={"deleted": True}).get(1)
    assert "tombstone" not in str(caught.value)


def test_the_tombstone_hint_finds_camel_case_keys(mock_api: responses.RequestsMock) -> None:
    mock_api.get(f"{API}/tickets/1", json={"id": 1, "events": [], "mainEvent": STUB})
    with pytest.raises(InvalidResourceError, match="that value is a tombstone"):
        tickets(tombstone={"deleted": True}, camel_case=True).get(1)
