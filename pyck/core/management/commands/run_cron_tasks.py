"""`manage.py run_cron_tasks`: the cron clock. All the work is in `pyck.core.cron`."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from pyck.core.models import registry
from pyck.core.cron.clock import Clock
from pyck.core.cron.jobs import SYNC_PREFIX, autodiscover, select_cron_jobs
from pyck.core.cron.report import Reporter, logged_to_console
from pyck.core.cron.schedule import format_jobs
from pyck.core.exceptions import ConfigurationError
from pyck.core.models import CronTask, SyncState
from pyck.core.models.leases import lease_duration
from pyck.core.overview import reset_sync_state
from pyck.core.webhooks.polling import enqueues, inbox_poller

HELP = """\
Run pyck's periodic tasks: the sync of every synced model with a sync_interval (task "sync:app.Model") and
every function registered with @cron / register_cron (task "<dotted path>").

Without options it is a clock: it runs until stopped (SIGTERM or Ctrl-C), looks at the schedule every
CRON_TICK seconds and runs each due task. The schedule lives in the database, so a restarted clock neither
re-runs everything nor forgets what is due; after downtime a task runs once, not once per missed interval.
Several clocks may run at once (on one host or many): a database lease makes sure a due task runs once, and
a crashed clock's task is taken over when its lease expires (CRON_LEASE_DURATION). A failing task is logged
and recorded, runs again when next due, and never stops the clock. The first SIGTERM/SIGINT lets the running
task finish, a second one aborts it (rolling back its open transaction); the clock then exits with status 0.

