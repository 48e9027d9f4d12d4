"""pyck.core.budget: a request budget counted in Django's cache, waits and their bound, what counts as a
request, the system check on the cache, and the budget holding across two real processes sharing Redis."""

from __future__ import annotations

import importlib.util
import math
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
import warnings
from collections import Counter
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
from pyck.core.models import registry
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
    """The counter of ``key`` in the fake clock's current window."""
    window = math.floor(clock() / budget.seconds)
    return int(caches[budget.cache].get(budget.cache_key(key, window), 0))


# --- The counter -------------------------------------------------------------------------------------------


def test_requests_within_the_budget_do_not_wait(clock: FakeClock, waits: list[float]) -> None:
    budget = RequestBudget(requests=3, per=10, clock=clock)
    assert [budget.acquire("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert waits == []
    assert counted(budget, "k", clock) == 3


def test_a_spent_window_waits_for_the_next_one(clock: FakeClock, waits: list[float]) -> None:
    budget = RequestBudget(requests=2, per=timedelta(seconds=10), clock=clock)
    clock.now = 1_000_003.0  # 7 s before the window of [1_000_000, 1_000_010) ends
    budget.acquire("k")
    budget.acquire("k")
    waited = budget.acquire("k")
    assert waits == [pytest.approx(7.0, abs=0.01)]
    assert waited == waits[0]
    assert math.floor(clock.now / 10) == 100_001  # the request went out in the next window...
    assert counted(budget, "k", clock) == 1  # ...and counts there


def test_a_wait_beyond_max_wait_raises_at_once_saying_when(clock: FakeClock, waits: list[float]) -> None:
    budget = RequestBudget(requests=1, per=timedelta(hours=1), max_wait=60, clock=clock)
    budget.acquire("k")
    with pytest.raises(RateLimitError, match=r"budget of 1 per hour \(key 'k'\) is spent; the next window opens in") as caught:
        budget.acquire("k")
    assert waits == []
    assert caught.value.retry_after == pytest.approx(3600 - clock.now % 3600, abs=0.01)


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
    keys = [budget.cache_key(key, 7) for key in odd]
    assert len(set(keys)) == len(keys)
    assert keys[-1] == "pyck:budget:<locals>.Items@api.example.com:8443:7"
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


class BrokenCache(LocMemCache):
    """A cache whose server is down."""

    def add(self, *args: Any, **kwargs: Any) -> bool:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_a_failing_cache_stops_the_request_instead_of_letting_it_through(settings: Any, mock_api: responses.RequestsMock) -> None:
    settings.CACHES = {"default": {"BACKEND": f"{__name__}.BrokenCache"}}
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


def test_a_datasource_without_budget_counts_nothing(clock: FakeClock) -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"{API}/items/1", json={"id": 1})
        Items().get(1)
    assert not any(key.startswith(":1:pyck:budget:") for key in caches["default"]._cache)  # type: ignore[attr-defined]


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
        ("django.core.cache.backends.filebased.FileBasedCache", {"LOCATION": "/tmp/pyck-budget-check"}, "reading and writing it back"),
        ("django.core.cache.backends.db.DatabaseCache", {"LOCATION": "pyck_cache"}, "reading and writing it back"),
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

# One worker process: Django configured with nothing but a Redis cache, one RestDatasource with a budget of
# 10 requests per 1 s window (the default key: both workers define the same class and talk to the same host).
# Both workers wait for each other, then start together just after a window opens, so that every request is
# counted near the start of its window and reaches the server within it.
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
            "LOCATION": "redis://127.0.0.1:6379",
            "KEY_PREFIX": prefix,
        }},
        PYCK={"HTTP_RETRIES": 0},
    )
    django.setup()
    from pyck.core.datasources import RequestBudget, RestDatasource

    class Budgeted(RestDatasource[dict]):
        resource_type = dict
        request_budget = RequestBudget(requests=10, per=1)

    source = Budgeted(base_url=url, path="/items")
    ready = pathlib.Path(ready_dir)
    (ready / worker).touch()
    while len(list(ready.iterdir())) < 2:
        time.sleep(0.005)
    time.sleep(math.floor(time.time()) + 1.02 - time.time())
    for n in range(int(count)):
        source.fetch_url(source.url, worker=worker, n=n)
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
def test_the_budget_holds_across_two_real_processes(tmp_path: Path) -> None:
    arrivals: list[tuple[float, str]] = []
    lock = threading.Lock()

    def record(received: Received) -> Any:
        with lock:
            arrivals.append((time.time(), received.query["worker"][0]))
        return json_answer([])

    server = FaultServer()
    server.route("/items", dynamic_answer(record))
    prefix = f"pyck-test-{uuid.uuid4()}"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    try:
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, server.url, prefix, name, "15", str(tmp_path)],
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
    assert len(arrivals) == 30
    per_window = Counter(math.floor(at) for at, _ in arrivals)  # the budget's windows: whole seconds
    assert max(per_window.values()) <= 10, sorted(per_window.items())
    # Both workers were sending in the same windows: each alone would have had the whole budget.
    senders = {window: {who for at, who in arrivals if math.floor(at) == window} for window in per_window}
    assert any(len(who) == 2 for who in senders.values())
