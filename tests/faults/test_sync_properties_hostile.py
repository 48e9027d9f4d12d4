"""Property tests of the sync engine fed hostile listings: whatever records a datasource yields (duplicate ids,
ids of every type and ids that collide once converted, nulls everywhere, huge strings, values no database can
store), a sync never raises, never corrupts a row, keeps one row per external id, and a second sync of the same
listing changes nothing.

The listings go straight into the engine through a ``MockDatasource`` of plain dicts, so nothing has checked their
types first (``test_deserialiser_properties.py`` covers what a ``RestDatasource`` makes of arbitrary JSON, and
``tests/core/test_sync_properties.py`` a table mirroring well-formed listings as they change).

The expected table is worked out record by record: the last record of each external id that the model accepts
wins, columns the listing does not fill keep their values. "Accepts" uses the engine's own conversion of one value
for one field (``plan.convert``, ``plan.key``), which the example tests at the end pin down; what the properties
check is everything around it: batching, duplicates, rollbacks and retries, lookups, counts and error reports.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db import models
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pyck.core.sync.plan import RecordFailure as _RecordFailure, convert, get_plan, read
from pyck.core.datasources import MockDatasource, SyncRun
from pyck.core.sync import SyncResult, sync_model
from tests.testapp.models import Article, Author, Party
from tests.testapp.resources import ArticleResource, AuthorResource
from tests.testapp.testing import use

pytestmark = pytest.mark.django_db

PROPERTIES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

U = uuid.UUID("12345678-1234-5678-1234-567812345678")
HUGE = "x" * 300_000
#: Long enough for no id column; not HUGE, which error messages would quote in full (see
#: test_a_huge_record_id_is_quoted_shortened_in_errors).
LONG_ID = "x" * 2_000


@dataclass
class PartyRow:
    """A party as a bare listing gives it: no colour, so ``Party.background_colour`` is a local-only column."""

    id: Any
    name: Any


# --- Strategies -------------------------------------------------------------------------------------------

# Ids that collide once converted ("1", " 1", "01", "+1", 1, 1.0 are all 1 to an IntegerField), and ids that are
# not ids at all. NaN, infinities, and strings with NUL or lone surrogates are left out: the sync survives them
# but cannot record them in its SyncRun yet (see test_a_record_id_json_cannot_hold_does_not_crash_the_run); so are
# huge ids (test_a_huge_record_id_is_quoted_shortened_in_errors).
INTEGER_IDS = st.sampled_from(
    [0, 1, 2, 3, -1, "1", " 1", "01", "+1", "1 ", "\u0661", "2", 1.0, 2.0, "3"]
) | st.sampled_from(
    [True, False, 1.5, 2**31, 2**63, 2**70, -(2**70), None, "", "x", "1e3", "0x1", U, str(U), [1], {"id": 1}, LONG_ID]
)
STRING_IDS = st.sampled_from(
    ["a", "A", " a", "a ", "1", 1, "01", 1.0, U, str(U), str(U).upper(), "x" * 50]
) | st.sampled_from(["x" * 51, LONG_ID, "", None, True, 1.5, [1], {"a": 1}]) | st.text(
    alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=3
)

# Any text: nulls, empty, control characters, NUL, lone surrogates, too long for the column, huge.
TEXTS = (
    st.none()
    | st.text(max_size=8)
    | st.sampled_from(["x" * 40, "x" * 41, HUGE, "a\x00b", "\ud800", "ok\udfff", 7, 1.5, True, ["a"], {"a": 1}])
)
NUMBERS = (
    st.none()
    | st.integers(min_value=-3, max_value=40)
    | st.sampled_from(["7", " 7", "", "x", 1.5, 2.0, math.inf, -math.inf, math.nan, 2**31, 2**63, 2**70, "\x00"])
)
PRICES = st.none() | st.sampled_from(
    ["0.125", "12.345", "1.005", "-0.125", "999999.994", "999999.995", "1e100", "1e-100", "NaN", "-Infinity",
     "", "x", 0.1, 1e300, math.nan, Decimal("2.675"), 12]
)
DATES = (
    st.none()
    | st.datetimes()
    | st.sampled_from(
        ["2024-07-04T00:00:00", "2024-07-04T00:00:00+14:00", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00",
         "2024-02-30T00:00:00", "2024-07-04", "", "x", 12]
    )
)


def _articles(ids: st.SearchStrategy[Any] = INTEGER_IDS) -> st.SearchStrategy[list[dict[str, Any]]]:
    # Every record carries every mapped attribute (``author`` as None or an object with a name): a record lacking
    # one leaves that column alone, which tests/core covers.
    record = st.fixed_dictionaries(
        {
            "id": ids,
            "headline": TEXTS,
            "author": st.none() | st.fixed_dictionaries({"name": TEXTS}),
            "published": DATES,
            "price": PRICES,
            "words": NUMBERS,
        }
    )
    return st.lists(record, max_size=10)


def _parties() -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(st.fixed_dictionaries({"id": INTEGER_IDS, "name": TEXTS}), max_size=10)


def _authors() -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(st.fixed_dictionaries({"id": STRING_IDS, "name": TEXTS}), max_size=10)


# --- The properties ---------------------------------------------------------------------------------------


@dataclass
class Case:
    """A synced model, the resource type of its listing, and rows it holds before the sync."""

    model: type[models.Model]
    resource_type: type[Any]
    initial: dict[Any, dict[str, Any]]
    #: Database check constraints, as a predicate on a record's converted values (``plan.convert`` cannot know).
    check: Callable[[dict[str, Any]], bool] = lambda values: True


ARTICLES = Case(
    Article,
    ArticleResource,
    initial={
        1: {"title": "Stale", "word_count": 9, "notes": "mine", "starred": True, "extra": {"k": 1}},
        2: {"title": "Stale too", "notes": "also mine"},
    },
    check=lambda values: values["word_count"] >= 0,
)
# No index and no unique constraint on Party.external_id: rows are found through the run's id map, and nothing but
# the engine stops two rows from sharing an id.
PARTIES = Case(Party, PartyRow, initial={1: {"name": "Stale", "background_colour": "local"}})
AUTHORS = Case(Author, AuthorResource, initial={"a": {"name": "Stale"}, str(U): {"name": "Stale uuid"}})


def check_sync_properties(case: Case, records: list[dict[str, Any]], batch_size: int) -> None:
    """Sync ``records`` twice into ``case.model`` and check every property; see the module docstring."""
    model = case.model
    model._base_manager.all().delete()
    SyncRun.objects.all().delete()
    for external_id, values in case.initial.items():
        model._base_manager.create(external_id=external_id, **values)
    before = _table(model)

    config = model.sync_config
    original = config.datasource
    config.datasource = MockDatasource(records, resource_type=case.resource_type, name="hostile")
    try:
        expected, rejected, versions = _expected(case, records, before)

        result = sync_model(model, batch_size=batch_size)  # never raises

        assert result.status in ("succeeded", "partial"), result.errors
        # No row corrupted, one row per external id as the field normalises it, local-only columns untouched.
        assert _table(model) == expected
        assert result.created == len(set(expected) - set(before))
        _check_errors(result, records, rejected)
        run = SyncRun.objects.get()
        assert (run.status, run.created, run.updated, run.failed) == (
            result.status, result.created, result.updated, result.failed,
        )

        again = sync_model(model, batch_size=batch_size)

        assert _table(model) == expected
        assert (again.created, again.failed, again.status) == (0, result.failed, result.status)
        if all(len(v) == 1 for v in versions.values()):
            assert again.updated == 0, "a second sync of the same listing rewrote rows"
    finally:
        config.datasource = original


def _expected(
    case: Case, records: list[dict[str, Any]], before: dict[Any, dict[str, Any]]
) -> tuple[dict[Any, dict[str, Any]], list[dict[str, Any]], dict[Any, set[Any]]]:
    """The table after syncing ``records``, the records the model must reject, and each key's accepted versions."""
    plan = get_plan(case.model)
    defaults = {
        f.attname: f.get_default()
        for f in case.model._meta.concrete_fields
        if f.attname not in ("id", "external_id", "last_sync_time")
    }
    table = {key: dict(values) for key, values in before.items()}
    rejected = []
    versions: dict[Any, set[Any]] = {}
    for record in records:
        try:
            key = plan.key(record["id"])
            values = {m.attname: convert(m.field, read(record, m.source)) for m in plan.of_kind("value")}
        except _RecordFailure:
            rejected.append(record)
            continue
        if not case.check(values):
            rejected.append(record)
            continue
        table[key] = {**table.get(key, defaults), **values}
        versions.setdefault(key, set()).add(tuple(sorted(values.items(), key=lambda item: item[0])))
    return table, rejected, versions


