"""The benchmark harnesses (``benchmarks/``): their server, their SQL accounting, and tiny end-to-end runs.

The end-to-end runs use SQLite, or PostgreSQL when ``DATABASE_URL`` is set (in databases of their own, named
after the test database plus ``_bench_smoke_py3XX`` and ``_bench_incremental_smoke_py3XX``, dropped when the
run ends), so the harnesses cannot rot unnoticed on either.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from benchmarks.bench_incremental import main as bench_incremental_main
from benchmarks.bench_sync import drop_database, written_columns
from benchmarks.bench_sync import main as bench_main
from benchmarks.server import TICKETS_EPOCH, BenchData, BenchServer, TicketData

# --- The server -------------------------------------------------------------------------------------------------


def test_data_is_deterministic_and_forms_a_fk_chain() -> None:
    data = BenchData(1000)
    assert (data.records, data.parties, data.regions) == (1000, 10, 1)
    assert BenchData(1000).member(7) == data.member(7)
    member = data.member(7)
    assert set(member) == {"id", "name", "membership_number", "joined_on", "active", "dues", "nickname", "party"}
    assert data.item("parties", member["party"]) is not None
    assert data.item("regions", data.party(member["party"])["region"]) is not None
    assert {data.party_of(i) for i in range(1, 1001)} == set(range(1, 11))
    assert {data.member(i)["nickname"] is None for i in range(1, 50)} == {True, False}


def test_listing_pages_and_items() -> None:
    with BenchServer(records=250) as server:
        session = requests.Session()
        first = session.get(f"{server.url}/members", params={"page": 1, "page_size": 100}).json()
        last = session.get(f"{server.url}/members", params={"page": 3, "page_size": 100}).json()
        past = session.get(f"{server.url}/members", params={"page": 4, "page_size": 100}).json()
        assert first["total_pages"] == 3
        assert [m["id"] for m in first["items"]] == list(range(1, 101))
        assert [m["id"] for m in last["items"]] == list(range(201, 251))
        assert past["items"] == []
        assert session.get(f"{server.url}/members/250/").json() == server.data.member(250)
        assert session.get(f"{server.url}/parties/2/").json() == server.data.party(2)
        assert session.get(f"{server.url}/members/251/").status_code == 404
        assert session.get(f"{server.url}/members", params={"page_size": 5000}).status_code == 400
        assert session.get(f"{server.url}/nowhere").status_code == 404


def test_requests_are_counted_but_stats_are_not() -> None:
    with BenchServer(records=10) as server:
        session = requests.Session()
        session.get(f"{server.url}/members")
        session.get(f"{server.url}/members/1/")
        session.get(f"{server.url}/members/1/")
        stats = session.get(f"{server.url}/_stats").json()
        assert stats["requests"] == 3
        assert stats["by_endpoint"] == {"members:list": 1, "members:get": 2}
        assert stats["connections"] == 1
        assert server.requests == 3


def test_keep_alive_requests_do_not_stall() -> None:
    # With Nagle's algorithm on, each keep-alive request waits ~40 ms for a delayed ACK: 25 requests >= 1 s.
    with BenchServer(records=1000) as server:
        session = requests.Session()
        session.get(f"{server.url}/members/1/")
        started = time.perf_counter()
        for i in range(25):
            assert session.get(f"{server.url}/members", params={"page": i % 10 + 1}).ok
        elapsed = time.perf_counter() - started
        assert server.stats()["connections"] == 1
    assert elapsed < 0.75, f"25 keep-alive requests took {elapsed:.2f} s"


def test_tickets_are_listed_by_update_time_and_filtered_inclusively() -> None:
    with BenchServer(records=250) as server:
        session = requests.Session()
        first = session.get(f"{server.url}/tickets", params={"offset": 0, "limit": 100}).json()
        assert first["total"] == 250 and [t["id"] for t in first["items"]] == list(range(1, 101))
        assert first["items"][0]["updated_at"] == (TICKETS_EPOCH + timedelta(seconds=1)).isoformat()

        changed = session.post(f"{server.url}/_control", json={"change": 5}).json()["changed"]
        assert changed == [1, 51, 101, 151, 201]  # spread evenly over the listing
        since = server.tickets.ticket(250)["updated_at"]  # the last ticket before the change: inclusive
        listed = session.get(f"{server.url}/tickets", params={"updated_since": since, "limit": 100}).json()
        assert listed["total"] == 6 and [t["id"] for t in listed["items"]] == [250, *changed]
        assert all(t["subject"].endswith("(edit 1)") for t in listed["items"][1:])
        stamps = [t["updated_at"] for t in listed["items"]]
        assert stamps == sorted(stamps) and len(set(stamps)) == 6
        everything = server.tickets.listing()
        assert [t["id"] for t in everything][-6:] == [250, *changed] and len(everything) == 250
        assert session.get(f"{server.url}/tickets/51/").json() == server.tickets.ticket(51)

        # A client rebuilds the same data with the same calls; a reset undoes every change.
        mirror = TicketData(250)
        assert mirror.change(5) == changed and mirror.listing() == everything
        assert session.post(f"{server.url}/_control", json={"change": 5}).json()["changed"] == [38, 88, 138, 188, 238]
        session.post(f"{server.url}/_control", json={"reset": True})
        assert server.tickets.listing() == TicketData(250).listing()
        assert session.get(f"{server.url}/tickets", params={"offset": 0, "limit": 5000}).status_code == 400
        assert session.get(f"{server.url}/tickets", params={"updated_since": "yesterday"}).status_code == 400
        assert session.post(f"{server.url}/_control", json={"explode": True}).status_code == 400


def test_injected_failures_and_the_request_log() -> None:
    with BenchServer(records=30) as server:
        session = requests.Session()
        server.control(fail_after=2)
        pages = [session.get(f"{server.url}/tickets", params={"offset": o, "limit": 10}) for o in (0, 10, 20)]
        statuses = [page.status_code for page in pages]
        assert statuses == [200, 200, 500]
        assert session.get(f"{server.url}/tickets/1/").status_code == 500  # every request, until lifted
        server.control(fail_after=None)
        assert session.get(f"{server.url}/tickets/1/").status_code == 200
        stats = server.stats()
        assert stats["requests"] == 5 and stats["failed"] == 2
        log = server.log()
        assert [(r.endpoint, r.query.get("offset"), r.served) for r in log] == [
            ("tickets:list", "0", True),
            ("tickets:list", "10", True),
            ("tickets:list", "20", False),
            ("tickets:get", None, False),
            ("tickets:get", None, True),
        ]
        assert len({r.client for r in log}) == 1  # one keep-alive connection


# --- Counting the columns an UPDATE writes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ('UPDATE "t" SET "name" = %s, "last_sync_time" = %s WHERE "t"."id" = %s', ("t", ["name", "last_sync_time"])),
        (
            'UPDATE "t" SET "dues" = CASE WHEN ("t"."id" = %s) THEN CAST(%s AS numeric(8, 2)) ELSE NULL END, '
            '"nickname" = CASE WHEN ("t"."id" = %s) THEN %s ELSE NULL END WHERE "t"."id" IN (%s, %s)',
            ("t", ["dues", "nickname"]),
        ),
        ('UPDATE "t" SET "name" = \'a, "b" = 1\' WHERE id = 1', ("t", ["name"])),
        ('UPDATE "t" SET "name" = %s RETURNING "t"."id"', ("t", ["name"])),
        (
            'INSERT INTO "t" ("id", "name", "code") VALUES (%s, %s, %s) ON CONFLICT("id") '
            'DO UPDATE SET "name" = EXCLUDED."name", "code" = EXCLUDED."code"',
            ("t", ["name", "code"]),
        ),
        (
            'UPDATE "t" SET "name" = v.v0, "code" = CASE WHEN v.f1 THEN v.v1 ELSE "t"."code" END, "last_sync_time" = %s '
            'FROM (VALUES (%s::uuid, %s::varchar, %s::varchar, %s::boolean)) AS v(k, v0, v1, f1) WHERE "t"."id" = v.k',
            ("t", ["name", "code", "last_sync_time"]),
        ),
        ('INSERT INTO "t" ("id", "name") VALUES (%s, %s)', (None, [])),
        ('SELECT "t"."id" FROM "t" WHERE "t"."name" = \'UPDATE x SET y = 1\'', (None, [])),
    ],
)
def test_written_columns(sql: str, expected: tuple[str | None, list[str]]) -> None:
    assert written_columns(sql) == expected


# --- A tiny run of the whole benchmark ------------------------------------------------------------------------


def _database_args(tmp_path: Path, suffix: str = "bench_smoke") -> tuple[list[str], str | None]:
    url = os.environ.get("DATABASE_URL")
    if not url or not url.startswith("postgres"):
        return ["--database", "sqlite", "--sqlite-path", str(tmp_path / "bench.sqlite3")], None
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'pyck'}_{suffix}_py{sys.version_info.major}{sys.version_info.minor}"
    return ["--database", "postgres"], urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def _benchmark_database(tmp_path: Path, suffix: str) -> Iterator[tuple[list[str], str | None]]:
    """The benchmark's database arguments and PostgreSQL URL (see `_database_args`); the database is dropped on
    the way out, whatever happened, so `DATABASE_URL=postgres://... make test` leaves none behind."""
    args, database_url = _database_args(tmp_path, suffix)
    if database_url is None:
        yield args, None
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", database_url)
        try:
            yield args, database_url
        finally:
            drop_database(database_url)


def _postgres_databases(database_url: str) -> set[str]:
    """The names of the databases on the PostgreSQL server of `database_url`."""
    import psycopg

    maintenance = urlunsplit(urlsplit(database_url)._replace(path="/postgres", query=""))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        return {row[0] for row in connection.execute("SELECT datname FROM pg_database")}


def _assert_dropped(database_url: str | None) -> None:
    if database_url is not None:
        name = urlsplit(database_url).path.lstrip("/")
        left = {n for n in _postgres_databases(database_url) if n.startswith(name)}
        assert not left, f"the benchmark left {sorted(left)} behind"


def test_benchmark_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with _benchmark_database(tmp_path, "bench_smoke") as (args, database_url):
        _run_benchmark(tmp_path, args, capsys)
    _assert_dropped(database_url)


def _run_benchmark(tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text("## Deserialiser benchmark\n\nkept\n")
    # The loop is measured at 250 and, with a zero time limit, projected at 500; pyck runs at both.
    bench_main(
        [
            "--records",
            "250",
            "500",
            *args,
            "--baseline-max-seconds",
            "0",
            "--output",
            str(results_md),
            "--json",
            str(tmp_path / "out.json"),
        ]
    )
    runs = {(m["impl"], m["phase"], m["records"]): m for m in json.loads((tmp_path / "out.json").read_text())}
    data = BenchData(250)

    hw_cold, hw_resync = runs["handwritten", "cold", 250], runs["handwritten", "resync", 250]
    assert hw_cold["counts"] == {"created": 250, "updated": 0}
    assert hw_resync["counts"] == {"created": 0, "updated": 250}
    # Three listing pages of members, then one GET per party and per region, once each per run.
    expected_http = {"members:list": 3, "parties:get": data.parties, "regions:get": data.regions}
    assert hw_cold["http_by_endpoint"] == expected_http
    assert hw_resync["http_by_endpoint"] == expected_http
    # update_or_create rewrites every field it is given: 7 per member, 3 per party, 2 per region.
    assert hw_resync["data_columns"] == 7 * 250 + 3 * data.parties + 2 * data.regions
    assert hw_resync["queries"] >= 2 * 250
    assert runs["handwritten", "cold", 500]["projected"]

    for n in (250, 500):
        cold, resync = runs["pyck", "cold", n], runs["pyck", "resync", n]
        for run in (cold, resync):
            assert run["http_requests"] == run["expected_http"], run["http_by_endpoint"]
            assert "members:get" not in run["http_by_endpoint"]
            assert run["peak_rss_kb"] > run["start_rss_kb"] > 0
        assert cold["counts"]["created"] == n + BenchData(n).parties + BenchData(n).regions
        assert resync["counts"]["created"] == 0
        assert resync["data_columns"] == 0, resync["columns_written"]

    markdown = results_md.read_text()
    assert markdown.startswith("## Deserialiser benchmark\n\nkept\n")
    assert "| 500 | handwritten (projected) | cold |" in markdown
    assert "Targets (issue 3):" in markdown
    assert "Targets (issue 3):" in capsys.readouterr().out


def test_incremental_benchmark_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with _benchmark_database(tmp_path, "bench_incremental_smoke") as (args, database_url):
        _run_incremental_benchmark(tmp_path, args, capsys)
    _assert_dropped(database_url)  # the database and the harness's <name>_snapshot copy


def _run_incremental_benchmark(tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text("## Earlier sections\n\nkept\n")
    # 2,000 tickets (20 pages of 100), 300 changed: the incremental listing is the boundary ticket + 300 = 4 pages.
    bench_incremental_main(
        ["--records", "2000", "--changed", "300", *args]
        + ["--output", str(results_md), "--json", str(tmp_path / "out.json")]
    )
    figures = json.loads((tmp_path / "out.json").read_text())
    cold, full, incremental = figures["cold"], figures["runs"]["full"], figures["runs"]["incremental"]

    assert figures["pages"] == {"full": 20, "incremental": 4}
    assert (cold["mode"], cold["http_requests"], cold["counts"]["created"]) == ("full", 20, 2000)
    assert (full["mode"], full["http_requests"], full["http_failed"]) == ("full", 20, 0)
    assert (incremental["mode"], incremental["http_requests"]) == ("incremental", 4)
    # Both runs see the same change from the same database: the same 300 updates, the rest unchanged.
    assert full["counts"] == {"created": 0, "updated": 300, "unchanged": 1700, "deleted": 0, "failed": 0}
    assert incremental["counts"] == {"created": 0, "updated": 300, "unchanged": 1, "deleted": 0, "failed": 0}
    assert full["data_columns"] == incremental["data_columns"] > 0
    # Neither rewrites a row it finds unchanged: both write the same 300 changed rows (PostgreSQL's row counts
    # include a statement of the temporary-table path).
    assert full["row_writes"] == incremental["row_writes"] and 300 <= full["row_writes"] < 310

    for mode, clean_requests in (("full", 20), ("incremental", 4)):
        resume = figures["resume"][mode]
        interrupted, resumed = resume["interrupted"], resume["resumed"]
        assert interrupted["status"] == "failed" and interrupted["http_failed"] == 1
        assert interrupted["http_requests"] == clean_requests // 2 + 1
        assert resumed["resumed"] and resumed["status"] == "succeeded" and resumed["mode"] == mode
        # The clean run's pages, plus the failed request and the checkpoint's page read again.
        assert interrupted["http_requests"] + resumed["http_requests"] == clean_requests + 2
        assert resume["checkpoint"]["position"] == {"page": (clean_requests // 2 - 1) * 100, "index": 100}

    markdown = results_md.read_text()
    assert markdown.startswith("## Earlier sections\n\nkept\n")
    assert "| incremental sync after the same 300 changed | incremental |" in markdown
    assert "| full | 20 | 11 (1) | offset 900, item 100 | 11 | 22 | +2 |" in markdown
    assert "5.0× fewer HTTP requests" in capsys.readouterr().out


# --- The webhook inbox benchmark's plan (benchmarks/bench_webhooks.py; the run itself needs gunicorn) ------------


def test_the_webhook_benchmark_plan_has_its_redeliveries_reorderings_and_bad_requests() -> None:
    # Here, not at the top: only this test needs the webhook benchmark and its signing package.
    from datetime import datetime, timezone

    from standardwebhooks import Webhook

    from benchmarks.bench_webhooks import MAX_BODY, SECRET, good_events, messy

    stamp = datetime.now(timezone.utc)
    events = good_events(1000, stamp)
    assert [(e.event_id, json.loads(e.body)["changes"][0]["version"]) for e in events[99:101]] == [
        ("evt-99", 1),
        ("evt-100", 2),
    ]
    plan = messy(events, stamp)
    kinds = [d.kind for d in plan]
    assert (kinds.count("good"), kinds.count("again")) == (1000, 200)
    assert {kind: kinds.count(kind) for kind in ("signature", "expired", "oversized", "not-json")} == dict.fromkeys(
        ("signature", "expired", "oversized", "not-json"), 250
    )
    good = [d.event_id for d in plan if d.kind == "good"]
    assert sorted(good, key=lambda e: int(e[4:])) != good  # some versions come after the next one
    first = {}
    for position, delivery in enumerate(plan):
        first.setdefault(delivery.event_id, (position, delivery.kind))
    assert all(kind != "again" for _, kind in first.values())  # a redelivery always comes after the delivery
    assert all(len(d.body) > MAX_BODY for d in plan if d.kind == "oversized")
    for delivery in plan[:50]:
        if delivery.kind in ("good", "again"):
            Webhook(SECRET).verify(delivery.body, delivery.headers, json_parse=False)
