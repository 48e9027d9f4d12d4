"""Two tables of one Airtable base synced end to end against `AirtableServer`, a real local server on 127.0.0.1
that answers as https://airtable.com/developers/web/api/list-records, …/get-record and …/rate-limits document."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import pyck.core.http
from pyck.contrib.airtable.replay import AirtableServer, Table
from pyck.core.models import SyncRun
from pyck.core.sync import sync_model
from tests.airtable_support.models import Member, Team
from tests.airtable_support.resources import BASE, TOKEN, members, teams

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Base:
    """The server and the base's two tables, "Teams" and "Members"."""

    def __init__(self, server: AirtableServer) -> None:
        self.server = server
        self.teams: Table = server.add_table(BASE, "Teams")
        self.members: Table = server.add_table(BASE, "Members")
        self.red = server.put(self.teams, {"id": "recRED00000000001", "Name": "Red"}, modified=T0)
        self.blue = server.put(self.teams, {"id": "recBLUE0000000001", "Name": "Blue"}, modified=T0)

    def member(self, id: str, modified: datetime = T0, **cells: Any) -> str:
        return self.server.put(self.members, {"id": id, "Last Modified": modified.isoformat(), **cells}, modified=modified)

    def list_queries(self) -> list[dict[str, str]]:
        return [query for _, _, path, query in self.server.requests if path.endswith("/Members")]


@pytest.fixture
def base(monkeypatch: pytest.MonkeyPatch) -> Iterator[Base]:
    """No rate limit on either side (the rate-limit tests below turn both on); with the tests' local-memory
    cache, the datasources have no request budget."""
    with AirtableServer(TOKEN, rate=None) as server:
        for source in (teams, members):
            monkeypatch.setattr(source, "base_url", server.base_url)
            monkeypatch.setattr(source, "rate_limit", None)
            monkeypatch.setattr(source, "retries", 0)
        yield Base(server)


def test_linked_records_become_a_foreign_key_and_a_many_to_many_with_no_code(base: Base) -> None:
    base.member("recADA0000000001", Name="Ada", Active=True, Team=[base.red], Groups=[base.red, base.blue])
    base.member("recBOB0000000001", Name="Bob")  # every cell but the name empty, so left out by Airtable
    result = sync_model(Member)
    assert (result.status, result.created) == ("succeeded", 2)
    ada, bob = Member.objects.order_by("name")
    assert (ada.name, ada.active, ada.team.name, sorted(t.name for t in ada.groups.all())) == ("Ada", True, "Red", ["Blue", "Red"])
    assert (bob.active, bob.team, list(bob.groups.all())) == (False, None, [])
    assert ada.created_time is not None and ada.modified == T0
    # The teams were fetched by id from their own table (get record), not listed.
    assert set(Team.objects.values_list("external_id", flat=True)) == {base.red, base.blue}
    assert any(path.endswith(f"/Teams/{base.red}") for _, _, path, _ in base.server.requests)


def test_a_resync_writes_nothing_and_an_emptied_cell_clears_its_column(base: Base) -> None:
    base.member("recADA0000000001", Name="Ada", Active=True, Team=[base.red], Groups=[base.blue])
    assert sync_model(Team).status == "succeeded"
    sync_model(Member, mode="full")
    Member.objects.update(note="local")
    again = sync_model(Member, mode="full")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    base.member("recADA0000000001", Name="Ada")  # Active unticked, Team and Groups emptied: all left out
    cleared = sync_model(Member, mode="full")
    assert cleared.updated == 1
    ada = Member.objects.get()
    assert (ada.active, ada.team, list(ada.groups.all()), ada.note) == (False, None, [], "local")


def test_a_full_run_deletes_a_record_gone_from_the_table(base: Base) -> None:
    base.member("recADA0000000001", Name="Ada")
    gone = base.member("recBOB0000000001", Name="Bob")
    sync_model(Member, mode="full")
    base.server.delete(base.members, gone)
    result = sync_model(Member, mode="full")
    assert result.deleted == 1
    assert list(Member.objects.values_list("name", flat=True)) == ["Ada"]


