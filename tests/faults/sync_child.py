"""A sync in a process of its own, for the tests that kill it (``test_process_faults.py``).

Run as ``python -m tests.faults.sync_child <base_url> <batch_size>`` with the environment of
:func:`tests.cron_support.helpers.child_env` (the test database's settings). It syncs ``testapp.Party`` from
``<base_url>/parties``, an offset-paged listing of ``{"id", "name"}`` items (no colour, so the model's
``background_colour`` is a local-only column), then prints the result.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import django


@dataclass
class PartyRow:
    """A party as the listing gives it."""

    id: int
    name: str


def main(base_url: str, batch_size: int) -> None:
    """Point ``Party`` at the listing under ``base_url`` and sync it in batches of ``batch_size``."""
    django.setup()
    from pyck.core.datasources import OffsetPaginator, RestDatasource
    from pyck.core.sync import sync_model
    from tests.testapp.models import Party

    class Parties(RestDatasource[PartyRow]):
        resource_type = PartyRow
        path = "/parties"
        paginator = OffsetPaginator(limit=batch_size, items_path="items")
        timeout = 20.0
        retries = 0

    Party.sync_config.datasource = Parties(base_url=base_url, name="faults.parties")
    print(sync_model(Party, batch_size=batch_size), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
