"""Syncing the docs page's models from a real local Action Network server (`benchmarks/action_network_server.py`,
built from Action Network's documentation): ids, links as foreign keys, child listings per parent, the rate limit
of 4 requests a second, deletions, and no key in the stored runs or the log."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import pyck.core.http
from django.forms.models import model_to_dict

from benchmarks.action_network_server import ActionNetworkServer
from pyck.contrib.action_network import ActionNetworkDatasource
from pyck.core.datasources import SyncRun
from pyck.core.sync import sync_model
from tests.action_network_support.models import Attendance, Donation, Event, Person, Tag, Tagging

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "an-local-key-7c21e0"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[ActionNetworkServer]:
    with ActionNetworkServer() as server:
        server.api_keys.add(KEY)
        settings.ACTION_NETWORK_API_KEY = KEY
        monkeypatch.setattr(ActionNetworkDatasource, "base_url", f"{server.url}/api/v2")
        # The rate limiter waits for real here: the server refuses a fifth request within a second.
        monkeypatch.setattr(pyck.core.http, "_sleep", time.sleep)
        yield server


def most_in_one_second(server: ActionNetworkServer) -> int:
    """The most requests the server counted in any one second (it answers a fifth one 429)."""
    return max((len(w) for w in server.state.windows.values()), default=0)


def test_a_first_sync_fills_ids_and_foreign_keys_from_links_within_the_rate_limit(server: ActionNetworkServer) -> None:
    people = [server.add("people", {"given_name": f"P{i}", "email_addresses": [{"address": f"p{i}@example.org", "primary": True}]},
                         identifiers=["salesforce:0031"]) for i in range(30)]
    event = server.add("events", {"title": "Rally", "start_date": "2025-05-01T18:00:00Z"})
    for pid in people[:3]:
        server.add("attendances", {"status": "accepted"}, parent=("events", event), links={"osdi:person": ("people", pid)})
    server.add("donations", {"amount": "20.00", "currency": "usd"}, links={"osdi:person": ("people", people[0])})
    server.add("tags", {"name": "volunteer"})

    for model in (Tag, Person, Event, Attendance, Donation):
        result = sync_model(model)
        assert result.failed == 0 and not result.errors, result
    assert Person.objects.count() == 30 and Tag.objects.get().name == "volunteer"
    ann = Person.objects.get(external_id=people[0])
    assert (ann.given_name, ann.email) == ("P0", "p0@example.org")
    assert sorted(a.person.external_id for a in Attendance.objects.all()) == sorted(people[:3])
    assert Attendance.objects.first().event.title == "Rally"
    gift = Donation.objects.get()
    assert (gift.person, gift.amount) == (ann, Decimal("20.00"))
    statuses = [r.status for r in server.received()]
    assert 429 not in statuses and set(statuses) == {200}
    # 30 people: two pages and the empty page past the last; 1 tag, 1 event, 1 attendance listing, 1 donation:
    # each a page and the empty one after it.
    assert [r.path for r in server.received()].count("/api/v2/people") == 3
    assert most_in_one_second(server) <= 4


def test_deleted_records_are_deleted_and_a_failing_key_is_never_stored_or_logged(
    server: ActionNetworkServer, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ids = [server.add("people", {"given_name": f"P{i}"}) for i in range(3)]
    assert sync_model(Person).created == 3
    server.remove("people", ids[1])
    result = sync_model(Person, mode="full")
    assert result.deleted == 1 and set(Person.objects.values_list("external_id", flat=True)) == {ids[0], ids[2]}

    caplog.set_level(logging.DEBUG)
    settings.ACTION_NETWORK_API_KEY = "an-wrong-key-0b9d33"
    result = sync_model(Person)
    assert result.errors and Person.objects.count() == 2
    stored = json.dumps([model_to_dict(run) for run in SyncRun.objects.all()], default=str)
    assert "an-wrong-key-0b9d33" not in stored and KEY not in stored
    assert "an-wrong-key-0b9d33" not in caplog.text and KEY not in caplog.text
    assert "403" in stored


def test_a_fifth_request_within_a_second_is_refused_by_the_server(server: ActionNetworkServer) -> None:
    import requests  # only this test talks to the server without a datasource

    answers = [requests.get(f"{server.url}/api/v2/people", headers={"OSDI-API-Token": KEY}, timeout=5).status_code
               for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429]


def test_person_tags_are_a_many_to_many_through_the_taggings_of_each_tag(server: ActionNetworkServer) -> None:
    ann, bob, cy = (server.add("people", {"given_name": name}) for name in ("Ann", "Bob", "Cy"))
    volunteer, donor = (server.add("tags", {"name": name}) for name in ("volunteer", "donor"))
    for tag, person in ((volunteer, ann), (volunteer, bob), (donor, ann)):
        server.add("taggings", {"item_type": "osdi:person"}, parent=("tags", tag), links={"osdi:person": ("people", person)})
    for model in (Tag, Person, Tagging):
        result = sync_model(model)
        assert result.failed == 0 and not result.errors, result

    def tags_of(pid: str) -> list[str]:
        return sorted(Person.objects.get(external_id=pid).tags.values_list("name", flat=True))

    assert (tags_of(ann), tags_of(bob), tags_of(cy)) == (["donor", "volunteer"], ["volunteer"], [])
    assert sorted(Tag.objects.get(name="volunteer").people.values_list("given_name", flat=True)) == ["Ann", "Bob"]

    # Ann loses "volunteer" (her tagging is gone from that tag's listing); a re-sync of people keeps the links.
    (gone,) = [t for t, r in server.state.collections[(("tags", volunteer), "taggings")].items()
               if r["_links"]["osdi:person"]["href"].endswith(ann)]
    server.remove("taggings", gone, parent=("tags", volunteer))
    assert sync_model(Person).failed == 0
    assert tags_of(ann) == ["donor", "volunteer"]
    result = sync_model(Tagging)
    assert result.deleted == 1
    assert (tags_of(ann), tags_of(bob)) == (["donor"], ["volunteer"])

    # A person deleted remotely takes their links with them.
    server.remove("people", bob)
    assert sync_model(Person, mode="full").deleted == 1
    assert not Tagging.objects.filter(person__external_id=bob).exists()


def test_an_incremental_run_asks_only_for_the_records_modified_since_the_last_run(server: ActionNetworkServer) -> None:
    ids = [server.add("people", {"given_name": f"P{i}"}, modified=f"2024-03-01T10:{i:02d}:00Z") for i in range(60)]
    assert sync_model(Person).created == 60
    full = len(server.received())
    assert full == 4  # three pages and the empty one past the last
    server.reset_counts()
    server.update("people", ids[7], {"given_name": "Renamed"}, modified="2024-03-02T08:30:00Z")
    result = sync_model(Person)
    # The changed record, and the one at the cursor (re-read: the filter starts a second before it).
    assert (result.updated, result.unchanged, result.created) == (1, 1, 0)
    assert Person.objects.get(external_id=ids[7]).given_name == "Renamed"
    received = server.received()
    assert received[0].query["filter"] == ["modified_date gt '2024-03-01T10:58:59Z'"]
    assert len(received) == 2  # the one page of changes and the empty page after it

    # The next run starts from the new cursor, a second before the latest modified_date seen.
    server.reset_counts()
    assert sync_model(Person).unchanged == 1
    assert server.received()[0].query["filter"] == ["modified_date gt '2024-03-02T08:29:59Z'"]


def test_the_filter_is_written_as_the_api_writes_dates() -> None:
    from datetime import UTC, date, datetime, timedelta, timezone

    from pyck.contrib.action_network.incremental import modified_after
    from pyck.core.exceptions import ConfigurationError

    assert modified_after(datetime(2024, 3, 1, 10, 0, 5, 999, tzinfo=UTC)) == "modified_date gt '2024-03-01T10:00:05Z'"
    assert modified_after(datetime(2024, 3, 1, 12, tzinfo=timezone(timedelta(hours=2)))) == "modified_date gt '2024-03-01T10:00:00Z'"
    assert modified_after(date(2014, 3, 25)) == "modified_date gt '2014-03-25'"
    with pytest.raises(ConfigurationError):
        modified_after("yesterday")
