"""The Action Network datasources on `responses`: the `OSDI-API-Token` header, HAL pages, ids from the
`action_network:` identifier, link hrefs as ids, and the key kept out of errors and logs."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import responses
from django.test import override_settings

from pyck.contrib.action_network import (
    Donations,
    People,
    Taggings,
    action_network_id,
    id_from_href,
)
from pyck.core.exceptions import ConfigurationError, InvalidResourceError, ResponseError

API = "https://actionnetwork.org/api/v2"
KEY = "an-secret-key-4f9a1c"


def person(pid: str, *, first: bool = False, **fields: Any) -> dict[str, Any]:
    ids = [f"action_network:{pid}", "salesforce:x1"] if first else ["salesforce:x1", f"action_network:{pid}"]
    return {"identifiers": ids, "modified_date": "2024-03-01T10:00:00Z", **fields,
            "_links": {"self": {"href": f"{API}/people/{pid}"}}}


def page(collection: str, items: list[dict[str, Any]], next_href: str | None) -> dict[str, Any]:
    links: dict[str, Any] = {"self": {"href": "x"}}
    if next_href:
        links["next"] = {"href": next_href}
    return {"_embedded": {f"osdi:{collection}": items}, "_links": links}


def test_the_action_network_id_is_found_wherever_it_stands() -> None:
    assert action_network_id(["salesforce:9", "action_network:d91b"]) == "d91b"
    assert action_network_id(["action_network:d91b", "other:1"]) == "d91b"
    assert action_network_id(["salesforce:9"]) is None
    assert action_network_id(None) is None and action_network_id("action_network:x") is None
    assert id_from_href(f"{API}/people/c945d6fe") == "c945d6fe"
    assert id_from_href(f"{API}/people/c945d6fe/?x=1") == "c945d6fe"
    assert id_from_href(None) is None


@responses.activate
@override_settings(ACTION_NETWORK_API_KEY=KEY)
def test_people_are_read_page_by_page_with_the_token_header_until_the_empty_page() -> None:
    # The last page still has a next link; the page past it has no resources and no next link (docs changelog).
    responses.get(f"{API}/people", json=page("people", [person("p1"), person("p2", first=True)], f"{API}/people?page=2"))
    responses.get(f"{API}/people?page=2", json=page("people", [person("p3", given_name="Cy")], f"{API}/people?page=3"))
    responses.get(f"{API}/people?page=3", json=page("people", [], None))
    records = list(People(rate_limit=None).list())
    assert [r.id for r in records] == ["p1", "p2", "p3"]
    assert records[2].given_name == "Cy" and records[0].identifiers == ["salesforce:x1", "action_network:p1"]
    assert [c.request.headers["OSDI-API-Token"] for c in responses.calls] == [KEY] * 3
    assert People().resumable


@responses.activate
@override_settings(ACTION_NETWORK_API_KEY=KEY)
def test_links_become_ids_and_child_listings_take_their_parent_in_the_path() -> None:
    tagging = {"identifiers": ["action_network:t1"], "item_type": "osdi:person",
               "_links": {"osdi:person": {"href": f"{API}/people/c945"}, "osdi:tag": {"href": f"{API}/tags/71f8"}}}
    responses.get(f"{API}/tags/71f8/taggings", json=page("taggings", [tagging], None))
    (record,) = Taggings(rate_limit=None).list(tag_id="71f8")
    assert (record.id, record.person, record.tag, record.item_type) == ("t1", "c945", "71f8", "osdi:person")

    donation = {"identifiers": ["action_network:d1"], "amount": "20.00", "currency": "usd",
                "recipients": [{"display_name": "Campaign", "amount": "20.00"}], "_links": {}}
    responses.get(f"{API}/donations", json=page("donations", [donation], None))
    (gift,) = Donations(rate_limit=None).list()
    assert (gift.person, gift.fundraising_page, gift.recipients[0].display_name) == (None, None, "Campaign")


@responses.activate
@override_settings(ACTION_NETWORK_API_KEY=KEY)
def test_get_asks_for_the_record_at_its_id() -> None:
    responses.get(f"{API}/people/p9", json=person("p9", given_name="Ann"))
    assert People(rate_limit=None).get("p9").given_name == "Ann"
    responses.get(f"{API}/tags/71f8/taggings/t1", json={"identifiers": ["action_network:t1"], "_links": {}})
    assert Taggings(rate_limit=None).get("t1", tag_id="71f8").id == "t1"


@responses.activate
@override_settings(ACTION_NETWORK_API_KEY=KEY)
def test_a_record_without_an_action_network_identifier_fails_alone() -> None:
    bad = {"identifiers": ["salesforce:x"], "_links": {}}
    responses.get(f"{API}/people", json=page("people", [bad, person("p2")], None))
    listed = list(People(rate_limit=None).read_listing({}))
    assert isinstance(listed[0][0], InvalidResourceError) and "action_network: identifier" in str(listed[0][0])
    assert listed[1][0].id == "p2"


def test_without_a_key_the_datasource_says_which_setting_to_set(settings: Any) -> None:
    settings.ACTION_NETWORK_API_KEY = None
    with pytest.raises(ConfigurationError, match="ACTION_NETWORK_API_KEY"):
        People().get_headers()


@responses.activate
@override_settings(ACTION_NETWORK_API_KEY=KEY)
def test_the_key_never_reaches_an_error_or_the_log(caplog: pytest.LogCaptureFixture) -> None:
    # An answer that echoes the key back, in its body and in a link.
    responses.get(f"{API}/people", status=500, json={"error": f"bad token {KEY}", "_links": {"self": {"href": f"{API}/people?k={KEY}"}}})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ResponseError) as raised:
        list(People(rate_limit=None, retries=0).list())
    shown = f"{raised.value} {raised.value.body!r} {raised.value!r}"
    assert KEY not in shown and "Action Network people" in shown
    assert KEY not in caplog.text


@override_settings(ACTION_NETWORK_API_KEY=KEY)
def test_one_key_is_one_rate_limit_and_budget_in_redis_when_asked() -> None:
    people, taggings = People(), Taggings()
    assert people.rate_limit_key == taggings.rate_limit_key and KEY not in people.rate_limit_key
    assert people.rate_limit <= 4 and people.request_budget is None
    with override_settings(ACTION_NETWORK_BUDGET_CACHE="default"):
        budget = people.request_budget
        assert (budget.requests, budget.seconds, budget.key, budget.cache) == (4, 1.0, people.rate_limit_key, "default")
    with override_settings(ACTION_NETWORK_API_KEY="another-key"):
        assert people.rate_limit_key != People(api_key=KEY).rate_limit_key


@responses.activate
def test_with_a_redis_budget_cache_every_datasource_of_one_key_counts_in_one_hashed_key(settings: Any) -> None:
    redis = pytest.importorskip("redis")
    client = redis.Redis(host="127.0.0.1", port=6379, db=6)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis server at 127.0.0.1:6379")
    client.flushdb()
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "budgets": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/6"},
    }
    settings.ACTION_NETWORK_BUDGET_CACHE = "budgets"
    settings.ACTION_NETWORK_API_KEY = KEY
    responses.get(f"{API}/people", json=page("people", [person("p1")], None))
    responses.get(f"{API}/tags/71f8/taggings", json=page("taggings", [], None))
    people, taggings = People(rate_limit=None), Taggings(rate_limit=None)
    assert [r.id for r in people.list()] == ["p1"] and list(taggings.list(tag_id="71f8")) == []
    keys = [key.decode() for key in client.keys("*")]
    assert len(keys) == 1 and people.account_key in keys[0] and KEY not in keys[0]
    client.flushdb()
