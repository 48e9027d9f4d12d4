"""Reading a datasource's listing for a sync: `listing` gives its records (or the errors of the records that
could not be read) with the position after each, from the datasource's `read_listing()`, and reads it again
from the start when the API refuses the position a checkpoint resumed from.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..base import Datasource, Listed, listing_of
from ..exceptions import ConfigurationError
from .checkpoint import RunState
from .children import ChildListing

__all__ = ["listing"]


def listing(
    datasource: Datasource[Any], filter_: dict[str, Any], run: RunState, children: ChildListing | None = None
) -> Iterator[Listed]:
    """Return the `(record, position)` pairs of the listing `run` reads with the filter `filter_`, with an
    `InvalidResourceError` in place of each bad record (see `Datasource.read_listing`).

    A full run, or an incremental one whose `Incremental.param` carries the cursor in its query, reads
    `datasource.read_listing(run.query(filter_))`, from `run.start` when it resumes. An incremental run
    without a `param` reads the datasource's `list_changed()`, which cannot resume.

    When a resumed listing fails before its first record (at the checkpoint's own page), `run.resume_failed`
    decides what becomes of the checkpoint; when it drops it, the listing is read again from the start.

    A child listing (`children`) reads each parent's listing in turn, and restarts the listing of a parent whose
    resumed first page fails (see `ChildListing.read`).
    """
    if children is not None:
        yield from children.read(datasource, run.query(filter_), run.start)
        return
    records = _read(datasource, filter_, run)
    if run.start is None:
        yield from records
        return
    try:
        first = next(records)
    except StopIteration:
        return
    except ConfigurationError:
        raise  # the configuration is wrong, not the checkpoint
    except Exception as error:
        if not run.resume_failed(error):
            raise
        records = _read(datasource, filter_, run)
        try:
            first = next(records)
        except StopIteration:
            return
    yield first
    yield from records


def _read(datasource: Datasource[Any], filter_: dict[str, Any], run: RunState) -> Iterator[Listed]:
    incremental = run.incremental
    if run.mode == "incremental" and incremental is not None and incremental.param is None:
        return iter(listing_of(datasource, datasource.list_changed(run.since, **filter_)))
    return iter(datasource.read_listing(run.query(filter_), start=run.start))
