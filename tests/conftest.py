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
    """Retries back off with time.sleep; tests must not wait for real. Tests that check the waits patch again."""
    import pyck.core

    http = getattr(pyck.core, "http", None)
    if http is not None and hasattr(http, "_sleep"):
        monkeypatch.setattr(http, "_sleep", lambda seconds: None)
