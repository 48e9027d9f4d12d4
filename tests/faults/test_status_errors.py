"""Errors from HTTP answers: they keep the (redacted) body, a public hook turns them into API-specific errors, and
every error from a listing shows the query actually sent."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from pyck.core.datasources import (
    DatasourceError,
    InvalidResourceError,
    NotFoundError,
    ResponseError,
)
from pyck.geo.territories.uk.parliament import Member as ParliamentMember
from pyck.geo.territories.uk.parliament import ParliamentDatasource
from pyck.geo.territories.uk.postcodes import PostcodeNotFoundError, PostcodesDatasource

from .server import FaultServer, json_answer, raw_answer, status_answer
from .sources import Members, members


def test_status_error_carries_the_parsed_json_body(server: FaultServer) -> None:
    server.route("/members/7", status_answer(422, {"errors": [{"field": "id", "detail": "unknown"}]}))
    with pytest.raises(ResponseError, match="HTTP 422") as caught:
        members(server.url).get(7)
    assert caught.value.body == {"errors": [{"field": "id", "detail": "unknown"}]}
    assert (caught.value.status_code, caught.value.record_id) == (422, 7)


def test_status_error_with_a_non_json_body_carries_a_short_excerpt(server: FaultServer) -> None:
    server.route("/members/7", raw_answer(b"<html>" + b"x" * 5000 + b"</html>", status=502, content_type="text/html"))
    with pytest.raises(ResponseError) as caught:
        members(server.url, retries=0).get(7)
    assert caught.value.body == "<html>" + "x" * 194 + "…"


def test_404_error_carries_the_body_too(server: FaultServer) -> None:
    server.route("/members/7", status_answer(404, {"error": "Member not found"}))
    with pytest.raises(NotFoundError) as caught:
        members(server.url).get(7)
    assert caught.value.body == {"error": "Member not found"}


class QuotaExceeded(ResponseError):
    """What an API-specific datasource might raise."""


class QuotaAwareMembers(Members):
    def get_status_error(self, response: requests.Response, *, method: str, url: str) -> DatasourceError:
        error = super().get_status_error(response, method=method, url=url)
        if isinstance(error.body, dict) and error.body.get("code") == "quota":
            return QuotaExceeded("Daily quota used up", datasource=self, url=url, status_code=error.status_code)
        return error


def test_get_status_error_hook_turns_answers_into_api_specific_errors(server: FaultServer) -> None:
    server.route("/members/7", status_answer(403, {"code": "quota"}))
    server.route("/members", status_answer(403, {"code": "quota"}))
    source = QuotaAwareMembers(base_url=server.url, name="quota")
    with pytest.raises(QuotaExceeded, match="Daily quota used up") as caught:
        source.get(7)
    assert caught.value.record_id == 7
    with pytest.raises(QuotaExceeded, match=rf"url {server.url}/members\?offset=0&limit=2"):
        list(source.list())


def test_postcodes_not_found_is_built_through_the_public_hook(server: FaultServer) -> None:
    server.route("/postcodes/ZZ1%201ZZ", status_answer(404, {"status": 404, "error": "Postcode not found"}))
    source = PostcodesDatasource(base_url=server.url)
    assert "_status_error" not in vars(PostcodesDatasource)
    with pytest.raises(PostcodeNotFoundError, match="Postcode 'ZZ1 1ZZ' not found") as caught:
        source.get("zz11zz")
    assert caught.value.api_error == "Postcode not found"
    assert caught.value.body == {"status": 404, "error": "Postcode not found"}


def parliament_members(url: str) -> ParliamentDatasource[ParliamentMember]:
    return ParliamentDatasource(
        base_url=url,
        name="uk.parliament.members",
        path="/Members/Search",
        item_path="/Members/{id}",
        resource_type=ParliamentMember,
        list_query={"House": 1, "IsCurrentMember": "true"},
    )


def test_errors_from_list_show_the_full_query_sent_including_list_query_defaults(server: FaultServer) -> None:
    server.route(
        "/Members/Search", json_answer({"items": [{"value": {"id": 4514, "nameListAs": 7}}], "totalResults": 1})
    )
    with pytest.raises(InvalidResourceError) as caught:
        list(parliament_members(server.url).list(PartyId=4))
    [received] = server.received
    sent = f"{server.url}{received.target}"
    assert sent == f"{server.url}/Members/Search?House=1&IsCurrentMember=true&PartyId=4&skip=0&take=20"
    assert caught.value.url == sent
    assert caught.value.record_id == 4514


def test_errors_from_a_later_page_show_that_pages_query(server: FaultServer) -> None:
    def item(id: int, name: Any) -> dict[str, Any]:
        return {"id": id, "name": name, "joined": "2024-07-04"}

    server.route(
        "/members",
        json_answer({"items": [item(1, "a"), item(2, "b")]}),
        json_answer({"items": [item(3, None)]}),
    )
    with pytest.raises(InvalidResourceError) as caught:
        list(members(server.url).list(party="x"))
    assert caught.value.url == f"{server.url}/members?party=x&offset=2&limit=2"
    assert (caught.value.record_id, caught.value.field) == (3, "name")
