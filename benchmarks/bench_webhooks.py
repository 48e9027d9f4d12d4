"""The webhook inbox under load (issue 20): gunicorn (4 workers) answering signed Standard Webhooks requests
into a PostgreSQL inbox, and 2 `run_cron_tasks` clocks applying it; an open-loop client of 16 threads.

Scenarios (`--scenario`):

- `burst`: N distinct events (N/10 records, 10 versions each, in order) at `--rate` events/s.
- `messy`: the same, with 20% of the events delivered a second time later and 10% delivered after the next
  version of their record, plus 1,000 bad requests mixed in (bad signature, expired timestamp, a body over
  `WEBHOOK_MAX_BODY_SIZE`, a body that is not JSON; 250 each).
- `kill`: the burst, with one of the two clocks SIGKILLed half-way through (claims last 5 s).
- `ramp`: shorter bursts at increasing rates, for the highest rate whose ack p99 stays within 50 ms.

Open loop: every request has a scheduled send time (`i / rate`); its latency is measured from that time, so a
server that slows down cannot hide it by slowing the clients (a client late on its schedule sends at once).
"Event to row" is the event's `applied` time in the inbox (set once its rows have committed) minus the
scheduled send time of its first delivery; "received to applied" is the same from the time the view stored it.

    PYTHONPATH=. python -m benchmarks.bench_webhooks --database postgres://postgres@127.0.0.1:5432/pyck_inbox_bench
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dj_database_url
import psycopg
import requests
from psycopg import sql
from standardwebhooks import Webhook

from benchmarks.bench_sync import drop_database

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # benchmarks/inbox_settings.py BENCH_WEBHOOK_SECRET
MAX_BODY = 64 * 1024  # its WEBHOOK_MAX_BODY_SIZE
VERSIONS = 10


@dataclass
class Delivery:
    """One request of the plan: when it is sent, what, and what answer it should get."""

    event_id: str
    body: bytes
    headers: dict[str, str]
    kind: str  # "good", "again" (a redelivery), or a bad kind: "signature", "expired", "oversized", "not-json"
    at: float = 0.0
    status: int = 0
    latency: float = 0.0
    service: float = 0.0
    sent: float = 0.0


@dataclass
class Run:
    """What one scenario measured."""

    scenario: str
    rate: float
    deliveries: list[Delivery] = field(default_factory=list)
    started: float = 0.0
    drained: float = 0.0
    logs: list[Path] = field(default_factory=list)


def good_events(count: int, stamp: datetime) -> list[Delivery]:
    """`count` events: record `i % R + 1` (R = count / 10) at version `i // R + 1`, in order."""
    records = max(count // VERSIONS, 1)
    hook = Webhook(SECRET)
    events = []
    for i in range(count):
        record, version = i % records + 1, i // records + 1
        change = {
            "model": "inboxapp.Item",
            "id": record,
            "version": version,
            "record": {"id": record, "name": f"item {record} v{version}", "version": version},
        }
        body = json.dumps({"changes": [change]}).encode()
        event_id = f"evt-{i}"
        events.append(Delivery(event_id, body, _headers(hook, event_id, stamp, body), "good"))
    return events


def _headers(hook: Webhook, event_id: str, stamp: datetime, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": hook.sign(event_id, stamp, body),
        "content-type": "application/json",
    }


def messy(events: list[Delivery], stamp: datetime, seed: int = 20) -> list[Delivery]:
    """`events` with 10% delivered after their record's next version, 20% delivered again later, and 1,000 bad
    requests mixed in."""
    shuffle = random.Random(seed)
    order = list(events)
    records = max(len(events) // VERSIONS, 1)
    for i in shuffle.sample(range(len(events) - records), len(events) // 10):
        order[i], order[i + records] = order[i + records], order[i]
    # Each delivery gets a place in the plan: the events theirs, a redelivery a random one after its event's.
    placed = [(float(k), delivery) for k, delivery in enumerate(order)]
    for k in shuffle.sample(range(len(order)), len(order) // 5):
        original = order[k]
        placed.append((shuffle.uniform(k + 0.5, len(order)), Delivery(original.event_id, original.body, original.headers, "again")))
    hook = Webhook(SECRET)
    other = Webhook("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
    for n in range(1000):
        kind = ("signature", "expired", "oversized", "not-json")[n % 4]
        event_id = f"bad-{n}"
        body = json.dumps({"changes": [{"model": "inboxapp.Item", "id": 1, "record": {"id": 1, "name": "bad", "version": 99}}]}).encode()
        if kind == "signature":
            headers = _headers(other, event_id, stamp, body)
        elif kind == "expired":
            headers = _headers(hook, event_id, stamp - timedelta(minutes=10), body)
        elif kind == "oversized":
            body = json.dumps({"padding": "x" * MAX_BODY}).encode()
            headers = _headers(hook, event_id, stamp, body)
        else:
            body = b"<not>json</not>"
            headers = _headers(hook, event_id, stamp, body)
        placed.append((shuffle.uniform(0, len(order)), Delivery(event_id, body, headers, kind)))
    return [delivery for _, delivery in sorted(placed, key=lambda pair: pair[0])]


def send(plan: list[Delivery], url: str, rate: float, clients: int) -> float:
    """Send `plan` open-loop at `rate` requests/s from `clients` threads; return the start time."""
    for k, delivery in enumerate(plan):
        delivery.at = k / rate
    start = time.time() + 0.5

    def client(deliveries: list[Delivery]) -> None:
        session = requests.Session()
        for delivery in deliveries:
            scheduled = start + delivery.at
            delay = scheduled - time.time()
            if delay > 0:
                time.sleep(delay)
            delivery.sent = scheduled
            begun = time.time()
            try:
                status = session.post(url, data=delivery.body, headers=delivery.headers, timeout=30).status_code
            except requests.RequestException:
                status = -1
            delivery.latency = time.time() - scheduled
            delivery.service = time.time() - begun
            delivery.status = status

    threads = [threading.Thread(target=client, args=(plan[k::clients],)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return start


def percentile(values: list[float], p: float) -> float:
    """The `p`-th percentile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


