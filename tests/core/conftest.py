"""Fixtures shared by the tests of pyck.core."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.cron_support.helpers import Child


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
