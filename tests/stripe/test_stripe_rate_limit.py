"""The local server enforces Stripe's documented 25 requests a second per endpoint with 429s, and a
`StripeDatasource` at its default rate never meets one; the benchmark runs, small, and counts what RESULTS.md
quotes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from benchmarks.stripe_server import StripeServer
from pyck.contrib.stripe import Customer, StripeDatasource

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk_test_rate_0123456789"


def test_a_burst_past_the_second_s_worth_of_requests_answers_429_rate_limit() -> None:
    now = [1000.0]  # the server's rate-limit clock, moved by hand
    with StripeServer(monotonic=lambda: now[0]) as server, requests.Session() as session:
        server.api_keys.add(KEY)
        server.add("customer", {"id": "cus_1"})

        def burst(n: int) -> list[int]:
            return [session.get(f"{server.url}/v1/customers/cus_1", headers={"Authorization": f"Bearer {KEY}"}).status_code for _ in range(n)]

        first = burst(30)
        now[0] += 0.2  # 5 tokens back
        second = burst(6)
        last = session.get(f"{server.url}/v1/customers/cus_1", headers={"Authorization": f"Bearer {KEY}"})
    assert first == [200] * 25 + [429] * 5
    assert second == [200] * 5 + [429]
    assert last.json()["error"]["code"] == "rate_limit"


def test_a_datasource_at_its_default_rate_gets_no_429(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pyck.core.http._sleep", time.sleep)  # the rate limiter waits for real here
    settings.STRIPE_API_KEY = KEY
    with StripeServer() as server:
        server.api_keys.add(KEY)
        for i in range(5000):
            server.add("customer", {"id": f"cus_{i:05d}"}, event=False)
        customers = StripeDatasource(resource_type=Customer, base_url=f"{server.url}/v1", retries=0, rate_limit_key="stripe:test-429")
        assert len(list(customers.list())) == 5000
        received = server.requests_to("/v1/customers")
    assert len(received) == 50 and {r.status for r in received} == {200}


@pytest.mark.django_db(transaction=True)
def test_the_stripe_benchmark_counts_100_times_fewer_requests_incrementally(tmp_path: Path) -> None:
    database = tmp_path / "bench.sqlite3"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_stripe", "--records", "1000", "--changed", "1", "--database-url", f"sqlite:///{database}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| ") and "Sync of" in line]
    assert [(int(r[2]), int(r[3]), int(r[4])) for r in rows] == [(10, 0, 0), (0, 1, 0), (10, 0, 0)]
    assert "10 updated" in rows[1][1]
