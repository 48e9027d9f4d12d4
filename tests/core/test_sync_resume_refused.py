"""A checkpoint whose position the API no longer accepts, or that made a run fail, never fails a second run
(issue 18 item 1).

The fake API is Airtable's list-records endpoint as documented at
https://airtable.com/developers/web/api/list-records: records under ``records``, the next page's token in
``offset``, sent back as the ``offset`` query parameter. "Iteration may timeout due to client inactivity or
server restarts. In that case, the client will receive a 422 response with error message
LIST_RECORDS_ITERATOR_NOT_AVAILABLE. It may then restart iteration from the beginning." Here an offset
expires when the test says so (``FakeAirtable.expire``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from pyck.core.datasources import CursorPaginator, MockDatasource, OnDelete, ResponseError, RestDatasource
from pyck.core.models import SyncRun, SyncState
from pyck.core.sync import sync_model
from tests.testapp import resources as r
from tests.testapp.models import Team, Ticket

from .helpdesk import T0, FakeHelpdesk
from .helpdesk import URL as HELPDESK_URL

pytestmark = pytest.mark.django_db

BASE = "https://api.airtable.example"
URL = f"{BASE}/v0/appBase/Teams"
EXPIRED = {"error": {"type": "LIST_RECORDS_ITERATOR_NOT_AVAILABLE", "message": "The iterator is not available"}}


@dataclass
class FakeAirtable:
    """Six teams, two a page; each page's ``offset`` names an iterator the server keeps until ``expire()``."""

    records: list[dict[str, Any]] = field(default_factory=lambda: [{"id": i, "name": f"T{i}", "players": []} for i in range(1, 7)])
    requests: list[dict[str, str]] = field(default_factory=list)
    # Request number (1-based) -> the status to answer it with instead.
    fail: dict[int, int] = field(default_factory=dict)
    _iterators: dict[str, int] = field(default_factory=dict)
    _generation: int = 0

    def expire(self) -> None:
        """Forget every iterator: the offsets handed out so far are answered with a 422."""
        self._iterators.clear()
        self._generation += 1

    def answer(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        self.requests.append(query)
        status = self.fail.get(len(self.requests))
        if status:
            return status, {}, json.dumps({"error": {"type": "SERVER_ERROR"}})
        start = 0
        if "offset" in query:
            if query["offset"] not in self._iterators:
                return 422, {"Content-Type": "application/json"}, json.dumps(EXPIRED)
            start = self._iterators[query["offset"]]
        body: dict[str, Any] = {"records": self.records[start : start + 2]}
        if start + 2 < len(self.records):
            token = f"itr{self._generation}/rec{self.records[start + 2]['id']}"
            self._iterators[token] = start + 2
            body["offset"] = token
        return 200, {"Content-Type": "application/json"}, json.dumps(body)


@pytest.fixture
def airtable(monkeypatch: pytest.MonkeyPatch) -> Any:
    api = FakeAirtable()
    source = RestDatasource(
        base_url=BASE, path="/v0/appBase/Teams", resource_type=r.TeamResource, name="airtable/teams", retries=0,
        paginator=CursorPaginator(cursor_param="offset", cursor_path="offset", items_path="records"),
    )
    monkeypatch.setattr(Team.sync_config, "datasource", source)
    monkeypatch.setattr(Team.sync_config, "on_delete", OnDelete.DELETE)
    monkeypatch.setattr(Team.sync_config, "confirm_delete", False)
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, URL, callback=api.answer)
        yield api


def _checkpoint() -> Any:
    return SyncState.objects.get(model="testapp.Team").checkpoint


def _interrupted(api: FakeAirtable) -> dict[str, Any]:
    """Run a sync that dies on page 3 (a 500): its checkpoint is at the end of page 2."""
    api.fail = {3: 500}
    assert sync_model(Team).status == "failed"
    api.fail, api.requests[:] = {}, []
    checkpoint = _checkpoint()
    assert checkpoint["position"] == {"page": "itr0/rec3", "index": 2}
    return checkpoint


