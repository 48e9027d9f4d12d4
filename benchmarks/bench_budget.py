"""The request budget benchmark (issue 18 item 2): two datasources sharing one budget key, in two real processes
counting in Redis, measured by the server in sliding windows.

Usage::

    python -m benchmarks.bench_budget                       # 5 requests/s, 2 workers x 60 requests
    python -m benchmarks.bench_budget --rate 5 --requests 100 --margin 0.1 --output benchmarks/RESULTS.md

The parent process serves ``/a`` and ``/b`` (each answers ``[]``) from a threaded HTTP server on 127.0.0.1 that
records the arrival time of every request. For each mode it starts two worker processes (``--worker``), each with
its own Django settings (a Redis cache on ``--redis``, db 12 by default) and its own datasource class (table "a"
or table "b" of one base): each sends ``--requests`` GETs as fast as its budget lets it. The workers wait for each
other, then start together 0.7 s into a second of the clock (where windows aligned on the clock admit a full
window at once and another 0.3 s later). Modes:

- ``sliding``: pyck's `RequestBudget(requests=rate, per=1, key="airtable:app1")`, both datasources sharing the key.
- ``fixed``: the baseline, the budget before issue 18: fixed 1 s windows aligned on the clock, counted with the
  cache's ``add`` and ``incr`` (the same algorithm, reproduced here as `FixedWindowBudget`), the same shared key.
- ``separate``: pyck's sliding budget, but each datasource with its own key (its class and host, the default):
  what two tables of one base got before they could share a key.

Reported per mode, from the server's arrival times: the most requests in any sliding 1-second window
(``[t, t+1)`` for every t, not only whole seconds) against the limit; how many requests arrived in a second
already holding the limit; and the achieved throughput (requests beyond the first `--rate`, over the time from
the first arrival to the last) against the limit: how close the budget comes to the rate it must not exceed.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODES = ("sliding", "fixed", "separate")


class ArrivalServer:
    """A threaded HTTP server on 127.0.0.1 answering ``[]`` to every GET and recording (arrival time, path)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []
        lock = threading.Lock()
        arrivals = self.arrivals

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # see PITFALLS.md: keep-alive otherwise stalls ~40 ms a request

            def do_GET(self) -> None:
                with lock:
                    arrivals.append((time.time(), self.path.partition("?")[0]))
                body = b"[]"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def most_in_any_window(times: list[float], width: float) -> int:
    """The most of ``times`` in any half-open window ``[t, t + width)``, wherever it starts."""
    ordered, most, first = sorted(times), 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - width:
            first += 1
        most = max(most, last - first + 1)
    return most


def over_the_limit(times: list[float], width: float, limit: int) -> int:
    """How many requests arrived when the ``width`` seconds before them (themselves included) held more than ``limit``."""
    ordered, first, over = sorted(times), 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - width:
            first += 1
        over += last - first + 1 > limit
    return over


@dataclass
class Result:
    mode: str
    requests: int
    most_in_a_second: int
    over: int
    seconds: float

    rate: int

    def throughput(self) -> float:
        """Requests a second once the first window's worth is sent: requests beyond the first `rate`, over the
        time from the first arrival to the last (exact for bursts of `rate` every period, as budgets send)."""
        return (self.requests - self.rate) / self.seconds if self.seconds > 0 else float("inf")


# --- The worker process ----------------------------------------------------------------------------------


def worker(url: str, mode: str, name: str, count: int, rate: int, margin: float, redis_url: str, prefix: str, ready: str) -> None:
    """One worker: its own datasource class (table ``name``), sending ``count`` GETs under the budget of ``mode``."""
    # Django is configured here, in the worker process, not when the parent imports this module.
    import django
    from django.conf import settings

    settings.configure(
        USE_TZ=True,
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url, "KEY_PREFIX": prefix}},
        PYCK={"HTTP_RETRIES": 0},
    )
    django.setup()
    # After django.setup(): pyck's datasource module needs configured settings.
    from pyck.core.datasources import RequestBudget, RestDatasource

    budget_class = fixed_window_budget_class(RequestBudget) if mode == "fixed" else RequestBudget
    key = None if mode == "separate" else "airtable:app1"
    budget = budget_class(requests=rate, per=1, key=key, margin=margin, max_wait=600)
    table = type(f"Table{name.upper()}", (RestDatasource,), {"resource_type": dict, "request_budget": budget})
    source = table(base_url=url, path=f"/{name}")
    Path(ready, name).touch()
    while len(os.listdir(ready)) < 2:
        time.sleep(0.005)
    time.sleep(math.floor(time.time()) + 1.7 - time.time())
    for n in range(count):
        source.fetch_url(source.url, n=n)