def _table(model: type[models.Model]) -> dict[Any, dict[str, Any]]:
    """Every row, by external id, without ``id`` and ``last_sync_time``; fails on two rows with one external id."""
    rows = list(model._base_manager.values())
    table = {row.pop("external_id"): row for row in rows}
    assert len(table) == len(rows), f"several rows share an external id: {sorted(str(r) for r in rows)}"
    for row in table.values():
        del row["id"], row["last_sync_time"]
    return table


def _check_errors(result: SyncResult, records: list[dict[str, Any]], rejected: list[dict[str, Any]]) -> None:
    """Each error is about a rejected record and names it, and the field or constraint at fault."""
    assert result.failed == len(result.errors)
    # Rejected records are all reported, except one refused only by the database that a later copy in its batch
    # replaced before it was written (that copy was written instead).
    assert result.failed <= len(rejected)
    ids = [record["id"] for record in rejected]
    for error in result.errors:
        assert any(_same(error.record_id, i) for i in ids), f"{error.record_id!r} is not a rejected record's id"
        assert f"record id {error.record_id!r}"[:60] in error.message  # long ids may be shortened
        assert any(
            part in error.message for part in ("field '", "its id", "has no id", "check constraint", "CHECK constraint")
        ), error.message


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


@PROPERTIES
@example(records=[{"id": 1, "headline": "a", "author": None, "published": None, "price": None, "words": 1},
                  {"id": "01", "headline": "b", "author": None, "published": None, "price": None, "words": -1},
                  {"id": True, "headline": "c", "author": None, "published": None, "price": None, "words": 2}],
         batch_size=2)
