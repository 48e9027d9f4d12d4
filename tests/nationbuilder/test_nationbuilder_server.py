"""The replay server itself (`benchmarks/nationbuilder_server.py`): the documented rate limit answered with 429
and `Retry-After`, 401 for an unknown token, the token endpoint's rotation, `{"meta": {"included": false}}`
without `include=`."""

from __future__ import annotations

import requests

from benchmarks.nationbuilder_server import NationBuilderServer


def test_the_server_answers_429_with_retry_after_beyond_the_limit() -> None:
    with NationBuilderServer(rate_limit=3, interval=60) as server:
        server.tokens["t"] = float("inf")
        answers = [requests.get(f"{server.url}/api/v2/signups", headers={"Authorization": "Bearer t"}, timeout=10) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60 and server.limited == 1


def test_the_server_refuses_unknown_tokens_and_rotates_refresh_tokens() -> None:
    with NationBuilderServer() as server:
        assert requests.get(f"{server.url}/api/v2/signups", headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
        server.clients["c"] = "s"
        server.refresh_tokens.add("r1")
        grant = {"grant_type": "refresh_token", "refresh_token": "r1", "client_id": "c", "client_secret": "s"}
        first = requests.post(f"{server.url}/oauth/token", json=grant, timeout=10)
        again = requests.post(f"{server.url}/oauth/token", json=grant, timeout=10)
        body = first.json()
        assert first.status_code == 200 and body["refresh_token"] != "r1" and body["expires_in"] == 86400
        assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
        listed = requests.get(f"{server.url}/api/v2/signups", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10)
        assert listed.status_code == 200


def test_relationships_carry_data_only_when_included() -> None:
    with NationBuilderServer() as server:
        server.tokens["t"] = float("inf")
        server.add("signup_tags", "1", {"name": "volunteer"})
        server.add("signups", "18", {"first_name": "Grace"}, relationships={"signup_tags": [("signup_tags", "1")]})
        headers = {"Authorization": "Bearer t"}
        plain = requests.get(f"{server.url}/api/v2/signups/18", headers=headers, timeout=10).json()
        included = requests.get(f"{server.url}/api/v2/signups/18?include=signup_tags", headers=headers, timeout=10).json()
    assert plain["data"]["relationships"]["signup_tags"] == {"meta": {"included": False}} and "included" not in plain
    assert included["data"]["relationships"]["signup_tags"] == {"data": [{"type": "signup_tags", "id": "1"}]}
    assert included["included"][0]["attributes"]["name"] == "volunteer"
