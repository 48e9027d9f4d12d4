"""NationBuilder's people webhooks through the inbox: the body's token checked in constant time and never stored
or logged, stable event ids (a redelivery is stored once), a changed person re-fetched from the local server,
and a merge that re-points every reference to the surviving person in one transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import IntegrityError
from django.test import Client

from benchmarks.nationbuilder_server import NationBuilderServer
from pyck.contrib.nationbuilder.merges import merge_rows
from pyck.contrib.nationbuilder.webhooks import NationBuilderReceiver
from pyck.core.datasources import ConfigurationError
from pyck.core.models.webhooks import WebhookEvent
from pyck.core.sync import sync_model
from pyck.core.webhooks import register_receiver
from pyck.core.webhooks.processing import drain_inbox
from pyck.core.webhooks.registry import unregister_receiver
from tests.nationbuilder_support.models import Donation, Note, Person, Tag

from .conftest import populate

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "nb-webhook-token-0123456789"  # tests/settings.py's NATIONBUILDER_WEBHOOK_TOKEN


@pytest.fixture
def receivers() -> Iterator[None]:
    register_receiver(NationBuilderReceiver(name="nb-people", model="nationbuilder_support.Person"))
    register_receiver(
        NationBuilderReceiver(
            name="nb-merged", model=Person, trigger="person_merged", merged_id_path="payload.merged_person.id"
        )
    )
    yield
    unregister_receiver("nb-people")
    unregister_receiver("nb-merged")


def post(source: str, body: dict[str, Any], token: str | None = SECRET) -> int:
    if token is not None:
        body = {**body, "token": token}
    return Client().post(f"/webhooks/{source}/", data=json.dumps(body), content_type="application/json").status_code


def changed(person_id: int, **extra: Any) -> dict[str, Any]:
    return {"nation_slug": "testnation", "payload": {"person": {"id": person_id, "first_name": "x", **extra}}}


def test_the_token_is_checked_and_never_stored_or_logged(receivers: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        assert post("nb-people", changed(1), token="wrong") == 401
        assert post("nb-people", changed(1), token=None) == 401
        assert Client().post("/webhooks/nb-people/", data="[", content_type="application/json").status_code == 400
        assert WebhookEvent.objects.count() == 0
        assert post("nb-people", changed(1)) == 200
        assert post("nb-people", changed(1)) == 200  # a redelivery
        assert post("nb-people", changed(1, updated_at="later")) == 200
    assert WebhookEvent.objects.count() == 2
    for event in WebhookEvent.objects.all():
        assert SECRET.encode() not in bytes(event.body) and SECRET not in json.dumps(event.headers)
        assert "token" not in json.loads(bytes(event.body)) and event.event_id.startswith("person_changed:")
    assert SECRET not in caplog.text


def test_a_changed_person_is_re_fetched_from_the_api(nation: NationBuilderServer, receivers: None) -> None:
    populate(nation, people=2, tags=2)
    sync_model(Tag)
    nation.change("signups", "2", first_name="Pushed")
    assert post("nb-people", changed(2)) == 200
    drain_inbox()
    person = Person.objects.get(external_id="2")
    assert person.first_name == "Pushed"
    assert set(person.tags.values_list("external_id", flat=True)) == {"1"}
    (get,) = [r for r in nation.requests_to("signups") if r.path == "/api/v2/signups/2"]
    assert get.query["include"] == ["signup_tags"]


def merged(surviving: int, merged_away: int) -> dict[str, Any]:
    return {"nation_slug": "testnation", "payload": {"person": {"id": surviving}, "merged_person": {"id": merged_away}}}


def test_a_merge_re_points_every_reference_to_the_surviving_person(nation: NationBuilderServer, receivers: None) -> None:
    populate(nation, people=3, tags=3)
    for model in (Tag, Person, Donation):
        sync_model(model)
    survivor, gone = Person.objects.get(external_id="1"), Person.objects.get(external_id="2")
    Note.objects.create(person=gone, text="met at the rally")
    assert set(gone.tags.values_list("external_id", flat=True)) == {"1", "3"}
    # NationBuilder merged 2 into 1: 1 now has both people's tags, 2 is gone.
    nation.resources["signups"]["1"].relationships["signup_tags"] = [("signup_tags", "1"), ("signup_tags", "2"), ("signup_tags", "3")]
    nation.delete("signups", "2")
    assert post("nb-merged", merged(1, 2)) == 200
    drain_inbox()
    assert not Person.objects.filter(external_id="2").exists()
    assert Note.objects.get().person == survivor
    assert Donation.objects.get(external_id="102").donor == survivor
    assert set(survivor.tags.values_list("external_id", flat=True)) == {"1", "2", "3"}
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.APPLIED
    # Redelivered: nothing left to merge, nothing lost.
    assert post("nb-merged", {**merged(1, 2), "again": True}) == 200
    drain_inbox()
    assert Note.objects.get().person == survivor and Person.objects.filter(external_id="1").exists()


def test_merge_rows_moves_links_without_duplicating_them() -> None:
    tags = [Tag.objects.create(external_id=str(i), name=f"t{i}") for i in (1, 2, 3)]
    survivor = Person.objects.create(external_id="1")
    gone = Person.objects.create(external_id="2")
    survivor.tags.set(tags[:2])
    gone.tags.set(tags[1:])
    Note.objects.create(person=gone, text="n")
    assert merge_rows(Person, "2", "1") == "merged"
    assert sorted(survivor.tags.values_list("external_id", flat=True)) == ["1", "2", "3"]
    assert Person.tags.through.objects.count() == 3
    assert Note.objects.get().person == survivor
    assert merge_rows(Person, "2", "1") == "absent"


def test_a_merge_into_a_person_not_synced_yet_keeps_the_row_under_the_new_id() -> None:
    gone = Person.objects.create(external_id="5", first_name="Ann")
    Note.objects.create(person=gone, text="n")
    assert merge_rows(Person, "5", "9") == "renamed"
    assert Note.objects.get().person.external_id == "9"


def test_a_failed_merge_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    survivor = Person.objects.create(external_id="1")
    gone = Person.objects.create(external_id="2")
    Note.objects.create(person=gone, text="n")

    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise IntegrityError("refused")

    monkeypatch.setattr(Person, "delete", refuse)
    with pytest.raises(IntegrityError):
        merge_rows(Person, "2", "1")
    assert Note.objects.get().person == gone and Person.objects.filter(pk=survivor.pk).exists()


def test_a_merge_receiver_must_say_where_the_merged_away_id_is() -> None:
    with pytest.raises(ConfigurationError, match="merged_id_path"):
        NationBuilderReceiver(name="nb-x", model=Person, trigger="person_merged")
    with pytest.raises(ConfigurationError, match="trigger"):
        NationBuilderReceiver(name="nb-x", model=Person, trigger="donation_succeeded")