class Stack:
    """gunicorn (4 workers) and 2 clocks on one database."""

    def __init__(self, database: str, port: int, tag: str) -> None:
        self.env = dict(os.environ, PYCK_BENCH_DATABASE_URL=database, DJANGO_SETTINGS_MODULE="benchmarks.inbox_settings")
        self.env["PYTHONPATH"] = str(ROOT) + os.pathsep + self.env.get("PYTHONPATH", "")
        self.port = port
        self.tag = tag
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[Path] = []

    def start(self) -> None:
        """Start the web server and the clocks; wait until the server answers."""
        self._start("gunicorn", [sys.executable, "-m", "gunicorn", "benchmarks.inbox_wsgi:application", "-w", "4", "-b", f"127.0.0.1:{self.port}", "--backlog", "2048"])
        for n in (1, 2):
            self.start_clock(n)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{self.port}/webhooks/bench/", timeout=1)
                time.sleep(3)  # every worker booted (each imports Django and pyck)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not start")

    def start_clock(self, n: int) -> None:
        """Start clock `n`."""
        self._start(f"clock-{n}", [sys.executable, "-m", "django", "run_cron_tasks", "--skip-checks"])

    def _start(self, name: str, command: list[str]) -> None:
        log = OUT / f"webhooks-{self.tag}-{name}.log"
        self.logs.append(log)
        self.processes[name] = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log.open("wb"), stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        """SIGKILL process `name`."""
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()

    def stop(self) -> None:
        """SIGTERM everything and wait."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def prepare(database: str) -> None:
    """A fresh database with pyck's tables."""
    drop_database(database)
    config = dj_database_url.parse(database)
    with psycopg.connect(host=config["HOST"], port=config["PORT"] or 5432, user=config["USER"], dbname="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    env = dict(os.environ, PYCK_BENCH_DATABASE_URL=database, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v0", "--settings=benchmarks.inbox_settings"], cwd=ROOT, env=env, check=True)


def connect(database: str) -> Any:
    """A psycopg connection to the benchmark database."""
    config = dj_database_url.parse(database)
    return psycopg.connect(host=config["HOST"], port=config["PORT"] or 5432, user=config["USER"], dbname=config["NAME"], autocommit=True)


def wait_drained(database: str, expected: int, timeout: float = 600) -> float:
    """Wait until `expected` events are applied; return when that was seen."""
    with connect(database) as db:
        deadline = time.time() + timeout
        while time.time() < deadline:
            (applied,) = db.execute("SELECT count(*) FROM pyck_webhookevent WHERE status = 'applied'").fetchone()
            if applied >= expected:
                return time.time()
            time.sleep(0.5)
    raise SystemExit(f"only {applied} of {expected} events applied after {timeout}s")


