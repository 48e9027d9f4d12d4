"""Child listings: a model listed once per row of a parent model (`SyncConfig.for_each`), in one run.

`ChildListing` reads each parent's listing in turn (the parents in primary-key order, as they were when the run
started), gives each record the parent it was listed under, and keeps going when one parent's listing fails. Its
positions name the parent and the position inside that parent's listing, so that an interrupted run resumes at
the parent and page it had reached (a resumed parent whose first page fails, as an expired page link does, is
read again from its start); they also carry the parents whose listing did not complete, so that the run that
resumes never deletes their rows either.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import ForeignKey, Q

from ..base import Datasource, Listed
from ..exceptions import ConfigurationError, DatasourceError, NotFoundError
from ..models.runs import SyncStatus
from ..models.synced import SyncedModel
from .results import RecordError, SyncResult, note

__all__ = ["ChildListing", "parent_model"]

logger = logging.getLogger("pyck.sync")


def parent_model(model: type[Any]) -> type[SyncedModel] | None:
    """The parent model of `model`'s child listing (`SyncConfig.for_each`), or `None` (not a child listing, or
    one whose `ForEach.field` is not a foreign key: its run says why)."""
    config = getattr(model, "sync_config", None)
    for_each = getattr(config, "for_each", None)
    if for_each is None:
        return None
    try:
        field = model._meta.get_field(for_each.field)
    except FieldDoesNotExist:
        return None
    related = getattr(field, "related_model", None)
    if isinstance(field, ForeignKey) and isinstance(related, type) and issubclass(related, SyncedModel):
        return related
    return None


class ChildListing:
    """The listing of a child model: each parent row's listing in turn, as one listing of the run.

    Made by `for_model` at the start of a run; `read` gives the records; `extra` the column values of the record
    just read (its parent); `settle` adds the parents whose listing failed to the result; `kept_rows` says which
    rows deletion must leave alone.
    """

    def __init__(self, model: type[SyncedModel]) -> None:
        config = model.sync_config
        for_each = config.for_each
        assert for_each is not None
        self.model = model
        self.param = for_each.param
        label = model._meta.label
        parent = parent_model(model)
        if parent is None:
            raise ConfigurationError(
                f"{label}: SyncConfig(for_each=ForEach({for_each.field!r}, ...)) must name a ForeignKey of the model to "
                "the parent model (a SyncedModel), which each record's parent fills."
            )
        self.parent = parent
        self.attname = model._meta.get_field(for_each.field).attname
        self.value = for_each.value or parent.sync_config.external_id
        try:
            parent._meta.get_field(self.value)
        except FieldDoesNotExist:
            raise ConfigurationError(
                f"{label}: SyncConfig(for_each=ForEach(..., value={self.value!r})) names no field of {parent._meta.label}."
            ) from None
        # The parent whose records are being read (its pk), the parents whose listing did not complete (pks as
        # text, a new list at each change: positions share it), and how many of those an interrupted run left.
        self.current: uuid.UUID | None = None
        self.skipped: list[str] = []
        self.skipped_before = 0
        self.failures: list[str] = []
        self.gone: list[str] = []
        self.parents = 0
        self.failed_listings = 0

    @classmethod
    def for_model(cls, model: type[SyncedModel]) -> ChildListing | None:
        """The child listing of `model`, or `None` when it has no `SyncConfig.for_each`.

        Raises:
            ConfigurationError: `ForEach.field` is not a foreign key to a synced model, or `ForEach.value` names
                no field of it.
        """
        return cls(model) if model.sync_config.for_each is not None else None

    def read(self, datasource: Datasource[Any], query: Mapping[str, Any], start: Any) -> Iterator[Listed]:
        """Yield `(record, position)` for each record of each parent's listing `read_listing({**query, param:
        value})`, from the parent and position `start` (a position yielded before) on."""
        resume_at: str | None = None
        inner: Any = None
        if start is not None:
            resume_at, inner = start["parent"], start["at"]
            self.skipped = list(start.get("skipped", ()))
            self.skipped_before = len(self.skipped)
        ext = self.parent.sync_config.external_id
        rows = self.parent._base_manager.order_by("pk")
        if resume_at is not None:
            rows = rows.filter(pk__gte=resume_at)
        # Read at once: a cursor held open across the batches' transactions is not portable.
        parents = list(rows.values_list("pk", self.value, ext))
        for pk, value, remote_id in parents:
            key = str(pk)
            if value is None:
                self._skip(key, f"{self.parent._meta.label} row {key} has no {self.value}: its listing cannot be read")
                continue
            self.current = pk
            self.parents += 1
            begin = inner if key == resume_at else None
            # A parent resumed part way whose first page fails (an expired page link) is read again from its start.
            for start_at in [begin, None] if begin is not None else [None]:
                read = False
                try:
                    for record, position in datasource.read_listing({**query, self.param: value}, start=start_at):
                        read = True
                        yield record, {"parent": key, "at": position, "skipped": self.skipped}
                except DatasourceError as error:
                    error = error.with_context(datasource=datasource)
                    if start_at is not None and not read:
                        logger.warning(
                            "%s: the listing of %s for %s %r failed where the interrupted run had reached (%s); "
                            "reading it from its start", self.model._meta.label, datasource, self.parent._meta.label,
                            value, error,
                        )
                        continue
                    self._failed(datasource, key, value, remote_id, error)
                break

    def extra(self) -> dict[str, Any]:
        """The column values of the record `read` yielded last: its parent."""
        return {self.attname: self.current}

    def _failed(self, datasource: Datasource[Any], key: str, value: Any, remote_id: Any, error: DatasourceError) -> None:
        where = f"{self.parent._meta.label} {value!r}"
        if getattr(error, "status_code", None) == 404 and self._gone(remote_id):
            text = (
                f"{self.model._meta.label}: the listing of {datasource} for {where} answered 404, and so does the "
                f"{self.parent._meta.label} itself: it was deleted remotely. Its rows were kept: they go when the "
                f"parent's own sync deletes it (the foreign key's on_delete)"
            )
            self.gone.append(text)
            self._skip(key, None)
            return
        self.failed_listings += 1
        self._skip(key, f"The listing of {datasource} for {where} failed; its rows were kept: {error}")

    def _gone(self, remote_id: Any) -> bool:
        """Whether the parent `remote_id` is gone remotely: its datasource's `get()` raises `NotFoundError`."""
        try:
            self.parent.sync_config.datasource.get(remote_id)
        except NotFoundError:
            return True
        except DatasourceError:
            return False
        return False

    def _skip(self, key: str, failure: str | None) -> None:
        self.skipped = [*self.skipped, key]
        if failure is not None:
            logger.warning("%s", failure)
            self.failures.append(failure)

    def settle(self, result: SyncResult, max_errors: int) -> None:
        """Add the parents whose listing failed to `result`: their errors first, and a `partial` status (`failed`
        when no parent's listing completed); the parents gone remotely as notes."""
        for text in self.gone:
            note(result, text, level=logging.WARNING)
        errors = [RecordError(None, text) for text in self.failures]
        earlier = self.skipped_before  # parents skipped by the interrupted run this one resumed
        if earlier:
            errors.append(RecordError(None, (
                f"{earlier} parents' listings did not complete in the earlier, interrupted part of this run (see the "
                "previous sync run): their rows were kept"
            )))
        if not errors:
            return
        result.errors[:0] = errors
        del result.errors[max(max_errors, 1):]
        if self.failed_listings and self.failed_listings >= self.parents:
            result.status = SyncStatus.FAILED
        elif result.status == SyncStatus.SUCCEEDED:
            result.status = SyncStatus.PARTIAL

    def kept_rows(self) -> Q | None:
        """The rows deletion must leave alone: those of the parents whose listing did not complete, and, when
        there are such parents, the rows with no parent (they belong to no listing: they go once every parent's
        listing completes). `None`: none."""
        if not self.skipped:
            return None
        return Q(**{f"{self.attname}__in": [uuid.UUID(key) for key in self.skipped]}) | Q(**{f"{self.attname}__isnull": True})
