"""Many-to-many links through a model of their own (`tests.through_support`): the through rows' two keys come from
the link, their extra columns from `SyncConfig.through_map` or their defaults, set-based as through Django's
automatic table; a column the sync cannot fill is a check error (`pyck.E014`) and refused by the sync."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pyck.core.checks import check_synced_models
from pyck.core.datasources import ConfigurationError, SyncConfig
from pyck.core.sync import sync_model
from tests.testapp.testing import use
from tests.through_support import resources as r
from tests.through_support.models import Contact, Person, Tag, Tagging

pytestmark = pytest.mark.django_db


def _tag(id: str, weight: int | None = None) -> r.TagResource:
    return r.TagResource(id=id, name=f"Tag {id}", weight=weight)


def _links() -> dict[tuple[str, str], dict[str, Any]]:
    """Every Tagging row, by (person, tag) external ids: its pk and columns."""
    rows = Tagging.objects.values("pk", "person__external_id", "tag__external_id", "weight", "list_source", "origin", "note")
    return {(row.pop("person__external_id"), row.pop("tag__external_id")): row for row in rows}


def _errors(model: Any) -> list[Any]:
    return [m for m in check_synced_models() if m.obj is model and m.id == "pyck.E014"]


def test_links_are_added_kept_and_removed_with_mapped_and_default_columns(monkeypatch):
    use(monkeypatch, Tag, [_tag("t1"), _tag("t2"), _tag("t3")])
    people = [
        r.PersonResource(id="p1", name="Ann", source="import", tags=[_tag("t1", 3), _tag("t2", 1)]),
        r.PersonResource(id="p2", name="Bob", tags=[_tag("t1", 5)]),
    ]
    use(monkeypatch, Person, people)

    first = Person.sync()

    assert (first.created, first.failed) == (2, 0)
    links = _links()
    assert {pair: (row["weight"], row["list_source"], row["origin"], row["note"]) for pair, row in links.items()} == {
        ("p1", "t1"): (3, "import", "api", ""),
        ("p1", "t2"): (1, "import", "api", ""),
        ("p2", "t1"): (5, None, "api", ""),
    }
    # Local edits to the columns the sync does not map.
    Tagging.objects.filter(pk=links["p1", "t1"]["pk"]).update(note="vip", origin="manual")

    people[0].tags = [_tag("t1", 3), _tag("t3", 2)]  # t2 removed, t3 added, t1 unchanged
    people[1].tags = [_tag("t1", 7)]  # the mapped column changes
    second = Person.sync()

    assert (second.updated, second.unchanged, second.failed) == (0, 2, 0)  # links are not the rows' columns
    after = _links()
    assert set(after) == {("p1", "t1"), ("p1", "t3"), ("p2", "t1")}
    assert after["p1", "t1"] == {**links["p1", "t1"], "note": "vip", "origin": "manual"}  # kept, not recreated
    assert after["p1", "t3"] | {"pk": None} == {"pk": None, "weight": 2, "list_source": "import", "origin": "api", "note": ""}
    assert after["p2", "t1"] == {**links["p2", "t1"], "weight": 7}  # same row, mapped column updated
    assert sorted(Person.objects.get(external_id="p1").tags.values_list("external_id", flat=True)) == ["t1", "t3"]


def test_a_record_without_its_list_or_a_link_item_without_a_mapped_value_leaves_the_link_alone(monkeypatch):
    monkeypatch.setattr(Person.sync_config, "through_map", {"tags": {"weight": "link.weight", "list_source": "link.via"}})
    use(monkeypatch, Tag, [_tag("t1")])
    people = [r.PersonResource(id="p1", name="Ann", tags=[{"id": "t1", "name": "Tag t1", "weight": 3, "via": "csv"}])]
    use(monkeypatch, Person, people)
    Person.sync()
    before = _links()
    assert before["p1", "t1"]["list_source"] == "csv"

    people[0].tags = None  # the record does not say
    assert Person.sync().failed == 0
    people[0].tags = [{"id": "t1", "name": "Tag t1", "weight": 3}]  # no "via": the stored value stays
    assert Person.sync().failed == 0

    assert _links() == before


def test_a_resync_writes_nothing_to_the_links(monkeypatch):
    use(monkeypatch, Tag, [_tag("t1"), _tag("t2")])
    use(monkeypatch, Person, [r.PersonResource(id=f"p{i}", name="X", source="s", tags=[_tag("t1", i), _tag("t2", 1)])
                              for i in range(5)])
    Person.sync()

    with CaptureQueriesContext(connection) as queries:
        result = Person.sync()

    assert (result.unchanged, result.failed) == (5, 0)
    through = [q["sql"] for q in queries.captured_queries if Tagging._meta.db_table in q["sql"]]
    assert len(through) == 1 and through[0].lstrip().upper().startswith("SELECT")


def _through_support_queries(model: Any, people: list[r.PersonResource], monkeypatch: Any) -> int:
    """How many statements a sync of `people` into `model` sends to the test app's tables."""
    use(monkeypatch, model, people)
    with CaptureQueriesContext(connection) as queries:
        result = sync_model(model)
    assert result.failed == 0, result.errors
    return sum("through_support_" in q["sql"] for q in queries.captured_queries)