@example(records=[{"id": 3, "headline": "\ud800", "author": {"name": "x\x00"}, "published": "0001-01-01T00:00:00+05:00",
                   "price": "1e100", "words": 2**70}], batch_size=1)
@example(records=[{"id": 4, "headline": "a", "author": None, "published": None, "price": "0.125", "words": 1}],
         batch_size=1)
@given(records=_articles(), batch_size=st.integers(min_value=1, max_value=4))
def test_any_listing_syncs_without_raising_or_corrupting_a_row_and_resyncs_to_no_change(
    records: list[dict[str, Any]], batch_size: int
) -> None:
    check_sync_properties(ARTICLES, records, batch_size)


@PROPERTIES
@example(records=[{"id": 1, "name": "a"}, {"id": " 1", "name": "b"}, {"id": 1.0, "name": "c"}], batch_size=1)
@given(records=_parties(), batch_size=st.integers(min_value=1, max_value=4))
def test_ids_colliding_after_conversion_share_one_row_even_without_a_unique_constraint(
    records: list[dict[str, Any]], batch_size: int
) -> None:
    check_sync_properties(PARTIES, records, batch_size)


@PROPERTIES
@example(records=[{"id": U, "name": "uuid"}, {"id": str(U).upper(), "name": "upper"}, {"id": 1, "name": "int"},
                  {"id": "1", "name": "str"}], batch_size=3)
@given(records=_authors(), batch_size=st.integers(min_value=1, max_value=4))
def test_string_ids_of_every_type_sync_to_one_row_per_id_as_the_field_converts_it(
    records: list[dict[str, Any]], batch_size: int
) -> None:
    check_sync_properties(AUTHORS, records, batch_size)


# --- The conversions the properties take on trust, pinned down ------------------------------------------------


def _article(id: Any, **values: Any) -> dict[str, Any]:
    return {"id": id, "headline": "Fine", "author": None, "published": None, "price": None, "words": 1, **values}


