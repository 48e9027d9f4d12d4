"""The leases on `CronTask` rows (`pyck.core.models.leases`): every sync of a model holds the model's lease, so two
never write its rows at once; a dead holder of this machine is taken over at once; `--once` waits for a live one.

Real processes racing are in `tests/faults/test_one_writer.py` (PostgreSQL).
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from pyck.core.cron import jobs as registry
from pyck.core.cron import register_cron
from pyck.core.datasources import SyncInProgressError
from pyck.core.models import CronTask, SyncRun, leases
from pyck.core.sync import sync_model
from tests.testapp.models import Player, Ticket
from tests.testapp.resources import PlayerResource
from tests.testapp.testing import use

pytestmark = pytest.mark.django_db

TASK = "sync:testapp.Player"
ELSEWHERE = "clock@elsewhere:1:abc"


def _hold(name: str = TASK, owner: str = ELSEWHERE, seconds: float = 300) -> None:
    """Another process holds the lease on `name` for `seconds` from now."""
    CronTask.objects.update_or_create(
        name=name,
        defaults={"next_due": timezone.now(), "lease_owner": owner, "lease_expires": timezone.now() + timedelta(seconds=seconds)},
    )


def _dead_owner(kind: str = "clock") -> str:
    """The owner id of a process of this machine that has exited and been reaped."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    pid = int(child.stdout)
    owner = leases.new_owner_id(kind)
    before, _, rest = owner.partition(":")
    return f"{before}:{pid}:{rest.partition(':')[2]}"


@pytest.fixture
def players(monkeypatch: pytest.MonkeyPatch) -> Any:
    return use(monkeypatch, Player, [PlayerResource(id=i, name=f"Player {i}") for i in range(1, 4)])


def test_a_sync_holds_the_models_lease_on_a_row_created_for_it_and_records_the_run(players, monkeypatch) -> None:
    seen: list[str] = []
    listing = players.list

    def list_(**filter: Any) -> Any:
        seen.append(CronTask.objects.get(name=TASK).lease_owner)  # while the sync runs
        return listing(**filter)

    monkeypatch.setattr(players, "list", list_)

    result = Player.sync()

    assert result.created == 3 and seen[0].startswith("sync@")
    row = CronTask.objects.get(name=TASK)  # Player has no sync_interval: the clock never made this row
    assert (row.interval, row.lease_owner, row.lease_expires, row.last_status, row.run_count) == (None, "", None, "succeeded", 1)
    assert row.last_result.startswith("Sync of testapp.Player succeeded: 3 created")
    assert row.last_started <= row.last_finished


def test_a_sync_leaves_the_clocks_schedule_alone(players) -> None:
    due = timezone.now() + timedelta(hours=3)
    CronTask.objects.create(name=TASK, next_due=due)
    Player.sync()
    assert CronTask.objects.get(name=TASK).next_due == due


def test_a_sync_is_refused_while_another_process_holds_the_lease(players) -> None:
    _hold()

    with pytest.raises(SyncInProgressError) as refused:
        Player.sync()

    error = refused.value
    assert (error.model, error.holder) == ("testapp.Player", ELSEWHERE) and error.until is not None
    assert "A sync of testapp.Player is running already, by the cron clock (clock@elsewhere:1:abc)" in str(error)
    assert "wait=" in str(error)
    assert not SyncRun.objects.exists() and not Player.objects.exists()
    assert CronTask.objects.get(name=TASK).lease_owner == ELSEWHERE
    assert players.lists == 0


def test_a_sync_waits_for_the_lease_up_to_wait(players) -> None:
    _hold(seconds=0.6)
    with pytest.raises(SyncInProgressError, match=r"after waiting 0\.1s"):
        sync_model(Player, wait=0.1)

    start = time.monotonic()
    assert sync_model(Player, wait=timedelta(seconds=10)).created == 3
    assert time.monotonic() - start > 0.3, "it waited for the other holder's lease to run out"