def test_an_expired_offset_drops_the_checkpoint_and_the_same_run_lists_from_the_start(airtable, caplog):
    Team.objects.create(external_id=99, name="Gone")  # deleted remotely long ago
    _interrupted(airtable)
    airtable.expire()  # the resumed run comes back after Airtable's iterator timed out

    with caplog.at_level(logging.WARNING, logger="pyck.sync"):
        result = sync_model(Team)

    assert result.ok and not result.resumed
    # The checkpoint's own page, refused; then the listing from the start, in the same run.
    assert airtable.requests == [{"offset": "itr0/rec3"}, {}, {"offset": "itr1/rec3"}, {"offset": "itr1/rec5"}]
    assert sorted(Team.objects.values_list("external_id", flat=True)) == [1, 2, 3, 4, 5, 6]
    assert result.deleted == 1, "a listing read whole from the start deletes what is gone"
    [warning] = [w for w in result.warnings if w.kind == "restarted"]
    assert "LIST_RECORDS_ITERATOR_NOT_AVAILABLE" in warning.message and "HTTP 422" in warning.message
    assert "started over" in str(result)
    assert any("starts over from the beginning" in m and "422" in m for m in caplog.messages)
    run = SyncRun.objects.filter(model="testapp.Team").first()
    assert (run.status, run.resumed, run.deleted) == ("succeeded", False, 1)
    assert [w["kind"] for w in run.warnings] == ["restarted"]
    assert "LIST_RECORDS_ITERATOR_NOT_AVAILABLE" in run.warnings[0]["message"]
    assert _checkpoint() is None
    # And the next run is a plain one: no checkpoint, no warning.
    airtable.requests.clear()
    again = sync_model(Team)
    assert again.ok and not again.warnings and airtable.requests[0] == {}


def test_a_server_error_at_the_checkpoint_fails_that_run_and_the_next_one_starts_over(airtable):
    checkpoint = _interrupted(airtable)
    airtable.fail = {1: 503}  # the checkpoint's own page: not a verdict on the position, but it fails the run

    failed = sync_model(Team)

    assert failed.status == "failed" and failed.resumed
    assert "the next run starts over" in failed.errors[0].message and "503" in failed.errors[0].message
    assert _checkpoint() == {**checkpoint, "unresumable": _checkpoint()["unresumable"]}
    assert "503" in _checkpoint()["unresumable"]
    airtable.fail, airtable.requests[:] = {}, []

    result = sync_model(Team)

    assert result.ok and not result.resumed
    assert airtable.requests[0] == {}, "not resumed from the checkpoint that failed a run already"
    assert any("could not go on from this checkpoint either" in n and "503" in n for n in result.notes)
    [warning] = [w for w in result.warnings if w.kind == "restarted"]
    assert "503" in warning.message
    assert [w["kind"] for w in SyncRun.objects.filter(model="testapp.Team").first().warnings] == ["restarted"]
    assert _checkpoint() is None


@pytest.mark.parametrize("status", [401, 403, 429])
def test_a_refused_account_at_the_checkpoint_keeps_it_for_the_next_run(airtable, status):
    checkpoint = _interrupted(airtable)
    airtable.fail = {1: status}

    failed = sync_model(Team)

    assert failed.status == "failed" and str(status) in failed.errors[0].message
    assert "starts over" not in failed.errors[0].message
    assert _checkpoint() == checkpoint, "the account was refused, not the position: the checkpoint stays as it was"
    airtable.fail, airtable.requests[:] = {}, []

    result = sync_model(Team)

    assert result.ok and result.resumed and not result.warnings
    assert airtable.requests == [{"offset": "itr0/rec3"}, {"offset": "itr0/rec5"}]


