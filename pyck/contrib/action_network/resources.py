"""The typed resources of Action Network's API v2: one dataclass per resource, with the fields its documentation
lists (https://actionnetwork.org/docs/v2/ and the page of each resource, cited on each class).

Every resource has `id` (Action Network's id: its `action_network:` identifier without the prefix, see
`pyck.contrib.action_network.links`), `identifiers` (all of them, other systems' too), `created_date` and
`modified_date`. A reference to another resource is an id read from the link's href: `Tagging.person` is the id
at the end of `_links["osdi:person"].href`. Fields the API leaves out of a record are `None` (or empty).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "Attendance",
    "Donation",
    "EmailAddress",
    "Event",
    "EventLocation",
    "Form",
    "Person",
    "Petition",
    "PhoneNumber",
    "PostalAddress",
    "Recipient",
    "Resource",
    "Signature",
    "Submission",
    "Tag",
    "Tagging",
]


@dataclass
class Resource:
    """The fields every Action Network resource has (https://actionnetwork.org/docs/v2/)."""

    id: str
    """Action Network's id: the `action_network:` identifier, without the prefix."""
    identifiers: list[str] = field(default_factory=list)
    """Every identifier, `"[system name]:[id]"`, Action Network's among them."""
    created_date: datetime | None = None
    """When the resource was created."""
    modified_date: datetime | None = None
    """When the resource was last modified (what incremental runs filter on)."""


@dataclass
class EmailAddress:
    """An entry of a person's `email_addresses` (https://actionnetwork.org/docs/v2/people)."""

    address: str | None = None
    """The email address."""
    primary: bool = False
    """Whether it is the person's primary address (Action Network keeps one address per person)."""
    status: str | None = None
    """The subscription status: `"subscribed"`, `"unsubscribed"`, `"bouncing"` or `"spam complaint"`."""


@dataclass
class PhoneNumber:
    """An entry of a person's `phone_numbers` (https://actionnetwork.org/docs/v2/people)."""

    number: str | None = None
    """The number, with its country code."""
    primary: bool = False
    """Whether it is the person's primary number."""
    number_type: str | None = None
    """The type of number (`"Mobile"`)."""
    status: str | None = None
    """The SMS subscription status."""


@dataclass
class PostalAddress:
    """An entry of a person's `postal_addresses` (https://actionnetwork.org/docs/v2/people)."""

    primary: bool = False
    """Whether it is the person's primary address."""
    address_lines: list[str] = field(default_factory=list)
    """The street address, one line per item."""
    locality: str | None = None
    """The city."""
    region: str | None = None
    """The state or region."""
    postal_code: str | None = None
    """The postal code."""
    country: str | None = None
    """The country code (ISO 3166-1 alpha-2)."""


@dataclass
class Person(Resource):
    """A person of `/people` (https://actionnetwork.org/docs/v2/people)."""

    given_name: str | None = None
    """The first name."""
    family_name: str | None = None
    """The last name."""
    email_addresses: list[EmailAddress] = field(default_factory=list)
    """The email addresses (one, in practice)."""
    phone_numbers: list[PhoneNumber] = field(default_factory=list)
    """The phone numbers."""
    postal_addresses: list[PostalAddress] = field(default_factory=list)
    """The postal addresses."""
    languages_spoken: list[str] = field(default_factory=list)
    """Languages, as ISO 639 codes."""
    custom_fields: dict[str, Any] = field(default_factory=dict)
    """The custom fields, by name."""


@dataclass
class Tag(Resource):
    """A tag of `/tags` (https://actionnetwork.org/docs/v2/tags); only group API keys have tags."""

    name: str = ""
    """The tag's name."""


@dataclass
class Tagging(Resource):
    """A tagging of `/tags/{tag_id}/taggings`: the person `person` has the tag `tag`
    (https://actionnetwork.org/docs/v2/taggings)."""

    item_type: str | None = None
    """The type of what is tagged: always `"osdi:person"`."""
    person: str | None = None
    """The tagged person's id, from `_links["osdi:person"]`."""
    tag: str | None = None
    """The tag's id, from `_links["osdi:tag"]`."""


@dataclass
class EventLocation:
    """An event's `location` (https://actionnetwork.org/docs/v2/events)."""

    venue: str | None = None
    """The venue's name."""
    address_lines: list[str] = field(default_factory=list)
    """The street address, one line per item."""
    locality: str | None = None
    """The city."""
    region: str | None = None
    """The state or region."""
    postal_code: str | None = None
    """The postal code."""
    country: str | None = None
    """The country code."""


@dataclass
class Event(Resource):
    """An event of `/events` (https://actionnetwork.org/docs/v2/events)."""

    title: str | None = None
    """The title shown to activists."""
    name: str | None = None
    """The administrative name."""
    description: str | None = None
    """The description, in HTML."""
    start_date: datetime | None = None
    """When it starts."""
    status: str | None = None
    """`"confirmed"`, `"tentative"` or `"cancelled"`."""
    browser_url: str | None = None
    """Its page on actionnetwork.org."""
    location: EventLocation | None = None
    """Where it happens."""


@dataclass
class Attendance(Resource):
    """An RSVP of `/events/{event_id}/attendances` (https://actionnetwork.org/docs/v2/attendances)."""

    status: str | None = None
    """The RSVP's status (`"accepted"`)."""
    person: str | None = None
    """The attending person's id, from `_links["osdi:person"]`."""
    event: str | None = None
    """The event's id, from `_links["osdi:event"]`."""


@dataclass
class Form(Resource):
    """A form of `/forms` (https://actionnetwork.org/docs/v2/forms)."""

    title: str | None = None
    """The title shown to activists."""
    name: str | None = None
    """The administrative name."""
    description: str | None = None
    """The description, in HTML."""
    browser_url: str | None = None
    """Its page on actionnetwork.org."""
    total_submissions: int | None = None
    """How many submissions it has."""


@dataclass
class Submission(Resource):
    """A submission of `/forms/{form_id}/submissions` (https://actionnetwork.org/docs/v2/submissions)."""

    person: str | None = None
    """The submitting person's id, from `_links["osdi:person"]`."""
    form: str | None = None
    """The form's id, from `_links["osdi:form"]`."""


@dataclass
class Petition(Resource):
    """A petition of `/petitions` (https://actionnetwork.org/docs/v2/petitions)."""

    title: str | None = None
    """The title shown to activists."""
    name: str | None = None
    """The administrative name."""
    description: str | None = None
    """The description, in HTML."""
    petition_text: str | None = None
    """The text of the letter signed."""
    browser_url: str | None = None
    """Its page on actionnetwork.org."""
    total_signatures: int | None = None
    """How many signatures it has."""


@dataclass
class Signature(Resource):
    """A signature of `/petitions/{petition_id}/signatures` (https://actionnetwork.org/docs/v2/signatures)."""

    comments: str | None = None
    """The comment left with the signature."""
    person: str | None = None
    """The signing person's id, from `_links["osdi:person"]`."""
    petition: str | None = None
    """The petition's id, from `_links["osdi:petition"]`."""


@dataclass
class Recipient:
    """An entry of a donation's `recipients` (https://actionnetwork.org/docs/v2/donations)."""

    display_name: str | None = None
    """Who received the money."""
    amount: str | None = None
    """How much they received, as the API writes it (`"20.00"`)."""


@dataclass
class Donation(Resource):
    """A donation of `/donations` (https://actionnetwork.org/docs/v2/donations). Donations are not deduplicated
    by person: one person may give several times on one fundraising page."""

    amount: str | None = None
    """The total, as the API writes it (`"20.00"`)."""
    currency: str | None = None
    """The currency, an ISO 4217 code (`"USD"`)."""
    recipients: list[Recipient] = field(default_factory=list)
    """Who the money went to."""
    person: str | None = None
    """The donor's id, from `_links["osdi:person"]`."""
    fundraising_page: str | None = None
    """The fundraising page's id, from `_links["osdi:fundraising_page"]`."""
