"""Shared fixtures for pyck's tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> Any:
    """Return the parsed JSON of ``tests/fixtures/<name>`` (for example ``"uk/parliament_member.json"``)."""
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def mock_api() -> Iterator[responses.RequestsMock]:
    """A ``responses`` mock in which every registered response must be requested by the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture(autouse=True)
def _no_sleep_in_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries, backoff and the rate limiter wait through ``pyck.core.http._sleep``; tests must not wait for
    real. Tests that check the waits patch it again."""
    import pyck.core.http

    monkeypatch.setattr(pyck.core.http, "_sleep", lambda seconds: None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``live`` (they call the real remote APIs) unless ``-m`` selects them (``-m live``)."""
    if "live" in (config.getoption("markexpr", "") or ""):
        return
    skip_live = pytest.mark.skip(reason="calls the real remote APIs; run with -m live")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip_live)
