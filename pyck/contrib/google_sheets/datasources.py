"""`SheetDatasource`: the rows of one Google Sheets range, as typed records, read with `spreadsheets.values.get`.

```python
@dataclass
class Volunteer:
    email: str = sheet_field("Email")
    name: str = sheet_field("Full name")
    joined: date | None = sheet_field("Date joined", default=None)

volunteers = SheetDatasource(
    resource_type=Volunteer, spreadsheet_id="1AbC...", range="Volunteers!A:Z", identifier="email",
)
```

What it relies on, from Google's documentation:

- One request reads the range: `GET {base_url}/spreadsheets/{spreadsheetId}/values/{range}`
  (https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/get), with
  `majorDimension=ROWS`, `valueRenderOption=UNFORMATTED_VALUE` ("Values will be calculated, but not formatted
  in the reply": a number is a number, a checkbox a boolean;
  https://developers.google.com/sheets/api/reference/rest/v4/ValueRenderOption) and
  `dateTimeRenderOption=SERIAL_NUMBER` (dates as serial numbers, see `pyck.contrib.google_sheets.serials`).
  The answer has no pages: the whole range comes at once.
- Trailing empty cells and rows are left out of the answer
  (https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values#ValueRange): a short row's
  missing cells are empty cells (see `pyck.contrib.google_sheets.columns`).
- A public sheet is read with an API key, sent as the `key` query parameter
  (https://cloud.google.com/docs/authentication/api-keys-use); a private one with a service account's access
  token, `Authorization: Bearer` (see `pyck.contrib.google_sheets.auth`).
- An error answer is `{"error": {"code": ..., "message": ..., "status": ...}}`
  (https://cloud.google.com/apis/design/errors#http_mapping): its message is quoted in pyck's error.

The sheet has no change feed and no single-row endpoint: every run reads the whole range, and `get()` answers
from the last read while it is younger than `cache_seconds` (see `SheetDatasource.get`).
"""

from __future__ import annotations

import logging
import threading
import time
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone

from pyck.core.base import Listed, ResourceT
from pyck.core.exceptions import (
    ConfigurationError,
    InvalidResourceError,
    NotFoundError,
    ResponseError,
)
from pyck.core.http import with_query
from pyck.core.records import deserializer_for
from pyck.core.redaction import DEFAULT_SECRET_PARAMS
from pyck.core.rest import RestDatasource
from pyck.core.rest_items import api_root

from .auth import ServiceAccount
from .columns import Column, SheetColumns
from .serials import date_from_serial, datetime_from_serial
from .values import NotAValueRange, SheetValues, is_blank

__all__ = ["SheetDatasource", "SheetRead"]

logger = logging.getLogger("pyck.contrib.google_sheets")

# The query of every read (see the module docstring for the documentation of each).
_READ_QUERY = {
    "majorDimension": "ROWS",
    "valueRenderOption": "UNFORMATTED_VALUE",
    "dateTimeRenderOption": "SERIAL_NUMBER",
}


@dataclass
class SheetRead:
    """One read of the range: each row under the header as a record (or the `InvalidResourceError` of a row that
    could not be read), by sheet row number, and the records by key."""

    url: str
    """The URL read, without the API key."""
    rows: list[tuple[int, Any]] = field(default_factory=list)
    """`(sheet row number, record or InvalidResourceError)`, in sheet order; blank rows left out."""
    by_key: dict[str, Any] = field(default_factory=dict)
    """The record (or the error) of the first row with each key, by the key's text (see `key_text`)."""
    blank: int = 0
    """Rows with nothing in them, left out (they are not records)."""
    at: float = 0.0
    """When the answer arrived (`time.monotonic()`)."""

    @property
    def keyless(self) -> int:
        """Rows that have no value in the key column: skipped."""
        return sum(1 for _, item in self.rows if isinstance(item, InvalidResourceError) and item.keyless)


