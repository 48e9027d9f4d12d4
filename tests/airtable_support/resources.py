"""Two tables of one base: "Teams", and "Members", whose "Team" column links one team and "Groups" several."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pyck.contrib.airtable.datasources import AirtableDatasource, airtable_field

BASE = "appTESTBASE000001"
TOKEN = "patTESTTOKEN.0123456789abcdef"


@dataclass
class TeamRecord:
    """A row of "Teams"."""

    id: str
    name: str = airtable_field("Name")


@dataclass
class MemberRecord:
    """A row of "Members"."""

    id: str
    name: str = airtable_field("Name")
    active: bool = airtable_field("Active")
    team: str | None = airtable_field("Team")
    groups: list[str] = airtable_field("Groups")
    modified: datetime | None = airtable_field("Last Modified")
    created_time: datetime | None = None


# The tests point base_url at a local AirtableServer (pyck.contrib.airtable.replay).
teams = AirtableDatasource(resource_type=TeamRecord, base_id=BASE, table_name="Teams", api_key=TOKEN, base_url="http://127.0.0.1:9/v0")
members = AirtableDatasource(resource_type=MemberRecord, base_id=BASE, table_name="Members", api_key=TOKEN, base_url="http://127.0.0.1:9/v0")
