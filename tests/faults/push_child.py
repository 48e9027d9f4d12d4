"""A process that pushes records with `apply_records`, round by round, for `test_concurrent_push.py`.

Run as `python -m tests.faults.push_child <port> <name> <model>` with the environment of
`tests.cron_support.helpers.child_env` (the test database's settings); `<model>` is `party` or `member`. The
child connects to the test's barrier on 127.0.0.1:`<port>` and says `hello <name>`. Then, for each round, it:

1. reads the round's records, one JSON line: `{"round": n, "records": [[id, name, party id or null], ...]}`;
2. builds them (`Party` or `Member` resources: the model's datasource type) and answers `ready`;
3. waits for `go`, which the test sends to both children at once, and calls `apply_records`;
4. answers with one JSON line: the result's counts, status and errors, how many times the party datasource's
   `get()` was called, and when the call started and ended (`time.monotonic()`, one clock for every process
   of the machine).

It exits 0 when it reads `end`. An exception from `apply_records` is not caught: the child dies with its
traceback on stderr and a non-zero exit code, and the test fails showing it.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import Any

import django


def main(port: int, name: str, model_name: str) -> None:
    """Push the records the test sends, when it says go, until it says end."""
    django.setup()
    from pyck.core.datasources import MockDatasource, apply_records
    from pyck.geo.territories.uk import parliament as P
    from tests.testapp.models import MP, Party

    class Parties(MockDatasource[P.Party]):
        """Every party exists remotely: `get(id)` returns it, named after its id, and counts the call."""

        calls = 0

        def get(self, id: Any) -> P.Party:
            Parties.calls += 1
            return P.Party(id=int(id), name=f"Party {id}", background_colour="")

    Party.sync_config.datasource = Parties(resource_type=P.Party, name="push.parties")
    MP.sync_config.datasource = MockDatasource(resource_type=P.Member, name="push.members")
    model = Party if model_name == "party" else MP

    def build(id: int, label: str, party: int | None) -> Any:
        if model is Party:
            return P.Party(id=id, name=label, background_colour="")
        member = P.Member(id=id, name=label)
        member.latest_party = party  # an id: a party the test never stored, fetched with get()
        return member

    with socket.create_connection(("127.0.0.1", port), timeout=120) as conn:
        stream = conn.makefile("rw", encoding="utf-8", newline="\n")

        def send(line: str) -> None:
            stream.write(line + "\n")
            stream.flush()

        send(f"hello {name}")
        while True:
            line = stream.readline().strip()
            if line == "end" or not line:
                return
            plan = json.loads(line)
            records = [build(id, label, party) for id, label, party in plan["records"]]
            gets_before = Parties.calls
            send("ready")
            if stream.readline().strip() != "go":
                raise SystemExit(f"{name}: expected go in round {plan['round']}")
            start = time.monotonic()
            result = apply_records(model, records)
            end = time.monotonic()
            send(json.dumps({
                "round": plan["round"],
                "status": result.status,
                "mode": result.mode,
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "failed": result.failed,
                "errors": [error.message for error in result.errors],
                "gets": Parties.calls - gets_before,
                "start": start,
                "end": end,
            }))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
