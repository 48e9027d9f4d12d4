"""The incremental sync benchmark (issue #7): after 1% of the remote records changed, a full re-sync against an
incremental one, and a run interrupted half way against a clean one.

Usage::

    python -m benchmarks.bench_incremental --records 100000 --database sqlite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pyck_bench \\
        python -m benchmarks.bench_incremental --records 100000 --database postgres --output benchmarks/RESULTS.md

The parent process serves N tickets with :class:`benchmarks.server.BenchServer` (``/tickets``, listed in
``(updated_at, id)`` order, ``?updated_since=`` inclusive, offset paging by 100) and runs everything else in one
child process, against a fresh database:

1. *cold*: the first sync of :class:`benchmarks.benchapp.models.Ticket` into the empty table (a full listing,
   which sets the cursor); then, on PostgreSQL, ``VACUUM ANALYZE``; then a copy of the database is kept (a
   file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL).
2. The server changes ``--changed`` tickets (1% by default), spread evenly over the listing: each gets a new
   revision and an ``updated_at`` later than the cursor.
3. *full*: ``sync_model(Ticket, mode="full")`` and *incremental*: ``sync_model(Ticket, mode="incremental")``,
   each after restoring the copy, so both start from the same database (same rows, same cursor, same
   statistics) and see the same change. With ``--repeat`` they take turns (full first, then incremental
   first, ...) and the median wall time of each is reported.
4. *resume*, for each mode (``--repeat`` times; the median of the two runs' total wall time is reported):
   restore the copy, let the server answer half the clean run's requests and then fail every request with
   500 (``HTTP_RETRIES=0`` in the benchmark's settings, so the listing fails), run the sync, lift the
   failure, run it again: the second run goes on from the checkpoint. The figure is the total of requests
   against the clean run's.

Measured per run: wall time of the ``sync_model()`` call alone; HTTP requests (counted by the server, failed
ones included); SQL statements (``connection.execute_wrapper``, savepoints included); *row writes*: the rows
changed by every INSERT, UPDATE and DELETE of the benchmark's tables (a row stamped and then updated counts
twice); *data columns written*: columns other than ``last_sync_time`` set by UPDATEs, times rows. After each
run, outside the timing, the table is compared with what the server serves, ticket by ticket, and the cursor
with the latest ``updated_at``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from benchmarks.bench_sync import (
    OUT_DIR,
    ROOT,
    QueryCounter,
    benchmark_database_url,
    describe_machine,
    reset_database,
    setup_django,
)
from benchmarks.server import DEFAULT_PAGE_SIZE, BenchServer, TicketData

__all__ = ["WriteCounter", "main", "render_markdown", "run_benchmark"]

MODES = ("full", "incremental")
_RESULT_PREFIX = "BENCH-INCREMENTAL-RESULT "
_WRITE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([\w.]+)"?', re.IGNORECASE)


@dataclass
class WriteCounter(QueryCounter):
    """A :class:`~benchmarks.bench_sync.QueryCounter` that also counts the rows written to the benchmark's tables."""

    #: Rows changed by INSERT, UPDATE and DELETE statements on ``pyck_bench_*`` tables (``cursor.rowcount``).
    row_writes: int = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        result = super().__call__(execute, sql, params, many, context)
        match = _WRITE.match(sql)
        if match and match.group(1).startswith("pyck_bench_"):
            self.row_writes += max(context["cursor"].rowcount, 0)
        return result


# --- The child process: every sync, in one process ---------------------------------------------------------------


