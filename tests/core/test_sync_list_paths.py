"""List indexes in `field_map` paths (`identifiers.0`, `email_addresses.0.address`, `links.-1.href`): read by the
sync, followed through the annotations by the check of undeclared paths (`pyck.E018`), and an index a record
cannot answer treated as a key it does not carry."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pyck.core.sync.attributes import undeclared_step
from pyck.core.sync.plan import MISSING, read
from tests.through_support import resources as r


@dataclass
class Link:
    href: str


@dataclass
class Page:
    links: tuple[Link, ...]
    title: str


RECORD = {"identifiers": ["action_network:1", "mailchimp:2"], "links": [{"href": "a"}, {"href": "b"}], "name": "Ann"}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("identifiers.0", "action_network:1"),
        ("identifiers.1", "mailchimp:2"),
        ("identifiers.-1", "mailchimp:2"),
        ("links.0.href", "a"),
        ("links.-2.href", "a"),
        ("identifiers.2", MISSING),  # out of range
        ("identifiers.-3", MISSING),
        ("links.x.href", MISSING),  # not an index
        ("name.0", MISSING),  # text is not a list
        ("links.0.nope", MISSING),
    ],
)
def test_an_integer_step_indexes_a_list_and_one_it_cannot_answer_is_missing(path, value):
    assert read(RECORD, path) == value if value is not MISSING else read(RECORD, path) is MISSING


def test_indexes_read_tuples_of_objects_a_dicts_keys_come_first_and_a_null_list_is_null():
    page = Page(links=(Link("a"), Link("b")), title="T")
    assert read(page, "links.1.href") == "b"
    assert read(page, "links.+1.href") is MISSING  # only plain integers are indexes
    assert read({"links": {"0": "key"}}, "links.0") == "key"
    assert read({"links": None}, "links.0.href") is None


@pytest.mark.parametrize(
    ("path", "undeclared"),
    [
        ("email_addresses.0.address", None),
        ("email_addresses.-1.primary", None),
        ("email_addresses.0.adress", ("adress", "email_addresses.0", "EmailAddress")),
        ("identifiers.0", None),
    ],
)
def test_the_check_of_undeclared_paths_follows_a_lists_item_type(path, undeclared):
    step = undeclared_step(r.PersonResource, path)
    assert (step and (step.step, step.before, step.owner_name)) == (undeclared or None)


def test_tuple_items_are_followed_too():
    step = undeclared_step(Page, "links.0.hre")
    assert step is not None and step.owner is Link and "Did you mean 'href'?" in step.suggestion()
