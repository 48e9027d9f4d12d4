"""The datasource of the docs page "Google Sheets" (docs/datasources/google-sheets.md, block `sheets-module`):
the rows of a "Volunteers" sheet. The tests point its `base_url` at a local server."""

from dataclasses import dataclass
from datetime import date, datetime

from pyck.contrib.google_sheets import SheetDatasource, sheet_field


@dataclass
class VolunteerRow:
    """One row of the "Volunteers" sheet."""

    email: str = sheet_field("Email")
    name: str = sheet_field("Full name")
    hours: float | None = sheet_field("Hours", default=None)
    active: bool = sheet_field("Active", default=False)
    joined: date | None = sheet_field("Date joined", default=None)
    last_shift: datetime | None = sheet_field("Last shift", default=None)


volunteers = SheetDatasource(
    resource_type=VolunteerRow,
    spreadsheet_id="1qpyC0XzvTcKT6EISywvqESX3A0MwQoFDE8p-Bll4hps",
    range="Volunteers!A:F",
    identifier="email",
    time_zone="Europe/London",
)
