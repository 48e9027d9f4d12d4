"""A local NationBuilder server (`benchmarks/nationbuilder_server.py`) that the docs page's models sync from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.nationbuilder_server import NationBuilderServer
from tests.nationbuilder_support.models import Donation, Person, Tag

TOKEN = "nb-access-token-LOCAL-0123456789"


@pytest.fixture
def nation(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[NationBuilderServer]:
    with NationBuilderServer() as server:
        server.tokens[TOKEN] = float("inf")
        settings.NATIONBUILDER_ACCESS_TOKEN = TOKEN
        for model in (Tag, Person, Donation):
            monkeypatch.setattr(model.sync_config.datasource, "base_url", f"{server.url}/api/v2")
        yield server


def populate(server: NationBuilderServer, people: int = 5, tags: int = 3) -> None:
    """`tags` tags; `people` signups, signup i tagged with tag (i % tags) + 1 and tag 1; a donation per signup."""
    for t in range(1, tags + 1):
        server.add("signup_tags", str(t), {"name": f"tag {t}"})
    for i in range(1, people + 1):
        linked = sorted({1, i % tags + 1})
        server.add(
            "signups",
            str(i),
            {"first_name": f"First{i}", "last_name": f"Last{i}", "email": f"p{i}@example.org", "support_level": i % 5},
            relationships={"signup_tags": [("signup_tags", str(t)) for t in linked]},
        )
        server.add("donations", str(100 + i), {"amount_in_cents": 1000 * i}, relationships={"signup": ("signups", str(i))})
