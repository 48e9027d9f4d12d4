"""The `field_map` sources no record of a listing carried: `UnseenSources`.

A `field_map` path the resource type does not declare is refused before the run (`plan.refuse_undeclared_sources`).
When the type cannot say (records are dicts, or objects of a class that declares nothing), a mistyped path reads
nothing from every record, and the field is left as it was (empty in the rows created): the run watches the records
go by and says which paths none of them carried.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

import difflib
from typing import Any

from ..models.synced import SyncedModel
from .attributes import resource_attributes
from .plan import MISSING, get_plan, read

__all__ = ["UnseenSources"]


class UnseenSources:
    """The `field_map` sources of one listing run that no record has carried yet.

    Built at the start of the run: raises `ConfigurationError` there, before anything is read or written, for a
    path the resource type does not declare (and for any other mistake its plan finds). Watches nothing when the
    type declares its attributes.
    """

    def __init__(self, model: type[SyncedModel]) -> None:
        config = model.sync_config
        self.label = model._meta.label
        # field_map path -> the model fields reading it; emptied as records carry them (the run's test per record).
        self.paths: dict[str, list[str]] = {}
        self.records = 0
        self._sample: Any = None
        if resource_attributes(config.datasource.resource_type) is not None:
            get_plan(model)  # the type says what it declares: refuse what it does not now, not at the first batch
            return
        for name, source in sorted((config.field_map or {}).items()):
            if source is not None:
                self.paths.setdefault(source, []).append(name)

    def see(self, resource: Any) -> None:
        """Note a record of the listing (call it while `paths` is not empty)."""
        self.records += 1
        if self._sample is None:
            self._sample = resource
        for path in [path for path in self.paths if read(resource, path) is not MISSING]:
            del self.paths[path]

    def warnings(self) -> list[str]:
        """One sentence per path no record carried, with the names close to it that the first record carries;
        nothing when the listing was empty."""
        if not self.records:
            return []
        carried = sorted(resource_attributes(None, self._sample) or ())
        found = []
        for path, names in self.paths.items():
            entries = ", ".join(f"{name!r}: {path!r}" for name in names)
            fields = " and ".join(names)
            close = difflib.get_close_matches(path.split(".")[0], carried, n=3)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            found.append(
                f"{self.label}: SyncConfig(field_map={{{entries}}}) reads {path!r}, which none of the {self.records} "
                f"records of this run carried: {fields} {'was' if len(names) == 1 else 'were'} left as "
                f"{'it was' if len(names) == 1 else 'they were'} (empty in the rows created).{hint} The first record "
                f"carries: {', '.join(carried) or 'nothing'}."
            )
        return found
