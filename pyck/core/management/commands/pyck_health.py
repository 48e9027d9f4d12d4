"""`manage.py pyck_health`: the health of the synced data, for uptime monitors and container health checks. All
the work is in `pyck.core.health.status`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pyck.core.exceptions import ConfigurationError
from pyck.core.health.status import AMBER, RED, Health, data_health, worst
from pyck.core.models import registry
from pyck.core.overview import human_interval, when

HELP = """\
Print the health of the synced data: one line per synced model, per partition and per webhook receiver, with
its level (green, amber, red), the data's age, the last run's status, the failure streak and the next run.

Red: the data is older than the model's stale_after (SyncConfig(stale_after=...), by default twice its
sync_interval), or HEALTH_FAILURE_STREAK runs failed in a row. Amber: the last run did not succeed, the data
is past half its stale_after, or it was never synced.

Exit status (for uptime monitors, Docker HEALTHCHECK, Kubernetes probes):
  0  nothing is red (nor amber, with --fail-on amber)
  1  something is red: stale or failing (or amber, with --fail-on amber)
  2  the command could not run (an unknown model, a bad option)

  python manage.py pyck_health                    # a table
  python manage.py pyck_health --json             # the same as JSON, for scripts
  python manage.py pyck_health app.Ticket --quiet # only the exit status, for one model
"""

# The exit status of each outcome (see HELP).
EXIT_HEALTHY = 0
EXIT_UNHEALTHY = 1
EXIT_ERROR = 2


class Command(BaseCommand):
    """Print the health of the synced data and exit non-zero when any of it is stale or failing."""

    help = HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        """Keep the layout of the help text (the exit codes, the examples)."""
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare the options described in the help."""
        parser.add_argument("models", nargs="*", metavar="MODEL", help="Only these synced models ('app.Ticket').")
        parser.add_argument("--json", action="store_true", help="Print JSON: {'level': ..., 'rows': [...]}.")
        parser.add_argument(
            "--fail-on",
            choices=[RED, AMBER],
            default=RED,
            help="The level from which the exit status is 1 (default: red).",
        )
        parser.add_argument("--quiet", action="store_true", help="Print nothing; only the exit status tells.")

    def handle(self, *args: Any, **options: Any) -> None:
        """Measure, print, and exit with the status the help describes."""
        labels = None
        if options["models"]:
            try:
                labels = [registry.get_model(label)._meta.label for label in options["models"]]
            except ConfigurationError as error:
                raise CommandError(str(error), returncode=EXIT_ERROR) from None
        rows = data_health(labels=labels)
        if labels is not None:
            rows = [row for row in rows if row.kind != "receiver"]
        level = worst(row.level for row in rows)
        if options["json"]:
            self.stdout.write(json.dumps({"level": level, "rows": [row.as_dict() for row in rows]}, indent=2))
        elif not options["quiet"]:
            self.stdout.write(format_table(rows))
        failing = {RED} if options["fail_on"] == RED else {RED, AMBER}
        if any(row.level in failing for row in rows):
            raise SystemExit(EXIT_UNHEALTHY)


def format_table(rows: list[Health]) -> str:
    """The rows as an aligned text table, with the reasons of each row that is not green under it."""
    headers = ("NAME", "LEVEL", "AGE", "LAST RUN", "LAST SUCCESS", "STREAK", "NEXT RUN")
    table = [headers]
    for row in rows:
        table.append(
            (
                row.name,
                row.level,
                human_interval(row.age, "never"),
                row.last_status or "never run",
                when(row.last_success),
                str(row.failure_streak),
                when(row.next_due, "-"),
            )
        )
    widths = [max(len(line[column]) for line in table) for column in range(len(headers))]
    lines = []
    for index, line in enumerate(table):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if index:
            lines.extend(f"    {reason}" for reason in rows[index - 1].reasons)
    return "\n".join(lines)
