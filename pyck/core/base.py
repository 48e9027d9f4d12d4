"""The datasource interface, and an in-memory datasource for tests.

A datasource is to an external API what a model's manager is to a table: it gets a record by id and lists
records, and it says which type the records are and which attribute holds their id.
"""

from __future__ import annotations

import abc
import inspect
import logging
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .exceptions import ConfigurationError, InvalidResourceError, NotFoundError

__all__ = [
    "Datasource", "Deleted", "Listed", "MockDatasource", "ResourceT", "has_tombstones", "listing_of", "skip_tombstone",
]

logger = logging.getLogger("pyck.records")

ResourceT = TypeVar("ResourceT")

Listed = tuple[Any, Any]
"""What `Datasource.read_listing` yields for each record: the record (or the `InvalidResourceError` of a record
that could not be read), and the listing's position after it (`None` when the listing cannot resume)."""


@dataclass(frozen=True)
class Deleted:
    """A record the API says is deleted, by its id: what `list_changed()` (or a listing) yields in place of the
    record when the API reports deletions as changes, as Stripe's `customer.deleted` events do.

    ```python
    def list_changed(self, since, **filter):
        for event in self.events_since(since):
            yield Deleted(event["id"]) if event["deleted"] else self.deserialize(event["object"])
    ```

    A sync whose listing completes (incremental or full) deletes the row of each `Deleted` id under
    `OnDelete.DELETE`, as `apply_records(deleted=...)` does, without asking `get()`: the API said so. Under
    `OnDelete.KEEP` the rows are kept, and the run's notes say how many. A row is not deleted when the listing
    failed: the incremental cursor did not move, so the next run reads the deletion again.

    Args:
        id: the record's id, as the records carry it (converted as their ids are).
    """

    id: Any


