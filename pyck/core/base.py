"""The datasource interface, and an in-memory datasource for tests.

A datasource is to an external API what a model's manager is to a table: it gets a record by id and lists
records, and it says which type the records are and which attribute holds their id.
"""

from __future__ import annotations

import abc
import operator
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from .exceptions import ConfigurationError, NotFoundError

__all__ = ["Datasource", "MockDatasource", "ResourceT"]

ResourceT = TypeVar("ResourceT")


class Datasource(Generic[ResourceT], abc.ABC):
    """An external source of records of one type.

    Subclass it to adapt a client library (implement :meth:`get` and :meth:`list`), or use
    :class:`~pyck.core.datasources.RestDatasource` for a REST API.

    Every keyword argument given to the constructor becomes an instance attribute, so one class can serve
    many endpoints that differ only in their settings::

        messages = ZapMessageResource(resource_type=zapmessage.Message)
        senders = ZapMessageResource(resource_type=zapmessage.MessageSender)

    **Filtering and sorting.** ``list(**filter)`` passes its keyword arguments on to the remote side; which
    ones are understood is up to each datasource and is documented on it. By convention a datasource that
    can sort takes ``ordering="field"`` (``"-field"`` for descending), as Django's querysets do. A datasource
    that cannot honour a filter or an ordering raises ``TypeError`` rather than silently ignoring it.
    """

    #: The type of the records this datasource returns (a dataclass for REST datasources).
    resource_type: type[ResourceT] | Any = None

    #: The attribute of a record that holds its id.
    identifier: str = "id"

    #: A human-readable name used in log lines and error messages. Defaults to the class and resource type.
    name: str | None = None

    sent_secrets: tuple[str, ...] = ()
    """The secret values (API keys, tokens) this datasource has sent, longest first.

    Errors and log lines about the datasource blank them out (`pyck.core.redaction.redact_secrets`), in case the
    remote side echoes one back. `RestDatasource` keeps it up to date from its `get_headers()` and secret query
    parameters. A datasource doing its own HTTP may set it to what it sends; assign a new tuple rather than
    changing it, so that readers in other threads need no lock.
    """

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
        """Return the records changed since ``since`` (inclusive), filtered like :meth:`list`.

        The sync engine calls it for incremental runs of models whose ``Incremental`` has no ``param``;
        ``since`` is the cursor minus the lookback (a value of the cursor field: a datetime, a number...).
        Implement it when the API asks for changes in a way a single ``list()`` argument cannot express.
        """
        raise NotImplementedError(
            f"{self} has no list_changed(): set Incremental(param=...) to the list() argument taking the cursor, "
            "or implement list_changed(since, **filter) on the datasource."
        )

    def get_id(self, resource: ResourceT) -> Any:
        """Return the id of ``resource``: its :attr:`identifier` attribute (or key, for a mapping)."""
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

    ``data`` is a public attribute: reassign it (or change the list) between syncs to simulate the remote side
    changing. ``list()`` filters by attribute equality (``list(party="Labour")``) and sorts with
    ``ordering="name"`` or ``ordering="-name"``. ``get()`` matches ids by value, treating ``1`` and ``"1"``
    as the same id, as a URL would.

    Example::

        parties = MockDatasource([Party(id=1, name="Labour")])
        parties.get(1).name  # "Labour"
    """

    def __init__(self, data: Sequence[ResourceT] | Iterable[ResourceT] = (), identifier: str = "id", **kwargs: Any) -> None:
        super().__init__(identifier=identifier, **kwargs)
        self.data: list[ResourceT] = list(data)
        if self.resource_type is None and self.data:
            self.resource_type = type(self.data[0])

    def get(self, id: Any) -> ResourceT:
        for resource in self.data:
            found = self.get_id(resource)
            if found == id or str(found) == str(id):
                return resource
        raise NotFoundError("No record with this id", datasource=self, record_id=id)

    def list(self, *, ordering: str | None = None, **filter: Any) -> Iterator[ResourceT]:
        records: Iterable[ResourceT] = (r for r in self.data if all(_value(r, k) == v for k, v in filter.items()))
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


def check_datasource(value: Any, *, where: str) -> Datasource[Any]:
    """Return ``value`` if it is a :class:`Datasource`, else raise a :class:`ConfigurationError` naming ``where``."""
    if not isinstance(value, Datasource):
        raise ConfigurationError(
            f"{where}: expected a Datasource instance, got {value!r} ({type(value).__name__}). "
            "Pass an instance such as parliament.constituencies, not a class or a module."
        )
    return value
