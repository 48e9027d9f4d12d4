"""Micro-benchmark of the write paths of one batch: the ORM's bulk methods against :mod:`pyck.core.sync.bulk`.

Usage (the database is dropped and recreated; its name must contain ``bench``)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pyck_bench python -m benchmarks.bench_bulk --database postgres
    python -m benchmarks.bench_bulk --database sqlite

For each batch size it times, on the benchmark's ``Member`` table (8 columns, a FK) holding 20,000 rows:

- insert: ``bulk_create`` against ``bulk.insert`` (PostgreSQL ``COPY``, SQLite ``executemany``);
- update of every row of the batch, each changing two of four columns: one ``bulk_update`` per column plus the
  ``last_sync_time`` stamp (the engine before issue #9) against ``bulk.update`` as the engine calls it (SQLite:
  one ``UPDATE ... FROM (VALUES ...)`` setting the changed columns and the stamp; PostgreSQL: from 50 rows,
  ``COPY`` into a temporary table then one ``UPDATE ... FROM`` it) and, on PostgreSQL, ``bulk.update`` forced to
  ``VALUES``, and a standalone version of the temporary-table path.

Each figure is the best of ``--repeat`` runs, in rows per second, inside one transaction rolled back afterwards.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.bench_sync import OUT_DIR, benchmark_database_url, reset_database, setup_django

__all__ = ["main"]


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    setup_django()
    from django.core.management import call_command
    from django.db import connection, transaction

    from benchmarks.benchapp.models import Member, Party
    from pyck.core.sync import bulk

    call_command("migrate", verbosity=0, interactive=False)
    party = Party.objects.create(external_id=1, name="P", colour="000000")
    stamp = datetime(2026, 1, 1, tzinfo=UTC)

    def member(i: int, generation: int = 0) -> Member:
        return Member(
            pk=uuid.uuid4(), external_id=i, name=f"Member {i} {generation}", membership_number=i,
            joined_on=date(2000, 1, 1), active=bool(i % 2), dues=Decimal("1.50"), nickname=None,
            party_id=party.pk, last_sync_time=stamp,
        )

    base = [member(i) for i in range(20_000)]
    Member.objects.bulk_create(base, batch_size=5000)
    results: dict[str, dict[int, float]] = {}

    def timed(name: str, size: int, run: Callable[[], None]) -> None:
        best = float("inf")
        for _ in range(spec["repeat"]):
            with transaction.atomic():
                started = time.perf_counter()
                run()
                best = min(best, time.perf_counter() - started)
                transaction.set_rollback(True)
        results.setdefault(name, {})[size] = size / best

    for size in spec["sizes"]:
        changes = []
        for i, row in enumerate(base[:size]):
            columns = [("name", f"New {i}"), ("membership_number", -i), ("active", not row.active), ("nickname", "n")]
            changes.append((row.pk, dict(columns[i % 4 : i % 4 + 2] if i % 4 < 3 else [columns[3], columns[0]])))
        timed("insert: bulk_create", size, lambda: Member.objects.bulk_create([member(100_000 + i) for i in range(size)]))
        timed("insert: bulk.insert", size, lambda: bulk.insert(Member, [_as_dict(member(100_000 + i)) for i in range(size)]))
        timed("update: bulk_update per column + stamp", size, lambda: _orm_update(bulk, Member, changes, stamp))
        timed("update: bulk.update", size, lambda: bulk.update(Member, changes, stamp=("last_sync_time", stamp)))
        if connection.vendor == "postgresql":
            threshold, bulk.COPY_UPDATE_MIN_ROWS = bulk.COPY_UPDATE_MIN_ROWS, 10**9
            timed("update: bulk.update forced to UPDATE ... FROM (VALUES ...)", size, lambda: bulk.update(Member, changes, stamp=("last_sync_time", stamp)))
            bulk.COPY_UPDATE_MIN_ROWS = threshold
            timed("update: COPY to temp table + UPDATE FROM (standalone)", size, lambda: _copy_update(connection, Member, changes, stamp))
    return {"results": results, "vendor": connection.vendor}


def _as_dict(instance: Any) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def _orm_update(bulk: Any, model: Any, changes: list[tuple[Any, dict[str, Any]]], stamp: datetime) -> None:
    fields = [model._meta.get_field(name) for name in dict.fromkeys(n for _, v in changes for n in v)]
    bulk._orm_update(model, changes, fields, ("last_sync_time", stamp))


def _copy_update(connection: Any, model: Any, changes: list[tuple[Any, dict[str, Any]]], stamp: datetime) -> None:
    """The alternative measured: COPY (pk, value and flag per column) into a temporary table, one UPDATE FROM it."""
    names = list(dict.fromkeys(n for _, v in changes for n in v))
    fields = [model._meta.get_field(n) for n in names]
    columns = ", ".join(f"v{i} {f.db_type(connection)}, f{i} boolean" for i, f in enumerate(fields))
    sets = ", ".join(
        f'"{f.column}" = CASE WHEN t.f{i} THEN t.v{i} ELSE m."{f.column}" END' for i, f in enumerate(fields)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE pyck_changes (k uuid, {columns}) ON COMMIT DROP")
        with cursor.cursor.copy("COPY pyck_changes FROM STDIN") as copy:
            for pk, values in changes:
                row: list[Any] = [pk]
                for name, f in zip(names, fields):
                    row += [f.get_db_prep_save(values[name], connection) if name in values else None, name in values]
                copy.write_row(row)
        cursor.execute(
            f'UPDATE {model._meta.db_table} AS m SET {sets}, last_sync_time = %s FROM pyck_changes t WHERE m.id = t.k',
            [stamp],
        )
        cursor.execute("DROP TABLE pyck_changes")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_child"]:
        import json

        print("BENCH-RESULT " + json.dumps(_child(json.loads(argv[2]))), flush=True)
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_bulk", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 5000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    url = benchmark_database_url(args.database, OUT_DIR / "bench_bulk.sqlite3")
    reset_database(url)
    result = _spawn_bulk({"sizes": args.sizes, "repeat": args.repeat}, url)
    print(f"Write paths, {result['vendor']}, rows/s (best of {args.repeat}; Member table of 20,000 rows):\n")
    print("| path | " + " | ".join(f"batch {s:,}" for s in args.sizes) + " |")
    print("|---|" + "---:|" * len(args.sizes))
    for name, by_size in result["results"].items():
        print(f"| {name} | " + " | ".join(f"{by_size[str(s)]:,.0f}" for s in args.sizes) + " |")
    return 0


def _spawn_bulk(spec: dict[str, Any], url: str) -> dict[str, Any]:
    import json
    import os
    import subprocess

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYCK_BENCH_DATABASE_URL": url, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_bulk", "--_child", "run", json.dumps(spec)],
        cwd=root, env=env, capture_output=True, text=True,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH-RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"bench_bulk failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return dict(json.loads(lines[-1][len("BENCH-RESULT ") :]))


if __name__ == "__main__":
    sys.exit(main())