class Datasource(Generic[ResourceT], abc.ABC):
    """An external source of records of one type.

    Subclass it to adapt a client library (implement `get` and `list`), or use
    `RestDatasource` for a REST API.

    Every keyword argument given to the constructor becomes an instance attribute, so one class can serve
    many endpoints that differ only in their settings:

    ```python
    messages = ZapMessageResource(resource_type=zapmessage.Message)
    senders = ZapMessageResource(resource_type=zapmessage.MessageSender)
    ```

    **Filtering and sorting.** `list(**filter)` passes its keyword arguments on to the remote side; which
    ones are understood is up to each datasource and is documented on it. By convention a datasource that
    can sort takes `ordering="field"` (`"-field"` for descending), as Django's querysets do. A datasource
    that cannot honour a filter or an ordering raises `TypeError` rather than silently ignoring it.
    """

    resource_type: type[ResourceT] | Any = None
    """The type of the records this datasource returns (a dataclass for REST datasources)."""

    identifier: str = "id"
    """The attribute of a record that holds its id."""

    name: str | None = None
    """A human-readable name used in log lines and error messages. Defaults to the class and resource type."""

    sent_secrets: tuple[str, ...] = ()
    """The secret values (API keys, tokens) this datasource has sent, longest first.

    Errors and log lines about the datasource blank them out (`pyck.core.redaction.redact_secrets`), in case the
    remote side echoes one back. `RestDatasource` keeps it up to date from its `get_headers()` and secret query
    parameters. A datasource doing its own HTTP may set it to what it sends; assign a new tuple rather than
    changing it, so that readers in other threads need no lock.
    """
    tombstone: Mapping[str, Any] | None = None
    """The values that mark a record as deleted, by dotted path (`{"deleted": True}` for Stripe, which answers a
    deleted object with `{"id": ..., "deleted": true}`); see `is_tombstone`. `None`: no record says it is deleted.
    """
    resumable: bool = False
    """Whether `read_listing` can start part way through, from a position it yielded before (the sync engine
    stores them as checkpoints, and resumes a run that died from there)."""

    def __init__(self, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            setattr(self, key, value)

    @abc.abstractmethod
    def get(self, id: Any) -> ResourceT:
        """Return the record with this id.

        Raises:
            NotFoundError: there is no such record.
        """
        raise NotImplementedError("get() must be implemented.")

    @abc.abstractmethod
    def list(self, **filter: Any) -> Iterable[ResourceT]:
        """Return the records, optionally filtered (see the class docstring). The iterable may be lazy."""
        raise NotImplementedError("list() must be implemented.")

    def list_changed(self, since: Any, **filter: Any) -> Iterable[ResourceT]:
        """Return the records changed since `since` (inclusive), filtered like `list`.

        The sync engine calls it for incremental runs of models whose `Incremental` has no `param`;
        `since` is the cursor minus the lookback (a value of the cursor field: a datetime, a number...).
        Implement it when the API asks for changes in a way a single `list()` argument cannot express.
        """
        raise NotImplementedError(
            f"{self} has no list_changed(): set Incremental(param=...) to the list() argument taking the cursor, "
            "or implement list_changed(since, **filter) on the datasource."
        )

    def read_listing(self, filter: Mapping[str, Any], *, start: Any = None) -> Iterator[Listed]:
        """Yield `(record, position)` for each record of the listing `list(**filter)`: how the sync engine reads it.

        `record` is a resource, or an `InvalidResourceError` in place of a record that could not be read (naming
        this datasource and, where known, the URL and the record's id): the engine counts and reports it, and
        reads on. `position` is where the listing is after that record, as JSON (the engine stores it as the
        run's checkpoint), or `None`; `start` is such a position, to go on right after it (only given when
        `resumable` is true).

        The default reads `list(**filter)` from the start, with `None` positions (see `listing_of`).
        `RestDatasource` reads its pages itself (see `RestDatasource.read_listing`). Override it when your API
        can resume a listing part way through (then set `resumable`), or can give the engine the records faster
        than `list()` does; `list()` stays the listing everyone else reads.
        """
        return listing_of(self, self.list(**filter))

    def includes(self, record: ResourceT) -> bool:
        """Whether the listing includes `record`, a record `get()` returned.

        The sync engine asks it before deleting a row missing from a complete listing whose record `get()`
        still finds: a record the listing leaves out on purpose is gone as far as the model is concerned. The
        default says yes, unless the record is a tombstone (see `is_tombstone`); `RestDatasource` also applies its
        `filter`. Override it when `list()` leaves records out that `get()` still returns.
        """
        return not self.is_tombstone(record)

    def is_tombstone(self, data: Any) -> bool:
        """Whether `data`, a record as the API sent it, says that the record is deleted (a "tombstone").

        A tombstone counts as not found: `get()` raises `NotFoundError` for it (so a sync deletes the row), a
        listing leaves it out, and a sync resolves a reference embedded as one to null (or leaves it out of a
        many-to-many). `data` is the raw JSON of an answer or a listed item, or, for a reference embedded in
        another record, whatever that record holds there: a raw object, or a record whose type declares the
        tombstone's fields (see "Writing datasources").

        The default compares each `tombstone` path with its value (same type, same value; a path steps into
        mappings by key and into other objects by attribute). Override it for a test no values can express.
        """
        tombstone = self.tombstone
        if not tombstone:
            return False
        if not isinstance(tombstone, Mapping):
            raise ConfigurationError(
                f"{self}: tombstone must map dotted paths to the values that mark a deleted record "
                f'({{"deleted": True}}), got {tombstone!r}'
            )
        for path, expected in tombstone.items():
            value = _read_path(data, path)
            if value is _ABSENT or type(value) is not type(expected) or value != expected:
                return False
        return True

    def get_id(self, resource: ResourceT) -> Any:
        """Return the id of `resource`: its `identifier` attribute (or key, for a mapping)."""
        if isinstance(resource, dict):
            return resource[self.identifier]
        return getattr(resource, self.identifier)

    def __str__(self) -> str:
        if self.name:
            return self.name
        resource = getattr(self.resource_type, "__name__", None)
        return f"{type(self).__name__}({resource})" if resource else type(self).__name__

    def __repr__(self) -> str:
        return f"<{self}>"


class MockDatasource(Datasource[ResourceT]):
    """A datasource over a list in memory, for your own tests.

    `data` is a public attribute: reassign it (or change the list) between syncs to simulate the remote side
    changing. `list()` filters by attribute equality (`list(party="Labour")`) and sorts with
    `ordering="name"` or `ordering="-name"`. `get()` matches ids by value, treating `1` and `"1"`
    as the same id, as a URL would.

    For example:

    ```python
    parties = MockDatasource([Party(id=1, name="Labour")])
    parties.get(1).name  # "Labour"
    ```
    """

    def __init__(self, data: Sequence[ResourceT] | Iterable[ResourceT] = (), identifier: str = "id", **kwargs: Any) -> None:
        super().__init__(identifier=identifier, **kwargs)
        self.data: list[ResourceT] = list(data)
        if self.resource_type is None and self.data:
            self.resource_type = type(self.data[0])

    def get(self, id: Any) -> ResourceT:
        """The record with this id (a tombstone counts as none, see `is_tombstone`).

        Raises:
            NotFoundError: no record has this id, or its record is a tombstone.
        """
        for resource in self.data:
            found = self.get_id(resource)
            if found == id or str(found) == str(id):
                if self.is_tombstone(resource):
                    raise NotFoundError(
                        "The record is deleted (a tombstone, see is_tombstone)", datasource=self, record_id=id
                    )
                return resource
        raise NotFoundError("No record with this id", datasource=self, record_id=id)

    def list(self, *, ordering: str | None = None, **filter: Any) -> Iterator[ResourceT]:
        """The records matching `filter` by attribute equality, sorted by `ordering`; tombstones left out."""
        records: Iterable[ResourceT] = (
            r for r in self.data if all(_value(r, k) == v for k, v in filter.items()) and not skip_tombstone(self, r)
        )
        if ordering:
            attribute = ordering.lstrip("-")
            records = sorted(records, key=lambda r: _value(r, attribute), reverse=ordering.startswith("-"))
        return iter(records)


def _value(resource: Any, attribute: str) -> Any:
    if isinstance(resource, dict):
        try:
            return resource[attribute]
        except KeyError:
            raise TypeError(f"MockDatasource cannot filter or sort on {attribute!r}: the records have no such key") from None
    try:
        return operator.attrgetter(attribute)(resource)
    except AttributeError:
        raise TypeError(f"MockDatasource cannot filter or sort on {attribute!r}: the records have no such attribute") from None


# What _read_path() returns for a step it cannot take.
_ABSENT: Any = object()


def _read_path(data: Any, path: str) -> Any:
    """The value at the dotted `path` of `data`: a key of a mapping, an index of a list, an attribute of anything
    else; `_ABSENT` where a step is missing."""
    current = data
    for step in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(step, _ABSENT)
        elif isinstance(current, list):
            index = int(step) if step.lstrip("-").isdigit() else None
            current = current[index] if index is not None and -len(current) <= index < len(current) else _ABSENT
        elif isinstance(current, (str, bytes, int, float, bool)) or current is None:
            return _ABSENT
        else:
            current = getattr(current, step, _ABSENT)
        if current is _ABSENT:
            return _ABSENT
    return current


def skip_tombstone(datasource: Datasource[Any], data: Any, *, url: str | None = None) -> bool:
    """Whether a listing leaves `data` (a listed item) out as a tombstone (see `Datasource.is_tombstone`); says so
    in the log, at debug level."""
    if not datasource.is_tombstone(data):
        return False
    logger.debug("%s: left a deleted record (a tombstone) out of the listing%s: %r", datasource,
                 f" at {url}" if url else "", _shown_id(datasource, data))
    return True


def _shown_id(datasource: Datasource[Any], data: Any) -> Any:
    value = _read_path(data, datasource.identifier)
    return None if value is _ABSENT else value


def has_tombstones(datasource: Datasource[Any]) -> bool:
    """Whether `datasource` can call a record a tombstone: it declares `tombstone`, or overrides `is_tombstone`
    (callers skip the test per record when it cannot)."""
    return bool(datasource.tombstone) or type(datasource).is_tombstone is not Datasource.is_tombstone


def listing_of(datasource: Datasource[Any], records: Iterable[Any]) -> Iterator[Listed]:
    """Yield `(record, None)` for each of `records` (what `datasource.list()` or `list_changed()` returned), as
    `Datasource.read_listing` yields them.

    An `InvalidResourceError` the iterator raises is yielded in place of its record, with `datasource` as its
    context, when the iterator can go on after it; a generator that raised is finished, so then the error ends
    the listing (it is raised).
    """
    iterator = iter(records)
    tombstones = has_tombstones(datasource)
    while True:
        try:
            record = next(iterator)
            if isinstance(record, Deleted) or not tombstones or not skip_tombstone(datasource, record):
                yield record, None
        except StopIteration:
            return
        except InvalidResourceError as error:
            if inspect.isgenerator(iterator):
                raise  # a generator that raised is finished: the rest of the listing is lost
            yield error.with_context(datasource=datasource), None


def check_datasource(value: Any, *, where: str) -> Datasource[Any]:
    """Return `value` if it is a `Datasource`, else raise a `ConfigurationError` naming `where`."""
    if not isinstance(value, Datasource):
        raise ConfigurationError(
            f"{where}: expected a Datasource instance, got {value!r} ({type(value).__name__}). "
            "Pass an instance such as parliament.constituencies, not a class or a module."
        )
    return value
