"""The cron registry, leases and clock, in process (child-process tests are in test_run_cron_tasks.py)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from pyck.core.cron import CronJob, Reporter, cron, leases, register_cron, select_cron_jobs
from pyck.core.cron import jobs as registry
from pyck.core.cron.clock import Clock
from pyck.core.cron.execution import next_due as _next_due
from pyck.core.cron.schedule import format_jobs
from pyck.core.exceptions import ConfigurationError
from pyck.core.models import CronTask

HOUR = timedelta(hours=1)


class FakeNow:
    """A settable clock for the schedule (leases compare against it too)."""

    def __init__(self) -> None:
        self.value = timezone.now().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, delta: timedelta) -> None:
        self.value += delta


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    """Each test starts with no registered cron task and leaves none behind."""
    saved = dict(registry._jobs)
    registry._jobs.clear()
    yield
    registry._jobs.clear()
    registry._jobs.update(saved)


@pytest.fixture
def now() -> FakeNow:
    return FakeNow()


class Counter:
    """A task function that counts its calls."""

    def __init__(self, result: Any = "done", error: Exception | None = None) -> None:
        self.calls = 0
        self.result = result
        self.error = error

    def __call__(self) -> Any:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.result


def row(name: str) -> CronTask:
    return CronTask.objects.get(name=name)


# --- registry ---


def sample_task() -> None:
    """A module-level function, named by its dotted path."""


def test_register_cron_names_by_dotted_path_and_accepts_seconds() -> None:
    job = register_cron(sample_task, 90)
    assert job == CronJob(name="tests.core.test_cron.sample_task", func=sample_task, interval=timedelta(seconds=90))
    assert registry.get_cron_job(job.name) is job


def test_cron_decorator_registers_and_returns_the_function() -> None:
    @cron(HOUR, name="digest")
    def digest() -> str:
        return "sent"

    assert digest() == "sent"
    assert registry.get_cron_job("digest").func is digest


@pytest.mark.parametrize("interval", [0, -5, timedelta(0), "1h", None, True])
def test_register_cron_rejects_bad_intervals(interval: Any) -> None:
    with pytest.raises(ConfigurationError, match="interval"):
        register_cron(sample_task, interval, name="bad")


def test_register_cron_rejects_non_callables() -> None:
    with pytest.raises(ConfigurationError, match="expected a function"):
        register_cron("not a function", HOUR)  # type: ignore[arg-type]


def test_select_by_name_and_by_model_label_and_unknown_names_list_the_known_ones() -> None:
    register_cron(sample_task, HOUR, name="a")
    register_cron(sample_task, HOUR, name="sync:shop.Product", model_label="shop.Product")
    assert [job.name for job in select_cron_jobs()] == ["a", "sync:shop.Product"]
    assert [job.name for job in select_cron_jobs(["shop.product", "a"])] == ["sync:shop.Product", "a"]
    with pytest.raises(ConfigurationError, match=r"Unknown cron task 'nope'.*a, sync:shop\.Product"):
        select_cron_jobs(["a", "nope"])


def test_autodiscover_registers_synced_models_with_a_sync_interval() -> None:
    from django.apps import apps
    from django.db import models

    from pyck.core.models import registry as model_registry
    from pyck.core.datasources import MockDatasource, SyncConfig, SyncedModel

    class Scheduled(SyncedModel):
        sync_config = SyncConfig(datasource=MockDatasource([{"id": 1}]), sync_interval=timedelta(minutes=5))
        external_id = models.IntegerField()

        class Meta:
            app_label = "testapp"

    class Unscheduled(SyncedModel):
        sync_config = SyncConfig(datasource=MockDatasource([{"id": 1}]), sync_interval=None)
        external_id = models.IntegerField()

        class Meta:
            app_label = "testapp"

    try:
        registry.autodiscover()
        job = registry.get_cron_job("sync:testapp.Scheduled")
        assert job.interval == timedelta(minutes=5)
        assert job.model_label == "testapp.Scheduled"
        assert "sync:testapp.Unscheduled" not in {j.name for j in registry.cron_jobs()}
        assert select_cron_jobs(["testapp.scheduled"]) == [job]
    finally:
        for model in (Scheduled, Unscheduled):
            model_registry.unregister(model)
            del apps.all_models["testapp"][model._meta.model_name]
        apps.clear_cache()


def test_next_due_keeps_the_cadence_but_never_catches_up() -> None:
    start = datetime(2026, 1, 1, 12, 0)
    assert _next_due(start, start + timedelta(minutes=10), HOUR) == start + HOUR
    # The run outlasted its interval: the next one is an interval after it finished, not at once.
    assert _next_due(start, start + timedelta(hours=3), HOUR) == start + timedelta(hours=4)


# --- leases ---


@pytest.mark.django_db
def test_a_lease_is_taken_once_until_it_is_released_or_expires(now: FakeNow) -> None:
    job = register_cron(sample_task, HOUR, name="t")
    leases.ensure_rows([job], now())
    lease = timedelta(minutes=5)
    assert leases.claim("t", "a", now=now(), lease=lease)
    assert not leases.claim("t", "b", now=now(), lease=lease)
    assert not leases.release("t", "b")  # only the holder releases
    assert row("t").lease_owner == "a"
    now.advance(lease + timedelta(seconds=1))
    assert leases.claim("t", "b", now=now(), lease=lease), "an expired lease is taken over"
    assert not leases.renew("t", "a", now=now(), lease=lease), "the old holder has lost it"
    assert leases.renew("t", "b", now=now(), lease=lease)
    assert leases.release("t", "b", last_status="succeeded")
    assert (row("t").lease_owner, row("t").lease_expires, row("t").last_status) == ("", None, "succeeded")


@pytest.mark.django_db
def test_a_lease_on_a_task_not_yet_due_is_only_taken_when_due_does_not_matter(now: FakeNow) -> None:
    job = register_cron(sample_task, HOUR, name="t")
    leases.ensure_rows([job], now())
    CronTask.objects.filter(name="t").update(next_due=now() + HOUR)
    assert not leases.claim("t", "a", now=now(), lease=HOUR)
    assert leases.claim("t", "a", now=now(), lease=HOUR, due_only=False)


@pytest.mark.django_db
def test_ensure_rows_makes_new_tasks_due_at_once_and_brings_a_shortened_interval_forward(now: FakeNow) -> None:
    job = register_cron(sample_task, timedelta(days=1), name="t")
    leases.ensure_rows([job], now())
    assert (row("t").next_due, row("t").interval) == (now(), timedelta(days=1))
    CronTask.objects.filter(name="t").update(last_started=now(), next_due=now() + timedelta(days=1))
    shorter = register_cron(sample_task, HOUR, name="t")
    leases.ensure_rows([shorter], now())
    assert (row("t").next_due, row("t").interval) == (now() + HOUR, HOUR)


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_keeps_a_slow_task_from_being_taken_over() -> None:
    job = register_cron(sample_task, HOUR, name="t")
    leases.ensure_rows([job], timezone.now())
    lease = timedelta(seconds=0.6)
    assert leases.claim("t", "slow", now=timezone.now(), lease=lease)
    with leases.Heartbeat("t", "slow", lease) as heartbeat:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # two and a half lease lengths, renewed every 0.2 s
            assert not leases.claim("t", "other", now=timezone.now(), lease=lease)
            time.sleep(0.05)
    assert not heartbeat.lost
    time.sleep(0.65)
    assert leases.claim("t", "other", now=timezone.now(), lease=lease), "without renewals the lease expires"


# --- the clock ---


@pytest.mark.django_db
def test_a_new_task_is_due_at_once_and_its_outcome_is_recorded(now: FakeNow) -> None:
    task = Counter(result="3 things done")
    job = register_cron(task, HOUR, name="t")
    clock = Clock([job], now=now)
    [outcome] = clock.run_due()
    assert (outcome.status, outcome.summary, task.calls) == ("succeeded", "3 things done", 1)
    state = row("t")
    assert state.last_status == "succeeded"
    assert state.last_result == "3 things done"
    assert state.last_started == state.last_finished == now()
    assert state.next_due == now() + HOUR
    assert (state.run_count, state.lease_owner, state.lease_expires, state.last_error) == (1, "", None, "")
    assert clock.run_due() == [] and task.calls == 1, "not due again within the interval"


@pytest.mark.django_db
def test_a_restarted_clock_keeps_the_schedule_and_runs_once_after_downtime(now: FakeNow) -> None:
    task = Counter()
    job = register_cron(task, HOUR, name="t")
    Clock([job], now=now).run_due()
    now.advance(timedelta(minutes=30))
    assert Clock([job], now=now).run_due() == [] and task.calls == 1, "a restart does not re-run the task"
    now.advance(timedelta(hours=10))  # down for ten intervals
    restarted = Clock([job], now=now)
    assert [o.status for o in restarted.run_due()] == ["succeeded"]
    assert restarted.run_due() == [] and task.calls == 2, "runs once, not once per missed interval"
    assert row("t").next_due == now() + HOUR


@pytest.mark.django_db
def test_a_failing_task_is_recorded_and_retried_when_next_due_and_the_others_still_run(
    now: FakeNow, caplog: pytest.LogCaptureFixture
) -> None:
    failing = Counter(error=RuntimeError("remote exploded"))
    fine = Counter()
    jobs = [register_cron(failing, HOUR, name="failing"), register_cron(fine, HOUR, name="fine")]
    clock = Clock(jobs, now=now)
    with caplog.at_level("ERROR", logger="pyck.cron"):
        outcomes = clock.run_due()
    assert [(o.name, o.status) for o in outcomes] == [("failing", "failed"), ("fine", "succeeded")]
    failed_record = next(r for r in caplog.records if r.name == "pyck.cron" and r.levelname == "ERROR")
    assert "failing" in failed_record.getMessage() and failed_record.exc_info is not None
    state = row("failing")
    assert state.last_status == "failed"
    assert "Traceback" in state.last_error and "RuntimeError: remote exploded" in state.last_error
    assert (state.next_due, state.run_count, state.lease_owner) == (now() + HOUR, 1, "")
    assert clock.run_due() == []
    now.advance(HOUR)
    assert [o.status for o in clock.run_due()] == ["failed", "succeeded"]
    assert failing.calls == fine.calls == 2


@pytest.mark.django_db
def test_a_result_with_ok_false_counts_as_a_failure(now: FakeNow) -> None:
    class Result:
        ok = False

        def __str__(self) -> str:
            return "Sync of shop.Product failed: listing broke"

    job = register_cron(Counter(result=Result()), HOUR, name="t")
    [outcome] = Clock([job], now=now).run_due()
    assert outcome.failed
    assert (row("t").last_status, row("t").last_result) == ("failed", "Sync of shop.Product failed: listing broke")


@pytest.mark.django_db
def test_a_crashed_process_lease_is_taken_over_only_after_it_expires(now: FakeNow) -> None:
    task = Counter()
    job = register_cron(task, HOUR, name="t")
    leases.ensure_rows([job], now())
    CronTask.objects.filter(name="t").update(lease_owner="clock@dead:1:x", lease_expires=now() + timedelta(seconds=30))
    clock = Clock([job], now=now)
    assert clock.run_due() == [] and task.calls == 0, "a live lease is respected"
    now.advance(timedelta(seconds=31))
    assert [o.status for o in clock.run_due()] == ["succeeded"]
    assert row("t").lease_owner == ""


@pytest.mark.django_db
def test_run_all_runs_every_task_regardless_of_due_time_but_respects_a_held_lease(now: FakeNow) -> None:
    a, b = Counter(), Counter()
    jobs = [register_cron(a, HOUR, name="a"), register_cron(b, HOUR, name="b")]
    clock = Clock(jobs, now=now)
    clock.run_due()
    outcomes = clock.run_all()
    assert [o.status for o in outcomes] == ["succeeded", "succeeded"] and a.calls == b.calls == 2
    CronTask.objects.filter(name="b").update(lease_owner="clock@elsewhere", lease_expires=now() + HOUR)
    assert [o.status for o in clock.run_all()] == ["succeeded", "skipped"] and b.calls == 2


@pytest.mark.django_db
def test_a_failing_task_never_stops_run_forever() -> None:
    failing = Counter(error=ValueError("bad data"))
    clock_box: list[Clock] = []
    watched = []

    def watcher() -> None:
        watched.append(1)
        if len(watched) == 3:
            clock_box[0].stop()

    interval = timedelta(milliseconds=20)
    jobs = [register_cron(failing, interval, name="failing"), register_cron(watcher, interval, name="watcher")]
    clock = Clock(jobs, tick=0.005)
    clock_box.append(clock)
    safety = threading.Timer(5, clock.stop)  # a clock that stopped running tasks would otherwise spin forever
    safety.start()
    try:
        clock.run_forever()
    finally:
        safety.cancel()
    # The failing task ran before the watcher in every tick that ran both: it failed at least twice and the
    # clock went on ticking.
    assert failing.calls >= 2 and len(watched) == 3
    assert row("failing").run_count == failing.calls and row("failing").last_status == "failed"


@pytest.mark.django_db(transaction=True)  # the clock closes its connections after a failed tick
def test_run_forever_survives_a_tick_that_raises(now: FakeNow, monkeypatch: pytest.MonkeyPatch) -> None:
    task = Counter()
    job = register_cron(task, HOUR, name="t")
    clock = Clock([job], now=now, tick=0.001)
    real = Clock.run_due
    calls = []

    def flaky(self: Clock) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        outcomes = real(self)
        self.stop()
        return outcomes

    monkeypatch.setattr(Clock, "run_due", flaky)
    clock.run_forever()
    assert len(calls) == 2 and task.calls == 1


@pytest.mark.django_db
def test_reporter_writes_start_and_finish_lines_and_nothing_when_quiet(now: FakeNow) -> None:
    job = register_cron(Counter(result="7 rows"), HOUR, name="t")
    failing = register_cron(Counter(error=KeyError("id")), HOUR, name="f")
    out = io.StringIO()
    Clock([job, failing], now=now, reporter=Reporter(out, verbosity=1, tty=False)).run_due()
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(" started     t")
    assert " succeeded   t in " in lines[1] and lines[1].endswith(": 7 rows")
    assert lines[2].endswith(" started     f")
    assert " failed      f in " in lines[3] and lines[3].endswith("KeyError: 'id'")
    quiet = io.StringIO()
    now.advance(HOUR)
    Clock([job], now=now, reporter=Reporter(quiet, verbosity=0)).run_due()
    assert quiet.getvalue() == ""


def test_progress_lines_only_on_a_terminal() -> None:
    from pyck.core.sync import SyncProgress

    terminal, pipe = io.StringIO(), io.StringIO()
    Reporter(terminal, tty=True).progress(SyncProgress("shop.Product", batches=3, records=1500, elapsed=3.0))
    Reporter(pipe, tty=False).progress(SyncProgress("shop.Product", batches=3, records=1500, elapsed=3.0))
    assert terminal.getvalue() == "\r  shop.Product: 3 batches, 1500 records, 500 records/s   "
    assert pipe.getvalue() == ""


def test_a_progress_line_is_ended_before_the_next_line_and_throttled() -> None:
    from pyck.core.sync import SyncProgress

    terminal = io.StringIO()
    reporter = Reporter(terminal, tty=True)
    reporter.progress(SyncProgress("shop.Product", batches=1, records=500, elapsed=1.0))
    reporter.progress(SyncProgress("shop.Product", batches=2, records=1000, elapsed=1.5))  # within a second
    reporter.note("next line")
    first, second = terminal.getvalue().split("\n")[:2]
    assert first == "\r  shop.Product: 1 batches, 500 records, 500 records/s   "
    assert second.endswith(" next line")


@pytest.mark.django_db
def test_format_jobs_lists_interval_last_run_status_and_next_due(now: FakeNow) -> None:
    ran = register_cron(Counter(), timedelta(hours=1, minutes=30), name="ran")
    new = register_cron(Counter(), timedelta(days=1), name="new")
    Clock([ran], now=now).run_due()
    lines = format_jobs([ran, new], now=now()).splitlines()
    assert lines[0].split() == ["TASK", "EVERY", "LAST", "RUN", "STATUS", "NEXT", "DUE"]
    stamp = f"{timezone.localtime(now()):%Y-%m-%d %H:%M:%S}"
    later = f"{timezone.localtime(now() + timedelta(hours=1, minutes=30)):%Y-%m-%d %H:%M:%S}"
    assert lines[1].split() == ["ran", "1h30m", *stamp.split(), "succeeded", *later.split()]
    assert lines[2].split() == ["new", "1d", "-", "never", "run", "now"]


def test_the_cron_package_imports_no_models_until_the_clock_is_used() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from pyck.core.cron import cron, register_cron; "
        "assert 'pyck.core.models' not in sys.modules and 'django.db.models' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


@pytest.mark.django_db
def test_the_clock_logs_its_tasks_at_start_up_and_each_run_with_its_result_and_next_due(
    now: FakeNow, caplog: pytest.LogCaptureFixture
) -> None:
    clock: Clock

    def stopping() -> str:
        clock.stop()
        return "3 things done"

    later = register_cron(Counter(), HOUR, name="later")
    clock = Clock([register_cron(stopping, HOUR, name="first"), later], now=now, tick=0.01)
    leases.ensure_rows([later], now())
    CronTask.objects.filter(name="later").update(next_due=now() + timedelta(minutes=5))
    with caplog.at_level("INFO", logger="pyck.cron"):
        clock.run_forever()
    lines = [r.getMessage() for r in caplog.records if r.name == "pyck.cron"]
    in_5_min = f"{timezone.localtime(now() + timedelta(minutes=5)):%Y-%m-%d %H:%M:%S %Z}"
    in_1_hour = f"{timezone.localtime(now() + HOUR):%Y-%m-%d %H:%M:%S %Z}"
    assert lines[0].startswith("Cron clock started: 2 task(s), running due tasks every 0.01s")
    assert lines[1:3] == ["Cron task first: every 1:00:00, next due now.", f"Cron task later: every 1:00:00, next due {in_5_min}."]
    assert lines[3].startswith("Cron task first started")
    assert lines[4] == f"Cron task first succeeded in {clock_seconds(lines[4])}: 3 things done; next due {in_1_hour}"


def clock_seconds(line: str) -> str:
    """The `0.00s` duration in a task's finish line."""
    return line.split(" in ", 1)[1].split(":", 1)[0]
