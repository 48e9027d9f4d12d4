"""`SheetDatasource` against `responses`: the request it sends, how it reads a ValueRange (header, short rows,
serial dates, keys), `get()`'s kept read, and its errors."""

from __future__ import annotations

import logging
import pickle
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import responses
from responses import matchers

from pyck.contrib.google_sheets import (
    SheetDatasource,
    date_from_serial,
    datetime_from_serial,
    key_text,
    sheet_field,
)
from pyck.contrib.google_sheets.values import first_row_of
from pyck.core.datasources import (
    ConfigurationError,
    InvalidResourceError,
    NotFoundError,
    ResponseError,
)
from pyck.core.records import absent_fields

BASE = "https://sheets.googleapis.com/v4"
SHEET_ID = "sheet-1"
URL = f"{BASE}/spreadsheets/{SHEET_ID}/values/Volunteers%21A%3AZ"
KEY = "AIzaSyTESTKEY-0123456789abcdef"
READ_QUERY = {
    "majorDimension": "ROWS",
    "valueRenderOption": "UNFORMATTED_VALUE",
    "dateTimeRenderOption": "SERIAL_NUMBER",
    "key": KEY,
}
HEADER = ["Email", "Full name", "Hours", "Active", "Date joined", "Last shift", "Tags", "Member no"]


@dataclass
class Row:
    email: str = sheet_field("Email")
    name: str = sheet_field("Full name")
    hours: float | None = sheet_field("Hours", default=None)
    active: bool = sheet_field("Active", default=False)
    joined: date | None = sheet_field("Date joined", default=None)
    last_shift: datetime | None = sheet_field("Last shift", default=None)
    member_no: str = sheet_field("Member no", default="")
    notes: str = sheet_field("Notes", default="(none)")


def sheet(**options: Any) -> SheetDatasource[Row]:
    return SheetDatasource(
        resource_type=Row, spreadsheet_id=SHEET_ID, range="Volunteers!A:Z", identifier="email", api_key=KEY,
        time_zone="Europe/London", **options,
    )


def answer(mock: responses.RequestsMock, rows: list[list[Any]], *, first: str = "A1", times: int = 1) -> None:
    body = {"range": f"Volunteers!{first}:Z1000", "majorDimension": "ROWS", "values": [HEADER, *rows]}
    for _ in range(times):
        mock.get(URL, json=body, match=[matchers.query_param_matcher(READ_QUERY)])


def test_one_request_reads_the_range_unformatted_with_serial_dates(mock_api: responses.RequestsMock) -> None:
    answer(mock_api, [["ann@example.org", "Ann", 3.5, True, 45296, 45352.770833333336, "x", 1042.0]])
    [ann] = sheet().list()
    assert ann == Row(
        email="ann@example.org", name="Ann", hours=3.5, active=True, joined=date(2024, 1, 5),
        last_shift=datetime(2024, 3, 1, 18, 30, tzinfo=ZoneInfo("Europe/London")), member_no="1042",
    )
    assert len(mock_api.calls) == 1
    # A column the sheet does not have gives the field its default, and says it was absent (the sync leaves the
    # column as it was), rather than an empty value.
    assert ann.notes == "(none)" and absent_fields(ann) == {"notes"}


def test_short_rows_and_empty_cells_give_each_type_its_empty_value(mock_api: responses.RequestsMock) -> None:
    # The API leaves a row's trailing empty cells out; an empty cell before a full one is "".
    answer(mock_api, [["bob@example.org"], ["cy@example.org", "", "", "", "", "", "", 7]])
    bob, cy = sheet().list()
    assert (bob.name, bob.hours, bob.active, bob.joined, bob.last_shift, bob.member_no) == ("", None, False, None, None, "")
    assert (cy.name, cy.hours, cy.active, cy.member_no) == ("", None, False, "7")


def test_serial_datetimes_are_wall_clock_times_in_the_time_zone(mock_api: responses.RequestsMock) -> None:
    # 2024-07-01 09:15 in London is 08:15 UTC (summer time): the serial number is the sheet's wall clock.
    answer(mock_api, [["ann@example.org", "Ann", "", "", "", 45474 + 9.25 / 24]])
    [ann] = sheet().list()
    assert ann.last_shift == datetime(2024, 7, 1, 8, 15, tzinfo=UTC)


