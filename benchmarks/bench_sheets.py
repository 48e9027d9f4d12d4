"""What a Google Sheets sync costs, against the local Sheets server (`benchmarks/sheets_server.py`): the requests
and queries of a first sync and of an unchanged re-sync of an N-row sheet, and the requests of deletion
confirmation with `get()` answered from the run's read (`cache_seconds`, the default 60) against a `get()` that
reads the sheet each time (`cache_seconds=0`), measured in the same run.

The model is the docs page's `Volunteer` (`tests/sheets_support`), synced with `sync_model`. Figures and the
command are in `benchmarks/RESULTS.md`. Run from the repository root:

    python -m benchmarks.bench_sheets                       # 5,000 rows, SQLite in benchmarks/out/
    python -m benchmarks.bench_sheets --rows 5000 --vanish 100 --service-account
    python -m benchmarks.bench_sheets --database-url postgres://postgres@127.0.0.1:5432/pyck_bench_sheets

A PostgreSQL database named in `--database-url` must exist; its `Volunteer` rows and sync state are emptied first.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "out"
HEADER = ["Email", "Full name", "Hours", "Active", "Date joined", "Last shift"]
API_KEY = "AIza-bench-key"


def sheet_rows(count: int) -> list[list[Any]]:
    """A header and `count` volunteers, each value derived from the row's number."""
    return [HEADER] + [
        [f"v{i}@example.org", f"Volunteer {i}", i / 4, i % 3 == 0, datetime(2020 + i % 5, 1 + i % 12, 1 + i % 28),
         datetime(2024, 1 + i % 12, 1 + i % 28, i % 24, i % 60)]
        for i in range(1, count + 1)
    ]


def setup_django(database_url: str) -> None:
    """Configure Django for the benchmark: pyck and the Sheets test app, in `database_url`, and migrate."""
    # Imported here: the benchmark configures Django itself, after parsing its arguments.
    import dj_database_url
    import django
    from django.conf import settings
    from django.core.management import call_command

    settings.configure(
        SECRET_KEY="pyck-benchmark-not-secret",
        USE_TZ=True,
        TIME_ZONE="UTC",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "pyck.core", "tests.sheets_support"],
        DATABASES={"default": dj_database_url.parse(database_url)},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        PYCK={"HTTP_TIMEOUT": 30.0, "HTTP_RETRIES": 0},
        LOGGING={"version": 1, "disable_existing_loggers": False, "loggers": {"pyck": {"level": "ERROR"}}},
    )
    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def is_write(sql: str) -> bool:
    """Whether a statement writes rows (a PostgreSQL server-side cursor's `DECLARE ... FOR SELECT` reads)."""
    return sql.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE", "COPY")


def measure(server: Any, label: str, **sync_options: Any) -> dict[str, Any]:
    """Sync the model once; its outcome, requests, queries (all, and writes to the model's table) and time."""
    # Imported here: Django is configured by setup_django() first.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from pyck.core.sync import sync_model
    from tests.sheets_support.models import Volunteer

    table = Volunteer._meta.db_table
    server.reset_counts()
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        result = sync_model(Volunteer, **sync_options)
    elapsed = time.perf_counter() - started
    sql = [q["sql"] for q in queries.captured_queries]
    return {
        "label": label,
        "result": str(result).rsplit(" in ", 1)[0],
        "values": len(server.requests_to("values")),
        "token": len(server.requests_to("token")),
        "queries": len(sql),
        "writes": sum(1 for q in sql if table in q and is_write(q)),
        "seconds": elapsed,
    }


def run(rows: int, vanish: int, service_account: bool, database_url: str) -> list[dict[str, Any]]:
    """The five syncs: first, unchanged, `vanish` rows gone (kept read), restored, gone again (no kept read)."""
    setup_django(database_url)
    # Imported here: Django is configured by setup_django() first.
    from benchmarks.sheets_server import SheetsServer
    from pyck.core.models import SyncRun, SyncState
    from tests.sheets_support.models import Volunteer
    from tests.sheets_support.sheets import volunteers

    Volunteer.objects.all().delete()
    SyncRun.objects.all().delete()
    SyncState.objects.all().delete()
    measured = []
    with SheetsServer() as server:
        data = sheet_rows(rows)
        server.add_sheet(volunteers.spreadsheet_id, "Volunteers", data, public=not service_account)
        volunteers.base_url = f"{server.url}/v4"
        if service_account:
            volunteers.service_account = server.service_account_key()
        else:
            server.api_keys.add(API_KEY)
            volunteers.api_key = API_KEY
        gone = slice(rows // 2, rows // 2 + vanish)  # rows of the sheet (after the header) that vanish
        kept = data[gone]
        measured.append(measure(server, f"first sync, {rows:,} rows"))
        measured.append(measure(server, "re-sync, sheet unchanged"))
        del data[gone]
        measured.append(measure(server, f"{vanish} rows vanished, get() from the run's read (cache_seconds=60)", max_delete_fraction=1.0))
        data[gone.start:gone.start] = kept
        measured.append(measure(server, f"{vanish} rows back (created again)"))
        del data[gone]
        volunteers.cache_seconds = 0
        measured.append(measure(server, f"{vanish} rows vanished, every get() reads the sheet (cache_seconds=0)", max_delete_fraction=1.0))
    return measured


def render(measured: list[dict[str, Any]], command: str, database: str) -> str:
    """The figures as a Markdown table, with the machine and the command."""
    lines = [
        f"Command: `{command}`; Python {platform.python_version()}, {database}, {platform.machine()}.",
        "",
        "| Sync | Outcome | values.get requests | token requests | queries | writes to the table | seconds |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for m in measured:
        lines.append(
            f"| {m['label']} | {m['result']} | {m['values']} | {m['token']} | {m['queries']} | {m['writes']} | "
            f"{m['seconds']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000, help="rows of the sheet (default 5,000)")
    parser.add_argument("--vanish", type=int, default=100, help="rows removed for the deletion runs (default 100)")
    parser.add_argument("--service-account", action="store_true", help="a private sheet read with a service account")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file in benchmarks/out/")
    args = parser.parse_args(argv)
    database_url = args.database_url
    if database_url is None:
        OUT_DIR.mkdir(exist_ok=True)
        path = OUT_DIR / "bench_sheets.sqlite3"
        path.unlink(missing_ok=True)
        database_url = f"sqlite:///{path}"
    measured = run(args.rows, args.vanish, args.service_account, database_url)
    command = "python -m benchmarks.bench_sheets " + " ".join(sys.argv[1:] if argv is None else argv)
    print(render(measured, command.strip(), "PostgreSQL" if database_url.startswith("postgres") else "SQLite"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
