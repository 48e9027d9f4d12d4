"""Run the guide's tutorial end to end: migrate, sync, print what was synced.

    python -m example_project.demo            # the real UK Parliament API; recordings if it is unreachable
    python -m example_project.demo --replay   # always the recorded responses (no internet needed)

The database is the example project's: SQLite in ``example_project/db.sqlite3`` unless ``DATABASE_URL`` is set.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import requests

REAL_PARLIAMENT_API = "https://members-api.parliament.uk/api"

MANAGE_PY = Path(__file__).resolve().parent / "manage.py"
SOURCES_MD = Path(__file__).resolve().parent.parent / "pyck/geo/territories/uk/recordings/SOURCES.md"


def _reachable(url: str) -> str | None:
    """Return None if ``url`` answers, else a short reason."""
    try:
        requests.get(url, timeout=5).raise_for_status()
    except requests.RequestException as error:
        return type(error).__name__
    return None


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def shown_path(path: str | Path, cwd: str | Path) -> str:
    """`path` as a user types it from `cwd`: relative when it lies under `cwd`, absolute otherwise.

    The path is not resolved: a virtual environment's `bin/python` is often a symbolic link to the base
    interpreter, which does not see the environment's packages.

    Args:
        path: an absolute path.
        cwd: the directory the command is typed in.

    Returns:
        The path to type, for example `.venv/bin/python`.
    """
    absolute, base = Path(os.path.abspath(path)), Path(os.path.abspath(cwd))
    return str(absolute.relative_to(base)) if absolute.is_relative_to(base) else str(absolute)


def manage_command(*args: str, executable: str | None = None, cwd: str | Path | None = None) -> str:
    """The shell command that runs the example project's `manage.py` with the interpreter running this demo.

    A bare `python` may be one without Django (the demo usually runs from `make`'s `.venv`), so the command
    names the interpreter by its path.

    Args:
        *args: the `manage.py` arguments, for example `"runserver"`.
        executable: the interpreter (default: `sys.executable`).
        cwd: the directory the command is typed in (default: the current directory).

    Returns:
        For example `.venv/bin/python example_project/manage.py runserver`.
    """
    cwd = os.getcwd() if cwd is None else cwd
    words = [shown_path(executable or sys.executable, cwd), shown_path(MANAGE_PY, cwd), *args]
    return shlex.join(words)


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
        print(
            "The recorded data set is small (one constituency and its MP, two other MPs, and the parties of the "
            "Commons in November 2024): no other real recording of these answers was found in public sources, "
            f"and none is invented; {shown_path(SOURCES_MD, os.getcwd())} says where each one comes from."
        )

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
    serve = "make serve, or " if os.environ.get("MAKELEVEL") else ""
    print(f"\nBrowse them: {serve}{manage_command('runserver')}, then http://127.0.0.1:8000/")
    print(f"The admin, with a Sync now button: {manage_command('createsuperuser')}, then /admin/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