def key_text(value: Any) -> str:
    """A key as text, so that `17`, `17.0` and `"17"` name the same row (a sheet holds whole numbers as either)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class SheetDatasource(RestDatasource[ResourceT]):
    """The rows of one range of a Google Sheet as records of `resource_type`, a dataclass whose fields name their
    columns with `sheet_field("Header")`.

    The first row of the range is the header; each row under it is a record. `identifier` names the field whose
    column is the key, the record's id (for the sync engine: the `external_id`).

    - A row whose key cell is empty is skipped: `list()` leaves it out (with a warning in the log) and a sync
      reports it by its row number in the `"no_id"` warning, counts it among the failed records, and still deletes
      the rows that are really gone. A row with nothing in it at all is not a record, and is left out silently.
    - A row that does not fit the resource type (a required cell empty, a text in a number column) fails on its
      own, named by its row number and key; the other rows are synced.
    - Dates and datetimes arrive as serial numbers and are converted for `date` and `datetime` fields, the
      datetimes in `time_zone` (the number has none). A number in a `str` field becomes its text (`17` -> `"17"`),
      a whole `float` in an `int` field an `int`.

    Credentials, checked at each request (so Django's `override_settings` works): `service_account` if set
    (else the `GOOGLE_SHEETS_SERVICE_ACCOUNT` setting), else `api_key` (else `GOOGLE_SHEETS_API_KEY`). Neither
    reaches a log line, an error or a stored row: the key is a secret query parameter, the token a credentials
    header.
    """

    base_url = "https://sheets.googleapis.com/v4"
    spreadsheet_id: str = ""
    """The spreadsheet's id, from its URL: `https://docs.google.com/spreadsheets/d/<id>/edit`."""
    range: str = ""
    """The range to read, in A1 notation: `"Volunteers!A:Z"` (a sheet's columns A to Z, every row), `"'Q1 2025'!B3:H"`.
    Its first row is the header."""
    api_key: str | None = None
    """An API key, for a sheet shared as "anyone with the link"; `None`: the `GOOGLE_SHEETS_API_KEY` setting."""
    service_account: Mapping[str, Any] | str | ServiceAccount | None = None
    """A service account's JSON key (parsed, or the path of its file), for a private sheet shared with the
    account's email; `None`: the `GOOGLE_SHEETS_SERVICE_ACCOUNT` setting. Needs `django-pyck[google]`."""
    token_uri: str | None = None
    """Where the service account's tokens come from; `None`: the key's own `token_uri` (Google's)."""
    time_zone: str | tzinfo | None = None
    """The sheet's time zone (File > Settings), for `datetime` fields; `None`: Django's `TIME_ZONE` (naive
    datetimes when `USE_TZ` is off)."""
    cache_seconds: float = 60.0
    """How long `get()` answers from the last read of the sheet (a sync's own listing, or a read `get()` made);
    0: every `get()` reads the whole sheet again."""
    item_path = None
    secret_params = DEFAULT_SECRET_PARAMS | {"key"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in ("spreadsheet_id", "range"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(f"{self}: {name} must be given, as a non-empty string, got {value!r}")
        self._last: SheetRead | None = None
        self._state_lock = threading.Lock()
        self._account: ServiceAccount | None = None
        self._account_key: Any = None

    # --- Configuration ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The range's `values.get` URL: `{base_url}/spreadsheets/{spreadsheet_id}/values/{range}`, both quoted."""
        return f"{api_root(self)}/spreadsheets/{quote(self.spreadsheet_id, safe='')}/values/{quote(self.range, safe='')}"

    def get_service_account(self) -> ServiceAccount | None:
        """The service account to authenticate with: `service_account`, else the `GOOGLE_SHEETS_SERVICE_ACCOUNT`
        setting; `None` when neither is set."""
        key = self.service_account if self.service_account is not None else getattr(
            settings, "GOOGLE_SHEETS_SERVICE_ACCOUNT", None
        )
        if key is None or isinstance(key, ServiceAccount):
            return key
        with self._state_lock:
            if self._account is None or self._account_key is not key or self._account.token_uri != self.token_uri:
                self._account = ServiceAccount(key, token_uri=self.token_uri, timeout=self.get_timeout())
                self._account_key = key
            return self._account

    def get_api_key(self) -> str | None:
        """The API key: `api_key`, else the `GOOGLE_SHEETS_API_KEY` setting; `None` when neither is set."""
        return self.api_key if self.api_key is not None else getattr(settings, "GOOGLE_SHEETS_API_KEY", None)

    def get_headers(self) -> dict[str, str]:
        """`Authorization: Bearer <token>` with a service account (its token refreshed when expired), else none."""
        account = self.get_service_account()
        return {"Authorization": f"Bearer {account.token(self)}"} if account is not None else {}

    def get_query(self) -> dict[str, str]:
        """The query of a read: the render options, and `key` when the sheet is read with an API key.

        Raises:
            ConfigurationError: there is neither a service account nor an API key.
        """
        if self.get_service_account() is not None:
            return dict(_READ_QUERY)
        key = self.get_api_key()
        if not key:
            raise ConfigurationError(
                f"{self} has no credentials: give it api_key= (a public sheet; or set GOOGLE_SHEETS_API_KEY) or "
                "service_account= (a private sheet shared with the account; or set GOOGLE_SHEETS_SERVICE_ACCOUNT)"
            )
        return {**_READ_QUERY, "key": key}

    def get_time_zone(self) -> tzinfo | None:
        """The time zone of the sheet's datetimes: `time_zone`, else Django's (`None` when `USE_TZ` is off)."""
        if isinstance(self.time_zone, tzinfo):
            return self.time_zone
        if isinstance(self.time_zone, str):
            try:
                return zoneinfo.ZoneInfo(self.time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ConfigurationError(f"{self}: time_zone {self.time_zone!r} is not a known time zone") from None
        return timezone.get_default_timezone() if settings.USE_TZ else None

    # --- Reading ---------------------------------------------------------------------------------------

    def read_sheet(self) -> SheetRead:
        """Read the whole range (one request), turn its rows into records, and keep the result for `get()`.

        Raises:
            ResponseError: the spreadsheet or range does not exist (404) or cannot be read, the answer is not a
                ValueRange, or the header lacks a column a field without a default needs.
            ConfigurationError: no credentials, or `identifier` is not a field of `resource_type`.
        """
        columns = SheetColumns.of(self.resource_type)
        key_column = columns.by_name.get(self.identifier)
        if key_column is None:
            raise ConfigurationError(
                f"{self}: identifier={self.identifier!r} is not a field of {self.resource_type.__name__}; name the "
                f"field whose column is the key (one of {', '.join(columns.by_name)})"
            )
        url, query = self.url, self.get_query()
        try:
            body = self.fetch_url(url, query)
        except NotFoundError as error:
            # Not "no such row": a get() that raised NotFoundError here would have every row deleted.
            raise ResponseError(
                f"The spreadsheet or the range was not found ({_google_message(error.body)}): check spreadsheet_id "
                "and range",
                datasource=self, url=error.url, status_code=404,
            ) from error
        shown = self.redact(with_query(url, query))
        try:
            values = SheetValues.parse(body)
        except NotAValueRange as error:
            raise ResponseError(f"The answer is not a ValueRange as documented: {error}", datasource=self, url=shown) from None
        read = SheetRead(url=shown)
        present = self._present_columns(columns, values, shown)
        if key_column not in (column for column, _ in present):
            raise ResponseError(
                f"The header row (row {values.first_row}) of {values.range} has no key column {key_column.header!r} "
                f"(the column of the field {key_column.name}); its headers are {_headers(values)}",
                datasource=self, url=shown,
            )
        to_record = deserializer_for(self.resource_type)
        tz = self.get_time_zone()
        for number, cells in values.numbered():
            if is_blank(cells):
                read.blank += 1
                continue
            item = self._row(number, cells, present, key_column, to_record, tz, shown)
            read.rows.append((number, item))
            if not (isinstance(item, InvalidResourceError) and item.record_id is None):
                key = key_text(item.record_id if isinstance(item, InvalidResourceError) else self.get_id(item))
                read.by_key.setdefault(key, item)
        if read.blank:
            logger.debug("%s: left out %d blank rows of %s", self, read.blank, values.range)
        read.at = time.monotonic()
        with self._state_lock:
            self._last = read
        return read

    def read_listing(self, filter: Mapping[str, Any], *, start: Any = None) -> Iterator[Listed]:
        """Yield `(record, None)` for each row of one fresh read of the sheet, and the `InvalidResourceError` of
        each row that could not be read (a row without a key is `keyless`, named by its row number in the sync's
        `"no_id"` warning). The read is kept for the `get()` calls of the same run (deletion confirmation)."""
        _refuse_filter(self, filter)
        for _, item in self.read_sheet().rows:
            if isinstance(item, InvalidResourceError) or self.filter is None or self.filter(item):
                yield item, None

    def list(self, **filter: Any) -> Iterator[ResourceT]:
        """The records of one fresh read of the sheet, in sheet order. Rows without a key are left out, with a
        warning in the log naming their row numbers; a row that does not fit the resource type raises its
        `InvalidResourceError`. The sheet cannot be filtered remotely: any `filter` raises `TypeError`."""
        _refuse_filter(self, filter)
        read = self.read_sheet()
        skipped = [number for number, item in read.rows if isinstance(item, InvalidResourceError) and item.keyless]
        if skipped:
            logger.warning("%s: skipped %d rows without a key: rows %s", self, len(skipped), _numbers(skipped))
        for _, item in read.rows:
            if isinstance(item, InvalidResourceError):
                if item.keyless:
                    continue
                raise item
            if self.filter is None or self.filter(item):
                yield item

    def get(self, id: Any, **query: Any) -> ResourceT:
        """The record of the row whose key is `id` (`17`, `17.0` and `"17"` are the same key).

        The sheet has no single-row endpoint, so this reads the whole range, and keeps the read: later calls
        answer from it while it is younger than `cache_seconds`. A sync's listing is such a read, so the
        deletion confirmation that follows it (one `get()` per row missing from the listing) sends no request.
        `forget()` drops the read kept.

        Raises:
            NotFoundError: no row has this key.
            InvalidResourceError: the row with this key does not fit the resource type.
        """
        _refuse_filter(self, query)
        read = self.last_read()
        item = read.by_key.get(key_text(id))
        if item is None:
            raise NotFoundError("No row has this key", datasource=self, url=read.url, record_id=id)
        if isinstance(item, InvalidResourceError):
            raise item
        return item

    def last_read(self) -> SheetRead:
        """The read kept, if younger than `cache_seconds`; else a new one (see `read_sheet`)."""
        with self._state_lock:
            last = self._last
        if last is not None and time.monotonic() - last.at < float(self.cache_seconds):
            return last
        return self.read_sheet()

    def forget(self) -> None:
        """Drop the read kept for `get()`: the next `get()` reads the sheet again."""
        with self._state_lock:
            self._last = None

    # --- Internals -------------------------------------------------------------------------------------

    def _present_columns(self, columns: SheetColumns, values: SheetValues, url: str) -> list[tuple[Column, int]]:
        found = values.columns()
        repeated = values.repeated()
        present: list[tuple[Column, int]] = []
        for column in columns.columns:
            if column.header in repeated:
                raise ResponseError(
                    f"The header row (row {values.first_row}) of {values.range} has more than one column headed "
                    f"{column.header!r} (for the field {column.name}): rename one",
                    datasource=self, url=url,
                )
            index = found.get(column.header)
            if index is not None:
                present.append((column, index))
            elif column.required:
                raise ResponseError(
                    f"The header row (row {values.first_row}) of {values.range} has no column {column.header!r} "
                    f"(for the field {column.name}, which has no default); its headers are {_headers(values)}",
                    datasource=self, url=url,
                )
        return present

    def _row(
        self,
        number: int,
        cells: list[Any],
        present: list[tuple[Column, int]],
        key_column: Column,
        to_record: Any,
        tz: tzinfo | None,
        url: str,
    ) -> Any:
        where = f"row {number}"
        data: dict[str, Any] = {}
        problem: tuple[Column, str] | None = None
        for column, index in present:
            raw = cells[index] if index < len(cells) else None
            try:
                data[column.key] = _cell(column, raw, tz)
            except ValueError as error:
                problem = problem or (column, str(error))
                data[column.key] = raw
        key = data.get(key_column.key)
        if key is None or (isinstance(key, str) and not key.strip()):  # a cell of spaces looks empty too
            return InvalidResourceError(
                f"Row {number} has no value in its key column {key_column.header!r}: skipped",
                keyless=True, location=where, datasource=self, url=url,
            )
        if problem is not None:
            column, reason = problem
            return InvalidResourceError(
                f"Row {number}, column {column.header!r}: {reason}",
                location=where, datasource=self, url=url, record_id=key, field=column.name,
            )
        try:
            return to_record(data)
        except InvalidResourceError as error:
            column = next((c for c, _ in present if c.name == (error.field or "").split(".")[0]), None)
            header = f", column {column.header!r}" if column is not None else ""
            return InvalidResourceError(
                f"Row {number}{header}: {error.reason}",
                location=where, datasource=self, url=url, record_id=key, field=error.field,
            )


def _cell(column: Column, raw: Any, tz: tzinfo | None) -> Any:
    """The value of one cell for `column`'s field (see `SheetDatasource`); `ValueError` for a serial number
    that is no date."""
    if raw is None or raw == "":
        return column.empty_value()
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return raw
    kind = column.kind
    if kind is date:
        return date_from_serial(raw)
    if kind is datetime:
        return datetime_from_serial(raw, tz)
    if kind is str:
        return key_text(raw) if isinstance(raw, int) or raw.is_integer() else repr(raw)
    if kind is int and isinstance(raw, float) and raw.is_integer():
        return int(raw)
    return raw


def _refuse_filter(datasource: SheetDatasource[Any], filter: Mapping[str, Any]) -> None:
    if filter:
        raise TypeError(
            f"{datasource} cannot filter the sheet remotely (values.get reads the whole range), got "
            f"{', '.join(map(str, filter))}; set the datasource's filter= predicate to leave records out"
        )


def _headers(values: SheetValues) -> str:
    shown = [repr(text) for text in values.header if text]
    return ", ".join(shown[:30]) + (", ..." if len(shown) > 30 else "") if shown else "(none)"


def _numbers(numbers: list[int], limit: int = 20) -> str:
    return ", ".join(map(str, numbers[:limit])) + (", ..." if len(numbers) > limit else "")


def _google_message(body: Any) -> str:
    """Google's explanation in an error answer, `{"error": {"code": 404, "message": "...", "status": "NOT_FOUND"}}`
    (https://cloud.google.com/apis/design/errors#http_mapping), else "HTTP 404"."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping) and isinstance(error.get("message"), str):
        return f"HTTP 404: {error['message'][:200]}"
    return "HTTP 404"