@pytest.mark.parametrize("size", [3, 30])
def test_query_counts_are_those_of_an_automatic_through_table_whatever_the_batch_size(monkeypatch, size):
    use(monkeypatch, Tag, [_tag(f"t{i}") for i in range(4)])
    Tag.sync()

    def people(weight: int, tags: list[int]) -> list[r.PersonResource]:
        return [r.PersonResource(id=f"p{i}", name=f"P{i}", source="s", tags=[_tag(f"t{t}", weight) for t in tags])
                for i in range(size)]

    counts: dict[str, list[int]] = {}
    for model in (Person, Contact):
        counts[model.__name__] = [
            _through_support_queries(model, people(1, [0, 1]), monkeypatch),  # new rows and links
            _through_support_queries(model, people(1, [0, 1]), monkeypatch),  # unchanged
            _through_support_queries(model, people(1, [1, 2, 3]), monkeypatch),  # links added and removed
        ]
    counts["Person"].append(_through_support_queries(Person, people(2, [1, 2, 3]), monkeypatch))  # weights changed

    assert counts["Person"][:3] == counts["Contact"]
    assert counts["Person"][3] == counts["Person"][1] + 1  # one UPDATE of the changed links
    assert Tagging.objects.filter(weight=2).count() == 3 * size
    # The same counts for 3 and 30 records, set-based: the people and the embedded tags read (2), the people
    # inserted and the links inserted (2); then only the links read (1); then the links deleted and inserted (2).
    assert counts["Person"] == [4, 3, 5, 4]


def test_a_link_without_a_value_for_a_required_column_fails_only_its_record(monkeypatch):
    use(monkeypatch, Tag, [_tag("t1")])
    use(monkeypatch, Person, [
        r.PersonResource(id="p1", name="Ann", tags=["t1"]),  # a bare id carries no weight
        r.PersonResource(id="p2", name="Bob", tags=[_tag("t1", 1)]),
    ])

    result = Person.sync()

    assert (result.created, result.failed) == (1, 1)
    [error] = result.errors
    assert error.record_id == "p1"
    assert "field 'tags': through column 'weight' is required but the list item 't1' has no 'weight'" in error.message
    assert list(_links()) == [("p2", "t1")]


def test_a_valid_through_map_passes_the_checks():
    assert _errors(Person) == []
    assert _errors(Contact) == []


def test_a_required_column_neither_mapped_nor_defaulted_is_a_check_error_and_refused(monkeypatch):
    use(monkeypatch, Person, [r.PersonResource(id="p1", name="Ann", tags=[])])
    monkeypatch.setattr(Person.sync_config, "through_map", {"tags": {"list_source": "record.source"}})

    [error] = _errors(Person)
    assert error.msg == (
        "through_support.Person.tags (through through_support.Tagging) has the required column 'weight' (not "
        "nullable, no default), which the sync engine cannot fill."
    )
    assert "Give Tagging.weight a default or null=True, or map it: SyncConfig(through_map={'tags': {'weight': " in error.hint
    with pytest.raises(ConfigurationError, match="required column 'weight'"):
        sync_model(Person)
    assert not Person.objects.exists()


@pytest.mark.parametrize(
    ("through_map", "says"),
    [
        ({"tags": {"weight": "link.weight", "note2": "record.source"}}, "'note2', which is not an extra column of Tagging"),
        ({"tags": {"weight": "link.weight", "tag": "record.source"}}, "'tag', which is not an extra column"),
        ({"tags": {"weight": "link.weight", "list_source": "record.sourse"}}, "'sourse', which PersonResource does not"),
        ({"tags": {"weight": "link.weight"}, "name": {"x": "record.id"}}, "'name', which is not a many-to-many field"),
    ],
)
def test_a_through_map_naming_what_it_cannot_map_is_a_check_error(monkeypatch, through_map, says):
    monkeypatch.setattr(Person.sync_config, "through_map", through_map)

    [error] = _errors(Person)
    assert says in error.msg


@pytest.mark.parametrize(
    "through_map", [{"tags": {"weight": "weight"}}, {"tags": {"weight": "link."}}, {"tags": "link.x"}, ["x"]]
)
def test_a_malformed_through_map_is_refused_when_the_config_is_made(through_map):
    with pytest.raises(ConfigurationError, match="through_map"):
        SyncConfig(datasource=r.people, through_map=through_map)
