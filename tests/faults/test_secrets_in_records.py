"""An API may echo a caller's credentials inside its data: a record field holding the API key, a next-page
link carrying it, an HTML page quoting it. Error messages quote remote data, so every secret a datasource has
sent (the value of every header of ``get_headers()``, whatever its name, and its secret query values) is
blanked out of them, and out of the causes, logs, ``SyncResult.errors`` and ``SyncRun.errors`` built from them.
Every output is searched for the secrets."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from pyck.core.datasources import DatasourceError, NextUrlPaginator, RestDatasource, SyncRun
from pyck.core.sync import sync_model
from tests.testapp.models import Article, Team
from tests.testapp.resources import ArticleResource

from .server import FaultServer, Received, dynamic_answer, json_answer, raw_answer, status_answer
from .sources import MEMBER, QUERY_SECRET, Members

IDENT_SECRET = "ident-3f8e21c0a9b7d4"
BEARER_SECRET = "bearer-tok-c41d9e07b2a8"
SECRETS = (IDENT_SECRET, BEARER_SECRET, QUERY_SECRET)


class IdentMixin:
    """Authenticated by a header whose name says nothing of credentials, and a bearer token."""

    def get_headers(self) -> dict[str, str]:
        return {"X-Membership-Ident": IDENT_SECRET, "Authorization": f"Bearer {BEARER_SECRET}"}


class IdentMembers(IdentMixin, Members):
    pass


class IdentRest(IdentMixin, RestDatasource[Any]):
    pass


def everything_said(error: BaseException | None, caplog: pytest.LogCaptureFixture) -> str:
    """Every output a user or a log aggregator could see: the error's message, repr, whole traceback with its
    causes, its attributes and kept body, and every log record."""
    parts = [caplog.text]
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), record.exc_text or ""]
    if error is not None:
        parts += [str(error), repr(error), "".join(traceback.format_exception(error)), repr(vars(error))]
        if isinstance(error, DatasourceError):
            parts.append(repr(error.body))
    return "\n".join(parts)


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pyck")
    caplog.set_level(logging.DEBUG, logger="urllib3")


def _echo(received: Received) -> str:
    # What the server was sent, as an API quoting it back would.
    return f"{received.headers.get('X-Membership-Ident')} {received.headers.get('Authorization')}"


# --- Datasource errors --------------------------------------------------------------------------------------

Scenario = Callable[[FaultServer], Callable[[], Any]]


def record_field_echoing_the_ident_in_a_listing(server: FaultServer) -> Callable[[], Any]:
    # "joined" is a date: the deserialiser's error quotes the value, and its cause (fromisoformat's) too.
    server.route("/members", dynamic_answer(lambda r: json_answer({"items": [{**MEMBER, "joined": _echo(r)}]})))
    source = IdentMembers(base_url=server.url, name="faults.ident")
    return lambda: list(source.list(api_key=QUERY_SECRET))


def record_field_echoing_the_ident_on_get(server: FaultServer) -> Callable[[], Any]:
    server.route("/members/7", dynamic_answer(lambda r: json_answer({**MEMBER, "id": 7, "name": {"set by": _echo(r)}})))
    source = IdentMembers(base_url=server.url, name="faults.ident")
    return lambda: source.get(7, api_key=QUERY_SECRET)


class RejectingMembers(IdentMembers):
    """A deserialize() override whose own error quotes the record."""

    def deserialize(self, data: Any) -> Any:
        raise ValueError(f"unexpected record {data!r}")


def own_deserialize_error_quoting_the_record(server: FaultServer) -> Callable[[], Any]:
    server.route("/members", dynamic_answer(lambda r: json_answer({"items": [{"id": 1, "note": _echo(r)}]})))
    source = RejectingMembers(base_url=server.url)
    return lambda: list(source.list())


def next_link_to_elsewhere_carrying_the_ident(server: FaultServer) -> Callable[[], Any]:
    # The paginator refuses a link to another host, naming that host.
    server.route(
        "/members",
        dynamic_answer(
            lambda r: json_answer({"results": [MEMBER], "next": f"http://{r.headers['X-Membership-Ident']}.example.net/p2"})
        ),
    )
    source = IdentMembers(base_url=server.url, paginator=NextUrlPaginator())
    return lambda: list(source.list())


def html_page_quoting_the_ident(server: FaultServer) -> Callable[[], Any]:
    server.route("/members", dynamic_answer(lambda r: raw_answer(f"<p>Welcome {_echo(r)}</p>".encode(), content_type="text/html")))
    source = IdentMembers(base_url=server.url)
    return lambda: list(source.list())


def error_500_quoting_the_ident(server: FaultServer) -> Callable[[], Any]:
    server.route("/members/7", dynamic_answer(lambda r: status_answer(500, {"error": f"bad ident {_echo(r)}"})))
    source = IdentMembers(base_url=server.url, retries=0)
    return lambda: source.get(7)


SCENARIOS: list[Scenario] = [
    record_field_echoing_the_ident_in_a_listing,
    record_field_echoing_the_ident_on_get,
    own_deserialize_error_quoting_the_record,
    next_link_to_elsewhere_carrying_the_ident,
    html_page_quoting_the_ident,
    error_500_quoting_the_ident,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_secrets_echoed_in_remote_data_never_appear_in_errors_or_logs(
    server: FaultServer, caplog: pytest.LogCaptureFixture, scenario: Scenario
) -> None:
    call = scenario(server)
    with pytest.raises(DatasourceError) as caught:
        call()
    said = everything_said(caught.value, caplog)
    for secret in SECRETS:
        assert secret not in said
    assert "***" in said  # the echoed secret was there, blanked out
    for received in server.received:  # the credentials did go out, so the test could have caught a leak
        assert received.headers["X-Membership-Ident"] == IDENT_SECRET


def test_other_header_values_and_short_ones_are_not_blanked_out(server: FaultServer) -> None:
    # Only what may be a credential goes: not the session's own headers, nor a header value too short to be one.
    class Versioned(Members):
        def get_headers(self) -> dict[str, str]:
            return {"X-Api-Version": "2", "Accept-Language": "en-GB,en;q=0.8"}

    server.route("/members", json_answer({"items": [{**MEMBER, "joined": "en-GB,en;q=0.8 v2"}]}))
    with pytest.raises(DatasourceError) as caught:
        list(Versioned(base_url=server.url).list())
    assert "'en-GB,en;q=0.8 v2'" in str(caught.value)


# --- Through the sync engine ---------------------------------------------------------------------------------


@dataclass
class TeamRecord:
    id: int
    name: str
    founded: date | None = None


@pytest.fixture
def listing(server: FaultServer) -> Iterator[Callable[[list[Callable[[Received], dict[str, Any]]]], None]]:
    def serve(records: list[Callable[[Received], dict[str, Any]]]) -> None:
        server.route("/records", dynamic_answer(lambda r: json_answer([make(r) for make in records])))

    yield serve


def _synced_outputs(result: Any, caplog: pytest.LogCaptureFixture) -> str:
    run = SyncRun.objects.get(model=result.model)
    return "\n".join(
        [everything_said(None, caplog), repr(result), repr(result.errors), *map(str, result.errors), repr(run.errors), str(run.errors)]
    )


@pytest.mark.django_db
def test_a_record_echoing_the_ident_never_puts_it_in_sync_errors(
    server: FaultServer, listing: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    source = IdentRest(base_url=server.url, path="/records", resource_type=TeamRecord, name="faults.teams")
    monkeypatch.setattr(Team.sync_config, "datasource", source)
    listing([lambda r: {"id": 1, "name": "Reds"}, lambda r: {"id": 2, "name": "Blues", "founded": _echo(r)}])
    result = sync_model(Team)
    assert (result.status, result.created, result.failed) == ("partial", 1, 1)
    said = _synced_outputs(result, caplog)
    assert "***" in said and "founded" in said
    for secret in SECRETS:
        assert secret not in said


@pytest.mark.django_db
def test_a_value_the_model_rejects_quoting_the_ident_never_puts_it_in_sync_errors(
    server: FaultServer, listing: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The record deserialises (price is Any), then the DecimalField rejects the value, quoting it.
    source = IdentRest(base_url=server.url, path="/records", resource_type=ArticleResource, name="faults.articles")
    monkeypatch.setattr(Article.sync_config, "datasource", source)
    listing([lambda r: {"id": 1, "headline": "Fine"}, lambda r: {"id": 2, "headline": "Echo", "price": _echo(r)}])
    result = sync_model(Article)
    assert (result.status, result.created, result.failed) == ("partial", 1, 1)
    said = _synced_outputs(result, caplog)
    assert "***" in said and "price" in said
    for secret in SECRETS:
        assert secret not in said
