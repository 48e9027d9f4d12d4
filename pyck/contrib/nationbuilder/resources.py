"""The typed resources of NationBuilder's API v2 that pyck provides: `Signup` (people), `SignupTag`, `Donation`
and `Event`, as flat records (see `pyck.contrib.nationbuilder.jsonapi.flatten`): `id`, the resource's
`attributes`, and each relationship that came with `data` as the related id(s).

The attributes declared are those NationBuilder's public documentation shows: a signup's `first_name`,
`last_name`, `email`, `support_level`, `note`, `custom_values`, `donations_amount_in_cents`
(https://support.nationbuilder.com/en/articles/9899245-api-v2-walkthrough,
https://support.nationbuilder.com/en/articles/9757369-nationbuilder-v2-api-core-concepts), a tag's `name`, a
donation's `amount_in_cents` (the donation webhooks' payload, https://nationbuilder.com/webhooks_donations), and
`created_at` and `updated_at`, which incremental runs filter on. Every attribute has a default, so that sparse
fieldsets (`fields[signups]=...`) and attributes a nation does not send are absent, not errors: the engine then
leaves those columns alone. Subclass a resource (a dataclass) to add the attributes your nation has.

Relationships: a signup's tags are its `signup_tags` relationship (sideloaded with `include=signup_tags`); a
donation's donor is its `signup` relationship. The pages consulted do not list each resource's relationship
names: `signup_tags` is the name NationBuilder's own example shows
(https://support.nationbuilder.com/en/articles/9757369-nationbuilder-v2-api-core-concepts), `signup` is not
confirmed by them. A relationship field is absent unless the answer carried its `data`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Donation", "Event", "Signup", "SignupTag"]


@dataclass
class Signup:
    """A person (NationBuilder's v2 API calls them signups): `GET /api/v2/signups`."""

    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    support_level: int | None = None
    note: str | None = None
    donations_amount_in_cents: int | None = None
    custom_values: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    signup_tags: list[str] = field(default_factory=list)
    """The ids of the signup's tags: present only when the answer carried the relationship's `data`."""


@dataclass
class SignupTag:
    """A tag: `GET /api/v2/signup_tags`."""

    id: str
    name: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class Donation:
    """A donation: `GET /api/v2/donations`."""

    id: str
    amount_in_cents: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    signup: str | None = None
    """The donor's signup id: present only when the answer carried the relationship's `data`."""


@dataclass
class Event:
    """An event: `GET /api/v2/events`."""

    id: str
    name: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
