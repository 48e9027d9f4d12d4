"""What an Action Network sync costs against the local Action Network server (`benchmarks/action_network_server.py`),
which enforces the documented 4 requests a second per API key (a fifth request within a second answers 429):

- a full sync of N people: its requests (N/25 pages, and the empty page past the last) and its time, against the
  rate-limit floor, N / 25 / 4 seconds (10,000 people: 400 pages at 4 a second, 100 s);
- an incremental sync after `--changed` percent of the people were modified (`filter=modified_date gt '…'`):
  its requests against the full run's.

The model is the docs page's `Person` (`tests/action_network_support`), synced with `sync_model`. Figures and the
command are in `benchmarks/RESULTS.md`. Run from the repository root:

    python -m benchmarks.bench_action_network                      # 10,000 people, 1 % changed, SQLite
    python -m benchmarks.bench_action_network --people 500 --changed 2
    python -m benchmarks.bench_action_network --database-url postgres://postgres@127.0.0.1:5432/pyck_bench_an

A PostgreSQL database named in `--database-url` must exist; its `Person` rows and sync state are emptied first.
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
API_KEY = "an-bench-key"
PAGE_SIZE = 25  # https://actionnetwork.org/docs/v2/aep: max_page_size
RATE = 4  # https://actionnetwork.org/docs/v2/: "API calls are limited to 4 requests per second"


def setup_django(database_url: str) -> None:
    """Configure Django for the benchmark: pyck and the Action Network test app, in `database_url`, and migrate."""
    # Imported here: the benchmark configures Django itself, after parsing its arguments.
    import dj_database_url
    import django
    from django.conf import settings
    from django.core.management import call_command

    settings.configure(
        SECRET_KEY="pyck-benchmark-not-secret",
        USE_TZ=True,
        TIME_ZONE="UTC",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "pyck.core", "tests.action_network_support"],
        DATABASES={"default": dj_database_url.parse(database_url)},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        ACTION_NETWORK_API_KEY=API_KEY,
        PYCK={"HTTP_TIMEOUT": 30.0},
        LOGGING={"version": 1, "disable_existing_loggers": False, "loggers": {"pyck": {"level": "ERROR"}}},
    )
    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def measure(server: Any, label: str, **sync_options: Any) -> dict[str, Any]:
    """Sync `Person` once: its outcome, the requests the server answered (and how many with 429), and the time."""
    # Imported here: Django is configured by setup_django() first.
    from pyck.core.sync import sync_model
    from tests.action_network_support.models import Person

    server.reset_counts()
    started = time.perf_counter()
    result = sync_model(Person, **sync_options)
    elapsed = time.perf_counter() - started
    received = server.received()
    return {
        "label": label,
        "result": str(result).rsplit(" in ", 1)[0],
        "requests": len(received),
        "refused": sum(1 for r in received if r.status == 429),
        "seconds": elapsed,
    }


def run(people: int, changed: float, database_url: str) -> tuple[list[dict[str, Any]], float]:
    """The full sync of `people` people, then an incremental one after `changed` percent were modified; and the
    rate-limit floor of the full sync, in seconds."""
    setup_django(database_url)
    # Imported here: Django is configured by setup_django() first.
    from benchmarks.action_network_server import ActionNetworkServer
    from pyck.contrib.action_network import ActionNetworkDatasource
    from pyck.core.models import SyncRun, SyncState
    from tests.action_network_support.models import Person

    Person.objects.all().delete()
    SyncRun.objects.all().delete()
    SyncState.objects.all().delete()
    start = datetime(2024, 3, 1, tzinfo=UTC)
    stamp = lambda seconds: (start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    measured = []
    with ActionNetworkServer() as server:
        server.api_keys.add(API_KEY)
        ActionNetworkDatasource.base_url = f"{server.url}/api/v2"
        ids = [
            server.add("people", {"given_name": f"Person {i}", "family_name": "Example",
                                  "email_addresses": [{"address": f"p{i}@example.org", "primary": True, "status": "subscribed"}]},
                       modified=stamp(i))
            for i in range(people)
        ]
        measured.append(measure(server, f"full sync, {people:,} people"))
        count = max(1, round(people * changed / 100))
        step = max(1, people // count)
        for n, pid in enumerate(ids[::step][:count]):
            server.update("people", pid, {"given_name": f"Changed {n}"}, modified=stamp(people + 10 + n))
        measured.append(measure(server, f"incremental sync, {count:,} people changed ({changed:g} %)"))
    floor = people / PAGE_SIZE / RATE
    return measured, floor


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--changed", type=float, default=1.0, help="percent of the people modified before the incremental run")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    if args.database_url is None:
        OUT_DIR.mkdir(exist_ok=True)
        database = OUT_DIR / "bench_action_network.sqlite3"
        database.unlink(missing_ok=True)
        args.database_url = f"sqlite:///{database}"
    measured, floor = run(args.people, args.changed, args.database_url)
    full, incremental = measured
    print(f"Python {platform.python_version()}, {platform.machine()}, {args.database_url.split(':')[0]}")
    print()
    print("| Sync | Outcome | requests | 429 answers | seconds |")
    print("|---|---|---:|---:|---:|")
    for row in measured:
        print(f"| {row['label']} | {row['result']} | {row['requests']} | {row['refused']} | {row['seconds']:.1f} |")
    print()
    pages = math.ceil(args.people / PAGE_SIZE)
    print(f"Rate-limit floor of the full sync: {pages} pages at {RATE}/s = {floor:.1f} s; "
          f"measured {full['seconds']:.1f} s = {full['seconds'] / floor:.3f} x the floor.")
    print(f"Requests, full / incremental: {full['requests']} / {incremental['requests']} = "
          f"{full['requests'] / incremental['requests']:.1f} x.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