def test_incremental_runs_ask_for_records_modified_since_the_cursor_and_miss_deletions(base: Base) -> None:
    base.member("recADA0000000001", Name="Ada", modified=T0)
    gone = base.member("recBOB0000000001", Name="Bob", modified=T0 + timedelta(minutes=1))
    assert sync_model(Member).mode == "full"
    base.member("recCAT0000000001", Name="Cat", modified=T0 + timedelta(hours=1))
    base.server.delete(base.members, gone)
    result = sync_model(Member)
    assert (result.mode, result.created, result.deleted) == ("incremental", 1, 0)
    # The cursor was Bob's time; the lookback (1 s) moves the start before it.
    assert base.list_queries()[-1]["filterByFormula"] == "IS_AFTER(LAST_MODIFIED_TIME(), '2026-01-01T00:00:59Z')"
    assert set(Member.objects.values_list("name", flat=True)) == {"Ada", "Bob", "Cat"}  # only a full run deletes


def test_an_expired_offset_restarts_the_listing_in_the_same_run_without_a_reset(base: Base) -> None:
    for i in range(250):
        base.member(f"rec{i:014d}", Name=f"M{i}")
    base.server.fail_next(503, path_suffix="/Members", after=2)  # the third page: the run fails, with a checkpoint
    first = sync_model(Member, mode="full")
    assert first.status == "failed" and Member.objects.count() == 200
    base.server.expire_offsets()  # the stored offset times out before the next run
    requests_before = len(base.list_queries())
    second = sync_model(Member, mode="full")
    assert second.status == "succeeded" and Member.objects.count() == 250
    queries = base.list_queries()[requests_before:]
    assert "offset" in queries[0] and "offset" not in queries[1]  # refused, then from the start
    assert "LIST_RECORDS_ITERATOR_NOT_AVAILABLE" in str(second.warnings) and "started over" in str(second)
    assert sync_model(Member, mode="full").status == "succeeded"


def test_the_token_is_in_no_log_line_error_or_sync_run(base: Base, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    base.member("recADA0000000001", Name="Ada")
    monkeypatch.setattr(members, "api_key", TOKEN + "-revoked")
    result = sync_model(Member)
    assert result.status == "failed"
    run = SyncRun.objects.latest("pk")
    stored = " ".join(str(value) for value in run.__dict__.values())
    assert "401" in stored or "AUTHENTICATION_REQUIRED" in stored
    for text in (stored, caplog.text, str(result.errors), str(result.notes)):
        assert TOKEN not in text


@pytest.fixture
def real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rate-limit tests wait for real: the budget counts by the wall clock."""
    monkeypatch.setattr(pyck.core.http, "_sleep", time.sleep)


@pytest.mark.usefixtures("real_sleep")
def test_two_tables_of_one_base_share_the_default_budget_and_get_no_429(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "airtable-budget"}}
    with AirtableServer(TOKEN) as server:
        tables = [server.add_table(BASE, name, [{"Name": f"{name} {i}"} for i in range(500)]) for name in ("Teams", "Members")]
        sources = [teams, members]
        for source in sources:  # the defaults: 5 requests in any 1.1 s per base, shared in the process
            monkeypatch.setattr(source, "base_url", server.base_url)
        counts: list[int] = []

        def read(source: Any) -> None:
            counts.append(sum(1 for _ in source.list(pageSize=50)))

        threads = [threading.Thread(target=read, args=(source,)) for source in sources]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert counts == [500, 500] and len(tables) == 2
    assert len(server.requests) == 20
    assert server.rejected == {}


def test_a_429_waits_out_airtables_30_second_penalty_instead_of_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(pyck.core.http, "_sleep", sleep)
    with AirtableServer(TOKEN, clock=lambda: now[0]) as server:
        table = server.add_table(BASE, "Members", [{"id": f"rec{i:014d}", "Name": str(i)} for i in range(6)])
        monkeypatch.setattr(members, "base_url", server.base_url)
        monkeypatch.setattr(members, "rate_limit", None)  # nothing spaces the requests: the 6th is one too many
        names = [members.get(record_id).name for record_id in table.records]
    assert names == ["0", "1", "2", "3", "4", "5"]
    assert server.rejected == {BASE: 1}
    assert waits == [30.0]
