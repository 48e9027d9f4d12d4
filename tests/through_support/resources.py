"""Resource types and (empty) in-memory datasources of the through-model test models; tests swap them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyck.core.datasources import MockDatasource


@dataclass
class TagResource:
    """A tag; embedded in a person's list, it also carries the link's `weight`."""

    id: str
    name: str
    weight: int | None = None


@dataclass
class EmailAddress:
    """One of a person's email addresses."""

    address: str
    primary: bool = False


@dataclass
class PersonResource:
    """A person as Action Network gives one: ids in `identifiers`, emails as a list of objects."""

    id: str
    name: str
    source: str | None = None
    identifiers: list[str] = field(default_factory=list)
    email_addresses: list[EmailAddress] = field(default_factory=list)
    # Tag ids (str) or embedded TagResource, mixed; None: the record does not say.
    tags: list[Any] | None = None


tags = MockDatasource(resource_type=TagResource, name="through.tags")
people = MockDatasource(resource_type=PersonResource, name="through.people")
