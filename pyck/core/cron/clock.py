"""The cron clock: runs (or enqueues) due tasks under their lease, records the outcome, and stops cleanly.

:class:`Clock` is what ``manage.py run_cron_tasks`` drives: :meth:`Clock.run_forever` ticks until SIGTERM or
SIGINT, :meth:`Clock.run_due` is one tick, :meth:`Clock.run_all` is ``--once``. :func:`run_enqueued` is the
body of the Django Tasks entry point, run by a worker.

Stopping: the first SIGTERM or SIGINT lets the running task finish, then the clock exits; a second one aborts
the running task (an exception is raised inside it, so its open transaction is rolled back). Either way the
task's lease is released and the outcome recorded.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from django.db import DatabaseError, connections
from django.db.models import F
from django.utils import timezone

from ..conf import pyck_settings
from ..overview import describe_mode, human_duration, partition_states, when
from ..exceptions import ConfigurationError, PyckError, SyncError
from . import leases
from .registry import CronJob, autodiscover, cron_jobs, get_cron_job

if TYPE_CHECKING:
    from ..sync import SyncProgress

__all__ = ["Clock", "Outcome", "Reporter", "describe_jobs", "describe_sync_state", "format_jobs", "run_enqueued"]

logger = logging.getLogger("pyck.cron")

#: Longest traceback kept in ``CronTask.last_error`` (the tail is kept: it names the failing line).
MAX_ERROR_CHARS = 10_000
MAX_RESULT_CHARS = 2_000


class _Interrupted(BaseException):
    """Raised inside a running task by a second SIGTERM/SIGINT. ``BaseException`` so task code that catches
    ``Exception`` does not swallow it."""


@dataclass(slots=True)
class Outcome:
    """What happened to one task in one tick.

    ``status`` is a :class:`~pyck.core.models.CronTask.Status` value, ``"enqueued"``, or ``"skipped"`` (another
    process held the lease).
    """

    name: str
    status: str
    duration: float = 0.0
    summary: str = ""
    error: str = ""
    exception: BaseException | None = field(default=None, repr=False)

    @property
    def failed(self) -> bool:
        """Whether the run failed (an exception, or a result whose ``ok`` is false)."""
        return self.status == "failed"


class Reporter:
    """Writes the lines people follow: one when a task starts, one when it finishes, progress on a terminal.

    Args:
        stream: where to write (``None``: nowhere; logging still happens).
        verbosity: 0 quiet, 1 start/finish lines, 2 also skipped tasks and ticks.
        tty: whether ``stream`` is a terminal; progress lines (``\\r``-rewritten) are only written there.
    """

    #: Seconds between two progress lines.
    progress_every = 1.0

    def __init__(self, stream: TextIO | Any | None = None, *, verbosity: int = 1, tty: bool | None = None) -> None:
        self.stream = stream
        self.verbosity = verbosity
        isatty = getattr(stream, "isatty", None)
        self.tty = bool(tty if tty is not None else (isatty() if callable(isatty) else False))
        self._last_progress = 0.0
        self._progress_shown = False

    def _write(self, line: str, level: int = 1) -> None:
        if self.stream is None or self.verbosity < level:
            return
        if self._progress_shown:
            self.stream.write("\n")
            self._progress_shown = False
        self.stream.write(f"{timezone.localtime():%Y-%m-%d %H:%M:%S} {line}\n")
        flush = getattr(self.stream, "flush", None)
        if callable(flush):
            flush()

    def started(self, job: CronJob) -> None:
        """A task is starting in this process."""
        self._write(f"{'started':<11} {job.name}")

    def finished(self, outcome: Outcome) -> None:
        """A task finished (or was enqueued, skipped, interrupted)."""
        if outcome.status == "skipped":
            self._write(f"{'skipped':<11} {outcome.name}: another process holds its lease", level=2)
            return
        if outcome.status == "enqueued":
            self._write(f"{'enqueued':<11} {outcome.name}")
            return
        error_lines = outcome.error.strip().splitlines()
        detail = outcome.summary or (error_lines[-1] if error_lines else "")
        text = f"{outcome.status:<11} {outcome.name} in {outcome.duration:.2f}s"
        self._write(f"{text}: {detail}" if detail else text)

    def note(self, message: str, level: int = 1) -> None:
        """Any other line (``level`` 2: only with ``-v 2``)."""
        self._write(message, level)

    def progress(self, report: SyncProgress) -> None:
        """Receives the sync engine's progress reports; rewrites one line at most once a second on a terminal."""
        if self.stream is None or not self.tty or self.verbosity < 1:
            return
        now = time.monotonic()
        if now - self._last_progress < self.progress_every:
            return
        self._last_progress = now
        label, batches, records = report.model, report.batches, report.records
        rate = records / report.elapsed if report.elapsed else 0.0
        self.stream.write(f"\r  {label}: {batches} batches, {records} records, {rate:.0f} records/s   ")
        self._progress_shown = True
        flush = getattr(self.stream, "flush", None)
        if callable(flush):
            flush()


