"""Incremental syncs of Action Network collections: `filter=modified_date gt '…'`.

Collections can be filtered with OData, `filter=modified_date gt '2014-03-25'` ("Searching and filtering (OData)",
https://actionnetwork.org/docs/v2/). `modified_since()` makes the `Incremental` that asks for the records modified
since the last run:

```python
from pyck.contrib.action_network.incremental import modified_since

sync_config = SyncConfig(datasource=people, incremental=modified_since())
```

The cursor is the largest `modified_date` of the last complete run, sent in the form the API writes its dates
(`'2024-03-01T10:00:00Z'`; the documentation's example filters on a date, `'2014-03-25'`). `gt` excludes the
cursor itself, and the dates count whole seconds, so the filter starts `lookback` (a second) before it: the
records at the boundary are read again, which the upsert makes harmless. Incremental runs never delete (a
deleted record is not "modified"); a full run every `reconcile_interval` does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pyck.core.exceptions import ConfigurationError
from pyck.core.options import Incremental

__all__ = ["modified_after", "modified_since"]


def modified_after(since: Any) -> str:
    """The OData filter of the records modified after `since` (a datetime, naive ones taken as UTC, or a date):
    `modified_date gt '2024-03-01T10:00:00Z'`.

    Raises:
        ConfigurationError: `since` is neither a datetime nor a date.
    """
    if isinstance(since, datetime):
        moment = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
        text = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif isinstance(since, date):
        text = since.isoformat()
    else:
        raise ConfigurationError(f"Action Network filters modified_date by a datetime or a date, got {since!r}")
    return f"modified_date gt '{text}'"


def modified_since(
    *, lookback: timedelta = timedelta(seconds=1), reconcile_interval: timedelta | None = timedelta(days=1)
) -> Incremental:
    """The `Incremental` of an Action Network collection: the records whose `modified_date` is after the last
    run's latest, less `lookback`, asked with `filter=modified_date gt '…'`; a full run (which finds deletions)
    every `reconcile_interval` (`None`: only when asked).

    Not for child listings (taggings, attendances, submissions, signatures): pyck does not combine `for_each`
    with `incremental`.
    """
    return Incremental(
        field="modified_date",
        param="filter",
        format=modified_after,
        lookback=lookback,
        reconcile_interval=reconcile_interval,
    )
