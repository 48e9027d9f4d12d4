"""The records a listing run could not write, and whether its deletions can still go on: `FailedRecords`.

A complete listing in which records failed is still complete when every failed record is accounted for:

- a failed record whose id is known names the row it would have written: that row is kept as it was (never
  deleted, never changed), and the rows really gone are deleted;
- a record that positively has no id (its id field absent, null or empty: a Google Sheets row whose key cell is
  empty) cannot be the record of any row: it is reported, and does not stop deletions;
- a failure whose id cannot be read at all (an item that is not an object, an id of a type no id has, an id
  the model's `external_id` cannot hold) could be any row's record: then nothing is deleted.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import InvalidResourceError
from ..models.synced import SyncedModel
from .plan import RecordFailure, get_plan

__all__ = ["MAX_FAILED_IDS", "FailedRecords"]

# Most failed ids a run remembers per model; past it, the failures count as unidentified (nothing deleted).
MAX_FAILED_IDS = 100_000

# Keyless records whose position the run reports.
_MAX_SHOWN = 3


class FailedRecords:
    """The failed records of one model's listing (of all its partitions, for a partitioned model): the
    external ids they name, those without an id, and those that could not be identified."""

    def __init__(self, model: type[SyncedModel]) -> None:
        self.model = model
        self.keys: set[Any] = set()
        """The `external_id` values (the column's type) of the failed records whose id is known."""
        self.keyless = 0
        """Records that positively have no id."""
        self.unidentified = 0
        """Failures whose id could not be read: each blocks deletion."""
        self.unknown_before = 0
        """Records that failed in the interrupted part of a resumed listing: their ids are not kept, so they
        block deletion."""
        self._keyless_at: list[str] = []
        self._why: str | None = None

    def listed(self, error: InvalidResourceError, position: Any, ordinal: int) -> None:
        """Note a record the listing could not read (`error`), the `ordinal`-th of the run's listing, at
        `position` (the listing's position after it, `None` if it has none)."""
        if error.record_id in (None, "") and (error.record_id == "" or getattr(error, "keyless", False)):
            self.keyless += 1
            if len(self._keyless_at) < _MAX_SHOWN:
                where = error.location or f"record {ordinal} of this run's listing"
                self._keyless_at.append(f"{where} (position {position})" if position is not None else where)
            return
        self._note(error.record_id, str(error))

    def written(self, record_id: Any, reason: str) -> None:
        """Note a record read from the listing that could not be written; `record_id` is `None` when the
        record carries no id (its id key or attribute absent, or null)."""
        if record_id in (None, ""):
            self.keyless += 1
            return
        self._note(record_id, reason)

    def _note(self, record_id: Any, reason: str) -> None:
        if record_id is None:
            self._unidentified(reason)
            return
        try:
            key = get_plan(self.model).key(record_id)
        except RecordFailure as error:
            self._unidentified(f"{error}: {reason}")
            return
        if len(self.keys) >= MAX_FAILED_IDS and key not in self.keys:
            self._unidentified(f"more than {MAX_FAILED_IDS:,} records failed: their ids are not all kept")
            return
        self.keys.add(key)

    def _unidentified(self, why: str) -> None:
        self.unidentified += 1
        self._why = self._why or why

    def blocking(self) -> str | None:
        """Why no row may be deleted after this listing (`None`: deletions may go on, keeping `keys`)."""
        if self.unknown_before:
            return (
                f"{self.unknown_before} records failed in the earlier, interrupted part of this listing, and their "
                "ids are not kept, so their rows cannot be told apart from rows that are gone"
            )
        if self.unidentified:
            return (
                f"{self.unidentified} failed records could not be identified (their id could not be read), so "
                f"their rows cannot be told apart from rows that are gone; the first: {self._why}"
            )
        return None

    def keyless_detail(self) -> str | None:
        """Where the first records without an id were, for the `"no_id"` warning."""
        if not self._keyless_at:
            return None
        more = ", ..." if self.keyless > len(self._keyless_at) else ""
        return f"at {'; '.join(self._keyless_at)}{more}"
