"""``Among``: the batch lookups' ``field IN (values)``, same rows as the ORM's ``__in``, fewer placeholders."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from pyck.core.sync.lookups import Among, _array_castable
from tests.testapp.models import Author, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams() -> list[Team]:
    return [Team.objects.create(external_id=n, name=f"Team {n}") for n in (1, 2, 3, 2**31 - 1)]


@pytest.fixture
def authors() -> list[Author]:
    return [Author.objects.create(external_id=key, name=key) for key in ("a", "b", "ça", "O'Brien")]


def _same_rows(model: type[models.Model], field: models.Field, values: list) -> set:
    ours = set(model.objects.filter(Among(field, values)).values_list("pk", flat=True))
    theirs = set(model.objects.filter(**{f"{field.attname}__in": values}).values_list("pk", flat=True))
    assert ours == theirs
    return ours


def test_integers_match_as_in_does(teams: list[Team]) -> None:
    field = Team._meta.get_field("external_id")
    found = _same_rows(Team, field, [2, 3, 7, 2**31 - 1])
    assert found == {teams[1].pk, teams[2].pk, teams[3].pk}


def test_text_matches_exactly_as_in_does(authors: list[Author]) -> None:
    field = Author._meta.get_field("external_id")
    found = _same_rows(Author, field, ["b", "ça", "O'Brien", "a" * 60, "B"])
    assert found == {authors[1].pk, authors[2].pk, authors[3].pk}


def test_a_value_longer_than_the_column_matches_nothing(authors: list[Author]) -> None:
    """An array cast to ``varchar(50)[]`` would cut the value to fit, and match a row it must not."""
    Author.objects.create(external_id="x" * 50, name="fifty")
    field = Author._meta.get_field("external_id")
    assert _same_rows(Author, field, ["x" * 51]) == set()


def test_uuids_match_as_in_does(teams: list[Team]) -> None:
    field = Team._meta.pk
    assert _same_rows(Team, field, [teams[0].pk, uuid.uuid4(), teams[3].pk]) == {teams[0].pk, teams[3].pk}


def test_postgresql_gets_one_array_parameter_and_sqlite_one_placeholder_per_value(teams: list[Team]) -> None:
    field = Team._meta.get_field("external_id")
    values = list(range(500))
    with CaptureQueriesContext(connection) as queries:
        list(Team.objects.filter(Among(field, values)).values_list("pk"))
    (sql,) = [q["sql"] for q in queries.captured_queries]
    if connection.vendor == "postgresql":
        assert "= ANY(" in sql and "::bigint[]" in sql
    else:
        assert sql.count(", ") >= 499  # one placeholder per value, as the ORM's IN


def test_it_combines_with_other_conditions(teams: list[Team]) -> None:
    field = Team._meta.get_field("external_id")
    rows = Team.objects.filter(Among(field, [1, 2, 3]), name__endswith="2").values_list("pk", flat=True)
    assert list(rows) == [teams[1].pk]


def test_the_where_clause_is_the_condition_itself_so_the_index_serves_it(teams: list[Team]) -> None:
    """Not `... IN (...) = 1`, as Django 6 writes a boolean expression other than a lookup on SQLite: SQLite then
    scans the whole table, for every batch (and for every record of a batch redone record by record)."""
    field = Team._meta.get_field("external_id")
    sql, params = Team.objects.filter(Among(field, [1, 2])).query.sql_with_params()
    assert sql.rstrip().endswith(("IN (%s, %s)", "= ANY(%s::bigint[])")), sql
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "USING INDEX" in plan and "SCAN" not in plan, plan


def test_an_empty_list_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        Among(Team._meta.get_field("external_id"), [])


class _CaseInsensitiveText(models.TextField):
    def db_type(self, connection):  # type: ignore[no-untyped-def]
        return "citext"


def test_only_columns_of_djangos_own_types_are_compared_with_an_array() -> None:
    assert _array_castable(models.CharField(max_length=5))
    assert _array_castable(models.PositiveSmallIntegerField())
    assert _array_castable(models.UUIDField())
    assert not _array_castable(_CaseInsensitiveText())  # citext compares ignoring case; text[] would not
    assert not _array_castable(models.DecimalField(max_digits=5, decimal_places=2))
