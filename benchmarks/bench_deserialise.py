"""Deserialisation speed: ``deserializer_for`` against a hand-written constructor call.

Run from the repository root::

    python -m benchmarks.bench_deserialise [--records 100000] [--repeat 3] [--shape member|sync]

It deserialises the same parsed-JSON records (a member with ten fields: a nested party, a datetime, an
optional, a list of nested roles…) with :func:`pyck.core.records.deserializer_for`, and with the call a user
would write by hand (``Member(id=d["id"], ..., party=Party(**d["party"]))``, ``isoparse`` for the datetime,
no type checks), and prints records per CPU second for both (best of ``--repeat`` runs) and their ratio. The
two take turns within each round.

``--shape sync`` deserialises the sync benchmark's member instead (:mod:`benchmarks.server`: eight flat fields, a
``date``, a ``Decimal`` sent as a string, an optional string, the party's id), the record on the hot path of
``bench_sync``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from dateutil.parser import isoparse

from pyck.core.records import deserializer_for

__all__ = ["Member", "Party", "Role", "SyncMember", "handwritten", "handwritten_sync", "main", "make_records"]


@dataclass
class Party:
    """The member's party (nested object)."""

    id: int
    name: str
    colour: str | None = None


@dataclass
class Role:
    """One of the member's roles (list of nested objects)."""

    title: str
    since: int


@dataclass
class Member:
    """A record with ten fields of the kinds real APIs send."""

    id: int
    name: str
    email: str
    active: bool
    dues: Decimal
    score: float
    joined: datetime
    nickname: str | None
    party: Party
    roles: list[Role]


@dataclass
class SyncMember:
    """The sync benchmark's member (``benchmarks.benchapp.datasources.MemberResource``)."""

    id: int
    name: str
    membership_number: int
    joined_on: date
    active: bool
    dues: Decimal
    nickname: str | None
    party: int


def handwritten_sync(d: dict[str, Any]) -> SyncMember:
    """The hand-written call for :class:`SyncMember`."""
    return SyncMember(
        id=d["id"], name=d["name"], membership_number=d["membership_number"],
        joined_on=date.fromisoformat(d["joined_on"]), active=d["active"], dues=Decimal(d["dues"]),
        nickname=d.get("nickname"), party=d["party"],
    )


def make_records(count: int) -> list[dict[str, Any]]:
    """Return ``count`` distinct parsed-JSON members (as ``json.loads`` would give them)."""
    return [
        {
            "id": i,
            "name": f"Member {i}",
            "email": f"member{i}@example.org",
            "active": i % 3 != 0,
            "dues": 12 + i % 7,
            "score": i / 7,
            "joined": f"20{10 + i % 15:02d}-0{1 + i % 9}-1{i % 10}T12:{i % 60:02d}:00",
            "nickname": None if i % 2 else f"m{i}",
            "party": {"id": i % 10, "name": f"Party {i % 10}", "colour": "ff0000"},
            "roles": [{"title": "member", "since": 2010 + i % 10}, {"title": "treasurer", "since": 2020}],
            "unknown": "ignored",
        }
        for i in range(count)
    ]


def handwritten(d: dict[str, Any]) -> Member:
    """The baseline: the constructor call a user writes by hand, with no type checks."""
    return Member(
        id=d["id"],
        name=d["name"],
        email=d["email"],
        active=d["active"],
        dues=Decimal(d["dues"]),
        score=float(d["score"]),
        joined=isoparse(d["joined"]),
        nickname=d.get("nickname"),
        party=Party(**d["party"]),
        roles=[Role(**r) for r in d["roles"]],
    )


def _seconds(function: Callable[[Any], Any], records: list[dict[str, Any]]) -> float:
    # CPU time of this process, not the wall clock: on a shared machine other jobs stretch the wall clock
    # of whichever contender happens to run beside them. Single-threaded, so the two agree on an idle machine.
    started = time.process_time()
    for record in records:
        function(record)
    return time.process_time() - started


def _best_rates(
    functions: dict[str, Callable[[Any], Any]], records: list[dict[str, Any]], repeat: int
) -> dict[str, float]:
    # The contenders take turns within each round, so a busy neighbour slows both rather than one.
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeat):
        for name, function in functions.items():
            best[name] = min(best[name], _seconds(function, records))
    return {name: len(records) / seconds for name, seconds in best.items()}


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print the figures and return them (records per second, and the ratio)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shape", choices=["member", "sync"], default="member", help="which record (see above)")
    options = parser.parse_args(argv)

    if options.shape == "sync":
        import json

        from benchmarks.server import BenchData

        data = BenchData(options.records)
        records = json.loads(json.dumps([data.member(i) for i in range(1, options.records + 1)]))
        deserialize, by_hand = deserializer_for(SyncMember), handwritten_sync
    else:
        records = make_records(options.records)
        deserialize, by_hand = deserializer_for(Member), handwritten
    assert deserialize(records[1]) == by_hand(records[1]), "the two ways must build the same record"

    rates = _best_rates({"pyck": deserialize, "handwritten": by_hand}, records, options.repeat)
    pyck_rate, hand_rate = rates["pyck"], rates["handwritten"]
    print(f"Python {platform.python_version()} on {platform.machine()}, {options.records} records, "
          f"best of {options.repeat}")
    print(f"deserializer_for:  {pyck_rate:>10,.0f} records per CPU second")
    print(f"hand-written:      {hand_rate:>10,.0f} records per CPU second")
    print(f"ratio (hand/pyck): {hand_rate / pyck_rate:>10.2f}")
    return {"pyck": pyck_rate, "handwritten": hand_rate, "ratio": hand_rate / pyck_rate}


if __name__ == "__main__":
    main(sys.argv[1:])
