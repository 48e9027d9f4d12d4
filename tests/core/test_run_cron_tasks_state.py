"""``run_cron_tasks`` and the sync state (issue #7): ``--list`` shows each sync task's mode, cursor and checkpoint,
``--reset`` forgets a model's state so that its next run is full, ``--full`` makes this invocation's runs full.

The remote side is the fake helpdesk API of ``tests/core/helpdesk.py``, read by ``testapp.Ticket``
(``Incremental(field="updated_at", param="updated_since")``, pages and batches of 10).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from importlib.util import find_spec

import pytest
import responses
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from pyck.core.overview import when
from pyck.core.sync.cursor import encode_value
from pyck.core.cron import get_cron_job
from pyck.core.cron import jobs as registry
from pyck.core.cron.clock import Clock
from pyck.core.datasources import Incremental
from pyck.core.exceptions import ConfigurationError
from pyck.core.models import CronTask, SyncRun, SyncState
from pyck.core.models.registry import synced_models as registry_models
from pyck.core.sync import sync_model
from tests.testapp.models import Ticket

from .helpdesk import T0, FakeHelpdesk

pytestmark = pytest.mark.django_db

LABEL = "testapp.Ticket"


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    """The command autodiscovers the sync tasks; leave the cron registry as it was."""
    saved = dict(registry._jobs)
    yield
    registry._jobs.clear()
    registry._jobs.update(saved)


@pytest.fixture
def helpdesk() -> Iterator[FakeHelpdesk]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        api = FakeHelpdesk()
        for id in range(1, 26):  # 25 tickets: 3 pages of 10
            api.put(id)
        yield api.install(mock)


def command(*args: str) -> str:
    out = io.StringIO()
    call_command("run_cron_tasks", *args, stdout=out)
    return out.getvalue()


def details(out: str, task: str) -> list[str]:
    """The indented lines printed under ``task``'s row of ``--list``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [task])
    following = []
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        following.append(line.strip())
    return following


def state(partition: str = "") -> SyncState:
    return SyncState.objects.get(model=LABEL, partition=partition)


def asked_since(api: FakeHelpdesk) -> list[str | None]:
    return [query.get("updated_since") for query in api.requests]


# --- --list ---


def test_list_shows_the_mode_and_a_never_synced_models_empty_state() -> None:
    out = command("--list", LABEL, "testapp.Country")

    assert out.splitlines()[0].split()[:2] == ["TASK", "EVERY"]  # the table's columns are unchanged
    assert details(out, f"sync:{LABEL}") == [
        "mode: incremental on updated_at via updated_since, full listing only when asked",
        "cursor -; last full sync never; checkpoint -",
    ]
    # A model without Incremental has no cursor to show: one line.
    assert details(out, "sync:testapp.Country") == ["mode: full; last full sync never; checkpoint -"]


def test_list_shows_the_cursor_and_the_checkpoint_a_dead_run_left(helpdesk: FakeHelpdesk) -> None:
    assert sync_model(Ticket).mode == "full"
    for id in range(1, 16):  # 15 tickets change: the incremental listing has two pages
        helpdesk.put(id, subject="changed", updated_at=T0 + timedelta(hours=1, minutes=id))
    helpdesk.fail_from = len(helpdesk.requests) + 2  # its first page answers, the second fails with every retry
    assert sync_model(Ticket).status == "failed"
    row = state()

    out = command("--list", LABEL)

    assert row.checkpoint["position"] == {"page": 0, "index": 10}
    assert details(out, f"sync:{LABEL}") == [
        "mode: incremental on updated_at via updated_since, full listing only when asked",
        f"cursor {(T0 + timedelta(minutes=25)).isoformat()} (moved {when(row.cursor_updated)}); "
        f"last full sync {when(row.last_full_sync)}",
        f"checkpoint after record 10 of page 0 of an incremental run started "
        f"{when(SyncRun.objects.order_by('-started').first().started)} (saved {when(row.checkpoint_updated)})",
    ]


def test_list_shows_each_partition_and_redacts_a_checkpoint_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Ticket.sync_config, "partitions", {"open": {"status": "open"}, "closed": {"status": "closed"}})
    monkeypatch.setattr(
        Ticket.sync_config,
        "incremental",
        Incremental(field="updated_at", lookback=timedelta(minutes=2), reconcile_interval=timedelta(days=1)),
    )
    cursor = T0 + timedelta(hours=3)
    SyncState.objects.create(
        model=LABEL, partition="open", cursor=encode_value(cursor), cursor_updated=T0, last_full_sync=T0
    )
    SyncState.objects.create(  # a partition synced by name, not declared
        model=LABEL,
        partition="adhoc",
        checkpoint={
            "mode": "full",
            "started": T0.isoformat(),
            "position": {"page": "https://helpdesk.example.com/api/tickets?api_key=s3cr3t&after=42", "index": 3},
            "failed": 2,
        },
        checkpoint_updated=T0,
    )

    out = command("--list", LABEL)

    assert details(out, f"sync:{LABEL}") == [
        "mode: incremental on updated_at via list_changed(), lookback 2m, full listing every 1d; 2 partitions",
        f"[open] cursor {cursor.isoformat()} (moved {when(T0)}); last full sync {when(T0)}; checkpoint -",
        "[closed] cursor -; last full sync never; checkpoint -",
        "[adhoc] cursor -; last full sync never",
        "[adhoc] checkpoint after record 3 of page https://helpdesk.example.com/api/tickets?api_key=***&after=42 "
        f"of a full run started {when(T0)}, 2 records failed (saved {when(T0)})",
    ]
    assert "s3cr3t" not in out


