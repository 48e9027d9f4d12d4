"""The webhook inbox processed by several real ``run_cron_tasks`` clocks at once, on PostgreSQL: no event is
processed twice (``SELECT ... FOR UPDATE SKIP LOCKED`` claims), and the events of a worker killed mid-batch are
taken over once its claim expires (issue 20 items 3 and 6).

The children use ``tests.webhook_support.settings``; the ``logged`` receiver writes ``<pid> <ticket id>`` for
each change it reads, and waits while a "block" file exists (a worker stuck mid-batch). The last test applies
the inbox with Django Tasks workers (``db_worker``) fed by an enqueueing clock.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest
from django.db import connection

from pyck.core.models import WebhookEvent
from tests.cron_support.helpers import Child, child_env, requires_postgresql, run_manage, wait_for
from tests.webhook_support.models import Ticket
from tests.webhook_support.signing import payload, ticket

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.kill()


def store(count: int) -> None:
    """``count`` events of the ``logged`` source, event ``n`` changing ticket ``n``."""
    WebhookEvent.objects.bulk_create(
        WebhookEvent(source="logged", event_id=f"evt_{n}", body=payload(ticket(n))) for n in range(1, count + 1)
    )



def env(tmp_path: Path, **extra: object) -> dict[str, str]:
    settings: dict[str, object] = {
        "DJANGO_SETTINGS_MODULE": "tests.webhook_support.settings",
        "PYCK_CRON_TICK": 3600,
        "PYCK_WEBHOOK_LOG": tmp_path / "parsed.log",
    }
    return child_env(tmp_path / "cron.log", **{**settings, **extra})


def parsed(tmp_path: Path) -> list[tuple[int, int]]:
    log = tmp_path / "parsed.log"
    lines = log.read_text().split("\n") if log.exists() else []
    return [(int(pid), int(ticket_id)) for pid, ticket_id in (line.split() for line in lines if line)]


def applied() -> int:
    connection.close()  # a fresh snapshot of what the children committed
    return WebhookEvent.objects.filter(status="applied").count()


def test_three_workers_never_process_one_event_twice(tmp_path: Path, children: list[Child]) -> None:
    events = 600
    store(events)
    environment = env(tmp_path, PYCK_WEBHOOK_BATCH_SIZE=20)
    children.extend(Child(["run_cron_tasks", "record"], environment) for _ in range(3))
    wait_for(lambda: applied() == events, 90, f"the {events} events to be applied")
    for child in children:
        assert child.stop() == 0, child.output()
    reads = parsed(tmp_path)
    assert sorted(ticket_id for _, ticket_id in reads) == list(range(1, events + 1))  # each read once
    assert len({pid for pid, _ in reads}) >= 2, "the workers should have shared the events"
    assert set(WebhookEvent.objects.values_list("attempts", flat=True)) == {1}
    assert Ticket.objects.count() == events


def test_the_events_of_a_worker_killed_mid_batch_are_taken_over_once_its_claim_expires(
    tmp_path: Path, children: list[Child]
) -> None:
    events = 50
    store(events)
    block = tmp_path / "block"
    block.touch()
    # Its claims last 2 seconds: the time another worker waits before taking its events over.
    first = Child(
        ["run_cron_tasks", "record"],
        env(tmp_path, PYCK_WEBHOOK_BATCH_SIZE=20, PYCK_WEBHOOK_BLOCK=block, PYCK_WEBHOOK_CLAIM_DURATION=2),
    )
    children.append(first)
    wait_for(lambda: parsed(tmp_path), 30, "the first worker to start on its first batch")
    first.signal(signal.SIGKILL)
    first.wait()
    block.unlink()
    claimed = set(WebhookEvent.objects.exclude(claimed_by="").values_list("event_id", flat=True))
    assert claimed == {f"evt_{n}" for n in range(1, 21)}
    second = Child(["run_cron_tasks", "record"], env(tmp_path, PYCK_WEBHOOK_BATCH_SIZE=20))
    children.append(second)
    wait_for(lambda: applied() == events, 60, f"the {events} events to be applied")
    assert second.stop() == 0, second.output()
    reads = Counter(ticket_id for pid, ticket_id in parsed(tmp_path) if pid == second.pid)
    assert sorted(reads) == list(range(1, events + 1)) and set(reads.values()) == {1}
    attempts = dict(WebhookEvent.objects.values_list("event_id", "attempts"))
    assert {attempts[f"evt_{n}"] for n in range(1, 21)} == {2} and {attempts[f"evt_{n}"] for n in range(21, 51)} == {1}
    assert sorted(Ticket.objects.values_list("external_id", flat=True)) == list(range(1, events + 1))


@pytest.mark.skipif(find_spec("django_tasks_db") is None, reason="django-tasks-db is not installed")
def test_an_enqueueing_clock_and_two_db_workers_apply_every_event_once(tmp_path: Path, children: list[Child]) -> None:
    events = 200
    store(events)
    environment = env(tmp_path, PYCK_WEBHOOK_BATCH_SIZE=20, PYCK_CRON_TASKS_BACKEND="db", PYCK_CRON_TICK=0.2)
    migrated = run_manage(["migrate", "--no-input", "-v", "0"], environment, timeout=60)  # the Tasks tables
    assert migrated.returncode == 0, migrated.stderr
    # The clock enqueues a processing task at each tick while events are due; the workers run them.
    children.append(Child(["run_cron_tasks", "--enqueue", "record"], environment))
    worker = ["db_worker", "--interval", "0.1", "--no-startup-delay", "--no-reload"]
    children.extend(Child(worker, environment) for _ in range(2))
    wait_for(lambda: applied() == events, 90, f"the {events} events to be applied")
    reads = parsed(tmp_path)
    assert sorted(ticket_id for _, ticket_id in reads) == list(range(1, events + 1))
    assert not {pid for pid, _ in reads} & {children[0].pid}  # applied by the workers, not by the clock
    assert set(WebhookEvent.objects.values_list("attempts", flat=True)) == {1}
