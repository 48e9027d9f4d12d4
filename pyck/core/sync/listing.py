"""Reading a datasource's listing for a sync: `listing` gives its records (or the errors of the records that
could not be read) with the position after each, from the datasource's `read_listing()`.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..base import Datasource, Listed, listing_of
from .checkpoint import RunState
from .children import ChildListing

__all__ = ["listing"]


def listing(
    datasource: Datasource[Any], query: dict[str, Any], run: RunState, children: ChildListing | None = None
) -> Iterator[Listed]:
    """Return the `(record, position)` pairs of the listing `run` reads, with an `InvalidResourceError` in place
    of each bad record (see `Datasource.read_listing`).

    A full run, or an incremental one whose `Incremental.param` carries the cursor in `query`, reads
    `datasource.read_listing(query)`, from `run.start` when it resumes. An incremental run without a `param`
    reads the datasource's `list_changed()`, which cannot resume. A child listing (`children`) reads each
    parent's listing in turn (see `ChildListing.read`).
    """
    if children is not None:
        return children.read(datasource, query, run.start)
    incremental = run.incremental
    if run.mode == "incremental" and incremental is not None and incremental.param is None:
        return listing_of(datasource, datasource.list_changed(run.since, **query))
    return datasource.read_listing(query, start=run.start)