# --- --reset ---


def test_reset_forgets_the_state_and_the_next_run_is_a_full_listing(helpdesk: FakeHelpdesk) -> None:
    command("--once", LABEL)
    helpdesk.requests.clear()
    command("--once", LABEL)
    assert asked_since(helpdesk) == [(T0 + timedelta(minutes=25)).isoformat()]  # incremental, before the reset
    SyncState.objects.create(model=LABEL, partition="other")

    out = command("--reset", f"sync:{LABEL}")

    assert out == f"{LABEL}: sync state reset (2 partitions); its next run is a full listing from the start.\n"
    assert not SyncState.objects.filter(model=LABEL).exists()
    helpdesk.requests.clear()
    command("--once", LABEL)
    assert asked_since(helpdesk) == [None, None, None]  # three pages, none asked for changes only
    assert SyncRun.objects.order_by("-started").first().mode == "full"
    assert state().cursor == encode_value(T0 + timedelta(minutes=25))


def test_reset_needs_a_selection_and_takes_models_without_a_sync_interval() -> None:
    SyncState.objects.create(model=LABEL)
    SyncState.objects.create(model="testapp.Author")  # sync_interval=None: not a cron task
    SyncState.objects.create(model="gone.Model")  # left by a model no longer defined

    with pytest.raises(CommandError, match=r"--reset needs the models to reset.*--all"):
        command("--reset")
    with pytest.raises(CommandError, match=r"--reset: .*nope"):
        command("--reset", "nope")
    with pytest.raises(CommandError, match="--all goes with --reset"):
        command("--list", "--all")
    with pytest.raises(CommandError, match="either model labels or --all"):
        command("--reset", "--all", LABEL)
    assert SyncState.objects.count() == 3  # nothing was reset by a refused command

    out = command("--reset", "testapp.author")
    assert out == "testapp.Author: sync state reset (1 partition); its next run is a full listing from the start.\n"
    assert set(SyncState.objects.values_list("model", flat=True)) == {LABEL, "gone.Model"}

    out = command("--reset", "--all").splitlines()
    assert out[0] == f"{LABEL}: sync state reset (1 partition); its next run is a full listing from the start."
    assert out[1].startswith("gone.Model: sync state reset (1 partition)")
    assert out[2] == f"{len(registry_models()) - 1} other synced model(s) had no sync state to reset."
    assert not SyncState.objects.exists()


def test_reset_warns_that_a_running_sync_will_not_record_its_progress() -> None:
    now = timezone.now()
    CronTask.objects.create(
        name=f"sync:{LABEL}", interval=timedelta(days=1), next_due=now, lease_owner="clock-7", lease_expires=now + timedelta(minutes=5)
    )
    SyncState.objects.create(model=LABEL)

    out = command("--reset", LABEL).splitlines()

    assert out[1] == (
        f"{LABEL}: a sync is running now (lease held by clock-7): it can no longer record its progress, so the run "
        "after it starts from the beginning too."
    )
    assert not SyncState.objects.exists()


# --- --full ---


def test_full_makes_the_runs_full_listings_and_keeps_the_cursor(helpdesk: FakeHelpdesk) -> None:
    command("--once", LABEL)
    helpdesk.put(7, subject="changed", updated_at=T0 + timedelta(hours=2))
    helpdesk.requests.clear()

    out = command("--once", "--full", LABEL)

    assert asked_since(helpdesk) == [None, None, None]
    assert f"Sync of {LABEL} succeeded: 0 created, 1 updated, 24 unchanged" in out
    assert SyncRun.objects.order_by("-started").first().mode == "full"
    assert state().cursor == encode_value(T0 + timedelta(hours=2))
    helpdesk.requests.clear()
    command("--once", LABEL)  # without --full: incremental again, from the cursor the full run moved
    assert asked_since(helpdesk) == [(T0 + timedelta(hours=2)).isoformat()]


def test_full_goes_with_runs_only_and_the_clock_checks_the_mode() -> None:
    with pytest.raises(CommandError, match="--full applies to the syncs a run makes"):
        command("--list", "--full")
    with pytest.raises(CommandError, match="--full applies"):
        command("--reset", "--full", LABEL)
    with pytest.raises(ConfigurationError, match="sync_mode: expected one of auto, full, incremental"):
        Clock([], sync_mode="everything")


@pytest.mark.skipif(
    not (find_spec("django.tasks") or find_spec("django_tasks")), reason="no Django Tasks framework installed"
)
def test_full_reaches_the_syncs_enqueued_to_django_tasks(helpdesk: FakeHelpdesk) -> None:
    backend = "django.tasks.backends" if find_spec("django.tasks") else "django_tasks.backends"
    sync_model(Ticket)  # sets a cursor; no clock has scheduled the task yet, so it is due at once
    helpdesk.requests.clear()
    registry.autodiscover()
    job = get_cron_job(f"sync:{LABEL}")

    with override_settings(TASKS={"default": {"BACKEND": f"{backend}.immediate.ImmediateBackend"}}):
        [outcome] = Clock([job], enqueue=True, sync_mode="full").run_due()

    assert outcome.status == "enqueued"
    assert asked_since(helpdesk) == [None, None, None]
    assert SyncRun.objects.order_by("-started").first().mode == "full"


def test_help_explains_the_sync_state_options() -> None:
    from pyck.core.management.commands.run_cron_tasks import Command

    text = Command().create_parser("manage.py", "run_cron_tasks").format_help()
    for needle in ("--reset app.Model", "--reset --all", "--once --full", "cursor", "checkpoint", "full listing"):
        assert needle in text