def _next_due(started: datetime, finished: datetime, interval: timedelta) -> datetime:
    # Keep the cadence (start + interval) unless the run outlasted its interval; never "catch up" missed runs.
    due = started + interval
    return due if due > finished else finished + interval


#: The values of ``Clock(sync_mode=...)``: ``sync_model(mode=...)`` for every sync task the clock runs.
SYNC_MODES = ("auto", "full", "incremental")


def _check_sync_mode(sync_mode: str | None) -> str | None:
    if sync_mode is not None and sync_mode not in SYNC_MODES:
        raise ConfigurationError(f"Cron sync_mode: expected one of {', '.join(SYNC_MODES)} or None, got {sync_mode!r}.")
    return None if sync_mode == "auto" else sync_mode


def _call(job: CronJob, reporter: Reporter, sync_mode: str | None = None) -> Any:
    if job.is_sync:
        options = {"mode": sync_mode} if sync_mode else {}
        return job.func(progress=reporter.progress if reporter.tty else None, **options)
    return job.func()


def _recycle_connections(*, broken: bool = False) -> None:
    """Close this thread's connections that are broken (``broken``: all of them) or past ``CONN_MAX_AGE``.

    A connection inside a transaction that the caller opened (a test's) is left alone: closing it would end
    that transaction.
    """
    for conn in connections.all(initialized_only=True):
        if conn.in_atomic_block:
            continue
        if broken:
            conn.close()
        else:
            conn.close_if_unusable_or_obsolete()


def _release(name: str, owner: str, fields: dict[str, Any]) -> bool:
    try:
        return leases.release(name, owner, **fields)
    except DatabaseError:
        # The task may have left the connection unusable (an interrupted query): start afresh once.
        _recycle_connections(broken=True)
        return leases.release(name, owner, **fields)


def _execute(
    job: CronJob,
    owner: str,
    *,
    started: datetime,
    reporter: Reporter,
    now: Callable[[], datetime],
    abortable: Callable[[bool], None] = lambda on: None,
    sync_mode: str | None = None,
) -> Outcome:
    """Run ``job`` (whose lease ``owner`` holds) with a heartbeat, release the lease and record the outcome.

    ``sync_mode`` (``"full"``, ``"incremental"``; ``None``: the model's own choice) is passed to a sync task
    as ``sync_model(mode=...)``.
    """
    lease = leases.lease_duration()
    reporter.started(job)
    logger.info("Cron task %s started (lease %s).", job.name, owner)
    clock_start = time.monotonic()
    outcome = Outcome(name=job.name, status="succeeded")
    interrupted: _Interrupted | None = None
    with leases.Heartbeat(job.name, owner, lease):
        try:
            abortable(True)
            try:
                value = _call(job, reporter, sync_mode)
            finally:
                abortable(False)
        except _Interrupted as exc:
            interrupted = exc
            outcome.status = "interrupted"
            outcome.error = (
                f"Interrupted by signal {exc.args[0] if exc.args else '?'}; its open transaction was rolled back."
            )
        except Exception as exc:
            logger.exception("Cron task %s failed; it will run again when next due.", job.name)
            outcome.status = "failed"
            outcome.exception = exc
            outcome.error = traceback.format_exc()[-MAX_ERROR_CHARS:]
        else:
            outcome.summary = "" if value is None else str(value)[:MAX_RESULT_CHARS]
            if getattr(value, "ok", True) is False:
                outcome.status = "failed"
                outcome.exception = SyncError(f"Cron task {job.name} did not succeed: {outcome.summary}")
    outcome.duration = time.monotonic() - clock_start
    finished = now()
    fields: dict[str, Any] = {
        "last_finished": finished,
        "last_status": outcome.status,
        "last_duration": timedelta(seconds=outcome.duration),
        "last_result": outcome.summary,
        "last_error": outcome.error,
    }
    if interrupted is None:
        fields["next_due"] = _next_due(started, finished, job.interval)
        fields["run_count"] = F("run_count") + 1
    if not _release(job.name, owner, fields):
        logger.error(
            "Cron task %s: its lease was taken over while it ran; this run's outcome is not recorded.", job.name
        )
    log = logger.warning if outcome.status != "succeeded" else logger.info
    log(
        "Cron task %s %s in %.2fs%s",
        job.name,
        outcome.status,
        outcome.duration,
        f": {outcome.summary}" if outcome.summary else "",
    )
    reporter.finished(outcome)
    if interrupted is not None:
        raise interrupted
    return outcome