def test_serial_number_conversions() -> None:
    # The documented examples (DateTimeRenderOption): 1900-01-01 noon is 2.5, 1900-02-01 3pm is 33.625.
    assert datetime_from_serial(2.5) == datetime(1900, 1, 1, 12)
    assert datetime_from_serial(33.625) == datetime(1900, 2, 1, 15)
    assert date_from_serial(45292) == date(2024, 1, 1)
    assert datetime_from_serial(45292 + 1 / 3) == datetime(2024, 1, 1, 8)  # no 07:59:59.999999
    with pytest.raises(ValueError, match="time of day"):
        date_from_serial(45292.5)
    assert key_text(17.0) == key_text(17) == key_text("17") == "17"


def test_first_row_of_a_range() -> None:
    assert first_row_of("Volunteers!A1:Z1000") == 1
    assert first_row_of("'Q1!'!B3:H") == 3
    assert first_row_of("Sheet1!A:A") == 1
    assert first_row_of("Sheet1!$C$12:$D$20") == 12


def test_a_row_without_a_key_is_skipped_by_list_with_its_row_number_in_the_log(
    mock_api: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    # Row 1 is the header: the keyless row is row 3, and the blank row (row 4) is no record at all.
    answer(mock_api, [["ann@example.org", "Ann"], ["", "No key"], [], ["", ""], ["  ", "Spaces"], ["bob@example.org", "Bob"]])
    with caplog.at_level(logging.WARNING, logger="pyck.contrib.google_sheets"):
        assert [r.email for r in sheet().list()] == ["ann@example.org", "bob@example.org"]
    assert "skipped 2 rows without a key: rows 3, 6" in caplog.text


def test_the_listing_yields_a_keyless_error_named_by_its_row(mock_api: responses.RequestsMock) -> None:
    answer(mock_api, [["ann@example.org", "Ann"], [None, "No key"], ["bob@example.org", "Bob", "lots"]], first="A4")
    items = [item for item, position in sheet().read_listing({})]
    assert items[0].email == "ann@example.org"
    keyless, invalid = items[1], items[2]
    assert isinstance(keyless, InvalidResourceError) and keyless.keyless and keyless.record_id is None
    assert keyless.location == "row 6" and "Row 6 has no value in its key column 'Email'" in str(keyless)
    assert isinstance(invalid, InvalidResourceError) and not invalid.keyless
    assert invalid.record_id == "bob@example.org" and invalid.field == "hours" and invalid.location == "row 7"
    assert "Row 7, column 'Hours'" in str(invalid)


def test_a_date_with_a_time_of_day_fails_its_row(mock_api: responses.RequestsMock) -> None:
    answer(mock_api, [["ann@example.org", "Ann", "", "", 45296.5]])
    [(error, _)] = list(sheet().read_listing({}))
    assert isinstance(error, InvalidResourceError) and error.field == "joined" and "time of day" in str(error)


def test_a_missing_required_column_fails_the_read_naming_it(mock_api: responses.RequestsMock) -> None:
    mock_api.get(URL, json={"range": "Volunteers!A1:Z1000", "values": [["Email", "Name"], ["a@example.org", "Ann"]]})
    with pytest.raises(ResponseError, match=r"has no column 'Full name' \(for the field name, which has no default\)"):
        list(sheet().list())


def test_an_empty_range_is_no_listing(mock_api: responses.RequestsMock) -> None:
    # "values" is absent when the range holds nothing: no header row, so no listing (nothing may be deleted).
    mock_api.get(URL, json={"range": "Volunteers!A1:Z1000", "majorDimension": "ROWS"})
    with pytest.raises(ResponseError, match="has no header row"):
        list(sheet().read_listing({}))


def test_get_answers_from_the_last_read_within_cache_seconds(mock_api: responses.RequestsMock) -> None:
    answer(mock_api, [["ann@example.org", "Ann"], ["17", "Seventeen"]], times=2)
    sheet_ = sheet()
    assert sheet_.get("ann@example.org").name == "Ann"
    assert sheet_.get(17).name == "Seventeen"  # 17, 17.0 and "17" are one key
    with pytest.raises(NotFoundError) as raised:
        sheet_.get("nobody@example.org")
    assert raised.value.record_id == "nobody@example.org"
    assert len(mock_api.calls) == 1
    sheet_.forget()
    sheet_.get("ann@example.org")
    assert len(mock_api.calls) == 2


def test_without_a_kept_read_every_get_reads_the_sheet(mock_api: responses.RequestsMock) -> None:
    answer(mock_api, [["ann@example.org", "Ann"]], times=3)
    sheet_ = sheet(cache_seconds=0)
    for _ in range(3):
        sheet_.get("ann@example.org")
    assert len(mock_api.calls) == 3


def test_a_listing_is_always_a_fresh_read_and_becomes_the_kept_read(mock_api: responses.RequestsMock) -> None:
    answer(mock_api, [["ann@example.org", "Ann"]], times=2)
    sheet_ = sheet()
    list(sheet_.list())
    list(sheet_.read_listing({}))
    sheet_.get("ann@example.org")
    assert len(mock_api.calls) == 2


def test_get_of_a_row_that_failed_raises_its_error_not_not_found(mock_api: responses.RequestsMock) -> None:
    answer(mock_api, [["bob@example.org", "Bob", "lots"]])
    with pytest.raises(InvalidResourceError, match="Row 2, column 'Hours'"):
        sheet().get("bob@example.org")


def test_a_missing_spreadsheet_is_a_response_error_even_for_get(mock_api: responses.RequestsMock) -> None:
    # A NotFoundError from get() means "this row is gone": a sheet that cannot be found must not say that.
    body = {"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}
    mock_api.get(URL, status=404, json=body)
    with pytest.raises(ResponseError) as raised:
        sheet().get("ann@example.org")
    assert not isinstance(raised.value, NotFoundError)
    assert "not found (HTTP 404: Requested entity was not found.)" in str(raised.value)


def test_the_api_key_never_appears_in_errors_or_logs(
    mock_api: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    # A hostile or buggy answer echoing the key back.
    body = {"error": {"code": 400, "message": f"API key not valid: {KEY}", "status": "INVALID_ARGUMENT"}}
    mock_api.get(URL, status=400, json=body)
    with caplog.at_level(logging.DEBUG), pytest.raises(ResponseError) as raised:
        list(sheet().list())
    assert KEY not in str(raised.value) and KEY not in repr(raised.value.body)
    assert "key=***" in str(raised.value)
    assert caplog.text and KEY not in caplog.text


def test_without_credentials_the_configuration_is_refused(settings: Any) -> None:
    settings.GOOGLE_SHEETS_API_KEY = None
    with pytest.raises(ConfigurationError, match="has no credentials: give it api_key="):
        list(SheetDatasource(resource_type=Row, spreadsheet_id=SHEET_ID, range="A:Z", identifier="email").list())


def test_the_api_key_comes_from_the_setting_at_request_time(mock_api: responses.RequestsMock, settings: Any) -> None:
    answer(mock_api, [["ann@example.org", "Ann"]])
    source = sheet()
    source.api_key = None
    settings.GOOGLE_SHEETS_API_KEY = KEY
    assert [r.name for r in source.list()] == ["Ann"]


def test_a_service_account_without_google_auth_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.oauth2", None)  # what an uninstalled package looks like to import
    source = sheet(service_account={"type": "service_account"})
    with pytest.raises(ConfigurationError, match=r"needs the google-auth library: pip install 'django-pyck\[google\]'"):
        list(source.list())


def test_a_filter_is_refused_rather_than_ignored() -> None:
    with pytest.raises(TypeError, match="cannot filter the sheet remotely"):
        list(sheet().list(active=True))


def test_identifier_must_name_a_field(mock_api: responses.RequestsMock) -> None:
    with pytest.raises(ConfigurationError, match="identifier='id' is not a field of Row"):
        list(SheetDatasource(resource_type=Row, spreadsheet_id=SHEET_ID, range="A:Z", api_key=KEY).list())


def test_spreadsheet_id_and_range_are_required() -> None:
    with pytest.raises(ConfigurationError, match="range must be given"):
        SheetDatasource(resource_type=Row, spreadsheet_id=SHEET_ID, identifier="email")


def test_repeated_headers_of_a_field_are_refused(mock_api: responses.RequestsMock) -> None:
    mock_api.get(URL, json={"range": "Volunteers!A1:Z9", "values": [["Email", "Full name", "Email"], ["a", "b", "c"]]})
    with pytest.raises(ResponseError, match="more than one column headed 'Email'"):
        list(sheet().list())


def test_a_keyless_error_keeps_its_row_through_pickling_and_with_context(mock_api: responses.RequestsMock) -> None:
    # Errors travel to workers and task results pickled; the engine adds context with with_context().
    answer(mock_api, [["", "No key"]])
    [(error, _)] = list(sheet().read_listing({}))
    for copy in (pickle.loads(pickle.dumps(error)), error.with_context(record_id=None, field="email")):
        assert isinstance(copy, InvalidResourceError) and copy.keyless and copy.location == "row 2"
