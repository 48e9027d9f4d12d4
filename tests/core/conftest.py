"""Fixtures shared by the tests of pyck.core."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import responses

from tests.cron_support.helpers import Child

from .helpdesk import FakeHelpdesk


@pytest.fixture
def spawn() -> Iterator[Callable[..., Child]]:
    """Start children with ``spawn(args, env)``; any still running at the end of the test is killed."""
    children: list[Child] = []

    def start(args: list[str], env: dict[str, str]) -> Child:
        child = Child(args, env)
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()


@pytest.fixture
def helpdesk() -> Iterator[FakeHelpdesk]:
    """The fake helpdesk API (``tests/core/helpdesk.py``) with 35 tickets: 4 pages of 10, 4 batches of 10."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        api = FakeHelpdesk()
        for id in range(1, 36):
            api.put(id)
        yield api.install(mock)