def _ordered(jobs: Sequence[CronJob]) -> list[CronJob]:
    """Sync tasks first, in the sync engine's dependency order, then the others in registration order."""
    syncs = [job for job in jobs if job.is_sync]
    others = [job for job in jobs if not job.is_sync]
    if len(syncs) > 1:
        from ..models import registry
        from ..sync import sync_order

        by_label = {job.model_label: job for job in syncs if job.model_label}
        models = sync_order([registry.get_model(label) for label in by_label])
        ordered = [by_label[m._meta.label] for m in models if m._meta.label in by_label]
        syncs = ordered + [job for job in syncs if job not in ordered]
    return syncs + others


class Clock:
    """Runs registered tasks when they are due, under a database lease, and records what happened.

    Args:
        jobs: the tasks to look after (default: every registered task, after :func:`autodiscover`).
        enqueue: put due tasks on a Django Tasks queue instead of running them here (default: the
            ``CRON_ENQUEUE`` setting).
        tick: seconds between two looks at the schedule (default: ``CRON_TICK``).
        reporter: where the start/finish lines go (default: nowhere; logging always happens).
        now: the clock's time source (tests pass a fake one).
        sync_mode: ``"full"`` or ``"incremental"`` makes every sync task this clock runs (or enqueues) run in
            that mode (``sync_model(mode=...)``, what ``run_cron_tasks --full`` does); ``None`` or ``"auto"``:
            each model's own choice (see :class:`~pyck.core.datasources.Incremental`).

    Raises:
        ConfigurationError: ``sync_mode`` is not one of those.
    """

    def __init__(
        self,
        jobs: Sequence[CronJob] | None = None,
        *,
        enqueue: bool | None = None,
        tick: float | None = None,
        reporter: Reporter | None = None,
        now: Callable[[], datetime] = timezone.now,
        sync_mode: str | None = None,
    ) -> None:
        self.sync_mode = _check_sync_mode(sync_mode)
        if jobs is None:
            autodiscover()
            jobs = cron_jobs()
        self.jobs = _ordered(jobs)
        self.enqueue = bool(pyck_settings.CRON_ENQUEUE if enqueue is None else enqueue)
        self.tick = float(pyck_settings.CRON_TICK if tick is None else tick)
        self.reporter = reporter or Reporter()
        self.now = now
        #: This process's lease owner id.
        self.owner = leases.new_owner_id("clock")
        self._stopping = threading.Event()
        self._abortable = False

    # --- stopping ---

    def stop(self) -> None:
        """Ask the clock to stop after the running task (thread-safe; what SIGTERM and SIGINT do)."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called (or a signal received)."""
        return self._stopping.is_set()

    def _set_abortable(self, on: bool) -> None:
        self._abortable = on

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping.is_set() and self._abortable:
            self._abortable = False
            raise _Interrupted(signum)
        self._stopping.set()
        logger.info("Signal %s received: stopping after the running task (send it again to abort that task).", signum)

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # --- running ---

    def _ensure_rows(self) -> None:
        # Every tick: cheap (one insert ignoring conflicts, one select), and a row deleted by hand comes back.
        leases.ensure_rows(self.jobs, self.now())

    def _run_job(self, job: CronJob, *, due_only: bool, enqueue: bool) -> Outcome:
        now = self.now()
        lease = leases.lease_duration()
        if enqueue:
            return self._enqueue(job, now, lease)
        if not leases.claim(job.name, self.owner, now=now, lease=lease, due_only=due_only):
            outcome = Outcome(name=job.name, status="skipped")
            self.reporter.finished(outcome)
            return outcome
        return _execute(
            job,
            self.owner,
            started=now,
            reporter=self.reporter,
            now=self.now,
            abortable=self._set_abortable,
            sync_mode=self.sync_mode,
        )

    def _enqueue(self, job: CronJob, now: datetime, lease: timedelta) -> Outcome:
        from .tasks import enqueue_cron_task

        token = leases.new_owner_id("enqueued")
        if not leases.claim(job.name, token, now=now, lease=lease, status="enqueued"):
            skipped = Outcome(name=job.name, status="skipped")
            self.reporter.finished(skipped)
            return skipped
        try:
            if job.is_sync and self.sync_mode:
                enqueue_cron_task(job.name, token, sync_mode=self.sync_mode)
            else:
                enqueue_cron_task(job.name, token)
        except Exception as exc:
            logger.exception("Could not enqueue cron task %s; it will be tried again when next due.", job.name)
            finished = self.now()
            _release(
                job.name,
                token,
                {
                    "last_status": "failed",
                    "last_finished": finished,
                    "last_error": traceback.format_exc()[-MAX_ERROR_CHARS:],
                    "next_due": finished + job.interval,
                },
            )
            outcome = Outcome(name=job.name, status="failed", error=str(exc), exception=exc)
        else:
            logger.info("Cron task %s enqueued (token %s).", job.name, token)
            outcome = Outcome(name=job.name, status="enqueued")
        self.reporter.finished(outcome)
        return outcome

    def run_due(self) -> list[Outcome]:
        """One tick: run (or enqueue) every task that is due and whose lease is free, in order. In enqueue mode,
        first enqueue again the partitions of partitioned runs whose worker died (see
        :func:`~pyck.core.partitioned.resume_partitioned_runs`).

        Returns the outcome of each task this process took (skipped ones included).
        """
        from ..models import CronTask

        self._ensure_rows()
        if self.enqueue:
            self._resume_partitioned_runs()
        now = self.now()
        due = set(
            CronTask.objects.filter(name__in=[job.name for job in self.jobs], next_due__lte=now)
            .filter(leases.free_lease(now))
            .values_list("name", flat=True)
        )
        outcomes = []
        for job in self.jobs:
            if self.stopping:
                break
            if job.name in due:
                outcomes.append(self._run_job(job, due_only=True, enqueue=self.enqueue))
        return outcomes

    def _resume_partitioned_runs(self) -> None:
        # Partitions whose worker died, and runs nobody finished: see pyck.core.partitioned.
        from ..partitioned import resume_partitioned_runs

        try:
            for line in resume_partitioned_runs(self.now()):
                self.reporter.note(f"{'partitions':<11} {line}")
        except Exception:
            logger.exception("Looking after partitioned runs failed; trying again at the next tick.")

    def run_all(self) -> list[Outcome]:
        """Run every task now, whether due or not (``--once``), still under its lease; always inline.

        A task whose lease another process holds is skipped. A failing task does not stop the others.
        Returns one outcome per task; stops early (without error) on SIGTERM/SIGINT.
        """
        outcomes = []
        with self._signals():
            self._ensure_rows()
            for job in self.jobs:
                if self.stopping:
                    break
                try:
                    outcomes.append(self._run_job(job, due_only=False, enqueue=False))
                except _Interrupted:
                    outcomes.append(Outcome(name=job.name, status="interrupted"))
                    break
        return outcomes

    def run_forever(self) -> None:
        """Tick every :attr:`tick` seconds until :meth:`stop`, SIGTERM or SIGINT; then return.

        Errors of a tick (the database unreachable, say) are logged and the clock carries on.
        """
        mode = "enqueueing" if self.enqueue else "running"
        syncs = f"; every sync is {self.sync_mode}" if self.sync_mode else ""
        self.reporter.note(
            f"{'clock':<11} {len(self.jobs)} task(s), {mode} due tasks every {self.tick:g}s{syncs}; owner {self.owner}"
        )
        with self._signals():
            while not self.stopping:
                try:
                    self.run_due()
                except _Interrupted:
                    break
                except Exception:
                    logger.exception("Cron tick failed; trying again in %ss.", self.tick)
                    _recycle_connections(broken=True)
                else:
                    _recycle_connections()
                self._stopping.wait(self.tick)
        _recycle_connections(broken=True)
        self.reporter.note(f"{'clock':<11} stopped")


