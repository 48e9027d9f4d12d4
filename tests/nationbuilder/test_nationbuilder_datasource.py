"""`pyck.contrib.nationbuilder` against `responses`: JSON:API resource objects flattened (relationship linkage to
ids, absent relationships left absent), single GETs unwrapped from `data`, pages ended by an empty one, the
settings it reads."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from pyck.contrib.nationbuilder import Donations, Signups, SignupTags, flatten
from pyck.core.datasources import ConfigurationError, InvalidResourceError, NotFoundError
from pyck.core.records import absent_fields

BASE = "https://testnation.nationbuilder.com/api/v2"


@pytest.fixture(autouse=True)
def token(settings: Any) -> None:
    settings.NATIONBUILDER_ACCESS_TOKEN = "nb-token-xyz"
    settings.NATIONBUILDER_SLUG = "testnation"


def grace(**relationships: Any) -> dict[str, Any]:
    return {
        "id": "18",
        "type": "signups",
        "attributes": {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.org"},
        "relationships": relationships,
    }


def test_flatten_reads_linkage_as_ids_and_leaves_relationships_without_data_out() -> None:
    flat = flatten(grace(
        signup_tags={"data": [{"type": "signup_tags", "id": 3}, {"type": "signup_tags", "id": "4"}]},
        recruiter={"data": {"type": "signups", "id": "2"}},
        author={"data": None},
        primary_address={"meta": {"included": False}},
    ))
    assert flat["id"] == "18" and flat["first_name"] == "Grace"
    assert flat["signup_tags"] == ["3", "4"] and flat["recruiter"] == "2" and flat["author"] is None
    assert "primary_address" not in flat


def test_a_signup_without_the_relationship_has_its_tags_absent_not_empty() -> None:
    people = Signups()
    absent = people.deserialize(grace(signup_tags={"meta": {"included": False}}))
    assert "signup_tags" in absent_fields(absent)
    empty = people.deserialize(grace(signup_tags={"data": []}))
    assert empty.signup_tags == [] and "signup_tags" not in absent_fields(empty)


@pytest.mark.parametrize("linkage", [{"id": None}, ["7"], "7", [{"type": "signup_tags"}]])
def test_a_malformed_linkage_fails_the_record_naming_the_relationship(linkage: Any) -> None:
    with pytest.raises(InvalidResourceError) as caught:
        Signups().deserialize(grace(signup_tags={"data": linkage}))
    assert "relationships.signup_tags.data" in str(caught.value)


@responses.activate
def test_get_unwraps_data_and_sideloads_the_relationships() -> None:
    responses.get(
        f"{BASE}/signups/18",
        json={"data": grace(signup_tags={"data": [{"type": "signup_tags", "id": "3"}]})},
        match=[responses.matchers.query_param_matcher({"include": "signup_tags"})],
    )
    record = Signups().get("18")
    assert (record.id, record.first_name, record.signup_tags) == ("18", "Grace", ["3"])
    assert responses.calls[0].request.headers["Authorization"] == "Bearer nb-token-xyz"


@responses.activate
def test_get_of_an_unknown_id_is_not_found_without_the_token_in_the_error() -> None:
    responses.get(f"{BASE}/signups/99", status=404, json={"errors": [{"status": "404", "title": "Not found"}]})
    with pytest.raises(NotFoundError) as caught:
        Signups().get("99")
    assert "nb-token-xyz" not in str(caught.value)


@responses.activate
def test_a_listing_follows_links_next_and_ends_at_the_first_empty_page() -> None:
    def page(items: list[Any], number: int) -> dict[str, Any]:
        return {"data": items, "links": {"next": f"{BASE}/signup_tags?page%5Bnumber%5D={number + 1}&page%5Bsize%5D=100"}}

    tag = {"id": "1", "type": "signup_tags", "attributes": {"name": "volunteer"}}
    responses.get(f"{BASE}/signup_tags", json=page([tag], 1), match=[responses.matchers.query_param_matcher({"page[size]": "100"})])
    responses.get(
        f"{BASE}/signup_tags",
        json=page([], 2),
        match=[responses.matchers.query_param_matcher({"page[size]": "100", "page[number]": "2"})],
    )
    assert [t.name for t in SignupTags().list()] == ["volunteer"]
    assert len(responses.calls) == 2


def test_the_nation_and_the_token_come_from_the_settings(settings: Any) -> None:
    assert Donations().url == f"{BASE}/donations"
    assert Donations(slug="other").url == "https://other.nationbuilder.com/api/v2/donations"
    assert Donations(base_url="http://127.0.0.1:9/api/v2").url == "http://127.0.0.1:9/api/v2/donations"
    del settings.NATIONBUILDER_SLUG
    with pytest.raises(ConfigurationError, match="NATIONBUILDER_SLUG"):
        Donations().url
    del settings.NATIONBUILDER_ACCESS_TOKEN
    with pytest.raises(ConfigurationError, match="NATIONBUILDER_ACCESS_TOKEN") as caught:
        Donations(slug="x").get_headers()
    assert "nb-token" not in str(caught.value)


def test_the_nations_datasources_share_one_budget_of_250_requests_per_10_seconds() -> None:
    budgets = {type(d).__name__: d.request_budget for d in (Signups(), SignupTags(), Donations())}
    assert {(b.requests, b.per, b.key) for b in budgets.values()} == {(250, 10.0, "nationbuilder:testnation")}


def test_bad_options_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="page_size"):
        Signups(page_size=0)
    with pytest.raises(ConfigurationError, match="include"):
        Signups(include="signup_tags")