def fixed_window_budget_class(base: type) -> type:
    """The budget before issue 18, as a `RequestBudget` subclass: windows of `per` aligned on the epoch, one
    counter per window in the Django cache (``add`` then the atomic ``incr``); a request finding its window spent
    waits for the next window's start."""
    # Django is configured by the worker before it asks for this class.
    from django.core.cache import caches

    from pyck.core import http

    class FixedWindowBudget(base):  # type: ignore[misc, valid-type]
        def acquire(self, key: str, *, datasource: Any = None) -> float:
            cache, per, waited = caches[self.cache], self.seconds, 0.0
            while True:
                now = time.time()
                window = math.floor(now / per)
                counter = f"{self.cache_key(key)}:{window}"
                cache.add(counter, 0, 2 * math.ceil(per) + 1)
                if int(cache.incr(counter)) <= self.requests:
                    return waited
                wait = (window + 1) * per - now + 0.001
                http.sleep(wait)
                waited += wait

    return FixedWindowBudget


# --- The parent ----------------------------------------------------------------------------------------------


def run_mode(server: ArrivalServer, mode: str, args: argparse.Namespace) -> Result:
    start = len(server.arrivals)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    prefix = f"pyck-bench-budget-{uuid.uuid4()}"
    with tempfile.TemporaryDirectory() as ready:
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.bench_budget", "--worker", name, "--mode", mode, "--url", server.url,
                 "--requests", str(args.requests), "--rate", str(args.rate), "--margin", str(args.margin),
                 "--redis", args.redis, "--prefix", prefix, "--ready", ready],
                env=env, cwd=ROOT,
            )
            for name in ("a", "b")
        ]
        for process in workers:
            if process.wait(timeout=3600) != 0:
                raise SystemExit(f"a {mode} worker failed")
    times = [at for at, _ in server.arrivals[start:]]
    return Result(
        mode=mode,
        requests=len(times),
        most_in_a_second=most_in_any_window(times, 1.0),
        over=over_the_limit(times, 1.0, args.rate),
        seconds=max(times) - min(times),
        rate=args.rate,
    )


def render(results: list[Result], args: argparse.Namespace, command: str) -> str:
    margin_floor = args.rate / (1 + args.margin)
    lines = [
        f"### Two processes sharing one budget key, measured by the server ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Command: `{command}`  ",
        (
            f"Machine: Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()} "
            f"{platform.system()}; Redis at {args.redis}. Limit: {args.rate} requests in any 1 s; 2 workers x "
            f"{args.requests} requests; margin {args.margin:g} s (sliding budgets admit at most {args.rate} per "
            f"{1 + args.margin:g} s, {margin_floor:.2f}/s)."
        ),
        "",
        "| mode | requests | most in any sliding 1 s | requests over the limit | throughput | of the limit |",
        "|------|---------:|------------------------:|------------------------:|-----------:|-------------:|",
    ]
    for result in results:
        lines.append(
            f"| {result.mode} | {result.requests} | {result.most_in_a_second} (limit {args.rate}) | {result.over} | "
            f"{result.throughput():.2f}/s | {100 * result.throughput() / args.rate:.0f}% |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=5, help="the budget: requests in any second (default 5)")
    parser.add_argument("--requests", type=int, default=60, help="requests per worker (default 60)")
    parser.add_argument("--margin", type=float, default=0.1, help="RequestBudget.margin in seconds (default 0.1)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12", help="the Redis the workers count in")
    parser.add_argument("--output", type=Path, help="append the results (Markdown) to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--ready", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.url, args.mode, args.worker, args.requests, args.rate, args.margin, args.redis, args.prefix, args.ready)
        return
    server = ArrivalServer()
    try:
        results = []
        for mode in args.modes.split(","):
            result = run_mode(server, mode, args)
            print(f"{mode}: {result}, {result.throughput():.2f}/s", flush=True)
            results.append(result)
    finally:
        server.close()
    command = "python -m benchmarks.bench_budget " + " ".join(sys.argv[1:] if argv is None else argv)
    text = render(results, args, command.strip())
    print(text)
    if args.output:
        with args.output.open("a") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
