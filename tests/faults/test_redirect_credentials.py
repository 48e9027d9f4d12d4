"""A redirect to another host never carries the caller's headers: every header ``get_headers()`` returns is
dropped, whatever its name (``X-Membership-Ident`` looks like no credential, and is one), and so are cookies.
Real 301s between real servers on 127.0.0.1, to another port and to another host name (``localhost``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pyck import __version__

from .server import FaultServer, Received, json_answer, redirect_answer
from .sources import Members

IDENT_SECRET = "ident-9d41c7e0b2a6f3"
BEARER_SECRET = "bearer-tok-77a0c3e9d1f2"
CUSTOM_HEADERS = {
    "X-Membership-Ident": IDENT_SECRET,
    "Authorization": f"Bearer {BEARER_SECRET}",
    "X-Tenant": "north-branch-0042",
    "Cookie": "session=cookie-5e2b8a91c4d7",
}
MOVED = {"id": 7, "name": "Moved", "joined": "2024-07-04"}


class IdentMembers(Members):
    """Authenticated by a header whose name says nothing of credentials, plus a bearer token and a cookie."""

    def get_headers(self) -> dict[str, str]:
        return dict(CUSTOM_HEADERS)


@pytest.fixture
def other() -> Iterator[FaultServer]:
    """A second server: another port on 127.0.0.1."""
    second = FaultServer()
    yield second
    second.close()


Where = Callable[[FaultServer], str]
ANOTHER_PORT: Where = lambda other: other.url  # noqa: E731
ANOTHER_HOST: Where = lambda other: other.url.replace("127.0.0.1", "localhost")  # noqa: E731


def _assert_carries_none_of_the_callers_headers(followed: Received) -> None:
    sent = {name.lower() for name in followed.headers}
    assert not sent & {name.lower() for name in CUSTOM_HEADERS}, followed.headers
    assert not any(secret in str(followed.headers) for secret in (IDENT_SECRET, BEARER_SECRET, "cookie-5e2b"))
    # What the session itself sends, and tells nothing about the caller, still goes.
    assert followed.headers["User-Agent"].startswith(f"django-pyck/{__version__}")
    assert followed.headers["Accept"] == "application/json"


@pytest.mark.parametrize("where", [ANOTHER_PORT, ANOTHER_HOST], ids=["another-port", "another-host"])
def test_a_redirect_to_another_host_carries_none_of_the_get_headers(
    server: FaultServer, other: FaultServer, where: Where
) -> None:
    other.route("/members/7", json_answer(MOVED))
    server.route("/members/7", redirect_answer(f"{where(other)}/members/7"))
    member = IdentMembers(base_url=server.url, name="faults.ident").get(7)
    assert member.name == "Moved"
    [first] = server.received
    [followed] = other.received
    assert first.headers["X-Membership-Ident"] == IDENT_SECRET  # the credentials did go to the first host
    assert first.headers["Cookie"] == CUSTOM_HEADERS["Cookie"]
    _assert_carries_none_of_the_callers_headers(followed)


def test_a_redirect_chain_through_the_same_host_drops_them_at_the_host_change(
    server: FaultServer, other: FaultServer
) -> None:
    other.route("/members/7", json_answer(MOVED))
    server.route("/members/7", redirect_answer(f"{server.url}/v2/members/7"))
    server.route("/v2/members/7", redirect_answer(f"{ANOTHER_HOST(other)}/members/7", status=307))
    IdentMembers(base_url=server.url).get(7)
    assert server.requests_to("/v2/members/7")[0].headers["X-Membership-Ident"] == IDENT_SECRET
    _assert_carries_none_of_the_callers_headers(other.received[0])


def test_a_redirect_on_the_same_host_keeps_every_header(server: FaultServer) -> None:
    server.route("/members/7", redirect_answer(f"{server.url}/v2/members/7"))
    server.route("/v2/members/7", json_answer(MOVED))
    IdentMembers(base_url=server.url).get(7)
    followed: dict[str, Any] = server.requests_to("/v2/members/7")[0].headers
    assert followed["X-Membership-Ident"] == IDENT_SECRET
    assert followed["Authorization"] == f"Bearer {BEARER_SECRET}"
    assert followed["X-Tenant"] == "north-branch-0042"
