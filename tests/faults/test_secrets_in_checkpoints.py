"""An API key sent as a query parameter, which the API copies into its next-page links (as Django REST framework
does), is never stored in a checkpoint, never shown by the admin, and a run that resumes after the key was
rotated sends the new key (issue 17, item 4).

The listing is served by ``responses``: three pages of two authors, each page linking to the next with the key
it was asked with; the key is checked on every request (401 otherwise), and the third page fails once.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.contrib import admin
from django.test import Client
from django.urls import path, reverse

from pyck.core.admin import SyncStateAdmin
from pyck.core.datasources import NextUrlPaginator, RestDatasource
from pyck.core.models import SyncState
from pyck.core.sync import sync_model
from tests.testapp import resources as r
from tests.testapp.models import Author

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

API = "https://api.example.com"
OLD_KEY = "old-key-5f3c9a1e"
NEW_KEY = "new-key-8b2d4e70"

site = admin.AdminSite(name="checkpoint-secrets")
site.register(SyncState, SyncStateAdmin)
urlpatterns = [path("admin/", site.urls)]


class KeyedAuthors(RestDatasource[Any]):
    """Authenticates with `?api_key=`, read from `key` each time, as a datasource reads a setting."""

    base_url = API
    path = "/authors"
    paginator = NextUrlPaginator()
    retries = 0
    key = OLD_KEY


class ListQueryKeyed(KeyedAuthors):
    """The key in `list_query`."""

    @property
    def list_query(self) -> dict[str, str]:  # type: ignore[override]
        return {"api_key": self.key}


class RequestKeyed(KeyedAuthors):
    """The key added by an override of `request()`, as "Writing datasources" shows."""

    def request(self, method: str, url: str, *, params: Any = None, json: Any = None) -> Any:
        return super().request(method, url, params={**(params or {}), "api_key": self.key}, json=json)


class SessionKeyed(KeyedAuthors):
    """The key in the session's `params`, which `requests` adds to every request."""

    def get_session(self) -> Any:
        session = super().get_session()
        session.params = {"api_key": self.key}
        return session


class Listing:
    """The remote listing: pages 1 to 3 of two authors; `valid_key` is the only key accepted."""

    def __init__(self) -> None:
        self.valid_key = OLD_KEY
        self.fail_page: int | None = 3
        self.keys_sent: list[str] = []

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlsplit(request.url).query)
        key = query.get("api_key", [""])[-1]  # the last, as Django's QueryDict reads it
        self.keys_sent.append(key)
        if key != self.valid_key:
            return 401, {}, json.dumps({"detail": "Invalid API key."})
        page = int(query.get("page", ["1"])[0])
        if page == self.fail_page:
            self.fail_page = None
            return 500, {}, json.dumps({"detail": "Server error."})
        ids = [2 * page - 1, 2 * page]
        # Django REST framework builds the next link from the request's own query string, key included (the
        # datasources that add the key to every request then send it twice on the next pages).
        following = f"{API}/authors?api_key={key}&page={page + 1}&page_token=t{page}" if page < 3 else None
        body = {"results": [{"id": f"a{i}", "name": f"Author {i}"} for i in ids], "next": following}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)


@pytest.fixture(params=[ListQueryKeyed, RequestKeyed, SessionKeyed], ids=["list_query", "request", "session"])
def listing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    served = Listing()
    source = request.param(resource_type=r.AuthorResource, name="keyed.authors")
    monkeypatch.setattr(Author.sync_config, "datasource", source)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, f"{API}/authors", callback=served)
        yield served, source


def _state() -> SyncState:
    return SyncState.objects.get(model="testapp.Author", partition="")


def test_a_key_the_api_copies_into_its_links_is_not_stored_and_a_rotated_key_is_used_on_resuming(listing, admin_user):
    served, source = listing

    failed = sync_model(Author, batch_size=1)

    assert failed.status == "failed" and Author.objects.count() == 4
    checkpoint = _state().checkpoint
    # The position is the second page's link, without the key; the API's own parameters are kept, even one whose
    # name looks secret (a paging token).
    assert checkpoint["position"] == {"page": f"{API}/authors?page=2&page_token=t1", "index": 2}
    assert OLD_KEY not in json.dumps(checkpoint)
    client = Client()
    client.force_login(admin_user)
    for url in (
        reverse("checkpoint-secrets:pyck_syncstate_changelist"),
        reverse("checkpoint-secrets:pyck_syncstate_change", args=[_state().pk]),
    ):
        page = client.get(url)
        assert page.status_code == 200 and "page=2" in page.content.decode() and OLD_KEY not in page.content.decode()

    # The key is rotated: the old one is refused from now on.
    served.valid_key = source.key = NEW_KEY
    del served.keys_sent[:]

    resumed = sync_model(Author, batch_size=1)

    assert resumed.ok and resumed.resumed
    assert served.keys_sent == [NEW_KEY, NEW_KEY]  # the resumed second page, then the third
    assert sorted(Author.objects.values_list("external_id", flat=True)) == [f"a{i}" for i in range(1, 7)]
    assert _state().checkpoint is None


def test_a_checkpoint_stored_with_a_key_is_resumed_with_the_current_key_and_not_shown(listing, admin_user):
    """A checkpoint an earlier pyck stored with the key in it: the admin hides the key, and the run that resumes
    it sends the current key instead."""
    served, source = listing
    served.fail_page = None
    SyncState.objects.create(
        model="testapp.Author",
        checkpoint={
            "mode": "full", "filter": "{}", "since": None, "started": "2026-12-01T10:00:00+00:00",
            "position": {"page": f"{API}/authors?api_key={OLD_KEY}&page=2&page_token=t1", "index": 2},
            "high": None, "failed": 0, "confirmed": True,
        },
    )
    client = Client()
    client.force_login(admin_user)
    for url in (
        reverse("checkpoint-secrets:pyck_syncstate_changelist"),
        reverse("checkpoint-secrets:pyck_syncstate_change", args=[_state().pk]),
    ):
        page = client.get(url)
        assert page.status_code == 200 and OLD_KEY not in page.content.decode()
    served.valid_key = source.key = NEW_KEY

    resumed = sync_model(Author, batch_size=1)

    assert resumed.ok and resumed.resumed and served.keys_sent == [NEW_KEY, NEW_KEY]
