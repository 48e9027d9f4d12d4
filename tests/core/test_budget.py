"""pyck.core.budget: a request budget counted in a sliding window (in this process, or in Redis), waits and their
bound, budgets shared by key, what counts as a request, failing closed, the system check on the cache, and the
budget holding across two real processes sharing Redis, measured in sliding windows by the server."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import models
from django.test.utils import isolate_apps

from pyck.core import http
from pyck.core.budget import RequestBudget
from pyck.core.checks import check_request_budgets
from pyck.core.datasources import (
    ConfigurationError,
    RateLimitError,
    RestDatasource,
    SyncConfig,
    SyncedModel,
    TransportError,
)
from pyck.core.models import registry
from pyck.core.sliding_windows import MemoryWindows, SlicedWindows, windows_for
from tests.faults.server import FaultServer, Received, dynamic_answer, json_answer

ROOT = Path(__file__).resolve().parents[2]
API = "https://api.example.com"
LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pyck-budget-tests"}


@dataclass
class Item:
    id: int


class Items(RestDatasource[Item]):
    resource_type = Item
    base_url = API
    path = "/items"
    retries = 2


class OtherItems(RestDatasource[Item]):
    resource_type = Item
    base_url = API


class FakeClock:
    """A wall clock that only moves when pyck waits."""

    def __init__(self, now: float = 1_000_000.25) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> list[float]:
    """Every wait pyck asks for; each one moves the fake clock on instead of sleeping."""
    asked: list[float] = []

    def sleep(seconds: float) -> None:
        asked.append(seconds)
        clock.now += seconds

    monkeypatch.setattr(http, "_sleep", sleep)
    return asked


@pytest.fixture(autouse=True)
def _fresh_cache(settings: Any) -> None:
    settings.CACHES = {"default": {**LOCMEM, "LOCATION": f"pyck-budget-{uuid.uuid4()}"}}


def counted(budget: RequestBudget, key: str, clock: FakeClock) -> int:
    """How many requests ``key`` counted in the budget's window up to the fake clock's now."""
    windows = windows_for(budget.cache)
    assert isinstance(windows, MemoryWindows)
    return windows.count(budget.cache_key(key), budget.seconds + budget.margin, clock())


def most_in_any_window(times: list[float], width: float) -> int:
    """The most of ``times`` in any half-open window ``[t, t + width)``, wherever it starts."""
    ordered, most, first = sorted(times), 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - width:
            first += 1
        most = max(most, last - first + 1)
    return most


# --- The counter -------------------------------------------------------------------------------------------


def test_requests_within_the_budget_do_not_wait(clock: FakeClock, waits: list[float]) -> None:
    budget = RequestBudget(requests=3, per=10, clock=clock)
    assert [budget.acquire("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert waits == []
    assert counted(budget, "k", clock) == 3


def test_a_spent_budget_waits_until_the_oldest_request_leaves_the_window(clock: FakeClock, waits: list[float]) -> None:
    budget = RequestBudget(requests=2, per=timedelta(seconds=10), margin=0, clock=clock)
    budget.acquire("k")  # at t
    clock.now += 3
    budget.acquire("k")  # at t + 3
    waited = budget.acquire("k")
    assert waits == [pytest.approx(7.0, abs=0.01)]  # until t + 10, when the first one leaves the window
    assert waited == waits[0]
    assert counted(budget, "k", clock) == 2  # the one at t + 3 and this one


def test_no_window_boundary_lets_twice_the_budget_through(clock: FakeClock, waits: list[float]) -> None:
    # Issue 18 item 2: windows aligned on the clock allowed 3 requests at .9 s and 3 more at 1.0 s.
    budget = RequestBudget(requests=3, per=1, clock=clock)
    clock.now = 1_000_000.9
    sent = []
    for _ in range(12):
        budget.acquire("k")
        sent.append(clock.now)
        clock.now += 0.05
    assert most_in_any_window(sent, 1.0) == 3
    assert sent[-1] - sent[0] >= 3.0  # 12 requests at 3 a second: the last one at least 3 s after the first


def test_memcached_slices_never_admit_more_than_the_limit_in_any_window() -> None:
    # Memcached increments atomically but runs no scripts: the window is ten slices of one counter each.
    windows = SlicedWindows(LocMemCache(f"pyck-budget-{uuid.uuid4()}", {}))
    now, admitted = 1_000_000.93, []
    for step in range(400):  # requests at uneven moments, several at the same one, over about 20 s
        if windows.admit("k", 5, 1.0, now) == 0:
            admitted.append(now)
        now += (0.0, 0.013, 0.07, 0.21)[step % 4]
    assert most_in_any_window(admitted, 1.0) <= 5
    # It is not refusing everything: near 5 in every 1.1 s (10 slices of 0.1 s, plus the one being filled).
    assert len(admitted) >= 0.8 * 5 * (now - 1_000_000.93) / 1.1


def test_memcached_slices_say_when_the_oldest_slice_leaves() -> None:
    windows = SlicedWindows(LocMemCache(f"pyck-budget-{uuid.uuid4()}", {}))
    assert [windows.admit("k", 2, 1.0, 100.05) for _ in range(2)] == [0.0, 0.0]
    assert windows.admit("k", 2, 1.0, 100.55) == pytest.approx(0.55)  # at 101.1 the slice [100.0, 100.1) leaves
    assert windows.admit("k", 2, 1.0, 101.1001) == 0.0


def test_the_margin_widens_the_window(clock: FakeClock, waits: list[float]) -> None:
    budget = RequestBudget(requests=1, per=1, clock=clock)  # the default margin: 0.1 s
    budget.acquire("k")
    budget.acquire("k")
    assert waits == [pytest.approx(1.1, abs=0.01)]


def test_a_wait_beyond_max_wait_raises_at_once_saying_when(clock: FakeClock, waits: list[float]) -> None:
    budget = RequestBudget(requests=1, per=timedelta(hours=1), max_wait=60, clock=clock)
    budget.acquire("k")
    clock.now += 600
    with pytest.raises(RateLimitError, match=r"budget of 1 per hour \(key 'k'\) is spent; it has room again in") as caught:
        budget.acquire("k")
    assert waits == []
    assert caught.value.retry_after == pytest.approx(3000.1, abs=0.01)


def test_max_wait_defaults_to_http_max_retry_after(clock: FakeClock, waits: list[float], settings: Any) -> None:
    budget = RequestBudget(requests=1, per=100, clock=clock)
    budget.acquire("k")
    settings.PYCK = {"HTTP_MAX_RETRY_AFTER": 5}
    with pytest.raises(RateLimitError, match=r"longest wait allowed \(5s"):
        budget.acquire("k")
    settings.PYCK = {"HTTP_MAX_RETRY_AFTER": 500}
    budget.acquire("k")
    assert len(waits) == 1


def test_keys_are_separate_counters(clock: FakeClock, waits: list[float]) -> None:
    budget = RequestBudget(requests=1, per=10, clock=clock)
    budget.acquire("a")
    budget.acquire("b")
    assert waits == []


def test_cache_keys_are_memcached_safe_and_distinct() -> None:
    budget = RequestBudget(requests=1, per=1)
    odd = ["with space", "with_space", "x" * 400, "tab\there", "<locals>.Items@api.example.com:8443"]
    keys = [budget.cache_key(key) for key in odd]
    assert len(set(keys)) == len(keys)
    assert keys[-1] == "pyck:budget:<locals>.Items@api.example.com:8443"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Django warns (CacheKeyWarning) about keys Memcached would refuse
        for key in keys:
            assert len(key) < 250 and " " not in key and "\t" not in key
            caches["default"].add(key, 0)


def test_default_key_is_shared_by_instances_of_a_class_on_one_host() -> None:
    budget = RequestBudget(requests=1, per=1)
    assert budget.key_for(Items()) == budget.key_for(Items(path="/other")) == f"{__name__}.Items@api.example.com"
    assert budget.key_for(Items(base_url="https://user:pw@API.example.com:8443/v2")) == f"{__name__}.Items@api.example.com:8443"
    assert budget.key_for(OtherItems()) != budget.key_for(Items())
    shared = RequestBudget(requests=1, per=1, key="example")
    assert shared.key_for(Items()) == shared.key_for(OtherItems()) == "example"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"requests": 0, "per": 1}, "requests"),
        ({"requests": 1.5, "per": 1}, "requests"),
        ({"requests": True, "per": 1}, "requests"),
        ({"requests": 1, "per": timedelta(0)}, "per"),
        ({"requests": 1, "per": "1m"}, "per"),
        ({"requests": 1, "per": 1, "max_wait": -1}, "max_wait"),
        ({"requests": 1, "per": 1, "key": ""}, "key"),
        ({"requests": 1, "per": 1, "margin": -0.1}, "margin"),
    ],
)
def test_bad_budgets_are_refused_when_made(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"RequestBudget\({problem}=\.\.\.\)"):
        RequestBudget(**kwargs)


def test_unknown_cache_alias_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"RequestBudget\(cache='budgets'\) names no cache"):
        RequestBudget(requests=1, per=1, cache="budgets").acquire("k")


def test_a_cache_that_keeps_nothing_is_a_configuration_error(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    with pytest.raises(ConfigurationError, match="keeps nothing, so it cannot count requests"):
        RequestBudget(requests=1, per=1).acquire("k")


def test_a_failing_cache_stops_the_request_instead_of_letting_it_through(settings: Any, mock_api: responses.RequestsMock) -> None:
    # A Redis server that is down: nothing listens on port 1.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/12"}}
    source = Items(request_budget=RequestBudget(requests=5, per=1))
    with pytest.raises(TransportError, match=r"budget's cache 'default' failed \(ConnectionError: Error 111") as caught:
        source.get(1)
    assert len(mock_api.calls) == 0
    assert caught.value.datasource is source
    assert caught.value.url == f"{API}/items/1"


# --- What counts, through a RestDatasource ---------------------------------------------------------------


def test_every_attempt_counts_retries_included(clock: FakeClock, waits: list[float]) -> None:
    budget = RequestBudget(requests=10, per=60, clock=clock)
    source = Items(request_budget=budget, backoff_factor=0)
    with responses.RequestsMock() as mock:
        mock.get(f"{API}/items/1", status=503)
        mock.get(f"{API}/items/1", status=503)
        mock.get(f"{API}/items/1", json={"id": 1})
        assert source.get(1) == Item(id=1)
        assert len(mock.calls) == 3
    assert counted(budget, budget.key_for(source), clock) == 3


def test_a_followed_redirect_counts(clock: FakeClock, waits: list[float]) -> None:
    budget = RequestBudget(requests=10, per=60, clock=clock)
    source = Items(request_budget=budget)
    with responses.RequestsMock() as mock:
        mock.get(f"{API}/items/1", status=301, headers={"Location": f"{API}/v2/items/1"})
        mock.get(f"{API}/v2/items/1", json={"id": 1})
        source.get(1)
    assert counted(budget, budget.key_for(source), clock) == 2


def test_a_budget_spent_during_retries_stops_them_naming_datasource_and_url(clock: FakeClock, waits: list[float]) -> None:
    budget = RequestBudget(requests=2, per=timedelta(hours=1), max_wait=0, clock=clock)
    source = Items(request_budget=budget, backoff_factor=0, name="budgeted.items")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{API}/items/1", status=503)
        with pytest.raises(RateLimitError, match=r"budget of 2 per hour .* is spent") as caught:
            source.get(1, api_key="k-0123456789")
        assert len(mock.calls) == 2  # the first attempt and one retry; the second retry was never sent
    assert "datasource budgeted.items" in str(caught.value)
    assert caught.value.url == f"{API}/items/1?api_key=***"
    assert caught.value.record_id == 1
    assert caught.value.retry_after is not None and caught.value.retry_after > 0


def test_instances_of_one_class_share_the_budget_and_others_do_not(clock: FakeClock, waits: list[float]) -> None:
    budget = RequestBudget(requests=1, per=60, max_wait=0, clock=clock)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{API}/items", json=[])
        mock.get(f"{API}/others", json=[])
        list(Items(request_budget=budget).list())
        with pytest.raises(RateLimitError):
            list(Items(request_budget=budget, name="second instance").list())
        list(OtherItems(request_budget=budget, path="/others").list())
        assert len(mock.calls) == 2


def test_datasources_of_different_classes_sharing_a_key_share_one_budget(clock: FakeClock, waits: list[float]) -> None:
    # Issue 18 item 2: two tables of one Airtable base, each its own datasource class, under one quota.
    budget = RequestBudget(requests=3, per=1, key="airtable:app1", max_wait=0, clock=clock)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{API}/items", json=[])
        mock.get(f"{API}/others", json=[])
        tables = [Items(request_budget=budget), OtherItems(request_budget=budget, path="/others")]
        for table in [*tables, *tables]:
            try:
                list(table.list())
            except RateLimitError:
                pass
        assert len(mock.calls) == 3
    assert counted(budget, "airtable:app1", clock) == 3


def test_a_datasource_without_budget_counts_nothing(clock: FakeClock) -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"{API}/items/1", json={"id": 1})
        source = Items()
        source.get(1)
    budget = RequestBudget(requests=1, per=1, clock=clock)
    assert counted(budget, budget.key_for(source), clock) == 0


def test_request_budget_must_be_a_request_budget() -> None:
    with pytest.raises(ConfigurationError, match="request_budget must be a RequestBudget or None, got 100"):
        Items(request_budget=100).get(1)


# --- System check --------------------------------------------------------------------------------------------


@pytest.fixture
def isolated() -> Any:
    before = set(registry.synced_models())
    with isolate_apps("tests.testapp"):
        yield
    for model in set(registry.synced_models()) - before:
        registry.unregister(model)


def _budget_check(settings: Any, backend: str, cache: str = "default", **options: Any) -> list[Any]:
    settings.CACHES = {"default": LOCMEM, "budgets": {"BACKEND": backend, **options}}

    class Budgeted(SyncedModel):
        sync_config = SyncConfig(datasource=Items(request_budget=RequestBudget(requests=1, per=1, cache=cache)))
        external_id = models.IntegerField(db_index=True)

        class Meta:
            app_label = "testapp"

    return [message for message in check_request_budgets() if message.obj is Budgeted]


@pytest.mark.parametrize(
    ("backend", "options", "problem"),
    [
        ("django.core.cache.backends.locmem.LocMemCache", {}, "each process keeps for itself"),
        ("django.core.cache.backends.dummy.DummyCache", {}, "keeps nothing"),
        ("django.core.cache.backends.filebased.FileBasedCache", {"LOCATION": "/tmp/pyck-budget-check"}, "neither Redis nor Memcached"),
        ("django.core.cache.backends.db.DatabaseCache", {"LOCATION": "pyck_cache"}, "neither Redis nor Memcached"),
    ],
)
def test_a_budget_in_a_cache_that_is_not_shared_or_not_atomic_is_a_warning(
    isolated: None, settings: Any, backend: str, options: dict[str, str], problem: str
) -> None:
    [message] = _budget_check(settings, backend, cache="budgets", **options)
    assert message.id == "pyck.W012"
    assert problem in message.msg and "'budgets'" in message.msg
    assert "RedisCache" in message.hint


def test_a_budget_in_redis_passes_the_check(isolated: None, settings: Any) -> None:
    # Instantiating the cache connects to nothing: the check runs without Redis.
    assert _budget_check(settings, "django.core.cache.backends.redis.RedisCache", cache="budgets", LOCATION="redis://127.0.0.1:1") == []


def test_a_budget_naming_an_unknown_cache_is_an_error(isolated: None, settings: Any) -> None:
    [message] = _budget_check(settings, "django.core.cache.backends.redis.RedisCache", cache="missing")
    assert message.id == "pyck.E017"
    assert "'missing'" in message.msg


# --- Two real processes sharing Redis -------------------------------------------------------------------------

REDIS = ("127.0.0.1", 6379)

# One worker process: Django configured with nothing but a Redis cache (db 12), and one RestDatasource whose
# class is its own (one table of an Airtable base each) but whose budget has the same key as the other
# worker's: 4 requests in any second. The budget's margin (1 s here, for a loaded test machine) absorbs the
# differences between requests' delays from the moment they are counted to their arrival at the server.
# Both workers wait for each other, then start together 0.7 s into a second, where fixed windows aligned on
# the clock let 4 requests through at once and 4 more 0.3 s later.
_WORKER = textwrap.dedent(
    """
    import math, pathlib, sys, time
    import django
    from django.conf import settings

    url, prefix, worker, count, ready_dir = sys.argv[1:6]
    settings.configure(
        USE_TZ=True,
        CACHES={"default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/12",
            "KEY_PREFIX": prefix,
        }},
        PYCK={"HTTP_RETRIES": 0},
    )
    django.setup()
    from pyck.core.datasources import RequestBudget, RestDatasource

    Table = type(f"Table{worker}", (RestDatasource,), {
        "resource_type": dict,
        "request_budget": RequestBudget(requests=4, per=1, margin=1.0, key="airtable:app1"),
    })
    source = Table(base_url=url, path=f"/{worker}")
    ready = pathlib.Path(ready_dir)
    (ready / worker).touch()
    while len(list(ready.iterdir())) < 2:
        time.sleep(0.005)
    time.sleep(math.floor(time.time()) + 1.7 - time.time())
    for n in range(int(count)):
        source.fetch_url(source.url, n=n)
    """
)


def _redis_reachable() -> bool:
    if importlib.util.find_spec("redis") is None:
        return False
    try:
        with socket.create_connection(REDIS, timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_reachable(), reason="needs Redis on 127.0.0.1:6379 (and the redis package); CI has both")
def test_two_datasources_sharing_a_key_never_exceed_it_together_across_two_real_processes(tmp_path: Path) -> None:
    arrivals: list[tuple[float, str]] = []
    lock = threading.Lock()

    def record(received: Received) -> Any:
        with lock:
            arrivals.append((time.time(), received.path))
        return json_answer([])

    server = FaultServer()
    server.route("/a", dynamic_answer(record))
    server.route("/b", dynamic_answer(record))
    prefix = f"pyck-test-{uuid.uuid4()}"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    try:
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, server.url, prefix, name, "6", str(tmp_path)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("a", "b")
        ]
        outputs = [worker.communicate(timeout=120) for worker in workers]
    finally:
        server.close()
    for worker, (_, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr
    assert len(arrivals) == 12
    # Counts, not durations: a slow machine only sends fewer requests in a second, never more.
    assert most_in_any_window([at for at, _ in arrivals], 1.0) <= 4, sorted(arrivals)
    # Both workers were sending in the same second: each alone would have had the whole budget.
    assert any(
        {who for at, who in arrivals if start <= at < start + 1} == {"/a", "/b"} for start, _ in arrivals
    )


# --- rate_limit shared by key, and the penalty of a 429 without Retry-After ---------------------------------


def test_datasources_declaring_one_rate_limit_key_share_one_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 18 item 2: rate_limit=5 on two tables of one Airtable base allowed 10 requests a second.
    waits: list[float] = []
    monkeypatch.setattr(http, "_sleep", waits.append)  # nothing sleeps: the limiter's debt keeps growing
    key = f"airtable:{uuid.uuid4()}"
    tables = [Items(rate_limit=5, rate_limit_key=key), OtherItems(rate_limit=5, rate_limit_key=key, path="/others")]
    with responses.RequestsMock() as mock:
        mock.get(f"{API}/items", json=[])
        mock.get(f"{API}/others", json=[])
        for table in [*tables] * 5:
            list(table.list())
    # One rate for both: after the first request, each of the other 9 waits its turn (one bucket of 5 a
    # second); a limiter each would have let each table's first request through at once.
    assert len([wait for wait in waits if wait > 0]) == 9
    assert max(waits) == pytest.approx(9 / 5, abs=0.2)


def test_one_rate_limit_key_with_two_rates_is_a_configuration_error() -> None:
    key = f"airtable:{uuid.uuid4()}"
    with responses.RequestsMock() as mock:
        mock.get(f"{API}/items", json=[])
        list(Items(rate_limit=5, rate_limit_key=key).list())
        with pytest.raises(ConfigurationError, match=rf"rate_limit=10 under rate_limit_key '{key}'.*rate_limit=5"):
            list(OtherItems(rate_limit=10, rate_limit_key=key, path="/items").list())


class PenaltyAPI:
    """Airtable's rate limit: a 429 without Retry-After, and every request in the 30 s after it answered 429."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.penalty_until = clock() + 30  # the first request is already penalised
        self.statuses: list[int] = []

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        status = 429 if self.clock() < self.penalty_until else 200
        self.statuses.append(status)
        return status, {}, '{"id": 1}' if status == 200 else '{"errors": [{"error": "RATE_LIMIT_REACHED"}]}'


