"""Syncing the docs page's models from a real local NationBuilder server (`benchmarks/nationbuilder_server.py`,
built from NationBuilder's documentation): JSON:API pages, relationships as FK and M2M, relationships absent
from an answer left alone, incremental runs, and no secret in the stored runs or the log."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.forms.models import model_to_dict

from benchmarks.nationbuilder_server import NationBuilderServer
from pyck.core.datasources import SyncRun
from pyck.core.sync.results import SyncStatus
from pyck.core.sync import sync_model
from tests.nationbuilder_support.models import Donation, Note, Person, Tag

from .conftest import TOKEN, populate

pytestmark = pytest.mark.django_db(transaction=True)


def tag_ids(person: Person) -> set[str]:
    return set(person.tags.values_list("external_id", flat=True))


def sync_all() -> None:
    for model in (Tag, Person, Donation):
        result = sync_model(model)
        assert not result.failed and result.status == SyncStatus.SUCCEEDED, result


def test_a_first_sync_makes_rows_foreign_keys_and_tag_links(nation: NationBuilderServer) -> None:
    populate(nation, people=45, tags=3)
    sync_all()
    assert Person.objects.count() == 45 and Tag.objects.count() == 3 and Donation.objects.count() == 45
    grace = Person.objects.get(external_id="7")
    assert (grace.first_name, grace.email) == ("First7", "p7@example.org")
    assert tag_ids(grace) == {"1", "2"}
    assert Donation.objects.get(external_id="107").donor == grace
    # Pages of 100 (`page[size]`), with `include=signup_tags`, ending at the first empty page.
    listing = [r for r in nation.requests_to("signups") if r.path == "/api/v2/signups"]
    assert len(listing) == 2
    assert listing[0].query["page[size]"] == ["100"] and listing[0].query["include"] == ["signup_tags"]
    assert listing[1].query["page[number]"] == ["2"]


def test_tag_links_survive_a_listing_whose_records_carry_no_relationship(
    nation: NationBuilderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(nation, people=4, tags=3)
    sync_all()
    before = {p.external_id: tag_ids(p) for p in Person.objects.all()}
    assert all(before.values())
    # The same listing without include=: every signup's signup_tags is {"meta": {"included": false}}.
    datasource = Person.sync_config.datasource
    monkeypatch.setattr(datasource, "list_query", {"page[size]": 100})
    nation.change("signups", "2", first_name="Renamed")
    result = sync_model(Person, mode="full")
    assert not result.failed
    assert [r.query.get("include") for r in nation.requests_to("signups")][-1] is None
    assert Person.objects.get(external_id="2").first_name == "Renamed"
    assert {p.external_id: tag_ids(p) for p in Person.objects.all()} == before


def test_an_empty_relationship_clears_the_links(nation: NationBuilderServer) -> None:
    populate(nation, people=2, tags=2)
    sync_all()
    nation.resources["signups"]["1"].relationships["signup_tags"] = []
    nation.resources["donations"]["101"].relationships["signup"] = None
    sync_all()
    assert tag_ids(Person.objects.get(external_id="1")) == set()
    assert Donation.objects.get(external_id="101").donor is None
    assert tag_ids(Person.objects.get(external_id="2")) != set()


def test_an_incremental_run_asks_for_the_records_changed_since_the_cursor(nation: NationBuilderServer) -> None:
    populate(nation, people=250, tags=2)
    sync_all()
    full = [r for r in nation.requests_to("signups") if r.path == "/api/v2/signups"]
    assert len(full) == 4  # 3 pages of 100, then the empty page
    cursor = max(Person.objects.values_list("updated_at", flat=True))
    for resource in nation.resources["signups"].values():  # the others changed long ago
        resource.attributes["updated_at"] = "2020-01-01T00:00:00Z"
    nation.change("signups", "5", first_name="Changed")
    start = len(nation.received)
    result = sync_model(Person)
    assert result.mode == "incremental" and result.updated == 1 and result.deleted == 0
    sent = [r for r in nation.received[start:] if r.path == "/api/v2/signups"]
    assert len(sent) == 2  # the changed signup's page, then the empty page
    assert sent[0].query["filter[updated_at][gte]"] == [(cursor - timedelta(minutes=1)).isoformat()]
    assert Person.objects.get(external_id="5").first_name == "Changed"
    assert Person.objects.count() == 250


def test_a_merged_away_person_deleted_upstream_is_deleted_by_a_full_run(nation: NationBuilderServer) -> None:
    populate(nation, people=3, tags=1)
    sync_all()
    Note.objects.create(person=Person.objects.get(external_id="1"), text="kept")
    nation.delete("signups", "3")
    sync_model(Person, mode="full")
    assert not Person.objects.filter(external_id="3").exists()
    assert Note.objects.get().person.external_id == "1"


def test_no_secret_reaches_the_stored_runs_or_the_log(nation: NationBuilderServer, caplog: pytest.LogCaptureFixture) -> None:
    populate(nation, people=3)
    with caplog.at_level(logging.DEBUG, logger="pyck"):
        sync_all()
        nation.tokens.clear()  # every request is now refused: the error is stored
        result = sync_model(Person, mode="full")
    assert result.status != SyncStatus.SUCCEEDED
    stored = json.dumps([model_to_dict(run) for run in SyncRun.objects.all()], default=str)
    assert "401" in stored
    assert TOKEN not in stored and TOKEN not in caplog.text
