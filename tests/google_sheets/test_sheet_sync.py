"""Syncing the docs page's `Volunteer` model from a real local Sheets server (`benchmarks/sheets_server.py`, built
from Google's documentation): first sync, an unchanged re-sync, rows without a key, deletions and their
confirmation, API keys and service accounts, and no secret in the stored runs or the log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from benchmarks.bench_sheets import is_write
from benchmarks.sheets_server import SheetsServer
from pyck.core.datasources import SyncRun
from pyck.core.sync import sync_model
from tests.sheets_support.models import Volunteer
from tests.sheets_support.sheets import volunteers

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "AIzaSyLOCAL-key-0123456789"
HEADER = ["Email", "Full name", "Hours", "Active", "Date joined", "Last shift"]
TABLE = Volunteer._meta.db_table


def rows(n: int) -> list[list[Any]]:
    return [HEADER] + [
        [f"v{i}@example.org", f"Volunteer {i}", i / 2, i % 2 == 0, date(2024, 1, 1 + i % 28), datetime(2024, 7, 1, 9, i % 60)]
        for i in range(1, n + 1)
    ]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[SheetsServer]:
    with SheetsServer() as server:
        server.api_keys.add(KEY)
        settings.GOOGLE_SHEETS_API_KEY = KEY
        monkeypatch.setattr(volunteers, "base_url", f"{server.url}/v4")
        volunteers.forget()
        yield server
        volunteers.forget()


def sheet(server: SheetsServer, data: list[list[Any]], **options: Any) -> list[list[Any]]:
    server.add_sheet(volunteers.spreadsheet_id, "Volunteers", data, **options)
    return data


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if TABLE in q["sql"] and is_write(q["sql"])]


def stored_text() -> str:
    return json.dumps([model_to_dict(run) for run in SyncRun.objects.all()], default=str)


def test_first_sync_then_an_unchanged_resync_writes_nothing(server: SheetsServer) -> None:
    sheet(server, rows(120))
    first = sync_model(Volunteer)
    assert (first.status, first.created, first.failed) == ("succeeded", 120, 0)
    v3 = Volunteer.objects.get(external_id="v3@example.org")
    assert (v3.name, v3.hours, v3.active, v3.joined) == ("Volunteer 3", 1.5, False, date(2024, 1, 4))
    assert v3.last_shift == datetime(2024, 7, 1, 8, 3, tzinfo=UTC)  # 09:03 in London, summer time
    assert len(server.requests_to("values")) == 1
    server.reset_counts()
    with CaptureQueriesContext(connection) as queries:
        again = sync_model(Volunteer)
    assert (again.status, again.unchanged, again.created, again.updated, again.deleted) == ("succeeded", 120, 0, 0, 0)
    assert writes(queries) == []
    assert len(server.requests_to("values")) == 1


def test_an_edited_cell_updates_its_row_only(server: SheetsServer) -> None:
    data = sheet(server, rows(10))
    sync_model(Volunteer)
    data[4][1] = "Renamed"
    result = sync_model(Volunteer)
    assert (result.updated, result.unchanged) == (1, 9)
    assert Volunteer.objects.get(external_id="v4@example.org").name == "Renamed"


def test_a_row_without_a_key_is_reported_by_row_number_and_does_not_block_deletion(server: SheetsServer) -> None:
    data = sheet(server, rows(10))
    sync_model(Volunteer)
    data[3][0] = ""  # row 4 of the sheet (v3) loses its key
    data.pop(7)  # v7 really vanishes
    result = sync_model(Volunteer)
    # The engine counts a keyless record as failed, so the run is partial; it still deletes what is gone: v7,
    # and v3, whose row no longer carries its key (no row of the listing is v3's).
    assert (result.status, result.failed, result.deleted) == ("partial", 1, 2)
    [no_id] = [w for w in result.warnings if w.kind == "no_id"]
    assert (no_id.count, no_id.detail) == (1, "at row 4")
    assert "Row 4 has no value in its key column 'Email': skipped" in result.errors[0].message
    assert not Volunteer.objects.filter(external_id__in=["v3@example.org", "v7@example.org"]).exists()
    assert Volunteer.objects.count() == 8
    run = SyncRun.objects.latest("started")
    assert run.warnings[0]["kind"] == "no_id" and "at row 4" in run.warnings[0]["message"]


def test_a_row_that_fails_keeps_its_local_row_while_vanished_rows_are_deleted(server: SheetsServer) -> None:
    data = sheet(server, rows(10))
    sync_model(Volunteer)
    data[2][2] = "lots"  # v2's hours: not a number
    data.pop(9)  # v9 vanishes
    result = sync_model(Volunteer)
    assert (result.status, result.failed, result.deleted) == ("partial", 1, 1)
    assert Volunteer.objects.get(external_id="v2@example.org").hours == 1.0  # kept as it was
    assert "Row 3, column 'Hours'" in result.errors[0].message


def test_deletion_confirmation_reads_the_sheet_once_per_run(server: SheetsServer) -> None:
    data = sheet(server, rows(40))
    sync_model(Volunteer)
    del data[21:31]  # ten rows vanish: each is confirmed gone with get()
    server.reset_counts()
    result = sync_model(Volunteer)
    assert result.deleted == 10
    assert len(server.requests_to("values")) == 1  # the listing's read answers the ten get() calls


def test_without_the_kept_read_each_confirmation_reads_the_whole_sheet(
    server: SheetsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The baseline of the test above: what get() would cost if it read the sheet on every call.
    monkeypatch.setattr(volunteers, "cache_seconds", 0)
    data = sheet(server, rows(40))
    sync_model(Volunteer)
    del data[21:31]
    server.reset_counts()
    assert sync_model(Volunteer).deleted == 10
    assert len(server.requests_to("values")) == 11


def test_a_short_answer_deletes_nothing_beyond_max_delete_fraction(server: SheetsServer) -> None:
    data = sheet(server, rows(10))
    sync_model(Volunteer)
    del data[2:]  # a sheet emptied by mistake: one row left
    result = sync_model(Volunteer)
    assert result.deleted == 0 and Volunteer.objects.count() == 10


def test_the_api_key_is_in_no_stored_run_and_no_log_line(server: SheetsServer, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    sheet(server, rows(3))
    with caplog.at_level(logging.DEBUG):
        sync_model(Volunteer)
        settings.GOOGLE_SHEETS_API_KEY = f"{KEY}-revoked"  # refused: the run fails, naming the URL
        failed = sync_model(Volunteer)
    assert failed.status == "failed" and "API key not valid" in failed.errors[0].message
    assert "key=***" in failed.errors[0].message
    assert server.requests_to("values")[0].query["key"] == [KEY]
    text = stored_text()
    assert KEY not in text and KEY not in caplog.text
    assert "key=***" in caplog.text


def test_a_private_sheet_is_read_with_a_service_account_token(server: SheetsServer, monkeypatch: pytest.MonkeyPatch, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    sheet(server, rows(5), public=False)
    settings.GOOGLE_SHEETS_API_KEY = KEY
    assert sync_model(Volunteer).status == "failed"  # an API key cannot read a private sheet (403)
    key = server.service_account_key()
    monkeypatch.setattr(volunteers, "service_account", key)
    with caplog.at_level(logging.DEBUG):
        first = sync_model(Volunteer)
        second = sync_model(Volunteer)
    assert (first.created, second.unchanged) == (5, 5)
    [token_request] = server.requests_to("token")  # the token lasts an hour: fetched once for both runs
    assert token_request.status == 200
    reads = server.requests_to("values")[-2:]
    assert [r.status for r in reads] == [200, 200]
    assert all(r.headers["Authorization"].startswith("Bearer ya29.") and "key" not in r.query for r in reads)
    [token] = server.state.tokens
    assert token not in stored_text() and token not in caplog.text
    assert key["private_key"].splitlines()[1] not in caplog.text


def test_an_expired_token_is_refreshed(server: SheetsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    sheet(server, rows(2), public=False)
    # google-auth counts a token as expired a few minutes before its end: one of 60 s is expired at once.
    monkeypatch.setattr(volunteers, "service_account", server.service_account_key(expires_in=60))
    sync_model(Volunteer)
    sync_model(Volunteer)
    assert len(server.requests_to("token")) == 2
    assert [r.status for r in server.requests_to("values")] == [200, 200]


def test_a_refused_service_account_fails_the_run_with_a_clear_error(server: SheetsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    sheet(server, rows(2), public=False)
    key = server.service_account_key()
    server.state.accounts.clear()  # the token endpoint no longer knows the account (a deleted key)
    monkeypatch.setattr(volunteers, "service_account", key)
    result = sync_model(Volunteer)
    assert result.status == "failed"
    assert "refused the service account sync@pyck-test.iam.gserviceaccount.com" in result.errors[0].message
    assert "Invalid JWT Signature" in result.errors[0].message
    assert key["private_key"].splitlines()[1] not in stored_text()


def test_a_range_starting_below_row_one_numbers_rows_as_the_sheet_does(server: SheetsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    data = [["Notes above the table"], [], *rows(3)]  # the header is row 3
    data[4][0] = ""  # row 5
    sheet(server, data)
    monkeypatch.setattr(volunteers, "range", "Volunteers!A3:F")
    result = sync_model(Volunteer)
    assert result.created == 2
    assert [w.detail for w in result.warnings if w.kind == "no_id"] == ["at row 5"]


def test_the_token_uri_can_be_overridden_and_the_key_read_from_its_file(
    server: SheetsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    sheet(server, rows(2), public=False)
    key = server.service_account_key()
    key["token_uri"] = "https://oauth2.googleapis.com/token"  # as in a key downloaded from Google
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(key))
    monkeypatch.setattr(volunteers, "service_account", str(path))
    monkeypatch.setattr(volunteers, "token_uri", f"{server.url}/token")
    assert sync_model(Volunteer).created == 2
    assert len(server.requests_to("token")) == 1
