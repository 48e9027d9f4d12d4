"""Rows of a synced model that share an external id (`pyck.core.sync.duplicates`): a run that finds them says so
in its result, its log and its SyncRun, and `pyck_merge_duplicates` merges them into one row per id."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from pyck.core.datasources import OnDelete, SyncRun, apply_records
from pyck.core.models import CronTask
from pyck.core.sync.duplicates import find_duplicates, merge_duplicates
from pyck.core.sync.results import SyncWarning
from pyck.geo.territories.uk import parliament as P
from tests.testapp import resources as r
from tests.testapp.models import MP, Author, Book, Employee, Party, Player, Team
from tests.testapp.testing import use

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def _party(id: int, name: str = "") -> P.Party:
    return P.Party(id=id, name=name or f"Party {id}", background_colour="abcdef")


def _twice(model: Any, external_id: Any, **fields: Any) -> tuple[Any, Any]:
    """Two rows of `external_id`: an older one and one synced later."""
    old = model.objects.create(external_id=external_id, last_sync_time=timezone.now() - HOUR, **fields)
    new = model.objects.create(external_id=external_id, last_sync_time=timezone.now(), **fields)
    return old, new


# --- a run that finds duplicates says so ------------------------------------------------------------------------


@pytest.mark.parametrize("model", [Party, Team], ids=["without an index (id map)", "indexed (looked up by batch)"])
def test_a_sync_that_finds_duplicates_says_so_in_its_result_log_and_run(monkeypatch, caplog, model) -> None:
    if model is Party:
        use(monkeypatch, Party, [_party(7), _party(8)], P.Party)
        _twice(Party, 7, name="Party 7", background_colour="")
    else:
        use(monkeypatch, Team, [r.TeamResource(id=7, name="Team 7"), r.TeamResource(id=8, name="Team 8")])
        _twice(Team, 7, name="Team 7")
    label = model._meta.label

    result = model.sync()

    assert result.warnings == [SyncWarning("duplicated", label, "external_id", 1)]
    assert "pyck_merge_duplicates " + label in result.warnings[0].message
    [stored] = SyncRun.objects.get(model=label).warnings
    assert (stored["kind"], stored["model"], stored["field"], stored["count"]) == ("duplicated", label, "external_id", 1)
    message = f"{label}: 1 external id has more than one row (7): a sync updates one row of each"
    assert any(note.startswith(message) and "pyck_merge_duplicates " + label in note for note in result.notes)
    logged = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(line.startswith(message) for line in logged) and str(result.warnings[0]) in logged
    assert result.ok and result.errors == [], "the records were written: the duplicates are a warning"


def test_a_sync_with_no_duplicates_says_nothing_about_them(monkeypatch) -> None:
    use(monkeypatch, Party, [_party(7), _party(8)], P.Party)
    result = Party.sync()
    assert result.errors == [] and result.notes == [] and result.warnings == []


def test_deletion_asks_no_get_for_the_extra_rows_of_a_listed_id(monkeypatch) -> None:
    remote = use(monkeypatch, Party, [_party(7), _party(8)], P.Party)
    monkeypatch.setattr(Party.sync_config, "on_delete", OnDelete.DELETE)
    _twice(Party, 7, name="Party 7", background_colour="")
    Party.objects.create(external_id=9, name="Party 9", last_sync_time=timezone.now() - HOUR)  # gone remotely
    _twice(Party, 10, name="Party 10", background_colour="")  # gone remotely, twice

    result = Party.sync(max_delete_fraction=1.0)

    assert remote.gets == [9, 10, 10], "one get() per row missing from the listing; none for the second row of 7"
    assert sorted(Party.objects.values_list("external_id", flat=True)) == [7, 7, 8]
    assert result.deleted == 3 and result.kept == 0


def test_a_push_that_finds_duplicates_says_so(monkeypatch) -> None:
    use(monkeypatch, Party, [], P.Party)
    _twice(Party, 7, name="Party 7", background_colour="")

    result = apply_records(Party, [_party(7, "renamed")])

    assert result.warnings == [SyncWarning("duplicated", "testapp.Party", "external_id", 1)]
    assert result.notes[0].startswith("testapp.Party: 1 external id has more than one row (7)")
    assert SyncRun.objects.get(mode="push").warnings[0]["kind"] == "duplicated"


# --- merging ----------------------------------------------------------------------------------------------------


@pytest.fixture
def references() -> dict[str, Any]:
    """Two rows of party 7 (the newer kept), and rows of other models pointing at the older one."""
    old, new = _twice(Party, 7, name="Party 7", background_colour="")
    single = Party.objects.create(external_id=8, name="Party 8")
    mps = [MP.objects.create(external_id=i, name=f"MP {i}", latest_party=old) for i in (1, 2)]
    MP.objects.create(external_id=3, name="MP 3", latest_party=new)
    return {"old": old, "new": new, "single": single, "mps": mps}


def test_find_duplicates_keeps_the_row_synced_most_recently(references) -> None:
    [group] = find_duplicates(Party)
    assert (group.external_id, group.kept, group.merged) == (7, references["new"].pk, [references["old"].pk])


def test_a_dry_run_says_what_it_would_do_and_changes_nothing(references) -> None:
    report = merge_duplicates(Party)

    assert not report.applied and report.references == {"testapp.MP.latest_party": 2} and report.deleted == 0
    assert Party.objects.filter(external_id=7).count() == 2
    assert MP.objects.filter(latest_party=references["old"]).count() == 2


def test_merging_points_the_references_at_the_row_kept_and_deletes_the_others(references) -> None:
    report = merge_duplicates(Party, apply=True)

    assert report.applied and report.deleted == 1 and report.references == {"testapp.MP.latest_party": 2}
    assert list(Party.objects.filter(external_id=7).values_list("pk", flat=True)) == [references["new"].pk]
    assert set(MP.objects.values_list("latest_party", flat=True)) == {references["new"].pk}
    assert MP.objects.count() == 3 and Party.objects.count() == 2
    assert merge_duplicates(Party).groups == []
    assert not CronTask.objects.filter(name="sync:testapp.Party").exclude(lease_owner="").exists(), "lease freed"
    assert CronTask.objects.get(name="sync:testapp.Party").run_count == 0, "a merge is not a sync run"


def test_merging_moves_many_to_many_links_and_drops_those_the_row_kept_has(monkeypatch) -> None:
    old, new = _twice(Author, "a1", name="Ann")
    other = Author.objects.create(external_id="a2", name="Bob")
    both = Book.objects.create(external_id="b1", title="Both")
    both.authors.set([old, new])
    only_old = Book.objects.create(external_id="b2", title="Old only")
    only_old.authors.set([old, other])
    # Duplicated books: the older one's own links go with it.
    book_old, book_new = _twice(Book, "b3", title="Twice")
    book_old.authors.set([other])
    book_new.authors.set([new])

    merge_duplicates(Author, apply=True)
    merge_duplicates(Book, apply=True)

    assert list(both.authors.all()) == [new]
    assert set(only_old.authors.all()) == {new, other}
    assert list(Book.objects.get(external_id="b3").authors.all()) == [new]
    assert Author.objects.count() == 2 and Book.objects.count() == 3


def test_merging_follows_self_references() -> None:
    old, new = _twice(Employee, 1, name="Boss")
    report_to_old = Employee.objects.create(external_id=2, name="Clerk", manager=old)
    old.manager = report_to_old
    old.save()

    merge_duplicates(Employee, apply=True)

    report_to_old.refresh_from_db()
    assert report_to_old.manager_id == new.pk and Employee.objects.count() == 2


def test_merging_waits_for_no_sync_and_is_refused_while_one_runs(references) -> None:
    from pyck.core.datasources import SyncInProgressError

    CronTask.objects.create(
        name="sync:testapp.Party", next_due=timezone.now(), lease_owner="clock@elsewhere:1:abc",
        lease_expires=timezone.now() + timedelta(minutes=5),
    )
    with pytest.raises(SyncInProgressError):
        merge_duplicates(Party, apply=True)
    assert Party.objects.filter(external_id=7).count() == 2


# --- the command ------------------------------------------------------------------------------------------------


def _command(*args: str, verbosity: int = 1) -> str:
    out = io.StringIO()
    call_command("pyck_merge_duplicates", *args, stdout=out, stderr=out, verbosity=verbosity)
    return out.getvalue()


def test_the_command_is_a_dry_run_by_default(references) -> None:
    out = _command("testapp.Party", "testapp.Player")

    old, new = references["old"], references["new"]
    assert "testapp.Party: 1 external id(s) have more than one row; would merge 1 row(s)" in out
    assert f"external id 7: keep {new.pk}, merge {old.pk}" in out
    assert "testapp.MP.latest_party: 2 row(s) to point at the rows kept" in out
    assert "testapp.Player: no external id has more than one row." in out
    assert out.rstrip().endswith("Dry run: nothing was changed. Run again with --apply to merge.")
    assert Party.objects.filter(external_id=7).count() == 2


def test_the_command_merges_with_apply(references) -> None:
    out = _command("sync:testapp.Party", "--apply")
    assert "testapp.Party: 1 external id(s) have more than one row; merged 1 row(s)" in out
    assert "testapp.MP.latest_party: 2 row(s) pointed at the rows kept" in out
    assert Party.objects.filter(external_id=7).count() == 1


def test_the_command_needs_a_selection_and_knows_the_models() -> None:
    with pytest.raises(CommandError, match="Name the models"):
        _command()
    with pytest.raises(CommandError, match="testapp.Nope"):
        _command("testapp.Nope")
    assert "no external id has more than one row" in _command("--all")


def test_the_command_explains_itself() -> None:
    from pyck.core.management.commands.pyck_merge_duplicates import Command

    text = Command().create_parser("manage.py", "pyck_merge_duplicates").format_help()
    for needle in ("--apply", "--all", "--wait", "dry run", "synced most recently", "sync lease", "Generic foreign keys"):
        assert needle in text, needle