--once runs each selected task under its lease, as a clock does. A task another process is running is waited
for, up to --wait seconds (CRON_LEASE_DURATION by default), then run; one whose holder is a process of this
machine that is gone (killed) is taken over at once. Exit status of --once: 0 when every task ran and
succeeded; 1 when any failed (after running the others); 75 (EX_TEMPFAIL: try again later) when none failed
but some did not run, another process holding their lease for longer than --wait (each is named on a "not
run" line).

Deployments:
  next to the web server on one box:   python manage.py run_cron_tasks & gunicorn app.wsgi
  a dedicated process (Procfile):      clock: python manage.py run_cron_tasks
  in development, run everything once: python manage.py run_cron_tasks --once
  distributed, with Django Tasks:      clock: python manage.py run_cron_tasks --enqueue
                                       worker: python manage.py db_worker   (or your backend's worker)

Sync state (the cursor of SyncConfig(incremental=...) models, the checkpoint a dead run resumes from):
  show each model's mode, cursor, checkpoint: python manage.py run_cron_tasks --list
  read whole listings this time:              python manage.py run_cron_tasks --once --full app.Model
  forget it: the next run anywhere is full:   python manage.py run_cron_tasks --reset app.Model
                                              python manage.py run_cron_tasks --reset --all
"""


# The exit status of --once when tasks did not run because another process held their lease: "try again later"
# (sysexits.h), as mail servers and job runners use it.
EX_TEMPFAIL = 75


class Command(BaseCommand):
    """The cron clock: run, list or enqueue pyck's periodic tasks."""

    help = HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        """Keep the layout of the help text (the deployment examples)."""
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare the options described in the help."""
        parser.add_argument(
            "names",
            nargs="*",
            metavar="TASK",
            help="Only these tasks: a task name (see --list), a synced model's label, e.g. 'app.Constituency', or an "
            "app label, e.g. 'app': the sync tasks of all that app's synced models.",
        )
        parser.add_argument(
            "--task",
            action="append",
            default=[],
            metavar="TASK",
            dest="tasks",
            help="Same as a TASK argument; repeatable.",
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--once",
            action="store_true",
            help="Run every (selected) task now, due or not, syncs in dependency order, then exit: status 0 when "
            "all ran and succeeded, 1 when any failed (after running the others), 75 when some did not run "
            "because another process held their lease for longer than --wait. Always runs inline.",
        )
        mode.add_argument(
            "--list",
            action="store_true",
            help="Print each task with its interval, last run, status and next due, then exit. Under a sync task: "
            "the model's sync mode, and per partition its cursor and when it moved, the checkpoint an unfinished "
            "run left (where it resumes) and when it was saved, and the last complete full listing.",
        )
        mode.add_argument(
            "--reset",
            action="store_true",
            help="Delete the sync state (cursor, checkpoint, last full sync; every partition) of the selected "
            "synced models, then exit: their next run is a full listing from the start. Select models by label "
            "or task name (models without a sync_interval too), or pass --all; without a selection nothing is "
            "reset. Runs nothing.",
        )
        parser.add_argument(
            "--all",
            action="store_true",
            dest="all_models",
            help="With --reset: reset every synced model, and any sync state left by models no longer defined.",
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="Make the syncs this invocation runs (--once, the clock, or the workers it enqueues for) full "
            "listings, whatever their SyncConfig.incremental says; a full run's checkpoint is still resumed. The "
            "cursor is kept, and moves at the end of each complete run.",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=None,
            metavar="SECONDS",
            help="With --once: how long to wait for a task whose lease another process holds (a clock or another "
            "sync running it) before giving up on it. Default: the CRON_LEASE_DURATION setting. A lease held "
            "by a dead process of this machine is taken over at once.",
        )
        parser.add_argument(
            "--enqueue",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Enqueue due tasks as Django Tasks (run by your Tasks backend's workers) instead of running them "
            "in this process. Default: the CRON_ENQUEUE setting.",
        )
        parser.add_argument(
            "--tick",
            type=float,
            default=None,
            metavar="SECONDS",
            help="Seconds between two looks at the schedule. Default: the CRON_TICK setting.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Select the tasks, then list them, run them once, or start the clock."""
        autodiscover()
        names = [*options["names"], *options["tasks"]]
        if options["all_models"] and not options["reset"]:
            raise CommandError("--all goes with --reset (without --reset, no selection already means every task).")
        if options["full"] and (options["list"] or options["reset"]):
            raise CommandError("--full applies to the syncs a run makes; it goes with --once, a clock or --enqueue.")
        if options["wait"] is not None and (not options["once"] or options["wait"] < 0):
            raise CommandError("--wait goes with --once, and is a number of seconds >= 0.")
        if options["reset"]:
            self._reset(names, every=options["all_models"])
            return
        try:
            jobs = select_cron_jobs(names)
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from exc
        if options["list"]:
            self.stdout.write(format_jobs(jobs))
            return
        if options["once"] and options["enqueue"]:
            raise CommandError(
                "--once runs the tasks in this process; drop --enqueue (or drop --once to start a clock)."
            )
        if options["tick"] is not None and options["tick"] <= 0:
            raise CommandError("--tick must be a positive number of seconds.")
        reporter = Reporter(
            self.stdout, verbosity=options["verbosity"], tty=self.stdout.isatty(), logged=logged_to_console()
        )
        try:
            clock = Clock(
                jobs,
                enqueue=options["enqueue"],
                tick=options["tick"],
                reporter=reporter,
                sync_mode="full" if options["full"] else None,
            )
            if clock.enqueue:
                # Not at the top: the Tasks framework is optional; importing the tasks fails early without it.
                from pyck.core.cron import tasks  # noqa: F401
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from exc
        if not options["once"]:
            poller = inbox_poller(enqueue=enqueues(clock.enqueue), tick=clock.tick)
            if poller is not None:
                clock.between_ticks, clock.poll = poller
            clock.run_forever()
            return
        wait = options["wait"] if options["wait"] is not None else lease_duration().total_seconds()
        outcomes = clock.run_all(wait=wait)
        failed = [outcome.name for outcome in outcomes if outcome.failed]
        not_run = [outcome.name for outcome in outcomes if outcome.not_run]
        also = f" Not run (another process held their lease): {', '.join(not_run)}." if not_run else ""
        if failed:
            raise CommandError(f"{len(failed)} of {len(outcomes)} cron task(s) failed: {', '.join(failed)}.{also}")
        if not_run:
            raise CommandError(
                f"{len(not_run)} of {len(outcomes)} cron task(s) did not run: another process held their lease for "
                f"longer than --wait ({wait:g}s): {', '.join(not_run)}. Run them again when it has finished.",
                returncode=EX_TEMPFAIL,
            )

    def _reset(self, names: list[str], *, every: bool) -> None:
        """Delete the sync state of the models `names` select (`every`: of all models) and say what was reset."""
        if every and names:
            raise CommandError("--reset: give either model labels or --all, not both.")
        if every:
            labels = [model._meta.label for model in registry.synced_models()]
            labels += sorted(set(SyncState.objects.values_list("model", flat=True)) - set(labels))
        elif names:
            try:
                labels = [registry.get_model(name.removeprefix(SYNC_PREFIX))._meta.label for name in names]
            except ConfigurationError as exc:
                raise CommandError(f"--reset: {exc}") from exc
        else:
            raise CommandError(
                "--reset needs the models to reset: their labels (e.g. 'app.Ticket') or task names, or --all for "
                "every model. Their next run will read the whole listing from the start."
            )
        untouched = 0
        for label, rows in reset_sync_state(labels).items():
            if not rows:
                if every:
                    untouched += 1
                else:
                    self.stdout.write(f"{label}: no sync state to reset; its next run is a full listing from the start.")
                continue
            self.stdout.write(
                f"{label}: sync state reset ({rows} partition{'s' if rows != 1 else ''}); its next run is a full "
                "listing from the start."
            )
            running = _running(label)
            if running:
                self.stdout.write(
                    f"{label}: a sync is running now (lease held by {running}): it can no longer record its progress, "
                    "so the run after it starts from the beginning too."
                )
        if untouched:
            self.stdout.write(f"{untouched} other synced model(s) had no sync state to reset.")


def _running(label: str) -> str:
    """The owner of the lease of the model's sync task when one holds it now, else `""`."""
    task = CronTask.objects.filter(name=f"{SYNC_PREFIX}{label}", lease_expires__gte=timezone.now()).exclude(lease_owner="")
    return task.values_list("lease_owner", flat=True).first() or ""