def test_a_refused_position_of_an_incremental_run_restarts_from_the_same_cursor():
    helpdesk = FakeHelpdesk()
    for i in range(1, 26):
        helpdesk.put(i)
    refuse_once: set[str] = set()
    answers: list[tuple[str, str]] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        answers.append((query.get("updated_since", ""), query.get("offset", "0")))
        if query.get("offset") in refuse_once:
            refuse_once.discard(query["offset"])
            return 400, {}, json.dumps({"error": "offset out of range"})
        return helpdesk.answer(request)

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, HELPDESK_URL, callback=answer)
        sync_model(Ticket)
        cursor = SyncState.objects.get(model="testapp.Ticket").cursor
        for i in range(1, 26):
            helpdesk.put(i, status="closed", updated_at=T0 + timedelta(days=1, minutes=i))
        helpdesk.requests.clear()
        helpdesk.fail_from = 3
        assert sync_model(Ticket).status == "failed"  # 20 tickets written, then page 3 fails
        assert SyncState.objects.get(model="testapp.Ticket").checkpoint["mode"] == "incremental"
        helpdesk.fail_from, answers[:] = None, []
        refuse_once.add("10")

        result = sync_model(Ticket)

    since = (T0 + timedelta(minutes=25)).isoformat()
    assert result.ok and result.mode == "incremental" and not result.resumed
    # Refused at the checkpoint's page; then from the start, asking from the same cursor.
    assert answers == [(since, "10"), (since, "0"), (since, "10"), (since, "20")]
    state = SyncState.objects.get(model="testapp.Ticket")
    assert state.checkpoint is None and cursor != state.cursor
    assert state.cursor == {"datetime": (T0 + timedelta(days=1, minutes=25)).isoformat()}
    assert set(Ticket.objects.values_list("status", flat=True)) == {"closed"}


class _Export(MockDatasource[Any]):
    """Reads its own listing, resumable at a record number; `refuse` says what a given start raises."""

    resumable = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fail_after: int | None = None
        self.refuse: BaseException | None = None
        self.starts: list[Any] = []

    def read_listing(self, filter: Mapping[str, Any], *, start: Any = None) -> Iterator[tuple[Any, Any]]:
        self.starts.append(start)
        if start is not None and self.refuse is not None:
            raise self.refuse
        first = start["n"] if start else 0
        for n, record in enumerate(self.data[first:], start=first + 1):
            if self.fail_after is not None and n > self.fail_after:
                raise ResponseError("the export broke off", datasource=self, status_code=502)
            yield record, {"n": n}


def _export(monkeypatch: pytest.MonkeyPatch) -> _Export:
    source = _Export([r.TeamResource(id=i, name=f"T{i}", players=[]) for i in range(1, 8)], resource_type=r.TeamResource)
    monkeypatch.setattr(Team.sync_config, "datasource", source)
    source.fail_after = 4
    assert sync_model(Team, batch_size=2).status == "failed"
    source.fail_after, source.starts[:] = None, []
    return source


def test_a_datasource_of_its_own_says_a_position_is_gone_with_a_4xx_and_the_run_starts_over(monkeypatch):
    source = _export(monkeypatch)
    source.refuse = ResponseError("no such export position", datasource=source, status_code=410)

    result = sync_model(Team, batch_size=2)

    assert result.ok and not result.resumed and source.starts == [{"n": 4}, None]
    assert "no such export position" in next(w for w in result.warnings if w.kind == "restarted").message
    assert Team.objects.count() == 7


def test_an_exception_at_the_checkpoint_of_a_datasource_of_its_own_fails_one_run_only(monkeypatch):
    source = _export(monkeypatch)
    source.refuse = KeyError("page")  # say, a position stored by an earlier version of the datasource

    with pytest.raises(KeyError):
        sync_model(Team, batch_size=2)
    source.refuse, source.starts[:] = None, []
    result = sync_model(Team, batch_size=2)

    assert result.ok and not result.resumed and source.starts == [None]
    assert "KeyError" in next(w for w in result.warnings if w.kind == "restarted").message