def test_a_lease_held_by_a_dead_process_of_this_machine_is_taken_over_at_once(players, caplog) -> None:
    dead = _dead_owner()
    _hold(owner=dead)

    assert Player.sync().created == 3

    assert any("took over the lease of " + dead in record.getMessage() for record in caplog.records)
    assert CronTask.objects.get(name=TASK).lease_owner == ""


def test_only_a_process_of_this_machine_that_is_gone_is_dead() -> None:
    assert leases.holder_is_dead(_dead_owner())
    assert not leases.holder_is_dead(leases.new_owner_id("clock")), "this process"
    assert not leases.holder_is_dead(ELSEWHERE), "another machine"
    assert not leases.holder_is_dead("something else")
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as alive:
        owner = _dead_owner().rsplit(":", 2)
        try:
            assert not leases.holder_is_dead(f"{owner[0]}:{alive.pid}:{owner[2]}")
        finally:
            alive.kill()


def test_a_partition_of_a_model_with_a_unique_external_id_takes_no_lease(helpdesk) -> None:
    _hold("sync:testapp.Ticket")
    assert sync_model(Ticket, partition="all").ok  # side by side with others: the unique constraint protects it
    with pytest.raises(SyncInProgressError):
        sync_model(Ticket)


def test_a_negative_wait_is_a_configuration_error(players) -> None:
    from pyck.core.datasources import ConfigurationError

    with pytest.raises(ConfigurationError, match="wait=...: expected a number of seconds"):
        sync_model(Player, wait=-1)


def test_the_cron_registry_names_sync_tasks_as_the_leases_do() -> None:
    assert registry.SYNC_PREFIX == leases.SYNC_PREFIX


# --- run_cron_tasks --once --------------------------------------------------------------------------------------


@pytest.fixture
def task() -> Any:
    calls: list[int] = []
    saved = dict(registry._jobs)
    register_cron(lambda: calls.append(1) or "done", timedelta(hours=1), name="t.held")
    yield calls
    registry._jobs.clear()
    registry._jobs.update(saved)


def _once(*args: str) -> str:
    out = io.StringIO()
    call_command("run_cron_tasks", "--once", "t.held", *args, stdout=out)
    return out.getvalue()


def test_once_says_which_task_it_did_not_run_and_exits_75(task) -> None:
    _hold("t.held")
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"1 of 1 cron task\(s\) did not run: .*t\.held") as failed:
        call_command("run_cron_tasks", "--once", "t.held", "--wait", "0", stdout=out)
    assert failed.value.returncode == 75
    assert "not run     t.held: its lease is held by the cron clock (clock@elsewhere:1:abc) until " in out.getvalue()
    assert task == []


def test_once_waits_for_a_live_holder_then_runs(task) -> None:
    _hold("t.held", seconds=0.6)
    out = _once("--wait", "10")
    assert task == [1]
    assert "waiting     t.held: its lease is held by the cron clock" in out and "waited      t.held " in out


def test_once_takes_over_a_dead_holders_lease_at_once(task) -> None:
    _hold("t.held", owner=_dead_owner())
    start = time.monotonic()
    _once("--wait", "30")
    assert task == [1] and time.monotonic() - start < 10


def test_wait_goes_with_once() -> None:
    with pytest.raises(CommandError, match="--wait goes with --once"):
        call_command("run_cron_tasks", "--list", "--wait", "3")


def test_a_lease_this_process_could_not_free_is_taken_over_by_its_next_sync(players, monkeypatch, caplog) -> None:
    from django.db import OperationalError

    def failing(*args: Any, **kwargs: Any) -> bool:
        raise OperationalError("the database has gone")

    with monkeypatch.context() as patched:
        patched.setattr(leases, "release", failing)
        with pytest.raises(RuntimeError, match="the sync's own error"), leases.SyncLease(Player):
            raise RuntimeError("the sync's own error")
    stale = CronTask.objects.get(name=TASK).lease_owner
    assert stale.startswith("sync@") and "could not free the sync's lease" in caplog.text

    assert Player.sync().created == 3
    assert CronTask.objects.get(name=TASK).lease_owner == ""