class _Api:
    """The benchmark server's counters and controls, over a session of their own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def stats(self) -> dict[str, Any]:
        response = self.session.get(f"{self.url}/_stats", timeout=30)
        response.raise_for_status()
        return dict(response.json())

    def control(self, **settings: Any) -> dict[str, Any]:
        response = self.session.post(f"{self.url}/_control", json=settings, timeout=30)
        response.raise_for_status()
        return dict(response.json())


class _Snapshot:
    """A copy of the benchmark database, restored before each measured run so that all start from one state."""

    def __init__(self) -> None:
        from django.db import connection

        self.settings = dict(connection.settings_dict)
        self.sqlite = connection.vendor == "sqlite"
        self.name = str(self.settings["NAME"])
        self.copy = f"{self.name}.snapshot" if self.sqlite else f"{self.name}_snapshot"
        if not self.sqlite and "bench" not in self.name:
            raise SystemExit(f"Refusing to copy over database {self.name!r}: only databases named *bench* are used.")

    def take(self) -> None:
        """Copy the database as it is now."""
        self._copy(self.name, self.copy)

    def restore(self) -> None:
        """Put the database back as it was when :meth:`take` ran, and reconnect."""
        self._copy(self.copy, self.name)

    def discard(self) -> None:
        """Delete the copy."""
        from django.db import connection

        connection.close()
        if self.sqlite:
            Path(self.copy).unlink(missing_ok=True)
        else:
            with self._admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.copy}" WITH (FORCE)')

    def _copy(self, source: str, target: str) -> None:
        from django.db import connection

        connection.close()
        if self.sqlite:
            for suffix in ("-journal", "-wal", "-shm"):
                Path(target + suffix).unlink(missing_ok=True)
            shutil.copyfile(source, target)
        else:
            with self._admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
                admin.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
        connection.ensure_connection()  # not inside the next run's timing

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.settings["HOST"] or None,
            port=self.settings["PORT"] or None,
            user=self.settings["USER"] or None,
            password=self.settings["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
        )


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _measure(api: _Api, scenario: str, **options: Any) -> dict[str, Any]:
    """Run ``sync_model(Ticket, **options)`` and return what it cost and did."""
    from django.db import connection

    from benchmarks.benchapp.models import Ticket
    from pyck.core.sync import sync_model

    before = api.stats()
    counter = WriteCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        result = sync_model(Ticket, **options)
        seconds = time.perf_counter() - started
    after = api.stats()
    measured = {
        "scenario": scenario,
        "mode": result.mode,
        "resumed": result.resumed,
        "status": result.status,
        "seconds": seconds,
        "http_requests": after["requests"] - before["requests"],
        "http_failed": after["failed"] - before["failed"],
        "queries": counter.queries,
        "queries_by_kind": dict(counter.by_kind),
        "row_writes": counter.row_writes,
        "data_columns": counter.data_columns,
        "columns_written": dict(counter.columns),
        "counts": {name: getattr(result, name) for name in ("created", "updated", "unchanged", "deleted", "failed")},
        "errors": [str(error)[:300] for error in result.errors[:3]],
    }
    _log(
        f"  {scenario}: {seconds:.2f} s, {measured['http_requests']} requests, {counter.queries} queries, "
        f"{counter.row_writes} row writes, {result}"
    )
    return measured


def _verify(expected: TicketData) -> None:
    """Check that the table holds exactly the served tickets and the cursor is the latest ``updated_at``."""
    from benchmarks.benchapp.models import Ticket
    from pyck.core.models import SyncState

    fields = ("subject", "status", "priority", "assignee", "updated_at")
    seen = 0
    previous = None
    rows = Ticket.objects.order_by("external_id").values_list("external_id", *fields).iterator(chunk_size=5000)
    for row in rows:
        seen += 1
        if row[0] == previous:
            raise AssertionError(f"ticket {row[0]} is stored twice")
        previous = row[0]
        want = expected.ticket(row[0])
        if want is None:
            raise AssertionError(f"ticket {row[0]} is stored, the API has no such ticket")
        for name, value in zip(fields, row[1:], strict=True):
            wanted = datetime.fromisoformat(want[name]) if name == "updated_at" else want[name]
            if value != wanted:
                raise AssertionError(f"ticket {row[0]} has {name}={value!r}, the API says {wanted!r}")
    if seen != expected.records:
        raise AssertionError(f"{seen} tickets stored, the API serves {expected.records}")
    state = SyncState.objects.get(model="pyck_bench.Ticket", partition="")
    if state.checkpoint is not None:
        raise AssertionError(f"a checkpoint is left after a complete run: {state.checkpoint}")
    cursor = datetime.fromisoformat(state.cursor["datetime"]) if state.cursor else None
    if cursor != expected.latest():
        raise AssertionError(f"the cursor is {cursor}, the latest updated_at is {expected.latest()}")


def _checkpoint() -> Any:
    from pyck.core.models import SyncState

    return SyncState.objects.get(model="pyck_bench.Ticket", partition="").checkpoint


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings

    call_command("migrate", verbosity=0, interactive=False)
    from benchmarks.benchapp import datasources

    datasources.point_at(spec["url"])
    api = _Api(spec["url"])
    records, changed, repeat = spec["records"], spec["changed"], spec["repeat"]
    expected = TicketData(records)  # rebuilt alongside the server's: the same calls give the same data
    api.control(reset=True, fail_after=None, delay=0)

    _log(f"[{records}] cold sync")
    cold = _measure(api, "cold")
    _verify(expected)
    if connection.vendor == "postgresql":
        # The re-syncs come hours after the first one in real life, after autovacuum has refreshed the statistics.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    cursor_before = expected.latest()
    snapshot = _Snapshot()
    snapshot.take()
    try:
        changed_ids = api.control(change=changed)["changed"]
        if changed_ids != expected.change(changed):
            raise AssertionError("the server changed other tickets than the benchmark expects")
        pages = {
            "full": -(-records // DEFAULT_PAGE_SIZE),
            "incremental": -(-len(expected.listing(since=cursor_before)) // DEFAULT_PAGE_SIZE),
        }
        tries: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
        for attempt in range(repeat):
            for mode in MODES if attempt % 2 == 0 else MODES[::-1]:
                _log(f"[{records}] {mode} sync after {changed} changed, attempt {attempt + 1}")
                snapshot.restore()
                tries[mode].append(_measure(api, mode, mode=mode))
                _verify(expected)
        runs = {}
        for mode, measured in tries.items():
            median = sorted(measured, key=lambda m: m["seconds"])[(len(measured) - 1) // 2]
            runs[mode] = {**median, "attempts": [m["seconds"] for m in measured]}

        resumes: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
        for attempt in range(repeat):
            for mode in MODES:
                clean = runs[mode]["http_requests"]
                cut = max(1, clean // 2)
                _log(f"[{records}] {mode} sync cut after {cut} of {clean} requests, resumed, attempt {attempt + 1}")
                snapshot.restore()
                # One page at a time: with concurrent fetching (SYNC_CONCURRENT_PAGES) a page already in flight
                # when the cut comes fails too, and the request counts would depend on timing.
                with override_settings(PYCK={**settings.PYCK, "SYNC_CONCURRENT_PAGES": 1}):
                    api.control(fail_after=cut)
                    interrupted = _measure(api, f"interrupted {mode}", mode=mode)
                    api.control(fail_after=None)
                    checkpoint = _checkpoint()
                    resumed = _measure(api, f"resumed {mode}", mode=mode)
                _verify(expected)
                if interrupted["status"] != "failed" or not resumed["resumed"] or resumed["status"] != "succeeded":
                    raise AssertionError(f"the {mode} run was not interrupted and resumed: {interrupted} {resumed}")
                resumes[mode].append(
                    {"cut": cut, "checkpoint": checkpoint, "interrupted": interrupted, "resumed": resumed}
                )
        resume = {}
        for mode, measured in resumes.items():
            seconds = [m["interrupted"]["seconds"] + m["resumed"]["seconds"] for m in measured]
            median = sorted(measured, key=lambda m: m["interrupted"]["seconds"] + m["resumed"]["seconds"])
            resume[mode] = {**median[(len(measured) - 1) // 2], "attempts": seconds}
    finally:
        snapshot.discard()
    return {
        "records": records,
        "changed": changed,
        "repeat": repeat,
        "changed_ids_sample": changed_ids[:5],
        "pages": pages,
        "cold": cold,
        "runs": runs,
        "resume": resume,
    }


# --- The harness ------------------------------------------------------------------------------------------------


def _spawn(spec: dict[str, Any], database_url: str) -> dict[str, Any]:
    env = {**os.environ, "PYCK_BENCH_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "benchmarks.bench_incremental", "--_child", json.dumps(spec)]
    # The child's progress goes to our stderr as it comes; its result is the last marked line of its stdout.
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(_RESULT_PREFIX)]
    if done.returncode or not lines:
        raise RuntimeError(f"the benchmark's child failed (exit {done.returncode}):\n{done.stdout[-3000:]}")
    return dict(json.loads(lines[-1][len(_RESULT_PREFIX) :]))


def run_benchmark(
    records: int,
    changed: int | None = None,
    database: str = "sqlite",
    *,
    sqlite_path: Path = OUT_DIR / "bench_incremental.sqlite3",
    repeat: int = 1,
) -> dict[str, Any]:
    """Run the whole benchmark (see the module's docstring) and return its figures.

    Args:
        records: how many tickets the server serves.
        changed: how many change between the cold sync and the measured runs (default: 1% of ``records``).
        database: ``"sqlite"`` (a file at ``sqlite_path``) or ``"postgres"`` (``DATABASE_URL``, by default
            ``postgres://postgres@127.0.0.1:5432/pyck_bench``; the database is dropped and recreated, and a copy
            named ``<name>_snapshot`` is made and dropped).
        repeat: how many times to measure each of the full and the incremental run (the median is reported).
    """
    changed = max(1, records // 100) if changed is None else changed
    if not 1 <= changed < records or records < 2 or repeat < 1:
        raise ValueError("need 1 <= changed < records and repeat >= 1")
    url = benchmark_database_url(database, sqlite_path)
    reset_database(url)
    with BenchServer(records) as server:
        spec = {"url": server.url, "records": records, "changed": changed, "repeat": repeat}
        return _spawn(spec, url)


# --- Reporting ------------------------------------------------------------------------------------------------


def _counts(m: dict[str, Any]) -> str:
    c = m["counts"]
    return f"{c['created']:,} / {c['updated']:,} / {c['unchanged']:,}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:,.1f}×" if b else "–"


def _position(checkpoint: Any) -> str:
    position = (checkpoint or {}).get("position") or {}
    return f"offset {position['page']:,}, item {position['index']}" if position else "none"


def render_markdown(figures: dict[str, Any], database: str, command: str) -> str:
    """The figures as a Markdown section for ``benchmarks/RESULTS.md``."""
    records, changed = figures["records"], figures["changed"]
    cold, full, incremental = figures["cold"], figures["runs"]["full"], figures["runs"]["incremental"]
    pages = figures["pages"]
    lines = [
        f"### Incremental syncs, {database} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {describe_machine(database)}.  ",
        f"{records:,} tickets; {changed:,} of them ({changed / records:.0%}) changed after the cold sync, spread "
        "evenly over the listing. The full and the incremental run each start from the same copy of the database "
        "and see the same change; wall time covers the `sync_model()` call only"
        + (f"; median of {figures['repeat']} attempts each, taking turns." if figures["repeat"] > 1 else "."),
        "",
        "| run | mode | wall (s) | HTTP requests | listing pages | SQL queries | row writes "
        "| data columns written | created / updated / unchanged |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    rows = [
        ("cold: first sync, empty table", cold, pages["full"]),
        (f"full re-sync after {changed:,} changed", full, pages["full"]),
        (f"incremental sync after the same {changed:,} changed", incremental, pages["incremental"]),
    ]
    for label, m, expected_pages in rows:
        lines.append(
            f"| {label} | {m['mode']} | {m['seconds']:,.2f} | {m['http_requests']:,} | {expected_pages:,} "
            f"| {m['queries']:,} | {m['row_writes']:,} | {m['data_columns']:,} | {_counts(m)} |"
        )
    lines += [
        "",
        "Incremental against full, after the same change: "
        f"{_ratio(full['http_requests'], incremental['http_requests'])} fewer HTTP requests, "
        f"{_ratio(full['seconds'], incremental['seconds'])} less wall time, "
        f"{_ratio(full['queries'], incremental['queries'])} fewer SQL queries, "
        f"{_ratio(full['row_writes'], incremental['row_writes'])} fewer row writes; the same "
        f"{incremental['counts']['updated']:,} tickets updated.",
        "",
        "Resume: the server answers the first half of the clean run's requests, then 500 to every request; the "
        "run fails; the failure is lifted and the next run goes on from the checkpoint.",
        "",
        "| mode | clean run: requests | interrupted run: requests (failed) | checkpoint | resumed run: requests "
        "| total requests | extra | wall, interrupted + resumed (s) | wall, clean (s) |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for mode in MODES:
        r = figures["resume"][mode]
        clean = figures["runs"][mode]
        interrupted, resumed = r["interrupted"], r["resumed"]
        total = interrupted["http_requests"] + resumed["http_requests"]
        lines.append(
            f"| {mode} | {clean['http_requests']:,} | {interrupted['http_requests']:,} ({interrupted['http_failed']}) "
            f"| {_position(r['checkpoint'])} | {resumed['http_requests']:,} | {total:,} "
            f"| +{total - clean['http_requests']:,} | {interrupted['seconds'] + resumed['seconds']:,.2f} "
            f"| {clean['seconds']:,.2f} |"
        )
    lines += ["", "<details><summary>Per-run details</summary>", ""]
    details = [("cold", cold), ("full", full), ("incremental", incremental)]
    for mode in MODES:
        r = figures["resume"][mode]
        details += [(f"interrupted {mode}", {**r["interrupted"], "attempts": None})]
        details += [(f"resumed {mode}", {**r["resumed"], "attempts": r.get("attempts")})]
    for label, m in details:
        attempts = m.get("attempts") or []
        what = "interrupted + resumed wall times" if label.startswith("resumed") else "wall times"
        lines.append(
            f"- {label}: {m['seconds']:.2f} s; status {m['status']}{', resumed' if m['resumed'] else ''}; "
            f"counts {m['counts']}; SQL by kind {m['queries_by_kind']}; "
            f"data columns written {m['columns_written'] or 0}"
            + (f"; {what} of the {len(attempts)} attempts {[round(t, 2) for t in attempts]} s" if attempts[1:] else "")
        )
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point: ``python -m benchmarks.bench_incremental --records 100000 --database sqlite``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--_child"]:
        print(_RESULT_PREFIX + json.dumps(_child(json.loads(argv[1])), default=str), flush=True)
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_incremental", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--records", type=int, default=100_000, help="tickets served (default 100000)")
    parser.add_argument("--changed", type=int, default=None, help="tickets changed before the runs (default 1%%)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sqlite-path", type=Path, default=OUT_DIR / "bench_incremental.sqlite3", help="SQLite file")
    parser.add_argument("--repeat", type=int, default=1, help="attempts of the full and incremental runs; median")
    parser.add_argument("--output", type=Path, help="append the Markdown to this file (e.g. benchmarks/RESULTS.md)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    args = parser.parse_args(argv)
    try:
        figures = run_benchmark(
            args.records, args.changed, args.database, sqlite_path=args.sqlite_path, repeat=args.repeat
        )
    except ValueError as error:
        parser.error(str(error))
    markdown = render_markdown(figures, args.database, "python -m benchmarks.bench_incremental " + " ".join(argv))
    print(markdown)
    if args.output:
        with args.output.open("a") as out:
            out.write("\n" + markdown)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
