"""From the changes the events of a batch make to one model, to what `apply_records` writes: the records (as
the events carry them, or fetched with the datasource's `get()`), the ids to delete, and which events each
record's outcome belongs to.

A record changed by several events of the batch is written once, as the latest of them says; an older version
of it is skipped and counted stale, as is a record the write finds older than its row (`SyncConfig.version_field`).
Deletions follow the model's `SyncConfig.on_delete`: `DELETE` deletes the
row, `KEEP` keeps it (and counts it kept), as a sync does with a record gone from the listing.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from ..exceptions import NotFoundError
from ..models.synced import SyncedModel
from ..options import OnDelete
from ..records import deserialize
from ..redaction import redact_secrets
from .receivers import Change

__all__ = ["ModelWrite", "Pending", "plan_write"]


@dataclass(frozen=True, slots=True)
class Pending:
    """One change of one event of the batch: the event's primary key, the change, and whether its receiver
    always fetches records."""

    event: int
    change: Change
    fetch: bool


@dataclass
class ModelWrite:
    """What to write into one model for a batch of events, and what became of each event's changes so far.

    Attributes:
        model: the synced model.
        records: the records to write (one per external id).
        deleted: the external ids whose rows to delete.
        events: external id (the model field's Python value) -> the events that changed it.
        latest: external id -> the event whose change of it is written (the latest).
        failures: event -> why it failed.
        stale: event -> how many of its changes were older than another change of the same record.
        kept: event -> how many of its deletions were kept (`OnDelete.KEEP`).
    """

    model: type[SyncedModel]
    records: list[Any] = field(default_factory=list)
    deleted: list[Any] = field(default_factory=list)
    events: dict[Any, list[int]] = field(default_factory=lambda: defaultdict(list))
    latest: dict[Any, int] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    stale: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    kept: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def key(self, raw_id: Any) -> Any:
        """`raw_id` as the model's external id field holds it (so that `7` and `"7"` are one record)."""
        config = self.model.sync_config
        return self.model._meta.get_field(config.external_id).to_python(raw_id)

    def fail(self, key: Any, reason: str) -> None:
        """Fail every event that changed the record `key`, saying which record and why."""
        config = self.model.sync_config
        message = redact_secrets(f"{self.model._meta.label} record {key} ({config.datasource}): {reason}", config.datasource)
        for event in self.events.get(key, ()):
            self.failures.setdefault(event, message)


def plan_write(model: type[SyncedModel], pending: list[Pending]) -> ModelWrite:
    """Turn the changes of `model` in `pending` (in the order they happened) into a `ModelWrite`.

    Records the events carry are turned into resources by the datasource; records they do not carry, and all
    records of receivers that always fetch, are fetched with the datasource's `get()` (one request per record;
    `NotFoundError` means the record is gone). A fetch or a record that fails fails the events that changed
    that record only.
    """
    write = ModelWrite(model)
    latest: dict[Any, Pending] = {}
    for item in pending:
        try:
            key = write.key(item.change.external_id)
        except ValidationError as error:
            write.failures[item.event] = (
                f"{model._meta.label}: the id {item.change.external_id!r} does not fit its external id field "
                f"({'; '.join(error.messages)})"
            )
            continue
        write.events[key].append(item.event)
        current = latest.get(key)
        if current is None or not _older(item.change, current.change):
            if current is not None and _older(current.change, item.change):
                write.stale[current.event] += 1
            latest[key] = item
        else:
            write.stale[item.event] += 1
    datasource = model.sync_config.datasource
    deletes = model.sync_config.on_delete is OnDelete.DELETE
    for key, item in latest.items():
        write.latest[key] = item.event
        change = item.change
        try:
            if item.fetch or (change.record is None and not change.deleted):
                try:
                    record = datasource.get(change.external_id)
                except NotFoundError:
                    record, gone = None, True
                else:
                    gone = False
            else:
                gone = change.deleted
                record = None if gone else _resource(datasource, change.record)
        except Exception as error:
            write.fail(key, f"{'fetching' if item.fetch or change.record is None else 'reading'} it failed: {error}")
            continue
        if gone:
            if deletes:
                write.deleted.append(change.external_id)
            else:
                for event in write.events[key]:
                    write.kept[event] += 1
            continue
        try:
            record_key = write.key(datasource.get_id(record))
        except Exception as error:
            write.fail(key, f"cannot read the record's id ({error})")
            continue
        if record_key != key:
            write.fail(key, f"the record carries the id {record_key!r}, not {key!r}")
            continue
        write.records.append(record)
    return write


def _older(change: Change, other: Change) -> bool:
    """Whether `change` has a version, `other` too, and `change`'s is the older one."""
    if change.version is None or other.version is None:
        return False
    try:
        return bool(change.version < other.version)
    except TypeError:
        return False


def _resource(datasource: Any, data: Any) -> Any:
    """`data` as a resource of `datasource`: its JSON through the datasource's `deserialize` (a
    `RestDatasource`), or into its dataclass `resource_type`; anything else is taken as it is."""
    if not isinstance(data, dict):
        return data
    to_resource = getattr(datasource, "deserialize", None)
    if callable(to_resource):
        return to_resource(data)
    resource_type = getattr(datasource, "resource_type", None)
    if isinstance(resource_type, type) and dataclasses.is_dataclass(resource_type):
        return deserialize(data, resource_type)
    return data
