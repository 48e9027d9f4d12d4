"""Airtable webhooks through the inbox (issue 21): a signed ping is stored with one INSERT; the inbox's workers
list the payloads from the stored cursor, write the created and changed records (fetched whole) and delete the
destroyed ones, and move the cursor on only once that is written; a cron task refreshes the webhooks. Against
`AirtableServer` (a real local server answering as Airtable's webhook pages document) and `responses`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.test import Client

from pyck.contrib.airtable.replay import AirtableServer, Table
from pyck.contrib.airtable.webhooks import AirtableWebhookReceiver, refresh_webhooks
from pyck.core.models import SyncState, WebhookEvent
from pyck.core.webhooks import register_receiver, unregister_receiver
from pyck.core.webhooks.processing import process_inbox
from tests.airtable_support.models import Member, Team
from tests.airtable_support.resources import BASE, TOKEN, members, teams

pytestmark = pytest.mark.django_db

URL = "/webhooks/airtable-test/"
SETTING = "AIRTABLE_TEST_WEBHOOK_SECRET"


class Hook:
    """The server, its "Teams" and "Members" tables, one webhook on the base and its registered receiver."""

    def __init__(self, server: AirtableServer, settings: Any) -> None:
        self.server = server
        self.teams: Table = server.add_table(BASE, "Teams")
        self.members: Table = server.add_table(BASE, "Members")
        created = server.add_webhook(BASE)
        self.id = created["id"]
        self.secret = created["macSecretBase64"]
        setattr(settings, SETTING, self.secret)
        self.receiver = register_receiver(
            AirtableWebhookReceiver(
                name="airtable-test",
                base_id=BASE,
                webhook_id=self.id,
                secret_setting=SETTING,
                models=["airtable_support.Team", "airtable_support.Member"],
                table_ids={"Teams": self.teams.id, "Members": self.members.id},
            )
        )

    def notify(self, client: Client, **signing: Any) -> int:
        body, headers = self.server.notification(self.id, **signing)
        return client.post(URL, data=body, content_type="application/json", headers=headers).status_code

    def paths(self, suffix: str) -> list[dict[str, str]]:
        return [query for _, _, path, query in self.server.requests if path.endswith(suffix)]

    def cursor(self) -> int | None:
        return self.receiver.stored_cursor()


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[Hook]:
    with AirtableServer(TOKEN, rate=None) as server:
        for source in (teams, members):
            monkeypatch.setattr(source, "base_url", server.base_url)
            monkeypatch.setattr(source, "rate_limit", None)
            monkeypatch.setattr(source, "retries", 0)
        yield Hook(server, settings)
    unregister_receiver("airtable-test")


def test_a_signed_ping_is_stored_with_one_insert_and_no_request_to_airtable(
    hook: Hook, client: Client, django_assert_num_queries: Any
) -> None:
    hook.server.put(hook.teams, {"id": "recRED00000000001", "Name": "Red"})
    with django_assert_num_queries(1):
        assert hook.notify(client) == 200
    event = WebhookEvent.objects.get()
    ping = json.loads(bytes(event.body))
    assert event.event_id == f"{hook.id}:{ping['timestamp']}"
    assert event.headers == {}  # the MAC is not kept
    assert hook.server.requests == []  # nothing is asked of Airtable in the request
    # Airtable delivering the same ping again: answered 2xx, stored once.
    body, headers = hook.server.notification(hook.id)
    for _ in range(2):
        assert client.post(URL, data=body, content_type="application/json", headers=headers).status_code == 200
    assert WebhookEvent.objects.count() == 2


def test_a_bad_or_missing_mac_is_refused_401_and_nothing_is_stored(hook: Hook, client: Client, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    forged = base64.b64encode(b"x" * 32).decode()
    assert hook.notify(client, secret=forged) == 401
    body, _ = hook.server.notification(hook.id)
    assert client.post(URL, data=body, content_type="application/json").status_code == 401
    tampered = body.replace(BASE.encode(), b"appOTHERBASE00001")
    _, headers = hook.server.notification(hook.id)
    assert client.post(URL, data=tampered, content_type="application/json", headers=headers).status_code == 401
    assert WebhookEvent.objects.count() == 0
    assert hook.secret not in caplog.text


def test_a_ping_for_another_webhook_signed_with_this_secret_is_refused_400(hook: Hook, client: Client) -> None:
    body = json.dumps({"base": {"id": BASE}, "webhook": {"id": "achOTHER000000001"}, "timestamp": "2026-01-01T00:00:00.000Z"}).encode()
    mac = hmac.new(base64.b64decode(hook.secret), body, hashlib.sha256).hexdigest()
    response = client.post(URL, data=body, content_type="application/json", headers={"X-Airtable-Content-MAC": f"hmac-sha256={mac}"})
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_created_changed_and_destroyed_records_are_applied_and_the_cursor_moves_on(hook: Hook, client: Client) -> None:
    red = hook.server.put(hook.teams, {"id": "recRED00000000001", "Name": "Red"})
    hook.server.put(hook.members, {"id": "recADA0000000001", "Name": "Ada", "Active": True, "Team": [red]})
    hook.server.put(hook.members, {"id": "recBOB0000000001", "Name": "Bob"})
    assert hook.notify(client) == 200
    outcome = process_inbox()
    assert (outcome.applied, outcome.failed) == (1, 0)
    ada = Member.objects.get(external_id="recADA0000000001")
    assert (ada.name, ada.active, ada.team.name) == ("Ada", True, "Red")
    assert set(Member.objects.values_list("name", flat=True)) == {"Ada", "Bob"}
    assert hook.cursor() == 4  # three payloads read: the next is number 4
    Member.objects.filter(name="Ada").update(note="local")

    # A changed record carries only its changed cell: it is fetched whole and written.
    hook.server.put(hook.members, {"id": "recADA0000000001", "Name": "Ada Lovelace", "Active": True, "Team": [red]})
    hook.server.delete(hook.members, "recBOB0000000001")
    assert hook.notify(client) == 200
    fetched_before = len(hook.paths("/Members/recADA0000000001"))
    assert process_inbox().applied == 1
    assert hook.paths("/payloads")[-1]["cursor"] == "4"  # listed from the stored cursor
    assert len(hook.paths("/Members/recADA0000000001")) == fetched_before + 1
    assert list(Member.objects.values_list("name", "note")) == [("Ada Lovelace", "local")]  # Bob deleted
    assert hook.cursor() == 6


def test_a_ping_with_nothing_new_lists_once_and_fetches_nothing(hook: Hook, client: Client) -> None:
    hook.server.put(hook.teams, {"id": "recRED00000000001", "Name": "Red"})
    hook.notify(client)
    process_inbox()
    requests_before = len(hook.server.requests)
    WebhookEvent.objects.all().delete()
    hook.notify(client)
    assert process_inbox().applied == 1
    assert [path for _, _, path, _ in hook.server.requests[requests_before:]] == [
        f"/v0/bases/{BASE}/webhooks/{hook.id}/payloads"
    ]
    assert hook.cursor() == 2


def test_more_than_one_page_of_payloads_is_read_while_might_have_more(hook: Hook, client: Client) -> None:
    for n in range(60):
        hook.server.put(hook.teams, {"id": f"recTEAM{n:010d}", "Name": f"Team {n}"})
    hook.notify(client)
    assert process_inbox().applied == 1
    assert [query.get("cursor") for query in hook.paths("/payloads")] == [None, "51"]
    assert Team.objects.count() == 60
    assert hook.cursor() == 61


def test_a_failed_fetch_leaves_the_cursor_and_the_retry_reads_the_same_payloads(hook: Hook, client: Client) -> None:
    hook.server.put(hook.teams, {"id": "recRED00000000001", "Name": "Red"})
    hook.server.put(hook.teams, {"id": "recBLUE0000000001", "Name": "Blue"})
    hook.notify(client)
    hook.server.fail_next(503, path_suffix="/recBLUE0000000001")
    outcome = process_inbox()
    assert outcome.failed == 1
    assert hook.cursor() is None  # not moved: the changes were not all written
    WebhookEvent.objects.update(next_attempt=WebhookEvent.objects.get().received)
    assert process_inbox().applied == 1
    assert [query.get("cursor") for query in hook.paths("/payloads")] == [None, None]  # the same payloads again
    assert set(Team.objects.values_list("name", flat=True)) == {"Red", "Blue"}
    assert hook.cursor() == 3


def test_a_crash_before_the_cursor_is_stored_rereads_and_rewrites_the_same_rows(
    hook: Hook, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook.server.put(hook.teams, {"id": "recRED00000000001", "Name": "Red"})
    hook.notify(client)

    def crash(*args: Any) -> None:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(hook.receiver, "committed", crash)
    assert process_inbox().applied == 1
    assert hook.cursor() is None
    monkeypatch.undo()
    monkeypatch.setattr(teams, "base_url", hook.server.base_url)
    monkeypatch.setattr(members, "base_url", hook.server.base_url)
    hook.server.put(hook.teams, {"id": "recRED00000000001", "Name": "Red team"})
    hook.notify(client)
    assert process_inbox().applied == 1
    assert [query.get("cursor") for query in hook.paths("/payloads")] == [None, None]
    assert list(Team.objects.values_list("external_id", "name")) == [("recRED00000000001", "Red team")]
    assert hook.cursor() == 3


def test_the_cursor_never_moves_back(hook: Hook) -> None:
    hook.receiver.committed({}, {}, _changes(7))
    hook.receiver.committed({}, {}, _changes(5))
    assert hook.cursor() == 7
    assert SyncState.objects.get(model=f"airtable-webhook:{BASE}/{hook.id}").cursor == {"int": 7}


def _changes(cursor: int) -> Any:
    # Not at the top: the one test that builds a listing's result by hand.
    from pyck.contrib.airtable.webhooks import PayloadChanges

    return PayloadChanges([], cursor=cursor)


def test_the_refresh_task_refreshes_every_airtable_webhook(hook: Hook) -> None:
    message = refresh_webhooks()
    assert hook.server.webhooks[hook.id].refreshed == 1
    assert hook.id in message
    assert hook.paths("/refresh") == [{}]


def test_a_failed_refresh_fails_the_task_without_the_token(hook: Hook) -> None:
    hook.server.fail_next(503, path_suffix="/refresh")
    with pytest.raises(RuntimeError) as failed:
        refresh_webhooks()
    assert hook.id in str(failed.value) and TOKEN not in str(failed.value)


def test_table_names_are_looked_up_once_in_the_base_schema(hook: Hook) -> None:
    receiver = AirtableWebhookReceiver(
        name="airtable-names", base_id=BASE, webhook_id=hook.id, secret_setting=SETTING, models=[Team, Member]
    )
    assert receiver.tables() == {hook.teams.id: [Team], hook.members.id: [Member]}
    receiver.tables()
    assert hook.paths("/tables") == [{}]  # once per receiver (process)


def test_a_table_the_base_does_not_have_is_a_clear_configuration_error(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(members, "table_name", "Volunteers")
    receiver = AirtableWebhookReceiver(
        name="airtable-noid", base_id=BASE, webhook_id=hook.id, secret_setting=SETTING, models=[Member]
    )
    with pytest.raises(Exception, match="no table 'Volunteers'.*table_ids"):
        receiver.tables()


@responses.activate
def test_payload_listing_requests_as_airtable_documents(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """`responses`: the listing's URL, query and token, the pages followed while `mightHaveMore`, and each
    created, changed and destroyed record of a model's table becoming a change (other tables skipped)."""
    api = "https://api.airtable.com/v0"
    for source in (teams, members):
        monkeypatch.setattr(source, "base_url", api)
        monkeypatch.setattr(source, "rate_limit", None)
    url = f"{api}/bases/{BASE}/webhooks/achRESP0000000001/payloads"
    first = {"payloads": [{"baseTransactionNumber": 1, "changedTablesById": {
        "tblMEMBERS000001": {"createdRecordsById": {"recA": {"cellValuesByFieldId": {}}},
                             "changedRecordsById": {"recB": {"current": {"cellValuesByFieldId": {"fld1": "x"}}}}},
        "tblOTHER00000001": {"createdRecordsById": {"recZ": {}}},
    }}], "cursor": 2, "mightHaveMore": True}
    second = {"payloads": [{"baseTransactionNumber": 2, "changedTablesById": {
        "tblMEMBERS000001": {"destroyedRecordIds": ["recB"]},
    }}], "cursor": 3, "mightHaveMore": False}
    responses.get(url, json=first, match=[responses.matchers.query_param_matcher({"limit": "50"})])
    responses.get(url, json=second, match=[responses.matchers.query_param_matcher({"limit": "50", "cursor": "2"})])
    receiver = AirtableWebhookReceiver(
        name="airtable-responses", base_id=BASE, webhook_id="achRESP0000000001", secret_setting=SETTING,
        models=[Member], table_ids={"Members": "tblMEMBERS000001"},
    )
    changes = receiver.parse({}, {})
    assert [(c.model, c.external_id, c.deleted, c.record) for c in changes] == [
        (Member, "recA", False, None),
        (Member, "recB", True, None),  # changed, then destroyed: its last change wins
    ]
    assert changes.cursor == 3
    assert all(call.request.headers["Authorization"] == f"Bearer {TOKEN}" for call in responses.calls)
    assert members.rate_limit_key == f"airtable:{BASE}"  # the base's budget, shared with the syncs


def test_the_cursor_row_shows_in_the_sync_states_admin(hook: Hook, admin_client: Client) -> None:
    hook.receiver.committed({}, {}, _changes(4))
    page = admin_client.get("/admin/pyck/syncstate/")
    assert page.status_code == 200
    assert f"airtable-webhook:{BASE}/{hook.id}" in page.content.decode()
