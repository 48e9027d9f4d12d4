"""The Airtable benchmark (issue 21): a 50,000-record table synced against a local server enforcing Airtable's
5 requests per second per base, alone and next to a second table of the same base synced by another process.

Usage::

    python -m benchmarks.bench_airtable                                  # 50,000 + 5,000 records
    python -m benchmarks.bench_airtable --records 5000 --second 1000     # a smaller run
    python -m benchmarks.bench_airtable --output benchmarks/RESULTS.md   # append the results

The parent process serves the base from `pyck.contrib.airtable.replay.AirtableServer` on 127.0.0.1 (5 requests
in any second per base, else 429 and 30 s of 429s, as https://airtable.com/developers/web/api/rate-limits
says). Each sync runs in a worker process of its own (``--worker``): Django configured with the test models of
``tests.airtable_support`` (``Member`` from the "Members" table, ``Team`` from "Teams"), a SQLite file of its
own, and the default cache in Redis (``--redis``, db 9 by default), where `AirtableDatasource`'s default budget
(`RequestBudget(requests=5, per=1, key="airtable:<base>")`) counts. Nothing is configured for the rate limit:
the datasources' defaults are what is measured.

Phases:

- ``alone``: one worker syncs "Members" (``--records`` rows, 100 a page). Floor: pages / 5 seconds.
- ``shared``: one worker syncs "Members" while another syncs "Teams" (``--second`` rows) of the same base.
  Floor: both tables' pages / 5 seconds, for the two together.
- ``unshared`` (the baseline, not run by default): as ``shared``, but without the request budget
  (`request_budget=None`, what the datasource has when the default cache is not shared): each process only
  spaces its own requests (`rate_limit`). Each 429 costs the 30 s penalty.

``--margin`` replaces the datasource's margin (0.1 s: at most 5 requests in any 1.1 s), in its budget and its
`rate_limit` (5 / (1 + margin) a second), to show what it costs.

Reported per phase, from the server: requests, 429s, the most requests in any sliding second; the wall time
of the "Members" sync (`sync_model`, from its first request to its last row written) and the time from the
first request the server received to the last; and how far above the floor the phase is: the "Members" sync
alone, or, when two tables share the base, the server's first-to-last span for both together.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASE = "appTESTBASE000001"  # tests.airtable_support.resources.BASE
TOKEN = "patTESTTOKEN.0123456789abcdef"  # tests.airtable_support.resources.TOKEN
RATE = 5


def most_in_any_window(times: list[float], width: float) -> int:
    """The most of `times` in any window `[t, t + width)`."""
    ordered, best, first = sorted(times), 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - width:
            first += 1
        best = max(best, last - first + 1)
    return best


def worker(table: str, url: str, redis_url: str, prefix: str, database: str, ready: str) -> None:
    """Sync one table (``Members`` or ``Teams``) into a fresh SQLite file, with the datasource's defaults."""
    # Django is configured here, in the worker process, not when the parent imports this module.
    import django
    from django.conf import settings

    settings.configure(
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "pyck.core", "tests.airtable_support"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": database}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url, "KEY_PREFIX": prefix}},
        LOGGING={"version": 1, "disable_existing_loggers": False, "loggers": {"pyck": {"level": "WARNING"}}},
    )
    django.setup()
    # After django.setup(): the models need the app registry.
    from django.core.management import call_command

    from pyck.core.sync import sync_model
    from tests.airtable_support.models import Member, Team

    from pyck.core.datasources import RequestBudget  # after django.setup(), like the models

    call_command("migrate", verbosity=0)
    model = Member if table == "Members" else Team
    source = model.sync_config.datasource
    source.base_url = url
    if os.environ.get("BENCH_BUDGET") == "none":
        source.request_budget = None  # the "unshared" phase: each process spaces its own requests only
    elif os.environ.get("BENCH_MARGIN"):
        margin = float(os.environ["BENCH_MARGIN"])
        source.request_budget = RequestBudget(requests=RATE, per=1, key=f"airtable:{BASE}", margin=margin)
        source.rate_limit = RATE / (1 + margin)
    Path(ready, table).touch()
    while len(list(Path(ready).iterdir())) < int(os.environ.get("BENCH_WORKERS", "1")):
        time.sleep(0.01)
    started = time.perf_counter()
    result = sync_model(model, mode="full")
    seconds = time.perf_counter() - started
    print(f"{table}: {result.status}, {result.created} created in {seconds:.1f}s", flush=True)
    Path(ready).parent.joinpath(f"{table}.seconds").write_text(f"{seconds:.3f}")
    if result.status != "succeeded":
        raise SystemExit(f"{table}: {result.status}: {result.errors}")