def run_enqueued(name: str, token: str, sync_mode: str | None = None) -> str:
    """Run cron task ``name`` in a Django Tasks worker, taking over the lease the clock holds under ``token``.

    ``sync_mode`` is the enqueueing clock's (see :class:`Clock`). Returns the run's summary. When the lease is
    no longer ``token``'s (it expired and another clock took the task), does nothing and says so. Raises the
    task's exception (after recording it) when it fails, so the Tasks backend marks its result failed too.

    The sync task of a model whose partitions can run in parallel
    (:func:`~pyck.core.partitioned.can_run_in_parallel`) starts a partitioned run instead: one Django Task per
    partition, on any workers.
    """
    sync_mode = _check_sync_mode(sync_mode)
    autodiscover()
    job = get_cron_job(name)
    if job.is_sync:
        from ..partitioned import parallel_job

        job = parallel_job(job)  # a model whose partitions can run on many workers: start a partitioned run
    owner = leases.new_owner_id("worker")
    started = timezone.now()
    if not leases.hand_over(name, token, owner, now=started, lease=leases.lease_duration()):
        logger.warning(
            "Cron task %s: enqueued copy %s is stale (its lease expired and was taken over); skipped.", name, token
        )
        return f"skipped: the lease of {token} was taken over"
    outcome = _execute(job, owner, started=started, reporter=Reporter(), now=timezone.now, sync_mode=sync_mode)
    if outcome.failed:
        raise outcome.exception or PyckError(f"Cron task {name} failed: {outcome.error}")
    return outcome.summary


