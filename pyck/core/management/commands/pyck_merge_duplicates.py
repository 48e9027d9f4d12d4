"""`manage.py pyck_merge_duplicates`: merge the rows of synced models that share an external id. All the work is in
`pyck.core.sync.duplicates`."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pyck.core.exceptions import ConfigurationError, SyncInProgressError
from pyck.core.models import registry
from pyck.core.models.leases import SYNC_PREFIX
from pyck.core.sync.duplicates import MergeReport, merge_duplicates

HELP = """\
Find the rows of synced models that share an external id, and merge them into one row per id.

A model without a unique constraint on its external id can hold two rows for one remote record (written by
two syncs that overlapped before pyck kept them apart, by hand, by other code). A sync updates one of them and
leaves the others as they were, and says so in its result and its SyncRun. This command keeps, for each such
id, the row synced most recently (then the lowest primary key), points every foreign key and many-to-many link
of other rows at it (a link it has already is dropped), and deletes the others with their own many-to-many
links. Their local-only columns are lost: read the dry run first. A one-to-one relation the kept row has
already leaves that id's rows as they are, and says so. Generic foreign keys are not followed.

By default it is a dry run: it prints what it would do and changes nothing. With --apply it merges, each
model in one transaction, under the model's sync lease: no sync of the model runs meanwhile (it waits up to
--wait seconds for one running now, then gives up on that model with an error).

  python manage.py pyck_merge_duplicates app.Ticket              # what would be merged
  python manage.py pyck_merge_duplicates app.Ticket --apply      # merge
  python manage.py pyck_merge_duplicates --all                   # every synced model, dry run
"""


class Command(BaseCommand):
    """Merge the rows of synced models that share an external id (a dry run unless `--apply`)."""

    help = HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        """Keep the layout of the help text (the examples)."""
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare the options described in the help."""
        parser.add_argument(
            "models", nargs="*", metavar="MODEL", help="Synced models by label ('app.Ticket') or sync task name."
        )
        parser.add_argument("--all", action="store_true", dest="every", help="Every synced model.")
        parser.add_argument(
            "--apply", action="store_true", help="Merge. Without it nothing is changed: the command says what it would do."
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=0.0,
            metavar="SECONDS",
            help="With --apply: how long to wait for a sync of the model running now. Default: 0, give up at once.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Merge (or say what would be merged) for each model selected."""
        if options["every"] == bool(options["models"]):
            raise CommandError("Name the models to look at (e.g. 'app.Ticket'), or pass --all; not both.")
        if options["wait"] < 0:
            raise CommandError("--wait is a number of seconds >= 0.")
        try:
            models = (
                registry.synced_models()
                if options["every"]
                else [registry.get_model(name.removeprefix(SYNC_PREFIX)) for name in options["models"]]
            )
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from exc
        busy = []
        for model in models:
            try:
                report = merge_duplicates(model, apply=options["apply"], wait=options["wait"])
            except SyncInProgressError as exc:
                self.stderr.write(f"{model._meta.label}: not merged: {exc}")
                busy.append(model._meta.label)
                continue
            self._print(report, verbosity=options["verbosity"])
        if not options["apply"]:
            self.stdout.write("Dry run: nothing was changed. Run again with --apply to merge.")
        if busy:
            raise CommandError(f"A sync of {', '.join(busy)} was running: run the command again when it has finished.")

    def _print(self, report: MergeReport, *, verbosity: int) -> None:
        if not report.groups:
            self.stdout.write(f"{report.model}: no external id has more than one row.")
            return
        rows = report.deleted if report.applied else sum(len(group.merged) for group in report.groups)
        verb = "merged" if report.applied else "would merge"
        self.stdout.write(
            f"{report.model}: {len(report.groups)} external id(s) have more than one row; {verb} {rows} row(s) into "
            "the row of each synced most recently."
        )
        shown = report.groups if verbosity > 1 else report.groups[:20]
        for group in shown:
            merged = ", ".join(str(pk) for pk in group.merged)
            self.stdout.write(f"    external id {group.external_id!r}: keep {group.kept}, merge {merged}")
        if len(shown) < len(report.groups):
            self.stdout.write(f"    ... and {len(report.groups) - len(shown)} more (-v 2 lists them all)")
        for name, count in sorted(report.references.items()):
            moved = "pointed at the rows kept" if report.applied else "to point at the rows kept"
            self.stdout.write(f"    {name}: {count} row(s) {moved}")
        for key, why in report.skipped:
            self.stdout.write(f"    external id {key!r}: not merged: {why}")
