"""Partitioned runs in one process: each partition a Django Task run in the order the test chooses.

The tasks go to the dummy backend (which only records them); the test calls them itself, out of order,
twice, or never, to play what several workers would do. Real worker processes, one of them killed, are in
``test_partitioned_workers.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone as dt_timezone
from decimal import Decimal
from importlib.util import find_spec
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from pyck.core.cron import jobs as registry
from pyck.core.cron import partitions as partitioned
from pyck.core.cron import register_cron
from pyck.core.cron.clock import Clock
from pyck.core.cron.jobs import _SyncTask
from pyck.core.datasources import ConfigurationError, Incremental, MockDatasource, OnDelete, PageRanges, TransportError
from pyck.core.models import CronTask, PartitionedRun, PartitionRun, SyncRun
from pyck.core.sync import sync_model
from pyck.core.cron.partitions import enqueue_partitioned_sync, finish_partitioned_run, run_partition
from pyck.core.cron.tasks import resume_partitioned_runs
from tests.partition_support.api import items
from tests.testapp.models import Article, Employee
from tests.testapp.resources import ArticleResource

if find_spec("django.tasks"):
    BACKENDS = "django.tasks.backends"
    from django.tasks import task_backends
elif find_spec("django_tasks"):
    BACKENDS = "django_tasks.backends"
    from django_tasks import task_backends  # type: ignore[no-redef]
else:  # pragma: no cover
    pytest.skip("no Django Tasks framework installed (django-tasks on Django 5.2)", allow_module_level=True)

DUMMY = {"default": {"BACKEND": f"{BACKENDS}.dummy.DummyBackend"}}
IMMEDIATE = {"default": {"BACKEND": f"{BACKENDS}.immediate.ImmediateBackend"}}
PARTITIONS = {"w1": {"words": 1}, "w2": {"words": 2}, "w3": {"words": 3}}

pytestmark = pytest.mark.django_db


class FlakySource(MockDatasource[ArticleResource]):
    """Articles in memory whose listing of ``words=N`` fails ``failures[N]`` times first, and lists a copy of each
    record of ``spoiled`` that the database refuses (a negative word count) the first time only."""

    def __init__(self, data: list[ArticleResource], failures: dict[int, int] | None = None) -> None:
        super().__init__(data, resource_type=ArticleResource, name="test.flaky")
        self.failures = dict(failures or {})
        self.spoiled: set[int] = set()

    def list(self, **filter: Any) -> Iterator[ArticleResource]:
        words = filter.get("words")
        if self.failures.get(words):
            self.failures[words] -= 1
            raise TransportError("connection reset", datasource=self)
        records = list(super().list(**filter))
        spoiled = [r for r in records if r.id in self.spoiled]
        self.spoiled -= {r.id for r in spoiled}
        return iter([replace(r, words=-1) if r in spoiled else r for r in records])


def remote() -> list[ArticleResource]:
    return [ArticleResource(id=n, headline=f"article {n}", words=1 + n % 3) for n in range(1, 13)]


@pytest.fixture
def source(monkeypatch: pytest.MonkeyPatch) -> FlakySource:
    """``Article`` partitioned by word count (3 partitions of 4), ``OnDelete.DELETE``; one stale local row and
    one row with a local-only note."""
    datasource = FlakySource(remote())
    config = Article.sync_config
    monkeypatch.setattr(config, "datasource", datasource)
    monkeypatch.setattr(config, "partitions", PARTITIONS)
    monkeypatch.setattr(config, "on_delete", OnDelete.DELETE)
    Article.objects.create(external_id=99, title="gone remotely")
    Article.objects.create(external_id=1, title="old title", notes="mine")
    return datasource


@pytest.fixture
def queue() -> Iterator[list[Any]]:
    """The tasks enqueued meanwhile (dummy backend): each as ``(task name, args)``."""
    with override_settings(TASKS=DUMMY):
        backend = task_backends["default"]
        backend.clear()
        yield backend.results


def enqueued(queue: list[Any]) -> list[tuple[str, list[Any]]]:
    return [(result.task.name, list(result.args)) for result in queue]


def run_of(run_id: int) -> PartitionedRun:
    return PartitionedRun.objects.get(pk=run_id)


def part(run_id: int, name: str) -> PartitionRun:
    return PartitionRun.objects.get(run_id=run_id, name=name)


def local_ids() -> list[int]:
    return sorted(Article.objects.values_list("external_id", flat=True))


# --- Starting a run ---


def test_each_partition_becomes_one_task(source: FlakySource, queue: list[Any]) -> None:
    run, started = enqueue_partitioned_sync(Article)
    assert started and run.status == "running" and run.model == "testapp.Article"
    assert enqueued(queue) == [("sync_partition", [run.pk, name, 1]) for name in PARTITIONS]
    assert [(p.name, p.status, p.attempts) for p in run.partitions.all()] == [(n, "pending", 0) for n in PARTITIONS]


def test_a_second_run_does_not_start_while_one_is_unfinished(source: FlakySource, queue: list[Any]) -> None:
    run, _ = enqueue_partitioned_sync(Article)
    again, started = enqueue_partitioned_sync(Article)
    assert (again.pk, started) == (run.pk, False)
    assert len(queue) == 3, "nothing more enqueued"


def test_what_cannot_run_in_parallel_is_refused(source: FlakySource, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="must be unique"):
        monkeypatch.setattr(Employee.sync_config, "partitions", PARTITIONS)
        enqueue_partitioned_sync(Employee)
    monkeypatch.setattr(Article.sync_config, "partitions", None)
    with pytest.raises(ConfigurationError, match="has no SyncConfig\\(partitions"):
        enqueue_partitioned_sync(Article)
    monkeypatch.setattr(Article.sync_config, "partitions", PageRanges(items, count=2))
    monkeypatch.setattr(Article.sync_config, "incremental", Incremental(field="published", param="since"))
    with pytest.raises(ConfigurationError, match="page-range partitions"):
        enqueue_partitioned_sync(Article, mode="incremental")
    assert not PartitionedRun.objects.exists()


def test_partition_arguments_reach_the_worker_with_their_types() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt_timezone.utc)
    args = {"after": when, "day": date(2026, 1, 2), "amount": Decimal("1.50"), "ids": [1, 2], "name": "x", "none": None}
    encoded = partitioned._encode_args(args, Article, "p")
    assert partitioned._decode_args(encoded) == args
    with pytest.raises(ConfigurationError, match="partition 'p' has a list\\(\\) argument bad=<object"):
        partitioned._encode_args({"bad": object()}, Article, "p")


# --- Partitions ending in any order ---


def test_the_run_finishes_once_after_its_last_partition_whatever_the_order(
    source: FlakySource, queue: list[Any]
) -> None:
    run, _ = enqueue_partitioned_sync(Article)
    tasks = [args for _, args in enqueued(queue)]
    for args in reversed(tasks[1:]):
        assert run_partition(*args).endswith("succeeded")
        assert run_of(run.pk).status == "running" and 99 in local_ids(), "nothing deleted before every partition landed"
    summary = run_partition(*tasks[0])
    assert "run #%d of testapp.Article succeeded" % run.pk in summary
    finished = run_of(run.pk)
    assert (finished.status, finished.created, finished.updated, finished.deleted) == ("succeeded", 11, 1, 1)
    assert local_ids() == list(range(1, 13))
    assert Article.objects.get(external_id=1).notes == "mine", "local-only columns are kept"
    assert run_partition(*tasks[0]).startswith("skipped"), "a second copy of a task does nothing"
    assert run_of(run.pk).finished == finished.finished


def test_a_failed_listing_is_retried_and_deletion_waits_for_it(source: FlakySource, queue: list[Any]) -> None:
    source.failures = {2: 1}
    run, _ = enqueue_partitioned_sync(Article)
    first = [args for _, args in enqueued(queue)]
    w2 = next(args for args in first if args[1] == "w2")
    summary = run_partition(*w2)
    assert summary == f"partition w2 of testapp.Article (run #{run.pk}, attempt 1) failed; attempt 2 enqueued"
    assert enqueued(queue)[-1] == ("sync_partition", [run.pk, "w2", 2])
    failed_once = part(run.pk, "w2")
    assert (failed_once.status, failed_once.attempts) == ("pending", 1)
    assert "connection reset" in failed_once.errors[0]["message"]
    for args in first:
        if args[1] != "w2":
            run_partition(*args)
    assert run_of(run.pk).status == "running" and 99 in local_ids()
    run_partition(run.pk, "w2", 2)
    finished = run_of(run.pk)
    assert (finished.status, finished.deleted) == ("succeeded", 1)
    assert local_ids() == list(range(1, 13))


def test_a_partition_failing_every_attempt_fails_the_run_and_nothing_is_deleted(
    source: FlakySource, queue: list[Any]
) -> None:
    source.failures = {2: 5}
    run, _ = enqueue_partitioned_sync(Article, max_attempts=2)
    for name in PARTITIONS:
        run_partition(run.pk, name, 1)
    run_partition(run.pk, "w2", 2)
    assert ("sync_partition", [run.pk, "w2", 3]) not in enqueued(queue)
    finished = run_of(run.pk)
    assert (finished.status, finished.deleted) == ("failed", 0)
    assert any("[w2]" in e["message"] and "connection reset" in e["message"] for e in finished.errors)
    assert 99 in local_ids()


def test_a_partial_partition_means_nothing_is_deleted(
    source: FlakySource, queue: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Article.sync_config, "partitions", {**PARTITIONS, "odd": {"words": -1}})
    source.data += [ArticleResource(id=50, headline="ok", words=-1), ArticleResource(id=51, headline="ok", words=-1)]
    run, _ = enqueue_partitioned_sync(Article)
    for name in [*PARTITIONS, "odd"]:
        run_partition(run.pk, name, 1)
    finished = run_of(run.pk)  # the database refuses a negative word count
    assert (finished.status, finished.failed, finished.deleted) == ("partial", 2, 0)
    assert part(run.pk, "odd").status == "partial"
    assert 99 in local_ids()


def test_a_record_id_json_cannot_hold_is_stored_with_the_partitions_errors(
    source: FlakySource, queue: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL's jsonb refuses NUL characters: stored as they came, the partition's outcome could not be written.
    monkeypatch.setattr(Article.sync_config, "partitions", {**PARTITIONS, "odd": {"words": -1}})
    source.data += [ArticleResource(id="a\x00b", headline="ok", words=-1)]
    run, _ = enqueue_partitioned_sync(Article)
    for name in [*PARTITIONS, "odd"]:
        run_partition(run.pk, name, 1)
    odd = part(run.pk, "odd")
    assert (odd.status, odd.failed) == ("partial", 1)
    assert odd.errors[0]["record_id"] == repr("a\x00b")
    assert run_of(run.pk).status == "partial"


def test_a_partition_partial_while_others_ran_is_synced_again_once_all_have_landed(
    source: FlakySource, queue: list[Any]
) -> None:
    # As when another worker was inserting the same row at the same time: the record fails once.
    source.spoiled = {3}
    run, _ = enqueue_partitioned_sync(Article)
    for name in PARTITIONS:
        run_partition(run.pk, name, 1)
    first = part(run.pk, "w1")
    assert (first.status, first.attempts, first.failed) == ("succeeded", 2, 0), "synced again by the finisher"
    finished = run_of(run.pk)
    assert (finished.status, finished.failed, finished.deleted) == ("succeeded", 0, 1)
    assert local_ids() == list(range(1, 13))


# --- Workers that die ---


def stall(run_id: int, name: str, attempt: int, *, ago: timedelta = timedelta(hours=1)) -> None:
    """Play a worker that took the partition and died: running, its lease long expired."""
    PartitionRun.objects.filter(run_id=run_id, name=name).update(
        status="running", attempts=attempt, owner="partition@dead:1:x", lease_expires=timezone.now() - ago
    )


def test_a_partition_whose_worker_died_is_enqueued_again(source: FlakySource, queue: list[Any]) -> None:
    run, _ = enqueue_partitioned_sync(Article, max_attempts=2)
    stall(run.pk, "w2", 1, ago=-timedelta(minutes=1))
    assert resume_partitioned_runs() == [], "its lease still holds: the worker may be alive"
    stall(run.pk, "w2", 1)
    [line] = resume_partitioned_runs()
    assert "partition w2" in line and "attempt 2 enqueued" in line
    assert enqueued(queue)[-1] == ("sync_partition", [run.pk, "w2", 2])
    assert run_partition(run.pk, "w2", 1).startswith("skipped"), "the dead attempt's queued copy does nothing"
    stall(run.pk, "w2", 2)
    [line] = resume_partitioned_runs()
    assert "no attempts left: failed" in line
    for name in ("w1", "w3"):
        run_partition(run.pk, name, 1)
    finished = run_of(run.pk)
    assert (finished.status, finished.deleted) == ("failed", 0)
    assert any("stopped renewing its lease" in e["message"] for e in finished.errors)


def test_an_attempt_whose_lease_was_taken_over_does_not_record_its_outcome(
    source: FlakySource, queue: list[Any]
) -> None:
    run, _ = enqueue_partitioned_sync(Article)
    real = partitioned._sync_partition

    def slow_worker(run: PartitionedRun, part: PartitionRun) -> dict[str, Any]:
        stall(run.pk, part.name, 1)  # meanwhile its lease ran out...
        resume_partitioned_runs()  # ...and the clock enqueued attempt 2
        return real(run, part)

    partitioned._sync_partition = slow_worker  # type: ignore[assignment]
    try:
        assert run_partition(run.pk, "w1", 1).endswith("superseded by another attempt")
    finally:
        partitioned._sync_partition = real  # type: ignore[assignment]
    assert (part(run.pk, "w1").status, part(run.pk, "w1").attempts) == ("pending", 1)


def test_a_run_nobody_finished_gets_a_finishing_task(source: FlakySource, queue: list[Any]) -> None:
    run, _ = enqueue_partitioned_sync(Article)
    for name in PARTITIONS:
        run_partition(run.pk, name, 1)
    # Replay the moment after the last partition ended and before its worker finished the run, then died.
    PartitionedRun.objects.filter(pk=run.pk).update(status="running", finished=None, lease_owner="", lease_expires=None)
    [line] = resume_partitioned_runs()
    assert "every partition has ended; finishing it" in line
    name, (run_id, token) = enqueued(queue)[-1]
    assert (name, run_id) == ("finish_partitioned_run", run.pk)
    assert resume_partitioned_runs() == [], "enqueued once while its lease holds"
    assert finish_partitioned_run(run.pk, "someone else").startswith("skipped")
    assert "succeeded" in finish_partitioned_run(run.pk, token)
    assert run_of(run.pk).status == "succeeded"


def test_of_two_claimants_only_one_finishes(source: FlakySource, queue: list[Any]) -> None:
    run, _ = enqueue_partitioned_sync(Article)
    assert not partitioned._claim_finish(run.pk, "a"), "partitions are still pending"
    PartitionRun.objects.filter(run=run).update(status="succeeded")
    assert partitioned._claim_finish(run.pk, "a")
    assert not partitioned._claim_finish(run.pk, "b")
    assert run_of(run.pk).lease_owner == "a"


# --- The clock ---


@pytest.fixture
def article_task(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    saved = dict(registry._jobs)
    registry._jobs.clear()
    yield register_cron(
        _SyncTask("testapp.Article"), timedelta(hours=1), name="sync:testapp.Article", model_label="testapp.Article"
    )
    registry._jobs.clear()
    registry._jobs.update(saved)


def test_an_enqueued_sync_of_a_parallel_model_starts_a_partitioned_run(source: FlakySource, article_task: Any) -> None:
    with override_settings(TASKS=IMMEDIATE):  # the tasks run at once, one after the other
        [outcome] = Clock([article_task], enqueue=True).run_due()
    assert outcome.status == "enqueued"
    row = CronTask.objects.get(name="sync:testapp.Article")
    run = PartitionedRun.objects.get()
    assert row.last_status == "succeeded"
    assert row.last_result == f"partitioned run #{run.pk} of testapp.Article started: 3 partitions enqueued"
    assert (run.status, run.deleted) == ("succeeded", 1)
    assert local_ids() == list(range(1, 13))


def test_the_enqueueing_clock_looks_after_partitioned_runs(
    source: FlakySource, queue: list[Any], article_task: Any
) -> None:
    run, _ = enqueue_partitioned_sync(Article)
    stall(run.pk, "w3", 1)
    clock = Clock([article_task], enqueue=True)
    clock.run_due()
    assert ("sync_partition", [run.pk, "w3", 2]) in enqueued(queue)
    assert part(run.pk, "w3").status == "pending"


# --- The partitions' SyncRun rows add up to the whole run (issue 18 item 9) ---


def partition_runs() -> dict[str, SyncRun]:
    return {run.partition: run for run in SyncRun.objects.filter(model="testapp.Article")}


def test_a_partitioned_runs_deletions_are_counted_by_its_last_partitions_sync_run(
    source: FlakySource, queue: list[Any]
) -> None:
    run, _ = enqueue_partitioned_sync(Article)
    for args in [args for _, args in enqueued(queue)]:
        run_partition(*args)
    finished = run_of(run.pk)
    rows = partition_runs()
    assert sorted(rows) == ["w1", "w2", "w3"]
    assert finished.deleted == 1
    assert [rows[name].deleted for name in ("w1", "w2", "w3")] == [0, 0, 1], "the last partition's run counts them"
    for name in ("created", "updated", "unchanged", "deleted", "kept", "failed"):
        assert sum(getattr(row, name) for row in rows.values()) == getattr(finished, name), name


def test_a_partitioned_model_synced_in_one_process_counts_its_deletions_in_a_sync_run(source: FlakySource) -> None:
    result = sync_model(Article)
    rows = partition_runs()
    assert (result.status, result.deleted) == ("succeeded", 1)
    assert [rows[name].deleted for name in ("w1", "w2", "w3")] == [0, 0, 1]
    assert [r.deleted for r in result.partitions] == [0, 0, 1], "the partitions' results add up too"
    for name in ("created", "updated", "unchanged", "deleted", "kept", "failed"):
        assert sum(getattr(row, name) for row in rows.values()) == getattr(result, name), name


def test_a_refused_deletion_makes_the_last_partitions_sync_run_partial(
    source: FlakySource, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Article.sync_config, "max_delete_fraction", 0.0)
    result = sync_model(Article)
    rows = partition_runs()
    assert (result.status, result.deleted) == ("partial", 0)
    assert [rows[name].status for name in ("w1", "w2", "w3")] == ["succeeded", "succeeded", "partial"]
    assert "Nothing was deleted" in rows["w3"].errors[0]["message"]
