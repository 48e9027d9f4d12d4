"""What a NationBuilder sync costs against the local NationBuilder server (`benchmarks/nationbuilder_server.py`),
which enforces the documented rate limit (250 requests every 10 seconds, answered 429 beyond;
https://nationbuilder.com/rate_limit_policy): a full sync of N signups, timed against the rate-limit floor, and
an incremental run after 1% of them changed, its requests against the full run's.

**The floor.** A listing of N signups in pages of S takes `ceil(N / S) + 1` requests (the last page is the
first empty one, https://support.nationbuilder.com/en/articles/9757369-nationbuilder-v2-api-core-concepts).
Under a limit of L requests per W seconds, request number k cannot be answered before `floor((k - 1) / L) * W`
seconds: the floor of R requests is `floor((R - 1) / L) * W`. With NationBuilder's default page size (S = 20),
10,000 signups take 501 requests and the floor is 20 s; with S = 100, 101 requests fit in one interval and the
floor is 0 (the sync is then bound by the server and the database, not by the limit).

The model is the docs page's `Person` (`tests/nationbuilder_support`), synced with `sync_model`. Figures and the
command are in `benchmarks/RESULTS.md`. Run from the repository root:

    python -m benchmarks.bench_nationbuilder                        # 10,000 signups, pages of 20, SQLite
    python -m benchmarks.bench_nationbuilder --page-size 100
    python -m benchmarks.bench_nationbuilder --signups 300 --limit 10 --interval 1    # a quick check
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "out"
TOKEN = "nb-bench-token"
# The signups were last changed one a minute, from 2024-01-01 on: the incremental run's one-minute lookback
# re-reads only the last of them.
LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)


def setup_django(database_url: str) -> None:
    """Configure Django for the benchmark: pyck and the NationBuilder test app, in `database_url`, and migrate."""
    # Imported here: the benchmark configures Django itself, after parsing its arguments.
    import dj_database_url
    import django
    from django.conf import settings
    from django.core.management import call_command

    settings.configure(
        SECRET_KEY="pyck-benchmark-not-secret",
        USE_TZ=True,
        TIME_ZONE="UTC",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "pyck.core", "tests.nationbuilder_support"],
        DATABASES={"default": dj_database_url.parse(database_url)},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        PYCK={"HTTP_TIMEOUT": 30.0, "HTTP_RETRIES": 3},
        NATIONBUILDER_SLUG="bench",
        NATIONBUILDER_ACCESS_TOKEN=TOKEN,
        SILENCED_SYSTEM_CHECKS=["pyck.W012"],
        LOGGING={"version": 1, "disable_existing_loggers": False, "loggers": {"pyck": {"level": "ERROR"}}},
    )
    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def floor_seconds(requests: int, limit: int, interval: float) -> float:
    """The least time `requests` requests take under `limit` requests per `interval` seconds."""
    return math.floor((requests - 1) / limit) * interval if requests else 0.0


def run(signups: int, page_size: int, changed: float, limit: int, interval: float, database_url: str) -> dict[str, Any]:
    """A full sync, then an incremental one after `changed` (a fraction) of the signups changed."""
    setup_django(database_url)
    # Imported here: Django is configured by setup_django() first.
    from benchmarks.nationbuilder_server import NationBuilderServer
    from pyck.core.budget import RequestBudget
    from pyck.core.models import SyncRun, SyncState
    from pyck.core.sync import sync_model
    from tests.nationbuilder_support.models import Person

    Person.objects.all().delete()
    SyncRun.objects.all().delete()
    SyncState.objects.all().delete()
    datasource = Person.sync_config.datasource
    datasource.list_query = {**datasource.list_query, "page[size]": page_size}
    datasource.request_budget = RequestBudget(requests=limit, per=interval, key=f"nationbuilder:bench:{time.time()}")
    with NationBuilderServer(rate_limit=limit, interval=interval) as server:
        server.tokens[TOKEN] = float("inf")
        for i in range(1, signups + 1):
            when = (LONG_AGO + timedelta(minutes=i)).isoformat().replace("+00:00", "Z")
            server.add("signups", str(i), {"first_name": f"First{i}", "last_name": f"Last{i}", "email": f"p{i}@example.org",
                                           "created_at": when, "updated_at": when}, relationships={"signup_tags": []})
        datasource.base_url = f"{server.url}/api/v2"
        started = time.perf_counter()
        full = sync_model(Person, mode="full")
        full_seconds = time.perf_counter() - started
        full_requests = len(server.requests_to("signups"))
        limited_full = server.limited
        step = max(1, round(1 / changed))
        for i in range(1, signups + 1, step):
            server.change("signups", str(i), first_name=f"Changed{i}")
        server.received.clear()
        started = time.perf_counter()
        incremental = sync_model(Person)
        incremental_seconds = time.perf_counter() - started
        incremental_requests = len(server.requests_to("signups"))
    return {
        "signups": signups, "page_size": page_size, "limit": limit, "interval": interval,
        "full": str(full).rsplit(" in ", 1)[0], "full_requests": full_requests, "full_seconds": full_seconds,
        "floor": floor_seconds(full_requests, limit, interval), "limited": limited_full + server.limited,
        "incremental": str(incremental).rsplit(" in ", 1)[0], "incremental_mode": incremental.mode,
        "incremental_requests": incremental_requests, "incremental_seconds": incremental_seconds,
    }


def render(m: dict[str, Any], command: str, database: str) -> str:
    """The figures as Markdown, with the machine and the command."""
    over = (m["full_seconds"] / m["floor"] - 1) * 100 if m["floor"] else float("nan")
    return "\n".join([
        f"Command: `{command}`; Python {platform.python_version()}, {database}, {platform.machine()}.",
        f"Rate limit enforced by the server: {m['limit']} requests per {m['interval']:g} s; 429s answered: {m['limited']}.",
        "",
        "| Run | Outcome | requests | seconds | rate-limit floor (s) | over the floor |",
        "|---|---|---:|---:|---:|---:|",
        f"| full, {m['signups']:,} signups, page[size]={m['page_size']} | {m['full']} | {m['full_requests']} | "
        f"{m['full_seconds']:.2f} | {m['floor']:.1f} | {over:.1f}% |",
        f"| {m['incremental_mode']}, 1% changed | {m['incremental']} | {m['incremental_requests']} | "
        f"{m['incremental_seconds']:.2f} | | |",
        "",
        f"Requests, full / incremental: {m['full_requests'] / max(1, m['incremental_requests']):.1f}x.",
    ])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signups", type=int, default=10_000, help="signups in the nation (default 10,000)")
    parser.add_argument("--page-size", type=int, default=20, help="page[size] (default 20, NationBuilder's default)")
    parser.add_argument("--changed", type=float, default=0.01, help="fraction changed before the incremental run")
    parser.add_argument("--limit", type=int, default=250, help="requests per interval (default 250)")
    parser.add_argument("--interval", type=float, default=10.0, help="the interval in seconds (default 10)")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file in benchmarks/out/")
    args = parser.parse_args(argv)
    database_url = args.database_url
    if database_url is None:
        OUT_DIR.mkdir(exist_ok=True)
        path = OUT_DIR / "bench_nationbuilder.sqlite3"
        path.unlink(missing_ok=True)
        database_url = f"sqlite:///{path}"
    measured = run(args.signups, args.page_size, args.changed, args.limit, args.interval, database_url)
    command = "python -m benchmarks.bench_nationbuilder " + " ".join(sys.argv[1:] if argv is None else argv)
    print(render(measured, command.strip(), "PostgreSQL" if database_url.startswith("postgres") else "SQLite"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
