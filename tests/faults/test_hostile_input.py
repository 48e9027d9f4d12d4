"""Hostile ids and filter values never leave the resource path or add query parameters, and TLS is verified
unless turned off explicitly, loudly. Checked on what a real server on 127.0.0.1 receives."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from urllib3.exceptions import InsecureRequestWarning

from pyck.core.datasources import NotFoundError, RestDatasource, TransportError
from pyck.geo.territories.uk.parliament import Member as ParliamentMember
from pyck.geo.territories.uk.parliament import ParliamentDatasource
from pyck.geo.territories.uk.postcodes import PostcodeNotFoundError, PostcodesDatasource

from .server import FaultServer, json_answer
from .sources import MEMBER, Member, members

HOSTILE_IDS: list[Any] = [
    "../admin",
    "../../etc/passwd",
    "%2e%2e",
    "%2e%2e/admin",
    "%2E%2E%2Fadmin",
    "..%2f",
    "?x=1",
    "a?admin=1&b",
    "#frag",
    "a/b",
    "line\nbreak",
    "x\r\nX-Injected: 1",
    "ünïcødé/ß",
    "\u202eevil",
    "7 OR 1=1",
    " ",
]
#: Ids no quoting keeps inside the path: refused before any request.
REFUSED_IDS: list[Any] = ["", ".", ".."]


def rest_members(url: str) -> RestDatasource[Member]:
    return members(url)


def parliament_members(url: str) -> ParliamentDatasource[ParliamentMember]:
    return ParliamentDatasource(
        base_url=url, path="/Members/Search", item_path="/Members/{id}", resource_type=ParliamentMember, retries=0
    )


SOURCES: dict[str, tuple[Callable[[str], RestDatasource[Any]], str]] = {
    "RestDatasource": (rest_members, "/members/"),
    "ParliamentDatasource": (parliament_members, "/Members/"),
}


@pytest.mark.parametrize("kind", SOURCES)
@pytest.mark.parametrize("hostile", HOSTILE_IDS, ids=repr)
def test_hostile_ids_never_leave_the_resource_path(server: FaultServer, kind: str, hostile: Any) -> None:
    make, prefix = SOURCES[kind]
    with pytest.raises(NotFoundError) as caught:  # the server knows no such record
        make(server.url).get(hostile)
    assert caught.value.record_id == hostile
    [received] = server.received
    assert received.target.startswith(prefix)
    segment = received.target[len(prefix) :].removesuffix("/")
    assert "/" not in segment and "?" not in segment and "#" not in segment
    assert unquote(segment) == hostile
    assert received.query == {}
    assert "X-Injected" not in received.headers


@pytest.mark.parametrize("kind", SOURCES)
@pytest.mark.parametrize("hostile", REFUSED_IDS, ids=repr)
def test_ids_that_would_leave_the_resource_path_are_refused_without_a_request(
    server: FaultServer, kind: str, hostile: Any
) -> None:
    make, _prefix = SOURCES[kind]
    with pytest.raises(NotFoundError, match="cannot name a record") as caught:
        make(server.url).get(hostile)
    assert caught.value.record_id == hostile
    assert server.received == []


@pytest.mark.parametrize("hostile", ["..", ".", "../admin", "%2e%2e", "SW1A 2DD?x=1#f"], ids=repr)
def test_hostile_postcodes_never_leave_the_postcodes_path(server: FaultServer, hostile: str) -> None:
    with pytest.raises(PostcodeNotFoundError):
        PostcodesDatasource(base_url=server.url, retries=0).get(hostile)
    for received in server.received:
        assert received.target.startswith("/postcodes/")
        assert "/" not in received.target[len("/postcodes/") :]
        assert received.query == {}


def test_hostile_filter_values_cannot_inject_query_parameters(server: FaultServer) -> None:
    server.route("/members", json_answer({"items": []}))
    filters = {"name": "a&admin=1", "party": "x#frag", "q": "1\r\nX-Injected: 1", "x=1&y": "z", "limit": "999"}
    assert list(members(server.url).list(**filters)) == []
    [received] = server.received
    assert received.query == {
        "name": ["a&admin=1"],
        "party": ["x#frag"],
        "q": ["1\r\nX-Injected: 1"],
        "x=1&y": ["z"],
        "offset": ["0"],
        "limit": ["2"],  # the paginator's own parameters win over a filter of the same name
    }
    assert "X-Injected" not in received.headers


# --- TLS -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return str(cert), str(key)


@pytest.fixture
def tls_server(certificate: tuple[str, str]) -> Iterator[FaultServer]:
    server = FaultServer(tls=certificate)
    server.route("/members/7", json_answer(MEMBER))
    yield server
    server.close()


def test_tls_certificates_are_verified_by_default(tls_server: FaultServer) -> None:
    source = members(tls_server.url, retries=0)
    assert source.get_session().verify is True
    with pytest.raises(TransportError, match=r"TLS error.*CERTIFICATE_VERIFY_FAILED") as caught:
        source.get(7)
    assert caught.value.record_id == 7
    assert tls_server.received == []


def test_tls_verification_cannot_be_turned_off_on_the_session_behind_pyck(tls_server: FaultServer) -> None:
    source = members(tls_server.url, retries=0)
    source.get_session().verify = False
    with pytest.raises(TransportError, match="TLS error"):
        source.get(7)


def test_tls_with_the_servers_ca_bundle_succeeds(tls_server: FaultServer, certificate: tuple[str, str]) -> None:
    assert members(tls_server.url, verify=certificate[0]).get(7).id == 172


def test_turning_tls_verification_off_is_logged_as_a_warning(
    tls_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pyck")
    with pytest.warns(InsecureRequestWarning):
        assert members(tls_server.url, verify=False).get(7).id == 172
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("pyck")]
    assert "faults.members: TLS certificate verification is OFF (verify=False)" in warning.getMessage()