def describe_jobs(jobs: Sequence[CronJob], now: datetime | None = None) -> list[dict[str, Any]]:
    """Return one dict per task for ``--list``: name, interval, last_run, status, next_due (formatted text),
    and ``sync``: for the sync task of a model, lines on its sync mode and the state of each partition
    (:func:`describe_sync_state`), else ``[]``."""
    from ..models import CronTask

    now = now or timezone.now()
    rows = {row.name: row for row in CronTask.objects.filter(name__in=[job.name for job in jobs])}
    described = []
    for job in jobs:
        row = rows.get(job.name)
        if row is None:
            last_run, status, next_due = "-", "never run", "now"
        else:
            last_run = when(row.last_started, "-")
            status = row.last_status or "never run"
            if row.lease_owner and row.lease_expires and row.lease_expires >= now:
                status = f"{status} ({row.lease_owner})"
            next_due = "now" if row.next_due <= now else when(row.next_due)
        described.append(
            {
                "name": job.name,
                "interval": human_duration(job.interval),
                "last_run": last_run,
                "status": status,
                "next_due": next_due,
                "sync": describe_sync_state(job.model_label) if job.model_label else [],
            }
        )
    return described


def describe_sync_state(label: str) -> list[str]:
    """Lines on the sync of the model ``label``: its mode, then per partition its cursor and when it moved
    (incremental models), the last complete full listing, and the checkpoint an unfinished run left (where the
    next run goes on) and when it was saved."""
    from ..models import registry

    try:
        model = registry.get_model(label)
    except ConfigurationError:
        return [f"mode: unknown ({label} is not a registered synced model)"]
    incremental = model.sync_config.incremental is not None
    mode = f"mode: {describe_mode(model)}"
    lines = [mode]
    for state in partition_states(model):
        prefix = f"[{state.partition}] " if state.partition else ""
        parts = []
        if incremental:
            moved = f" (moved {when(state.cursor_updated)})" if state.cursor_updated else ""
            parts.append(f"cursor {state.cursor}{moved}")
        parts.append(f"last full sync {when(state.last_full_sync)}")
        if state.checkpoint_updated is None:
            lines.append(f"{prefix}{'; '.join(parts)}; checkpoint {state.checkpoint}")
        else:  # a long text: a line of its own
            lines.append(prefix + "; ".join(parts))
            lines.append(f"{prefix}checkpoint {state.checkpoint} (saved {when(state.checkpoint_updated)})")
    if len(lines) == 2 and not incremental and model.sync_config.partitions is None:
        return [f"{mode}; {lines[1]}"]  # the common case on one line: "mode: full; last full sync ...; checkpoint -"
    return lines


def format_jobs(jobs: Sequence[CronJob], now: datetime | None = None) -> str:
    """Return the ``--list`` table as text, in the order the clock runs the tasks; under each sync task, its
    sync mode and state (:func:`describe_sync_state`), indented."""
    rows = describe_jobs(_ordered(jobs), now)
    headers = {"name": "TASK", "interval": "EVERY", "last_run": "LAST RUN", "status": "STATUS", "next_due": "NEXT DUE"}
    table = [headers, *rows]
    widths = {key: max(len(str(row[key])) for row in table) for key in headers}
    lines = []
    for row in table:
        lines.append("  ".join(str(row[key]).ljust(widths[key]) for key in headers).rstrip())
        lines.extend(f"    {detail}" for detail in row.get("sync", ()))
    return "\n".join(lines)
