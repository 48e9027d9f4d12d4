"""NationBuilder's OAuth tokens: refreshed on a 401 and before they expire, kept in the Django cache for every
process (one refresh serves them all), the rotated refresh token kept, and no token in a log, an error or a
stored run."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
import responses
from django.core.cache import caches
from django.forms.models import model_to_dict

from benchmarks.nationbuilder_server import NationBuilderServer
from pyck.contrib.nationbuilder import Signups, TokenStore
from pyck.core.datasources import ConfigurationError, ResponseError, SyncRun
from pyck.core.sync import sync_model
from tests.nationbuilder_support.models import Person

from .conftest import populate

BASE = "https://testnation.nationbuilder.com/api/v2"
TOKEN_URL = "https://www.nationbuilder.com/oauth/token"
SIGNUP = {"data": {"id": "18", "type": "signups", "attributes": {"first_name": "Grace"}}}


@pytest.fixture(autouse=True)
def oauth(settings: Any) -> Any:
    settings.NATIONBUILDER_ACCESS_TOKEN = "old-access"
    settings.NATIONBUILDER_REFRESH_TOKEN = "first-refresh"
    settings.NATIONBUILDER_CLIENT_ID = "client-1"
    settings.NATIONBUILDER_CLIENT_SECRET = "client-secret-1"
    caches["nationbuilder"].clear()
    yield settings
    caches["nationbuilder"].clear()


def answer_token(access: str, refresh: str, expires_in: int = 86400) -> None:
    responses.post(TOKEN_URL, json={"access_token": access, "token_type": "bearer", "expires_in": expires_in, "refresh_token": refresh})


def bearer(call: Any) -> str:
    return call.request.headers["Authorization"]


@responses.activate
def test_a_401_refreshes_the_token_and_sends_the_request_again(caplog: pytest.LogCaptureFixture) -> None:
    responses.get(f"{BASE}/signups/18", status=401, json={"errors": [{"status": "401"}]})
    responses.get(f"{BASE}/signups/18", json=SIGNUP)
    answer_token("new-access", "second-refresh")
    with caplog.at_level(logging.DEBUG):
        assert Signups().get("18").first_name == "Grace"
    gets = [c for c in responses.calls if c.request.method == "GET"]
    assert [bearer(c) for c in gets] == ["Bearer old-access", "Bearer new-access"]
    (post,) = [c for c in responses.calls if c.request.method == "POST"]
    assert json.loads(post.request.body) == {
        "grant_type": "refresh_token", "refresh_token": "first-refresh", "client_id": "client-1", "client_secret": "client-secret-1",
    }
    for secret in ("old-access", "new-access", "first-refresh", "second-refresh", "client-secret-1"):
        assert secret not in caplog.text


@responses.activate
def test_the_rotated_refresh_token_is_the_one_used_next() -> None:
    answer_token("a2", "r2", expires_in=10)  # expires within the 300 s margin: refreshed at the next request
    answer_token("a3", "r3")
    store = TokenStore("testnation")
    assert store.refresh(stale="old-access") == "a2"
    assert store.access_token() == "a3"
    bodies = [json.loads(c.request.body)["refresh_token"] for c in responses.calls]
    assert bodies == ["first-refresh", "r2"]


@responses.activate
def test_a_token_about_to_expire_is_refreshed_before_the_request() -> None:
    answer_token("short-lived", "r2", expires_in=60)
    answer_token("fresh", "r3")
    responses.get(f"{BASE}/signups/18", json=SIGNUP)
    TokenStore("testnation").refresh(stale=None)
    Signups().get("18")
    (get,) = [c for c in responses.calls if c.request.method == "GET"]
    assert bearer(get) == "Bearer fresh"


@responses.activate
def test_datasources_share_the_refreshed_token_through_the_cache() -> None:
    responses.get(f"{BASE}/signups/18", status=401, json={})
    responses.get(f"{BASE}/signups/18", json=SIGNUP)
    responses.get(f"{BASE}/signups/19", json=SIGNUP)
    answer_token("shared", "r2")
    Signups().get("18")
    other = Signups()  # another instance, as another process would hold, reading the same cache
    other.get("19")
    assert len([c for c in responses.calls if c.request.method == "POST"]) == 1
    assert bearer(responses.calls[-1]) == "Bearer shared"


@responses.activate
def test_a_refused_refresh_names_the_oauth_error_and_no_secret() -> None:
    responses.get(f"{BASE}/signups/18", status=401, json={})
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
    with pytest.raises(ResponseError) as caught:
        Signups().get("18")
    message = str(caught.value)
    assert "invalid_grant" in message and "HTTP 400" in message
    for secret in ("old-access", "first-refresh", "client-secret-1"):
        assert secret not in message


@responses.activate
def test_without_a_client_a_401_is_an_error_and_nothing_is_refreshed(settings: Any) -> None:
    del settings.NATIONBUILDER_CLIENT_SECRET
    responses.get(f"{BASE}/signups/18", status=401, json={})
    with pytest.raises(ResponseError, match="401"):
        Signups().get("18")
    assert len(responses.calls) == 1


def test_no_token_at_all_is_a_configuration_error(settings: Any) -> None:
    del settings.NATIONBUILDER_ACCESS_TOKEN
    del settings.NATIONBUILDER_REFRESH_TOKEN
    with pytest.raises(ConfigurationError, match="NATIONBUILDER_ACCESS_TOKEN"):
        TokenStore("testnation").access_token()


@pytest.mark.django_db(transaction=True)
def test_a_sync_with_an_expired_token_refreshes_it_against_the_local_server(
    nation: NationBuilderServer, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    populate(nation, people=3)
    nation.tokens.clear()
    nation.tokens["old-access"] = time.time() - 1  # expired
    nation.clients["client-1"] = "client-secret-1"
    nation.refresh_tokens.add("first-refresh")
    settings.NATIONBUILDER_ACCESS_TOKEN = "old-access"
    datasource = Person.sync_config.datasource
    datasource.token_url = f"{nation.url}/oauth/token"
    try:
        with caplog.at_level(logging.DEBUG):
            result = sync_model(Person)
    finally:
        datasource.token_url = None
    assert result.created == 3 and not result.failed
    assert [r.status for r in nation.received if r.path == "/oauth/token"] == [200]
    stored = caches["nationbuilder"].get(TokenStore("testnation").key)
    assert stored.access_token in nation.tokens and stored.refresh_token in nation.refresh_tokens
    text = json.dumps([model_to_dict(run) for run in SyncRun.objects.all()], default=str) + caplog.text
    for secret in ("old-access", stored.access_token, "first-refresh", stored.refresh_token, "client-secret-1"):
        assert secret not in text