def run_phase(server: Any, tables: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Run one worker per table at once; return the server's figures for the phase."""
    start = len(server.requests)
    rejected = dict(server.rejected)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["BENCH_WORKERS"] = str(len(tables))
    env["BENCH_BUDGET"] = "none" if args.phase == "unshared" else ""
    env["BENCH_MARGIN"] = "" if args.margin is None else str(args.margin)
    prefix = f"pyck-bench-airtable-{uuid.uuid4()}"
    with tempfile.TemporaryDirectory() as scratch:
        ready = Path(scratch, "ready")
        ready.mkdir()
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.bench_airtable", "--worker", table, "--url", server.base_url,
                 "--redis", args.redis, "--prefix", prefix, "--database", str(Path(scratch, f"{table}.sqlite3")),
                 "--ready", str(ready)],
                env=env, cwd=ROOT,
            )
            for table in tables
        ]
        for process in workers:
            if process.wait(timeout=3600) != 0:
                raise SystemExit("a worker failed")
        synced = {table: float(Path(scratch, f"{table}.seconds").read_text()) for table in tables}
    requests = server.requests[start:]
    times = [at for at, *_ in requests]
    pages = sum(-(-server.tables[(BASE, t)].records.__len__() // 100) for t in tables)
    return {
        "tables": tables,
        "requests": len(requests),
        "pages": pages,
        "rejected": server.rejected.get(BASE, 0) - rejected.get(BASE, 0),
        "most": most_in_any_window(times, 1.0),
        "span": max(times) - min(times),
        "seconds": synced["Members"],
        "floor": pages / RATE,
    }


def render(phases: list[dict[str, Any]], args: argparse.Namespace, command: str) -> str:
    lines = [
        f"### Airtable: {args.records:,} records at 5 requests/s per base ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Command: `{command}`  ",
        (
            f"Machine: Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()} "
            f"{platform.system()}; SQLite, one file per worker; budgets counted in Redis at {args.redis}. "
            f"Server: `pyck.contrib.airtable.replay.AirtableServer` (5 requests in any second per base, else 429 "
            f"and 30 s of 429s). Datasources with their defaults"
            + (f", but the budget's margin {args.margin:g} s." if args.margin is not None else " (budget margin 0.1 s).")
        ),
        "",
        "| phase | tables (records) | requests | 429s | most in any sliding 1 s | Members' sync | first to last request | floor (pages / 5) | over the floor |",
        "|-------|------------------|---------:|-----:|------------------------:|--------------:|----------------------:|------------------:|---------------:|",
    ]
    for phase in phases:
        sizes = {"Members": args.records, "Teams": args.second}
        tables = ", ".join(f"{t} ({sizes[t]:,})" for t in phase["tables"])
        wall = phase["seconds"] if len(phase["tables"]) == 1 else phase["span"]
        over = 100 * (wall / phase["floor"] - 1)
        lines.append(
            f"| {phase['name']} | {tables} | {phase['requests']} | {phase['rejected']} | {phase['most']} (limit {RATE}) | "
            f"{phase['seconds']:.1f} s | {phase['span']:.1f} s | {phase['floor']:.1f} s | {over:+.1f}% |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000, help="rows of the 'Members' table (default 50,000)")
    parser.add_argument("--second", type=int, default=5_000, help="rows of the 'Teams' table (default 5,000)")
    parser.add_argument("--phases", default="alone,shared", help="comma-separated, of alone, shared and unshared")
    parser.add_argument("--margin", type=float, help="the budget's margin in seconds (default: the datasource's, 0.1)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9", help="the Redis the budgets count in")
    parser.add_argument("--output", type=Path, help="append the results (Markdown) to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--ready", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.url, args.redis, args.prefix, args.database, args.ready)
        return
    # The server needs no Django; imported here so that workers do not load it before configuring Django.
    from pyck.contrib.airtable.replay import AirtableServer

    moment = datetime(2026, 1, 1, tzinfo=UTC)
    with AirtableServer(TOKEN) as server:
        members = server.add_table(BASE, "Members")
        for i in range(args.records):
            server.put(members, {"Name": f"Member {i}", "Active": i % 3 == 0, "Last Modified": (moment + timedelta(seconds=i)).isoformat()})
        teams = server.add_table(BASE, "Teams")
        for i in range(args.second):
            server.put(teams, {"Name": f"Team {i}"})
        phases = []
        for name in args.phases.split(","):
            time.sleep(2)  # the previous phase's last second out of the server's window
            args.phase = name
            phase = run_phase(server, ["Members"] if name == "alone" else ["Members", "Teams"], args)
            phase["name"] = name
            phases.append(phase)
            print(render([phase], args, ""), flush=True)
    command = "python -m benchmarks.bench_airtable " + " ".join(argv if argv is not None else sys.argv[1:])
    text = render(phases, args, command.strip())
    print(text)
    if args.output:
        with args.output.open("a") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
