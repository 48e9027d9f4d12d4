"""Property tests: whatever JSON (or bytes) a server sends, reading it through ``RestDatasource`` either gives a
well-typed record or raises ``InvalidResourceError``/``ResponseError`` naming the record and the field, never
anything else (``KeyError``, ``TypeError``, ``UnicodeDecodeError``, ``RecursionError``...)."""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import Decimal
from typing import Any

import responses
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pyck.core.datasources import InvalidResourceError, NoPaginator, ResponseError

from .sources import MEMBER, Address, Member, Party, members

API = "http://api.faults.test"

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30)
    | st.integers(min_value=0, max_value=300_000).map(lambda n: "x" * n)  # huge strings
)
arbitrary_json = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
deeply_nested = st.integers(min_value=1, max_value=90).map(lambda depth: json.loads("[" * depth + "]" * depth))


@st.composite
def mutated_members(draw: st.DrawFn) -> Any:
    """A valid member with some of its fields (top level or nested) deleted, nulled or replaced by junk, and
    extra keys added."""
    record = json.loads(json.dumps(MEMBER))
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        target = draw(st.sampled_from(_objects_in(record)))
        key = draw(st.sampled_from([*target, "extra"]))
        action = draw(st.sampled_from(["delete", "null", "junk", "nested"]))
        if action == "delete":
            target.pop(key, None)
        elif action == "null":
            target[key] = None
        elif action == "junk":
            target[key] = draw(arbitrary_json)
        else:
            target[key] = draw(deeply_nested)
    return record


any_item = mutated_members() | arbitrary_json | deeply_nested


def _objects_in(record: dict[str, Any]) -> list[dict[str, Any]]:
    found = [record]
    for key in ("party", "tags"):
        if isinstance(record.get(key), dict):
            found.append(record[key])
    addresses = record.get("addresses")
    if isinstance(addresses, list) and addresses and isinstance(addresses[0], dict):
        found.append(addresses[0])
    return found


def check_record(member: Member) -> None:
    assert isinstance(member.id, int) and not isinstance(member.id, bool)
    assert isinstance(member.name, str)
    assert isinstance(member.joined, date)
    assert member.party is None or (isinstance(member.party, Party) and isinstance(member.party.id, int))
    assert all(isinstance(a, Address) and isinstance(a.street, str) for a in member.addresses)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in member.tags.items())
    assert member.salary is None or isinstance(member.salary, Decimal)


def _same(a: Any, b: Any) -> bool:
    """Equal, or both NaN (a JSON `NaN` id is read back as another float NaN, which equals nothing)."""
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@example(item={"id": float("nan")})  # the id is read back as another NaN, which equals nothing
@given(item=any_item)
def test_any_listed_item_gives_a_typed_record_or_an_error_naming_record_and_field(item: Any) -> None:
    source = members(API, paginator=NoPaginator(items_path="items"))
    with responses.RequestsMock() as api:
        api.get(f"{API}/members", json={"items": [item]})
        try:
            records = list(source.list())
        except InvalidResourceError as error:
            assert error.datasource is source
            assert error.url == f"{API}/members"
            if isinstance(item, dict):
                assert error.field  # the dotted path of the offending field
                assert _same(error.record_id, item.get("id"))
                if item.get("id") is not None:
                    assert f"record id {item['id']!r}" in str(error)
            return
    [record] = records
    check_record(record)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(body=b"null")  # a top-level scalar once crashed the depth check with a TypeError
@example(body=b"\xff\xfe{}")
@given(
    body=st.binary(max_size=200)
    | arbitrary_json.map(lambda v: json.dumps(v).encode())
    | mutated_members().map(lambda v: json.dumps(v).encode("utf-16"))
)
def test_any_body_bytes_give_a_record_or_a_response_or_invalid_resource_error(body: bytes) -> None:
    source = members(API)
    with responses.RequestsMock() as api:
        api.get(f"{API}/members/7", body=body, content_type="application/json")
        try:
            record = source.get(7)
        except (ResponseError, InvalidResourceError) as error:
            assert error.record_id == 7
            assert error.url == f"{API}/members/7"
            assert "datasource faults.members" in str(error)
            return
    check_record(record)


@settings(max_examples=50, deadline=None)
@example(body=b"\xed\xb3\xbf")  # a UTF-8-encoded surrogate: json.loads(bytes) would let it through
@example(body=b"\xed\xa0\x80\x00")
@given(body=st.binary(min_size=1, max_size=50).filter(lambda b: not _is_utf8(b)))
def test_bytes_that_are_not_utf8_are_a_response_error(body: bytes) -> None:
    with responses.RequestsMock() as api:
        api.get(f"{API}/members/7", body=b'{"name": "' + body + b'"}', content_type="application/json")
        try:
            members(API).get(7)
        except ResponseError as error:
            assert "UnicodeDecodeError" in str(error)
        else:
            raise AssertionError("a body that is not UTF-8 was accepted")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
