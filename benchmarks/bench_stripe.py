"""What a Stripe sync costs against the local Stripe server (`benchmarks/stripe_server.py`) enforcing Stripe's
documented rate limit (25 requests a second per endpoint; https://docs.stripe.com/rate-limits): the time of a
first sync of N customers against the rate-limit floor (pages / limit: the fewest seconds the limit allows),
and the requests of an incremental run through the Events API with a share of the customers changed, against a
full run's.

The model is the docs page's `Customer` (`tests/stripe_support`), synced with `sync_model`. Figures and the
command are in `benchmarks/RESULTS.md`. Run from the repository root:

    python -m benchmarks.bench_stripe                       # 10,000 customers, 1% changed, SQLite in benchmarks/out/
    python -m benchmarks.bench_stripe --database-url postgres://postgres@127.0.0.1:5432/pyck_bench_stripe

A PostgreSQL database named in `--database-url` must exist; its Stripe test app's rows and sync state are
emptied first.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "out"
API_KEY = "sk_test_bench_0123456789"
RATE_LIMIT = 25
PAGE = 100


def setup_django(database_url: str) -> None:
    """Configure Django for the benchmark: pyck and the Stripe test app, in `database_url`, and migrate."""
    # Imported here: the benchmark configures Django itself, after parsing its arguments.
    import dj_database_url
    import django
    from django.conf import settings
    from django.core.management import call_command

    settings.configure(
        SECRET_KEY="pyck-benchmark-not-secret",
        USE_TZ=True,
        TIME_ZONE="UTC",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "pyck.core", "tests.stripe_support"],
        DATABASES={"default": dj_database_url.parse(database_url)},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        STRIPE_API_KEY=API_KEY,
        PYCK={"HTTP_TIMEOUT": 30.0},
        LOGGING={"version": 1, "disable_existing_loggers": False, "loggers": {"pyck": {"level": "ERROR"}}},
    )
    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def measure(server: Any, label: str, floor: float | None, **sync_options: Any) -> dict[str, Any]:
    """Sync `Customer` once: its outcome, the requests (list, events, 429s) and the time."""
    # Imported here: Django is configured by setup_django() first.
    from pyck.core.sync import sync_model
    from tests.stripe_support.models import Customer

    server.reset_counts()
    started = time.perf_counter()
    result = sync_model(Customer, **sync_options)
    elapsed = time.perf_counter() - started
    received = server.requests_to("/v1/")
    return {
        "label": label,
        "result": str(result).rsplit(" in ", 1)[0],
        "list": sum(1 for r in received if r.path == "/v1/customers"),
        "events": sum(1 for r in received if r.path == "/v1/events"),
        "requests": len(received),
        "429": sum(1 for r in received if r.status == 429),
        "seconds": elapsed,
        "floor": floor,
    }


def run(records: int, changed: float, database_url: str) -> list[dict[str, Any]]:
    """A first (full) sync of `records` customers, an incremental run after `changed` percent were updated, and
    a full run for comparison."""
    setup_django(database_url)
    # Imported here: Django is configured by setup_django() first.
    from benchmarks.stripe_server import StripeServer
    from pyck.core.models import SyncRun, SyncState
    from tests.stripe_support import datasources
    from tests.stripe_support.models import Customer

    Customer.objects.all().delete()
    SyncRun.objects.all().delete()
    SyncState.objects.all().delete()
    measured = []
    pages = math.ceil(records / PAGE)
    with StripeServer(rate_limit=RATE_LIMIT) as server:
        server.api_keys.add(API_KEY)
        datasources.customers.base_url = f"{server.url}/v1"
        server.set_clock(time.time() - 3600)  # created an hour ago
        for i in range(records):
            server.add("customer", {"id": f"cus_{i:07d}", "email": f"c{i}@example.org", "name": f"Customer {i}",
                                    "phone": None, "balance": 0, "metadata": {"n": str(i)}})
        server.set_clock(None)
        measured.append(measure(server, f"first sync, {records:,} customers", pages / RATE_LIMIT))
        step = max(1, round(100 / changed)) if changed else records + 1
        updated = 0
        for i in range(0, records, step):
            server.update("customer", f"cus_{i:07d}", name=f"Customer {i} (renamed)")
            updated += 1
        measured.append(measure(server, f"incremental, {updated} customers ({changed:g}%) updated", None))
        measured.append(measure(server, "full run (reconcile), nothing changed since", pages / RATE_LIMIT, mode="full"))
    return measured


def render(measured: list[dict[str, Any]], command: str, database: str) -> str:
    """The figures as a Markdown table, with the machine and the command."""
    lines = [
        f"Command: `{command}`; Python {platform.python_version()}, {database}, {platform.machine()}.",
        "",
        "| Sync | Outcome | list requests | events requests | 429s | seconds | floor (pages / 25 per s) | over the floor |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in measured:
        floor = f"{m['floor']:.2f}" if m["floor"] else "-"
        over = f"{100 * (m['seconds'] / m['floor'] - 1):+.1f}%" if m["floor"] else "-"
        lines.append(
            f"| {m['label']} | {m['result']} | {m['list']} | {m['events']} | {m['429']} | {m['seconds']:.2f} | {floor} | {over} |"
        )
    full, incremental = measured[2]["requests"], measured[1]["requests"]
    lines += ["", f"Requests, full run / incremental run: {full} / {incremental} = {full / max(incremental, 1):.0f}x."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="customers (default 10,000)")
    parser.add_argument("--changed", type=float, default=1.0, help="percent of customers updated (default 1)")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file in benchmarks/out/")
    args = parser.parse_args(argv)
    database_url = args.database_url
    if database_url is None:
        OUT_DIR.mkdir(exist_ok=True)
        path = OUT_DIR / "bench_stripe.sqlite3"
        path.unlink(missing_ok=True)
        database_url = f"sqlite:///{path}"
    measured = run(args.records, args.changed, database_url)
    command = "python -m benchmarks.bench_stripe " + " ".join(sys.argv[1:] if argv is None else argv)
    print(render(measured, command.strip(), "PostgreSQL" if database_url.startswith("postgres") else "SQLite"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
