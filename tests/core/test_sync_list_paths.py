"""List indexes in `field_map` paths (`identifiers.0`, `email_addresses.0.address`, `links.-1.href`): read by the
sync, followed through the annotations by the check of undeclared paths (`pyck.E018`), and an index a record
cannot answer treated as a key it does not carry."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pyck.core.sync.attributes import undeclared_step
from pyck.core.sync.plan import MISSING, read
from tests.testapp.testing import use
from tests.through_support import resources as r
from tests.through_support.models import Person


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


@pytest.mark.django_db
def test_a_sync_fills_fields_from_list_items_and_keeps_them_when_a_list_is_empty(monkeypatch):
    people = [
        r.PersonResource(id="p1", name="Ann", identifiers=["action_network:1", "mailchimp:9"],
                         email_addresses=[r.EmailAddress("ann@example.org", True), r.EmailAddress("a@b.c")]),
        r.PersonResource(id="p2", name="Bob"),  # no identifiers, no emails
    ]
    use(monkeypatch, Person, people)

    assert Person.sync().created == 2
    rows = {p.external_id: (p.identifier, p.email) for p in Person.objects.all()}
    assert rows == {"p1": ("action_network:1", "ann@example.org"), "p2": (None, None)}

    people[0].identifiers = []  # index 0 out of range: the record does not carry it, the column is kept
    people[0].email_addresses = [r.EmailAddress("new@example.org")]
    result = Person.sync()

    assert (result.updated, result.failed) == (1, 0)
    assert Person.objects.get(external_id="p1").identifier == "action_network:1"
    assert Person.objects.get(external_id="p1").email == "new@example.org"


@pytest.mark.django_db
def test_a_negative_index_reads_from_the_end(monkeypatch):
    monkeypatch.setattr(Person.sync_config, "field_map", {"identifier": "identifiers.-1", "email": None})
    use(monkeypatch, Person, [r.PersonResource(id="p1", name="Ann", identifiers=["action_network:1", "mailchimp:9"])])

    Person.sync()

    assert Person.objects.get(external_id="p1").identifier == "mailchimp:9"