@pytest.mark.parametrize(
    "field, values",
    [
        ("title", {"headline": "lone \ud800 surrogate"}),
        ("title", {"headline": "a NUL \x00 character"}),
        ("title", {"headline": "x" * 41}),
        ("author_name", {"author": {"name": "\udfff"}}),
        ("word_count", {"words": 2**70}),
        ("word_count", {"words": math.inf}),
        ("price", {"price": "1e100"}),
        ("price", {"price": "999999.995"}),  # 1000000.00 once rounded: nine digits
        ("published", {"published": "0001-01-01T00:00:00+05:00"}),  # before year 1 in UTC
        ("published", {"published": "9999-12-31T23:59:59-05:00"}),  # after year 9999 in UTC
        ("published", {"published": 12}),
    ],
)
def test_a_value_no_database_can_store_fails_its_record_naming_the_field(
    field: str, values: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    use(monkeypatch, Article, [_article(1), _article(2, **values), _article(3)], resource_type=ArticleResource)

    result = sync_model(Article)

    assert (result.status, result.created, result.failed) == ("partial", 2, 1)
    [error] = result.errors
    assert error.record_id == 2 and f"field {field!r}" in error.message and "record id 2" in error.message
    assert sorted(Article.objects.values_list("external_id", flat=True)) == [1, 3]
    # Refused before the database saw it: the batch was not rolled back and redone row by row.
    assert not any("record by record" in r.getMessage() for r in caplog.records)
    assert SyncRun.objects.get().status == "partial"


@pytest.mark.parametrize(
    "model, bad_id, why",
    [
        (Article, True, "is a bool"),
        (Article, 1.5, "not a whole number"),
        (Article, U, "is a UUID"),
        (Article, 2**70, "out of range"),
        (Article, [1], "is a list"),
        (Author, {"id": "a"}, "is a dict"),
        (Author, "x" * 51, "at most 50 characters"),
        # Strings with NUL characters or lone surrogates: test_a_record_id_json_cannot_hold_does_not_crash_the_run
    ],
)
def test_an_id_that_is_not_an_id_is_refused_not_matched_to_another_record(
    model: Any, bad_id: Any, why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = 1 if model is Article else "1"
    resource_type = ArticleResource if model is Article else AuthorResource
    record = _article if model is Article else (lambda id: {"id": id, "name": "Fine"})
    use(monkeypatch, model, [record(good), record(bad_id)], resource_type=resource_type)

    result = sync_model(model)

    assert (result.created, result.updated, result.failed) == (1, 0, 1)
    assert why in result.errors[0].message and "its id" in result.errors[0].message
    assert list(model.objects.values_list("external_id", flat=True)) == [good]


def test_decimals_are_rounded_as_the_database_rounds_them_so_a_resync_changes_nothing(monkeypatch) -> None:
    prices = ["0.125", "1.005", "2.675", "-0.125", "12.345", "999999.994"]
    use(monkeypatch, Article, [_article(i, price=p) for i, p in enumerate(prices)], resource_type=ArticleResource)

    first = sync_model(Article)
    again = sync_model(Article)

    assert (first.created, first.failed) == (len(prices), 0)
    assert (again.updated, again.unchanged) == (0, len(prices))




@pytest.mark.parametrize(
    "model, bad_id",
    [
        pytest.param(Article, math.nan),
        pytest.param(Article, -math.inf),
        pytest.param(Author, "a\x00"),
        pytest.param(Author, "a\ud800"),
    ],
)
def test_a_record_id_json_cannot_hold_does_not_crash_the_run(model: Any, bad_id: Any, monkeypatch) -> None:
    good = 1 if model is Article else "1"
    resource_type = ArticleResource if model is Article else AuthorResource
    record = _article if model is Article else (lambda id: {"id": id, "name": "Fine"})
    use(monkeypatch, model, [record(good), record(bad_id)], resource_type=resource_type)

    result = sync_model(model)

    assert (result.status, result.created, result.failed) == ("partial", 1, 1)
    run = SyncRun.objects.get()
    assert (run.status, run.failed) == ("partial", 1)
    assert repr(bad_id) in run.errors[0]["message"]


def test_a_huge_record_id_is_quoted_shortened_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    huge = "x" * 20_000  # minutes with the quadratic regex at 300,000: kept small enough to fail in seconds
    use(monkeypatch, Author, [{"id": "a", "name": "Fine"}, {"id": huge, "name": "Huge"}], resource_type=AuthorResource)

    result = sync_model(Author)

    assert (result.status, result.created, result.failed) == ("partial", 1, 1)
    assert len(result.errors[0].message) < 1_000
    assert len(SyncRun.objects.get().errors[0]["message"]) < 1_000
