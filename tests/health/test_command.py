"""`manage.py pyck_health`: its table, its JSON and its exit status."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from pyck.core.models import SyncRun

from .runs import add_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh():
    """Every synced model fully listed a minute ago: all green."""
    from pyck.core.models import registry  # the models are registered once Django is set up

    now = timezone.now()
    for model in registry.synced_models():
        add_run(model._meta.label, now - timedelta(minutes=1))
    return now


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("pyck_health", *args, stdout=out)
    except SystemExit as exit:
        return int(exit.code), out.getvalue()
    return 0, out.getvalue()


def test_exit_status_0_and_a_table_when_everything_is_fresh(fresh):
    status, out = run()
    assert status == 0
    assert re.search(r"^testapp\.Party +green +\d+ s +succeeded ", out, re.MULTILINE), out
    assert "NAME" in out.splitlines()[0]


def test_exit_status_1_when_a_model_is_stale(fresh):
    add_run("testapp.Party", fresh - timedelta(days=9))
    SyncRun.objects.filter(model="testapp.Party", started__gt=fresh - timedelta(days=1)).delete()
    status, out = run()
    assert status == 1
    assert "data older than 2 days" in out


def test_exit_status_1_when_a_model_keeps_failing(fresh, settings):
    settings.PYCK = {"HEALTH_FAILURE_STREAK": 2}
    add_run("testapp.City", fresh, "failed")
    assert run("--quiet") == (0, "")  # one failure: amber
    assert run("--quiet", "--fail-on", "amber") == (1, "")
    add_run("testapp.City", fresh + timedelta(seconds=5), "failed")
    assert run("--quiet") == (1, "")


def test_json_lists_every_row_with_its_level(fresh):
    add_run("testapp.City", fresh, "failed")
    status, out = run("--json")
    data = json.loads(out)
    assert status == 0
    assert data["level"] == "amber"
    rows = {row["name"]: row for row in data["rows"]}
    city = rows["testapp.City"]
    assert (city["level"], city["last_status"], city["failure_streak"]) == ("amber", "failed", 1)
    assert city["stale_after_seconds"] == 12 * 3600  # twice City's sync_interval of 6 hours
    assert 0 < city["age_seconds"] < 3600
    assert set(city) >= {"last_success", "data_updated", "next_due", "reasons", "kind", "partition"}


def test_models_narrow_the_check_and_an_unknown_one_is_exit_status_2(fresh):
    SyncRun.objects.filter(model="testapp.City").delete()
    add_run("testapp.City", fresh - timedelta(days=9))
    assert run("testapp.Party", "--quiet") == (0, "")
    assert run("testapp.City", "--quiet")[0] == 1
    with pytest.raises(CommandError) as error:
        call_command("pyck_health", "testapp.Nope")
    assert error.value.returncode == 2


def test_help_documents_the_exit_status(capsys):
    with pytest.raises(SystemExit):
        call_command("pyck_health", "--help")
    assert "Exit status" in capsys.readouterr().out
