"""``manage.py run_cron_tasks``: the command in process, and real clock and worker processes on PostgreSQL.

The child processes use ``tests.cron_support.settings`` (the same database as the test, found through
``PYCK_TEST_DB_NAME``) and the tasks of ``tests/cron_support/cron.py``: ``record`` logs a start and an end line
(taking ``PYCK_CRON_TASK_SECONDS``) and ``fail`` raises.
"""

from __future__ import annotations

import io
import signal
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from pyck.core.cron import jobs as registry
from pyck.core.cron import register_cron
from pyck.core.cron.report import Outcome
from pyck.core.models import CronTask, SyncRun
from tests.cron_support.helpers import Child, child_env, requires_postgresql, run_manage, runs, wait_for

HOUR = timedelta(hours=1)
CLOCK_UP = "due tasks every"  # in the line a clock prints when it starts ticking


@pytest.fixture
def registered() -> Iterator[dict[str, int]]:
    """Registers ``t.ok`` and ``t.fail`` (on top of whatever autodiscovery finds); counts their calls."""
    calls = {"t.ok": 0, "t.fail": 0}

    def ok() -> str:
        calls["t.ok"] += 1
        return "5 rows"

    def fail() -> None:
        calls["t.fail"] += 1
        raise RuntimeError("boom")

    saved = dict(registry._jobs)
    register_cron(ok, HOUR, name="t.ok")
    register_cron(fail, HOUR, name="t.fail")
    yield calls
    registry._jobs.clear()
    registry._jobs.update(saved)


def command(*args: str, verbosity: int = 1) -> str:
    out = io.StringIO()
    call_command("run_cron_tasks", *args, stdout=out, verbosity=verbosity)
    return out.getvalue()


# --- in process ---


@pytest.mark.django_db
def test_once_runs_the_named_tasks_and_succeeds(registered: dict[str, int]) -> None:
    out = command("--once", "t.ok")
    assert registered == {"t.ok": 1, "t.fail": 0}
    assert "started     t.ok" in out and "succeeded   t.ok in " in out and out.rstrip().endswith(": 5 rows")
    assert CronTask.objects.get(name="t.ok").last_status == "succeeded"


@pytest.mark.django_db
def test_once_fails_after_running_the_others(registered: dict[str, int]) -> None:
    with pytest.raises(CommandError, match=r"1 of 2 cron task\(s\) failed: t\.fail\."):
        command("--once", "t.fail", "--task", "t.ok")
    assert registered == {"t.ok": 1, "t.fail": 1}


@pytest.mark.django_db
def test_once_is_silent_with_verbosity_0(registered: dict[str, int]) -> None:
    assert command("--once", "t.ok", verbosity=0) == ""
    assert registered["t.ok"] == 1


@pytest.mark.django_db
def test_list_prints_each_task_and_runs_nothing(registered: dict[str, int]) -> None:
    out = command("--list", "t.ok", "t.fail").splitlines()
    assert out[0].split()[:2] == ["TASK", "EVERY"]
    assert [line.split()[:2] for line in out[1:]] == [["t.ok", "1h"], ["t.fail", "1h"]]
    assert registered == {"t.ok": 0, "t.fail": 0}


@pytest.mark.django_db
def test_an_unknown_task_name_is_an_error_listing_the_known_ones(registered: dict[str, int]) -> None:
    with pytest.raises(CommandError, match=r"Unknown cron task 'nope'\. The registered tasks are: .*t\.fail, t\.ok"):
        command("--once", "nope")


