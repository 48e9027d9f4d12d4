"""What the cron clock tells people: the `Outcome` of each task it took, and the `Reporter` writing the lines.

Logging happens whatever the reporter does; the reporter writes the lines someone watching
`manage.py run_cron_tasks` follows.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from django.utils import timezone

from .jobs import CronJob

if TYPE_CHECKING:
    from ..sync import SyncProgress

__all__ = ["Outcome", "Reporter", "logged_to_console"]


@dataclass(slots=True)
class Outcome:
    """What happened to one task in one tick.

    `status` is a `Status` value, `"enqueued"`, or `"skipped"` (another
    process held the lease; `error` then says who, when `--once` did not run the task).
    """

    name: str
    status: str
    duration: float = 0.0
    summary: str = ""
    error: str = ""
    exception: BaseException | None = field(default=None, repr=False)

    @property
    def failed(self) -> bool:
        """Whether the run failed (an exception, or a result whose `ok` is false)."""
        return self.status == "failed"

    @property
    def not_run(self) -> bool:
        """Whether the task was not run because another process held its lease."""
        return self.status == "skipped"


def logged_to_console(name: str = "pyck.cron", level: int = logging.INFO) -> bool:
    """Whether records of logger `name` at `level` reach a handler writing to the console (`sys.stdout` or
    `sys.stderr`), as the `LOGGING` setting configured it.

    Args:
        name: the logger.
        level: the level of the records in question.

    Returns:
        `True` when such a record would be written to the console by some handler on the way up to the root.
    """
    current: logging.Logger | None = logging.getLogger(name)
    if current is None or not current.isEnabledFor(level):
        return False
    consoles = {id(sys.stdout), id(sys.stderr), id(sys.__stdout__), id(sys.__stderr__)}
    while current is not None:
        for handler in current.handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and handler.level <= level and id(stream) in consoles:
                return True
        current = current.parent if current.propagate else None
    return False


class Reporter:
    """Writes the lines people follow: one when a task starts, one when it finishes, progress on a terminal.

    Args:
        stream: where to write (`None`: nowhere; logging still happens).
        verbosity: 0 quiet, 1 start/finish lines, 2 also skipped tasks and ticks.
        tty: whether `stream` is a terminal; progress lines (`\\r`-rewritten) are only written there.
        logged: whether the log already shows each task's start and finish on the console (see
            `logged_to_console`): the reporter then writes no start and finish lines of its own, so that each
            summary is printed once.
    """

    # Seconds between two progress lines.
    progress_every = 1.0

    def __init__(
        self,
        stream: TextIO | Any | None = None,
        *,
        verbosity: int = 1,
        tty: bool | None = None,
        logged: bool = False,
    ) -> None:
        self.stream = stream
        self.logged = logged
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
        if self.logged:
            return
        self._write(f"{'started':<11} {job.name}")

    def finished(self, outcome: Outcome) -> None:
        """A task finished (or was enqueued, skipped, interrupted)."""
        if self.logged:
            return
        if outcome.status == "skipped":
            if outcome.error:  # a task --once did not run: always said
                self._write(f"{'not run':<11} {outcome.name}: {outcome.error.removeprefix('not run: ')}")
            else:  # a due task another clock took first
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
        """Any other line (`level` 2: only with `-v 2`)."""
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
