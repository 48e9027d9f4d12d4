"""Fixtures for the fault suite: a misbehaving local server, and the waits retries ask for."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pyck.core import http

from .server import FaultServer


@pytest.fixture
def server() -> Iterator[FaultServer]:
    """A :class:`~tests.faults.server.FaultServer` on 127.0.0.1, closed after the test."""
    fault_server = FaultServer()
    yield fault_server
    fault_server.close()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait pyck asks for (backoff, Retry-After, rate limit), in order; nothing actually sleeps."""
    asked: list[float] = []
    monkeypatch.setattr(http, "_sleep", asked.append)
    return asked