@pytest.mark.django_db
def test_once_syncs_models_in_dependency_order_and_prints_their_results(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.testapp import resources
    from tests.testapp.models import City

    monkeypatch.setattr(resources.countries, "data", [resources.CountryResource(id="fr", name="France")])
    monkeypatch.setattr(resources.cities, "data", [resources.CityResource(id="c1", name="Paris", country="fr")])
    saved = dict(registry._jobs)
    try:
        out = command("--once", "testapp.City", "testapp.Country")  # City references Country
    finally:
        registry._jobs.clear()
        registry._jobs.update(saved)
    started = [line.split()[-1] for line in out.splitlines() if " started " in line]
    assert started == ["sync:testapp.Country", "sync:testapp.City"]
    assert "Sync of testapp.Country succeeded: 1 created" in out and "Sync of testapp.City succeeded: 1 created" in out
    assert City.objects.get().country.name == "France"
    assert {row.name: row.last_status for row in CronTask.objects.all()} == {
        "sync:testapp.City": "succeeded",
        "sync:testapp.Country": "succeeded",
    }
    city = CronTask.objects.get(name="sync:testapp.City")
    assert city.interval == timedelta(hours=6) and city.next_due == city.last_started + timedelta(hours=6)


def test_once_and_enqueue_do_not_mix() -> None:
    with pytest.raises(CommandError, match="drop --enqueue"):
        command("--once", "--enqueue")


def test_help_explains_the_deployments() -> None:
    from pyck.core.management.commands.run_cron_tasks import Command

    text = Command().create_parser("manage.py", "run_cron_tasks").format_help()
    for needle in (
        "run_cron_tasks & gunicorn app.wsgi",
        "clock: python manage.py run_cron_tasks",
        "--once",
        "--enqueue",
        "--list",
        "--task",
        "SIGTERM",
    ):
        assert needle in text


# --- real processes ---


def task_row(name: str = "record") -> CronTask | None:
    return CronTask.objects.filter(name=name).first()


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_clocks_run_a_due_task_once(tmp_path: Path, spawn: Callable[..., Child]) -> None:
    log = tmp_path / "runs.log"
    # The task outlasts its lease (2.2 s against 2 s): only the heartbeat keeps the other clock off it. (A lease
    # much shorter would be lost whenever the loaded machine stalls a process for longer, as it should be.)
    env = child_env(log, PYCK_CRON_TASK_SECONDS=2.2, PYCK_CRON_LEASE=2, PYCK_CRON_TICK=0.02)
    CronTask.objects.create(name="record", interval=HOUR, next_due=timezone.now() + HOUR)
    clocks = [spawn(["run_cron_tasks", "record"], env) for _ in range(2)]
    for clock in clocks:
        clock.wait_for_output(CLOCK_UP)
    CronTask.objects.filter(name="record").update(next_due=timezone.now())  # due now, for both at once
    wait_for(lambda: task_row().run_count == 1, 10, "the run to finish")
    time.sleep(0.3)  # both clocks keep ticking: nothing may start again
    assert [clock.stop() for clock in clocks] == [0, 0]
    assert len(runs(log)) == 1, log.read_text() + "".join(clock.output() for clock in clocks)
    row = task_row()
    assert (row.run_count, row.last_status, row.lease_owner) == (1, "succeeded", "")
    assert row.next_due > timezone.now() + timedelta(minutes=59)


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_slow_task_is_never_started_again_while_it_runs(tmp_path: Path, spawn: Callable[..., Child]) -> None:
    log = tmp_path / "runs.log"
    # Due every 0.1 s, takes 2.2 s, lease 2 s: only leases and heartbeats stop overlapping runs.
    env = child_env(log, PYCK_CRON_INTERVAL=0.1, PYCK_CRON_TASK_SECONDS=2.2, PYCK_CRON_LEASE=2, PYCK_CRON_TICK=0.02)
    clocks = [spawn(["run_cron_tasks", "record"], env) for _ in range(2)]
    for clock in clocks:
        clock.wait_for_output(CLOCK_UP)
    wait_for(lambda: len(runs(log)) >= 2, 15, "a second run")
    assert [clock.stop() for clock in clocks] == [0, 0]  # the second run finishes first
    done = runs(log)
    assert all(end is not None for _, _, end in done), done
    for (_, _, previous_end), (_, start, _) in zip(done, done[1:], strict=False):
        assert start >= previous_end, f"overlapping runs: {done}\n" + "".join(clock.output() for clock in clocks)


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_crashed_clocks_task_is_taken_over_after_its_lease_expires(
    tmp_path: Path, spawn: Callable[..., Child]
) -> None:
    log = tmp_path / "runs.log"
    lease = 1.5
    env = child_env(log, PYCK_CRON_TASK_SECONDS=0.5, PYCK_CRON_LEASE=lease, PYCK_CRON_TICK=0.02)
    crashing = spawn(["run_cron_tasks", "record"], env)
    wait_for(lambda: runs(log), 15, "the first clock to start the task")
    crashing.signal(signal.SIGKILL)
    crashing.wait()
    [(_, first_start, first_end)] = runs(log)
    assert first_end is None and task_row().lease_owner.startswith("clock@")
    survivor = spawn(["run_cron_tasks", "record"], env)
    wait_for(lambda: len(runs(log)) == 2 and runs(log)[1][2], 15, "the second clock to run the task")
    assert survivor.stop() == 0
    (_, second_start, _) = runs(log)[1]
    # Not before the lease expired (the last renewal was at or after the first start), and not much later.
    assert lease - 0.05 <= second_start - first_start <= lease + 5, runs(log)
    row = task_row()
    assert (row.run_count, row.last_status, row.lease_owner) == (1, "succeeded", "")


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_sigterm_lets_the_running_task_finish_releases_the_lease_and_exits_0(
    tmp_path: Path, spawn: Callable[..., Child]
) -> None:
    log = tmp_path / "runs.log"
    clock = spawn(["run_cron_tasks", "record"], child_env(log, PYCK_CRON_TASK_SECONDS=1))
    wait_for(lambda: runs(log), 15, "the task to start")
    clock.signal(signal.SIGTERM)
    assert clock.wait() == 0, clock.output()
    [(_, _, end)] = runs(log)
    assert end is not None, "the running task finished"
    row = task_row()
    assert (row.last_status, row.lease_owner, row.lease_expires, row.run_count) == ("succeeded", "", None, 1)
    assert "clock       stopped" in "".join(clock.stdout)


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_second_sigterm_aborts_the_task_releases_the_lease_and_exits_0(
    tmp_path: Path, spawn: Callable[..., Child]
) -> None:
    log = tmp_path / "runs.log"
    clock = spawn(["run_cron_tasks", "record"], child_env(log, PYCK_CRON_TASK_SECONDS=30))
    wait_for(lambda: runs(log), 15, "the task to start")
    clock.signal(signal.SIGTERM)
    wait_for(lambda: any("Signal 15 received" in line for line in clock.stderr), 5, "the first signal to be logged")
    clock.signal(signal.SIGTERM)
    assert clock.wait(timeout=5) == 0, clock.output()
    [(_, _, end)] = runs(log)
    assert end is None, "the task was aborted"
    row = task_row()
    assert (row.last_status, row.lease_owner, row.lease_expires, row.run_count) == ("interrupted", "", None, 0)
    assert row.next_due <= timezone.now(), "still due: the next clock runs it"


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_once_exit_codes(tmp_path: Path, spawn: Callable[..., Child]) -> None:
    log = tmp_path / "runs.log"
    env = child_env(log)
    ok, failing = spawn(["run_cron_tasks", "--once", "record"], env), spawn(["run_cron_tasks", "--once", "fail"], env)
    assert ok.wait(timeout=20) == 0, ok.output()
    assert failing.wait(timeout=20) == 1
    assert "1 of 1 cron task(s) failed: fail." in "".join(failing.stderr)
    assert "RuntimeError: the fail task always fails" in "".join(failing.stderr)  # the logged traceback
    assert len(runs(log)) == 1 and runs(log)[0][0] == ok.pid


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_restarted_clock_keeps_the_schedule(tmp_path: Path, spawn: Callable[..., Child]) -> None:
    log = tmp_path / "runs.log"
    env = child_env(log)
    first = spawn(["run_cron_tasks", "record"], env)
    wait_for(lambda: (row := task_row()) and row.run_count == 1, 15, "the first run")
    assert first.stop() == 0
    due = task_row().next_due
    second = spawn(["run_cron_tasks", "record"], env)
    second.wait_for_output(CLOCK_UP)
    time.sleep(0.3)  # several ticks of the restarted clock
    assert second.stop() == 0
    assert len(runs(log)) == 1
    assert task_row().next_due == due


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_failing_task_does_not_stop_the_clock(tmp_path: Path, spawn: Callable[..., Child]) -> None:
    log = tmp_path / "runs.log"
    clock = spawn(["run_cron_tasks", "fail", "record"], child_env(log, PYCK_CRON_INTERVAL=0.2, PYCK_CRON_TICK=0.02))
    wait_for(
        lambda: CronTask.objects.filter(name="fail", run_count__gte=3).exists() and len(runs(log)) >= 3,
        15,
        "three runs of each task",
    )
    assert clock.process.poll() is None, "the clock is still running"
    assert clock.stop() == 0
    fail = task_row("fail")
    assert fail.last_status == "failed" and "RuntimeError: the fail task always fails" in fail.last_error
    # The child logs pyck at INFO to its console (tests/cron_support/settings.py), so the failure is said there,
    # once, and the command's own "failed      fail in" line is left out (issue 19: each summary printed once).
    assert "Cron task fail failed in " in "".join(clock.stderr), clock.output()
    assert "failed      fail in " not in "".join(clock.stdout)


def _tasks_db_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("django_tasks_db") is not None


@requires_postgresql
@pytest.mark.skipif(not _tasks_db_installed(), reason="django-tasks-db is not installed")
@pytest.mark.django_db(transaction=True)
def test_enqueue_mode_runs_a_sync_through_a_real_database_worker(tmp_path: Path, spawn: Callable[..., Child]) -> None:
    env = child_env(tmp_path / "runs.log", PYCK_CRON_TASKS_BACKEND="db")
    migrated = run_manage(["migrate", "--no-input", "-v", "0"], env, timeout=60)  # the Tasks and CronCity tables
    assert migrated.returncode == 0, migrated.stderr
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM cron_support_croncity")
        cursor.execute("DELETE FROM django_tasks_database_dbtaskresult")

    clock = spawn(["run_cron_tasks", "--enqueue", "cron_support.CronCity"], env)
    name = "sync:cron_support.CronCity"
    wait_for(lambda: (row := task_row(name)) and row.last_status == "enqueued", 15, "the clock to enqueue the sync")
    assert clock.stop() == 0
    assert not SyncRun.objects.exists(), "the clock only enqueued it"

    worker = run_manage(["db_worker", "--batch", "--no-startup-delay", "--no-reload"], env, timeout=30)
    assert worker.returncode == 0, worker.stderr
    row = task_row(name)
    assert (row.last_status, row.lease_owner, row.run_count) == ("succeeded", "", 1), row.last_error
    assert row.last_result.startswith("Sync of cron_support.CronCity succeeded: 3 created")
    assert row.next_due == row.last_started + HOUR
    run = SyncRun.objects.get()
    assert (run.model, run.status, run.created) == ("cron_support.CronCity", "succeeded", 3)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM cron_support_croncity ORDER BY external_id")
        assert [name for (name,) in cursor.fetchall()] == ["Leeds", "York", "Hull"]
        cursor.execute("SELECT status, return_value FROM django_tasks_database_dbtaskresult")
        [(status, value)] = cursor.fetchall()
    assert status == "SUCCESSFUL" and "3 created" in str(value)


def _redis_reachable() -> bool:
    import socket
    from importlib.util import find_spec

    if find_spec("django_tasks_rq") is None:
        return False
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@requires_postgresql
@pytest.mark.skipif(not _redis_reachable(), reason="needs django-tasks-rq and Redis on 127.0.0.1:6379")
@pytest.mark.django_db(transaction=True)
def test_enqueue_mode_runs_a_task_through_a_real_rq_worker(tmp_path: Path, spawn: Callable[..., Child]) -> None:
    import uuid

    log = tmp_path / "runs.log"
    queue = f"pyck-cron-test-{uuid.uuid4().hex[:8]}"
    env = child_env(log, PYCK_CRON_TASKS_BACKEND="rq", PYCK_CRON_RQ_QUEUE=queue)
    clock = spawn(["run_cron_tasks", "--enqueue", "record"], env)
    wait_for(lambda: (row := task_row()) and row.last_status == "enqueued", 15, "the clock to enqueue the task")
    assert clock.stop() == 0
    assert runs(log) == [], "the clock only enqueued it"
    assert task_row().lease_owner.startswith("enqueued@")

    worker = run_manage(["rqworker", "--burst", "--job-class", "django_tasks_rq.Job", queue], env, timeout=30)
    assert worker.returncode == 0, worker.stderr
    [(pid, _, end)] = runs(log)
    assert end is not None and pid != clock.pid
    row = task_row()
    assert (row.last_status, row.last_result, row.lease_owner, row.run_count) == ("succeeded", "recorded", "", 1)


@pytest.mark.django_db
def test_once_accepts_an_app_label_for_the_sync_tasks_of_its_models(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyck.core.cron.jobs import autodiscover, cron_jobs, select_cron_jobs

    saved = dict(registry._jobs)
    autodiscover()
    expected = sorted(job.name for job in cron_jobs() if job.model_label.startswith("testapp."))
    assert {"sync:testapp.Country", "sync:testapp.City"} <= set(expected)
    assert sorted(job.name for job in select_cron_jobs(["testapp"])) == expected
    assert sorted(job.name for job in select_cron_jobs(["TestApp", "testapp.City"])) == expected
    monkeypatch.setattr("pyck.core.cron.clock.execute", lambda job, *args, **kwargs: Outcome(job.name, "succeeded"))
    out = command("--once", "testapp", verbosity=0)
    assert out == ""
    assert set(CronTask.objects.values_list("name", flat=True)) == set(expected)
    with pytest.raises(CommandError, match="Unknown cron task 'nosuchapp'"):
        command("--once", "nosuchapp")
    registry._jobs.clear()
    registry._jobs.update(saved)


@pytest.mark.django_db
@pytest.mark.parametrize("console_log", [False, True])
def test_once_prints_each_summary_once_with_or_without_a_console_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], console_log: bool
) -> None:
    import logging
    import sys

    from tests.testapp import resources

    monkeypatch.setattr(resources.countries, "data", [resources.CountryResource(id="fr", name="France")])
    handler = logging.StreamHandler(sys.stderr)  # what LOGGING = {"handlers": {"console": ...}} sets up
    pyck_logger = logging.getLogger("pyck")
    saved = dict(registry._jobs)
    if console_log:
        pyck_logger.addHandler(handler)
        monkeypatch.setattr(pyck_logger, "level", logging.INFO)
    try:
        out = io.StringIO()
        call_command("run_cron_tasks", "--once", "testapp.Country", stdout=out, stderr=sys.stderr)
    finally:
        pyck_logger.removeHandler(handler)
        registry._jobs.clear()
        registry._jobs.update(saved)
    printed = out.getvalue() + "".join(capsys.readouterr())
    assert printed.count("Sync of testapp.Country succeeded: 1 created") == 1, printed
    # Its start and its finish, once each (other lines may name the task: "registered again", when other tests
    # registered it before).
    task_lines = [line for line in printed.splitlines() if "sync:testapp.Country" in line and "registered again" not in line]
    assert len(task_lines) == 2, printed
