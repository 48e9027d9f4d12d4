"""Points ``testapp.Party`` at a listing served by a test's local HTTP server, in a child process.

The fault tests of one writer per model (``tests/faults/test_one_writer.py``) run syncs of ``Party`` in child
processes: ``python -m tests.faults.writer_child`` and ``manage.py run_cron_tasks --once``. Both call
``point_party_at`` (the clock's child through ``tests/cron_support/cron.py``, when ``PYCK_REMOTE_URL`` is set),
so that their ``Party`` reads ``<base_url>/parties``: ``{"items": [{"id", "name"}, ...]}`` pages by offset, of
``PYCK_REMOTE_PAGE`` items (10 by default), one page a batch. The records carry no colour, so the model's
``background_colour`` is a local-only column. ``PYCK_REMOTE_UNSCHEDULED=1`` also gives ``Party`` no
``sync_interval``, as a model the clock never runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass
class PartyRow:
    """A party as the listing gives it."""

    id: int
    name: str


def page_size() -> int:
    """The items a page (and a batch) holds: ``PYCK_REMOTE_PAGE``, 10 by default."""
    return int(os.environ.get("PYCK_REMOTE_PAGE", "10"))


def parties(base_url: str) -> Any:
    """The datasource of the parties at ``<base_url>/parties`` (see the module docstring)."""
    # Needs the app registry: imported when called, in a process that has set Django up.
    from pyck.core.datasources import OffsetPaginator, RestDatasource

    class Parties(RestDatasource[PartyRow]):
        resource_type = PartyRow
        path = "/parties"
        paginator = OffsetPaginator(limit=page_size(), items_path="items")
        timeout = 20.0
        retries = 0

    return Parties(base_url=base_url, name="faults.parties")


def point_party_at(base_url: str) -> None:
    """Make ``Party`` sync from ``<base_url>/parties`` in batches of a page, for the rest of this process."""
    from tests.testapp.models import Party  # needs the app registry, like the datasource

    Party.sync_config.datasource = parties(base_url)
    Party.sync_config.batch_size = page_size()
    if os.environ.get("PYCK_REMOTE_UNSCHEDULED"):
        Party.sync_config.sync_interval = None