def report(run: Run, database: str, events: list[Delivery]) -> dict[str, Any]:
    """Check and measure a finished run."""
    good = [d for d in run.deliveries if d.kind in ("good", "again")]
    bad = [d for d in run.deliveries if d.kind not in ("good", "again")]
    first_sent: dict[str, float] = {}
    for delivery in sorted(good, key=lambda d: d.sent):
        first_sent.setdefault(delivery.event_id, delivery.sent)
    with connect(database) as db:
        stored = dict(db.execute("SELECT event_id, extract(epoch FROM applied) FROM pyck_webhookevent").fetchall())
        inbox_lags = [
            float(lag)
            for (lag,) in db.execute("SELECT extract(epoch FROM applied - received) FROM pyck_webhookevent").fetchall()
        ]
        statuses = dict(db.execute("SELECT status, count(*) FROM pyck_webhookevent GROUP BY status").fetchall())
        attempts = dict(db.execute("SELECT attempts, count(*) FROM pyck_webhookevent GROUP BY attempts").fetchall())
        (stale,) = db.execute("SELECT coalesce(sum(stale), 0) FROM pyck_webhookevent").fetchone()
        items = dict(db.execute("SELECT external_id, version FROM inboxapp_item").fetchall())
        names = dict(db.execute("SELECT external_id, name FROM inboxapp_item").fetchall())
        runs = db.execute("SELECT count(*), sum(created), sum(updated), sum(unchanged) FROM pyck_syncrun WHERE mode = 'push'").fetchone()
    records = max(len(events) // VERSIONS, 1)
    last = {r: max(v for v in range(1, VERSIONS + 1) if (v - 1) * records + r - 1 < len(events)) for r in range(1, records + 1)}
    lags = [float(stored[e]) - first_sent[e] for e in first_sent if stored.get(e) is not None]
    problems = []
    for log in run.logs:
        text = log.read_text(errors="replace").lower() if log.exists() else ""
        for word in ("deadlock", "unique", "integrityerror", "traceback"):
            if word in text:
                problems.append(f"{log.name}: {word}")
    return {
        "scenario": run.scenario,
        "rate": run.rate,
        "requests": len(run.deliveries),
        "good requests answered 2xx": sum(200 <= d.status < 300 for d in good),
        "good requests not 2xx": sorted({d.status for d in good if not 200 <= d.status < 300}),
        "bad requests": len(bad),
        "bad requests answered 4xx": sum(400 <= d.status < 500 for d in bad),
        "bad statuses": sorted({(d.kind, d.status) for d in bad}),
        "events stored": len(stored),
        "distinct events sent": len(first_sent),
        "bad events stored": sum(1 for e in stored if e.startswith("bad")),
        "statuses": statuses,
        "attempts": attempts,
        "stale changes skipped": int(stale),
        "push runs (count, created, updated, unchanged)": list(runs),
        "final table equals the last state": items == last and all(names[r] == f"item {r} v{v}" for r, v in last.items()),
        "ack ms p50": round(percentile([d.latency for d in good], 50) * 1000, 1),
        "ack ms p99": round(percentile([d.latency for d in good], 99) * 1000, 1),
        "ack ms max": round(max(d.latency for d in good) * 1000, 1),
        "service ms p50 (from the actual send)": round(percentile([d.service for d in good], 50) * 1000, 1),
        "service ms p99 (from the actual send)": round(percentile([d.service for d in good], 99) * 1000, 1),
        "event to row s p50": round(percentile(lags, 50), 3),
        "event to row s p99": round(percentile(lags, 99), 3),
        "event to row s max": round(max(lags), 3),
        "received to applied s p50": round(percentile(inbox_lags, 50), 3),
        "received to applied s p99": round(percentile(inbox_lags, 99), 3),
        "drained s after the last send": round(run.drained - (run.started + max(d.at for d in run.deliveries)), 2),
        "log problems": problems,
    }


def scenario(name: str, database: str, events_count: int, rate: float, clients: int, port: int) -> dict[str, Any]:
    """Run one scenario on a fresh database; return its report."""
    prepare(database)
    stamp = datetime.now(timezone.utc)
    events = good_events(events_count, stamp)
    plan = messy(events, stamp) if name == "messy" else list(events)
    stack = Stack(database, port, name)
    stack.start()
    run = Run(name, rate, plan)
    try:
        killer = None
        if name == "kill":
            duration = len(plan) / rate

            def kill_one() -> None:
                time.sleep(0.5 + duration / 2)
                stack.kill("clock-1")

            killer = threading.Thread(target=kill_one)
            killer.start()
        run.started = send(plan, f"http://127.0.0.1:{port}/webhooks/bench/", rate, clients)
        if killer is not None:
            killer.join()
        run.drained = wait_drained(database, len(events))
    finally:
        stack.stop()
    run.logs = stack.logs
    return report(run, database, events)


def main(argv: list[str] | None = None) -> None:
    """Run the scenarios and print one JSON report per scenario."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/pyck_inbox_bench")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument("--scenario", choices=["burst", "messy", "kill", "ramp"], action="append")
    parser.add_argument("--ramp", default="200,300,400,600", help="rates for --scenario ramp")
    parser.add_argument("--ramp-events", type=int, default=3000)
    options = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    for name in options.scenario or ["burst", "messy", "kill"]:
        if name == "ramp":
            for rate in (float(r) for r in options.ramp.split(",")):
                result = scenario("burst", options.database, options.ramp_events, rate, options.clients, options.port)
                print(json.dumps({"ramp": rate, **result}, default=str), flush=True)
        else:
            result = scenario(name, options.database, options.events, options.rate, options.clients, options.port)
            print(json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
