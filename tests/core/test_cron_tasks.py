"""Enqueue mode in process: the clock hands due tasks to Django Tasks (a real worker is in test_run_cron_tasks.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from importlib.util import find_spec
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from pyck.core.cron import jobs as registry
from pyck.core.cron import register_cron
from pyck.core.cron.clock import Clock
from pyck.core.models import CronTask

if find_spec("django.tasks"):
    BACKENDS = "django.tasks.backends"
    from django.tasks import task_backends
elif find_spec("django_tasks"):
    BACKENDS = "django_tasks.backends"
    from django_tasks import task_backends  # type: ignore[no-redef]
else:  # pragma: no cover
    pytest.skip("no Django Tasks framework installed (django-tasks on Django 5.2)", allow_module_level=True)

from pyck.core.cron.tasks import run_enqueued  # noqa: E402  (needs the Tasks framework)

HOUR = timedelta(hours=1)
IMMEDIATE = {"default": {"BACKEND": f"{BACKENDS}.immediate.ImmediateBackend"}}
DUMMY = {"default": {"BACKEND": f"{BACKENDS}.dummy.DummyBackend"}}
CALLS: list[str] = []


def ok_task() -> str:
    CALLS.append("ok")
    return "all good"


def failing_task() -> None:
    CALLS.append("failing")
    raise RuntimeError("worker-side failure")


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    saved = dict(registry._jobs)
    registry._jobs.clear()
    CALLS.clear()
    yield
    registry._jobs.clear()
    registry._jobs.update(saved)


class FakeNow:
    def __init__(self) -> None:
        self.value = timezone.now()

    def __call__(self) -> datetime:
        return self.value


def state(name: str) -> CronTask:
    return CronTask.objects.get(name=name)


@pytest.mark.django_db
def test_enqueue_mode_runs_tasks_through_the_tasks_backend_and_records_them() -> None:
    job = register_cron(ok_task, HOUR, name="ok")
    with override_settings(TASKS=IMMEDIATE):
        [outcome] = Clock([job], enqueue=True).run_due()
    assert outcome.status == "enqueued"
    assert CALLS == ["ok"]
    row = state("ok")
    assert (row.last_status, row.last_result, row.run_count, row.lease_owner, row.lease_expires) == (
        "succeeded",
        "all good",
        1,
        "",
        None,
    )
    assert row.next_due == row.last_started + HOUR


@pytest.mark.django_db
def test_a_task_failing_in_the_worker_is_recorded_and_the_tasks_result_fails_too() -> None:
    job = register_cron(failing_task, HOUR, name="failing")
    with override_settings(TASKS=IMMEDIATE):
        Clock([job], enqueue=True).run_due()
    row = state("failing")
    assert row.last_status == "failed" and "RuntimeError: worker-side failure" in row.last_error
    assert row.lease_owner == "" and row.run_count == 1


@pytest.mark.django_db
def test_an_enqueued_task_nobody_runs_is_enqueued_again_after_its_lease_expires_and_the_stale_copy_does_nothing(
    settings: Any,
) -> None:
    settings.PYCK = {"CRON_LEASE_DURATION": 60}
    now = FakeNow()
    job = register_cron(ok_task, HOUR, name="ok")
    with override_settings(TASKS=DUMMY):
        backend = task_backends["default"]
        backend.clear()
        clock = Clock([job], enqueue=True, now=now)
        assert [o.status for o in clock.run_due()] == ["enqueued"]
        assert state("ok").last_status == "enqueued"
        assert clock.run_due() == [], "not enqueued twice while the lease holds"
        now.value += timedelta(seconds=61)
        assert [o.status for o in clock.run_due()] == ["enqueued"]
        first, second = (result.args for result in backend.results)
    assert first[0] == second[0] == "ok" and first[1] != second[1]
    assert run_enqueued(*first).startswith("skipped"), "the stale copy sees its token lost the lease"
    assert CALLS == [] and state("ok").last_status == "enqueued"
    assert run_enqueued(*second) == "all good"
    assert CALLS == ["ok"] and state("ok").last_status == "succeeded" and state("ok").lease_owner == ""


@pytest.mark.django_db
def test_a_failure_to_enqueue_is_recorded_and_retried_when_next_due(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyck.core.cron import tasks

    def refuse(name: str, token: str) -> None:
        raise ConnectionError("queue unreachable")

    monkeypatch.setattr(tasks, "enqueue_cron_task", refuse)
    now = FakeNow()
    job = register_cron(ok_task, HOUR, name="ok")
    [outcome] = Clock([job], enqueue=True, now=now).run_due()
    assert outcome.failed
    row = state("ok")
    assert row.last_status == "failed" and "ConnectionError: queue unreachable" in row.last_error
    assert (row.lease_owner, row.next_due) == ("", now() + HOUR)


@pytest.mark.django_db
def test_the_task_arguments_are_json_and_go_to_the_configured_backend_and_queue(settings: Any) -> None:
    from pyck.core.cron.tasks import enqueue_cron_task, run_cron_task

    settings.PYCK = {"CRON_TASKS_BACKEND": "cron", "CRON_TASKS_QUEUE": "clock"}
    with override_settings(TASKS={"cron": {**DUMMY["default"], "QUEUES": ["clock"]}, **IMMEDIATE}):
        result = enqueue_cron_task("ok", "token")
    assert result.args == ["ok", "token"]
    assert (result.task.backend, result.task.queue_name) == ("cron", "clock")
    assert result.task.module_path == "pyck.core.cron.tasks.run_cron_task" == run_cron_task.module_path
