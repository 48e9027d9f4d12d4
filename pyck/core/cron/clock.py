"""The cron clock: runs (or enqueues) due tasks under their lease, records the outcome, and stops cleanly.

`Clock` is what `manage.py run_cron_tasks` drives: `Clock.run_forever` ticks until SIGTERM or
SIGINT, `Clock.run_due` is one tick, `Clock.run_all` is `--once`. A task it runs goes through
`pyck.core.cron.execution`; in enqueue mode it hands due tasks to Django Tasks workers instead
(`pyck.core.cron.tasks`).

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
from datetime import datetime, timedelta
from types import FrameType, ModuleType

from django.utils import timezone

from ..models import registry
from ..conf import pyck_settings
from ..models import CronTask
from ..models.leases import describe_holder, holder, take
from ..sync import sync_order
from . import leases
from .execution import MAX_ERROR_CHARS, Interrupted, check_sync_mode, execute, recycle_connections, release
from .jobs import CronJob, autodiscover, cron_jobs
from .report import Outcome, Reporter

__all__ = ["Clock", "run_order"]

logger = logging.getLogger("pyck.cron")


def run_order(jobs: Sequence[CronJob]) -> list[CronJob]:
    """Return `jobs` in the order the clock runs them: sync tasks first, in the sync engine's dependency order
    (a model after the models it references), then the others in registration order.

    Args:
        jobs: the tasks.

    Returns:
        The same tasks, ordered.
    """
    syncs = [job for job in jobs if job.is_sync]
    others = [job for job in jobs if not job.is_sync]
    if len(syncs) > 1:
        by_label = {job.model_label: job for job in syncs if job.model_label}
        models = sync_order([registry.get_model(label) for label in by_label])
        ordered = [by_label[m._meta.label] for m in models if m._meta.label in by_label]
        syncs = ordered + [job for job in syncs if job not in ordered]
    return syncs + others


class Clock:
    """Runs registered tasks when they are due, under a database lease, and records what happened.

    Args:
        jobs: the tasks to look after (default: every registered task, after `autodiscover`).
        enqueue: put due tasks on a Django Tasks queue instead of running them here (default: the
            `CRON_ENQUEUE` setting).
        tick: seconds between two looks at the schedule (default: `CRON_TICK`).
        reporter: where the start/finish lines go (default: nowhere; logging always happens).
        now: the clock's time source (tests pass a fake one).
        sync_mode: `"full"` or `"incremental"` makes every sync task this clock runs (or enqueues) run in
            that mode (`sync_model(mode=...)`, what `run_cron_tasks --full` does); `None` or `"auto"`:
            each model's own choice (see `Incremental`).
        between_ticks: called by `run_forever` between two ticks, every `poll` seconds, until the next tick is
            due (`run_cron_tasks` processes the webhook inbox this way); it returns whether it has more work
            at once, in which case it is called again without waiting. Its errors are logged.
        poll: seconds between two calls of `between_ticks`.

    Raises:
        ConfigurationError: `sync_mode` is not one of those.
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
        between_ticks: Callable[[], bool] | None = None,
        poll: float = 1.0,
    ) -> None:
        self.sync_mode = check_sync_mode(sync_mode)
        if jobs is None:
            autodiscover()
            jobs = cron_jobs()
        self.jobs = run_order(jobs)
        self.enqueue = bool(pyck_settings.CRON_ENQUEUE if enqueue is None else enqueue)
        self.tick = float(pyck_settings.CRON_TICK if tick is None else tick)
        self.reporter = reporter or Reporter()
        self.now = now
        self.between_ticks = between_ticks
        self.poll = float(poll)
        # This process's lease owner id.
        self.owner = leases.new_owner_id("clock")
        self._stopping = threading.Event()
        self._abortable = False

    # --- stopping ---

    def stop(self) -> None:
        """Ask the clock to stop after the running task (thread-safe; what SIGTERM and SIGINT do)."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called (or a signal received)."""
        return self._stopping.is_set()

    def _set_abortable(self, on: bool) -> None:
        self._abortable = on

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping.is_set() and self._abortable:
            self._abortable = False
            raise Interrupted(signum)
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
        return self._execute(job, now)

    def _execute(self, job: CronJob, now: datetime) -> Outcome:
        """Run `job` in this process under the lease this clock holds on it (taken at `now`)."""
        return execute(
            job,
            self.owner,
            started=now,
            reporter=self.reporter,
            now=self.now,
            abortable=self._set_abortable,
            sync_mode=self.sync_mode,
        )

    def _enqueue(self, job: CronJob, now: datetime, lease: timedelta) -> Outcome:
        tasks = _tasks()
        token = leases.new_owner_id("enqueued")
        if not leases.claim(job.name, token, now=now, lease=lease, status="enqueued"):
            skipped = Outcome(name=job.name, status="skipped")
            self.reporter.finished(skipped)
            return skipped
        try:
            if job.is_sync and self.sync_mode:
                tasks.enqueue_cron_task(job.name, token, sync_mode=self.sync_mode)
            else:
                tasks.enqueue_cron_task(job.name, token)
        except Exception as exc:
            logger.exception("Could not enqueue cron task %s; it will be tried again when next due.", job.name)
            finished = self.now()
            release(
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

    def _log_schedule(self) -> None:
        """Log (INFO) each task this clock looks after, its interval and when it is next due."""
        self._ensure_rows()
        due = dict(CronTask.objects.filter(name__in=[job.name for job in self.jobs]).values_list("name", "next_due"))
        now = self.now()
        for job in self.jobs:
            when = due.get(job.name)
            next_due = "now" if when is None or when <= now else f"{timezone.localtime(when):%Y-%m-%d %H:%M:%S %Z}"
            logger.info("Cron task %s: every %s, next due %s.", job.name, job.interval, next_due)

    def run_due(self) -> list[Outcome]:
        """One tick: run (or enqueue) every task that is due and whose lease is free, in order. In enqueue mode,
        first enqueue again the partitions of partitioned runs whose worker died (see
        `resume_partitioned_runs`).

        Returns the outcome of each task this process took (skipped ones included).
        """
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
        # Partitions whose worker died, and runs nobody finished: see pyck.core.cron.tasks.
        tasks = _tasks()
        try:
            for line in tasks.resume_partitioned_runs(self.now()):
                self.reporter.note(f"{'partitions':<11} {line}")
        except Exception:
            logger.exception("Looking after partitioned runs failed; trying again at the next tick.")

    def run_all(self, *, wait: float = 0.0) -> list[Outcome]:
        """Run every task now, whether due or not (`--once`), still under its lease; always inline.

        A task whose lease another live process holds is waited for, up to `wait` seconds, then run; if the
        lease is still held then, the task is not run: its outcome is `"skipped"`, with the holder in its
        `error`. A lease held by a dead process of this machine is taken over at once. A failing task does not
        stop the others. Returns one outcome per task; stops early (without error) on SIGTERM/SIGINT.
        """
        outcomes = []
        with self._signals():
            self._ensure_rows()
            for job in self.jobs:
                if self.stopping:
                    break
                try:
                    outcomes.append(self._run_now(job, wait))
                except Interrupted:
                    outcomes.append(Outcome(name=job.name, status="interrupted"))
                    break
        return outcomes

    def _run_now(self, job: CronJob, wait: float) -> Outcome:
        """Run `job` now under its lease, waiting up to `wait` seconds for a live holder to let go of it."""
        lease = leases.lease_duration()
        clock = time.monotonic()
        deadline = clock + wait
        said = False
        while not take(job.name, self.owner, now=(now := self.now()), lease=lease):
            current, until = holder(job.name, now)
            held = f"its lease is held by {describe_holder(current) or 'another process'}" + (
                f" until {until:%Y-%m-%d %H:%M:%S %Z}" if until else ""
            )
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.stopping:
                waited = f" (waited {wait:g}s)" if wait else ""
                outcome = Outcome(name=job.name, status="skipped", error=f"not run: {held}{waited}")
                logger.warning("Cron task %s %s", job.name, outcome.error)
                self.reporter.finished(outcome)
                return outcome
            if not said:
                self.reporter.note(f"{'waiting':<11} {job.name}: {held}; waiting up to {wait:g}s for it")
                said = True
            self._stopping.wait(min(0.25, remaining))
        if said:
            self.reporter.note(f"{'waited':<11} {job.name} {time.monotonic() - clock:.1f}s for its lease")
        return self._execute(job, now)

    def run_forever(self) -> None:
        """Tick every `tick` seconds until `stop`, SIGTERM or SIGINT; then return.

        Errors of a tick (the database unreachable, say) are logged and the clock carries on.
        """
        mode = "enqueueing" if self.enqueue else "running"
        syncs = f"; every sync is {self.sync_mode}" if self.sync_mode else ""
        self.reporter.note(
            f"{'clock':<11} {len(self.jobs)} task(s), {mode} due tasks every {self.tick:g}s{syncs}; owner {self.owner}"
        )
        logger.info(
            "Cron clock started: %d task(s), %s due tasks every %gs%s; owner %s.",
            len(self.jobs),
            mode,
            self.tick,
            syncs,
            self.owner,
        )
        with self._signals():
            try:
                self._log_schedule()
            except Exception:
                logger.exception("Could not read the schedule; trying again at the first tick.")
            while not self.stopping:
                try:
                    self.run_due()
                except Interrupted:
                    break
                except Exception:
                    logger.exception("Cron tick failed; trying again in %ss.", self.tick)
                    recycle_connections(broken=True)
                else:
                    recycle_connections()
                self._wait_for_tick()
        recycle_connections(broken=True)
        self.reporter.note(f"{'clock':<11} stopped")

    def _wait_for_tick(self) -> None:
        """Wait `tick` seconds, or until `stop`; meanwhile call `between_ticks` every `poll` seconds (at once
        again while it says it has more work)."""
        if self.between_ticks is None:
            self._stopping.wait(self.tick)
            return
        deadline = time.monotonic() + self.tick
        while not self.stopping:
            more = False
            try:
                more = bool(self.between_ticks())
            except Exception:
                logger.exception("Work between ticks failed; trying again in %ss.", self.poll)
                recycle_connections(broken=True)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if not more:
                self._stopping.wait(min(self.poll, remaining))


def _tasks() -> ModuleType:
    # Not at the top: defining Django Tasks needs the Tasks framework (optional on Django 5.2) and its settings;
    # only an enqueueing clock uses them.
    from . import tasks

    return tasks
