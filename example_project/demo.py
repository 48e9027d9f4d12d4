"""Run the guide's tutorial end to end: migrate, sync, print what was synced.

    python -m example_project.demo            # the real UK Parliament API; recordings if it is unreachable
    python -m example_project.demo --replay   # always the recorded responses (no internet needed)

The database is the example project's: SQLite in ``example_project/db.sqlite3`` unless ``DATABASE_URL`` is set.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import requests

REAL_PARLIAMENT_API = "https://members-api.parliament.uk/api"


def _reachable(url: str) -> str | None:
    """Return None if ``url`` answers, else a short reason."""
    try:
        requests.get(url, timeout=5).raise_for_status()
    except requests.RequestException as error:
        return type(error).__name__
    return None


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def main(argv: Sequence[str] | None = None) -> int:
    """Migrate the example project's database, run every sync once and print the result."""
    parser = argparse.ArgumentParser(prog="python -m example_project.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--replay", action="store_true", help="sync from recorded responses, not the real APIs")
    parser.add_argument("--rows", type=int, default=10, help="how many constituencies to print (default 10)")
    args = parser.parse_args(argv)

    replay = None
    if not args.replay:
        reason = _reachable(f"{REAL_PARLIAMENT_API}/Parties/GetActive/Commons")
        if reason:
            print(f"The UK Parliament API cannot be reached ({reason}): using the recorded responses instead.")
            args.replay = True
    if args.replay:
        from pyck.geo.territories.uk.replay import ReplayServer

        replay = ReplayServer().start()
        os.environ["PYCK_REPLAY_URL"] = replay.url
        print(f"Replaying recorded UK Parliament responses from {replay.url}.")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from example_project.constituencies.models import MP, Constituency, Party

    try:
        call_command("migrate", verbosity=0)
        try:
            call_command("run_cron_tasks", "--once")
        except CommandError as error:
            print(f"Some syncs failed: {error}", file=sys.stderr)
            return 1
    finally:
        if replay is not None:
            replay.stop()

    counts = [
        _plural(Constituency.objects.count(), "constituency", "constituencies"),
        _plural(MP.objects.count(), "MP", "MPs"),
        _plural(Party.objects.count(), "party", "parties"),
    ]
    print(f"\n{', '.join(counts)}.")
    rows = Constituency.objects.select_related("current_mp__latest_party").order_by("name")[: args.rows]
    for constituency in rows:
        mp = constituency.current_mp
        party = mp.latest_party if mp else None
        colour = f"#{party.background_colour}" if party and party.background_colour else "-"
        print(f"  {constituency.name:<40} {mp.name if mp else 'vacant':<28} {party.name if party else '':<22} {colour}")
    print("\nBrowse them: python example_project/manage.py runserver, then http://127.0.0.1:8000/")
    print("The admin, with a Sync now button: python example_project/manage.py createsuperuser, then /admin/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