def test_a_declared_429_penalty_is_waited_out_and_every_retry_counts(clock: FakeClock, waits: list[float]) -> None:
    # Issue 18 item 2: the retries' backoff (0.5, 1, 2 s) all fell inside Airtable's 30 s penalty: the run failed.
    budget = RequestBudget(requests=10, per=60, clock=clock)
    source = Items(request_budget=budget, retry_after_429=30)
    api = PenaltyAPI(clock)
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, f"{API}/items/1", callback=api)
        assert source.get(1) == Item(id=1)
    assert api.statuses == [429, 200]
    assert waits == [30]
    assert counted(budget, budget.key_for(source), clock) == 2


def test_a_429_penalty_longer_than_http_max_retry_after_fails_at_once_saying_so(clock: FakeClock, waits: list[float], settings: Any) -> None:
    settings.PYCK = {"HTTP_MAX_RETRY_AFTER": 20}
    source = Items(retry_after_429=30)
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, f"{API}/items/1", callback=PenaltyAPI(clock))
        with pytest.raises(RateLimitError, match=r"penalty \(retry_after_429=30s\) is longer than HTTP_MAX_RETRY_AFTER=20s") as caught:
            source.get(1)
        assert len(mock.calls) == 1
    assert waits == []
    assert caught.value.retry_after == 30


@pytest.mark.parametrize("penalty", [-1, "30", True])
def test_a_bad_429_penalty_is_a_configuration_error(penalty: Any) -> None:
    with pytest.raises(ConfigurationError, match="retry_after_429 must be seconds"):
        Items(retry_after_429=penalty).get_session()
