"""The public API of pyck: datasources, synced models and their configuration.

Everything a user imports comes from here:

```python
from pyck.core.datasources import Datasource, RestDatasource, SyncedModel, SyncConfig
```

`SyncedModel` is a Django model, and Django forbids defining models before the app registry is ready. This
module is imported from settings files and datasource modules, so it resolves `SyncedModel` (and the other
names that live in heavier modules) lazily, on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .base import Datasource, Deleted, MockDatasource, ResourceT
from .exceptions import (
    ConfigurationError,
    DatasourceError,
    InvalidResourceError,
    NotFoundError,
    PyckError,
    RateLimitError,
    ResponseError,
    SyncError,
    SyncInProgressError,
    TransportError,
)

if TYPE_CHECKING:
    from .budget import RequestBudget
    from .models import SyncedModel, SyncRun
    from .options import ForEach, Incremental, OnDelete, SyncConfig
    from .page_ranges import PageRanges
    from .pagination import (
        CursorPaginator,
        LinkHeaderPaginator,
        NextUrlPaginator,
        NoPaginator,
        OffsetPaginator,
        PageNumberPaginator,
        Paginator,
    )
    from .rest import RestDatasource
    from .sync import SyncResult, apply_records

__all__ = [
    "ConfigurationError",
    "CursorPaginator",
    "Datasource",
    "DatasourceError",
    "Deleted",
    "ForEach",
    "Incremental",
    "InvalidResourceError",
    "LinkHeaderPaginator",
    "MockDatasource",
    "NextUrlPaginator",
    "NoPaginator",
    "NotFoundError",
    "OffsetPaginator",
    "OnDelete",
    "PageNumberPaginator",
    "PageRanges",
    "Paginator",
    "PyckError",
    "RateLimitError",
    "RequestBudget",
    "ResourceT",
    "ResponseError",
    "RestDatasource",
    "SyncConfig",
    "SyncError",
    "SyncInProgressError",
    "SyncResult",
    "SyncRun",
    "SyncedModel",
    "TransportError",
    "apply_records",
]

_LAZY = {
    "RestDatasource": ".rest",
    "RequestBudget": ".budget",
    "Paginator": ".pagination",
    "NoPaginator": ".pagination",
    "PageNumberPaginator": ".pagination",
    "OffsetPaginator": ".pagination",
    "CursorPaginator": ".pagination",
    "NextUrlPaginator": ".pagination",
    "LinkHeaderPaginator": ".pagination",
    "PageRanges": ".page_ranges",
    "SyncConfig": ".options",
    "OnDelete": ".options",
    "Incremental": ".options",
    "ForEach": ".options",
    "SyncResult": ".sync",
    "apply_records": ".sync",
    "SyncedModel": ".models",
    "SyncRun": ".models",
}


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __package__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
