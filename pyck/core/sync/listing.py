"""Reading a datasource's listing for a sync: `listing` yields its records (or the errors of the records that
could not be read) with the position after each.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..conf import pyck_settings
from ..exceptions import ConfigurationError, InvalidResourceError
from ..lookahead import prefetch
from ..records import deserializer_for
from ..rest import NOT_DESERIALISABLE, RestDatasource
from .checkpoint import RunState

__all__ = ["listing"]


def listing(datasource: Any, query: dict[str, Any], run: RunState) -> Iterator[tuple[Any, Any]]:
    """Yield ``(record, position)`` for each record of the listing, with an :class:`InvalidResourceError` in
    place of each bad record.

    ``position`` is the checkpoint after that record (``None`` when the listing cannot resume): the page's
    position and how many of its items have been read. The listing starts at ``run.start`` when resuming.

    A resumable ``RestDatasource``'s pages are fetched and parsed in a background thread, up to the
    ``SYNC_PREFETCH_PAGES`` setting ahead of the record being yielded (see :mod:`pyck.core.lookahead`);
    records are deserialised here, in the caller's thread.

    A record that fails deserialisation is skipped only when the datasource lets us go on after it: a plain
    :class:`~pyck.core.rest.RestDatasource` (whose items we deserialise one by one here) or a ``list()``
    returning an iterator that survives the error. A generator that raised is finished, so then the error
    fails the listing.
    """
    incremental = run.incremental
    if run.mode == "incremental" and incremental is not None and incremental.param is None:
        yield from ((record, None) for record in _generic_listing(datasource, datasource.list_changed(run.since, **query)))
        return
    if isinstance(datasource, RestDatasource) and type(datasource).list is RestDatasource.list:
        url = datasource.redact(datasource.url)
        resumable = datasource.resumable
        if resumable:
            start_page, skip = (run.start["page"], run.start["index"]) if run.start else (None, 0)
            depth = pyck_settings.SYNC_PREFETCH_PAGES
            if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
                raise ConfigurationError(
                    f"The SYNC_PREFETCH_PAGES setting must be a whole number, 0 or more (0: off), got {depth!r}."
                )
            # The next pages are fetched and parsed in another thread while this one writes the current batch.
            pages = prefetch(datasource.walk(start_page, **query), depth, name=f"pyck-prefetch {run.label}")
        else:
            start_page, skip, pages = None, 0, ((None, [item]) for item in datasource.paginate(**query))
        to_record = _plain_deserializer(datasource)
        for page_position, items in pages:
            for index, item in enumerate(items[skip:], start=skip):
                position = {"page": page_position, "index": index + 1} if resumable else None
                try:
                    if to_record is None:
                        record = datasource.deserialize_record(item, url=url, record_id=datasource.get_raw_id(item))
                    else:
                        record = to_record(item)
                except _DESERIALISING_ERRORS as error:
                    record = _explained(datasource, item, url, error, again=to_record is not None)
                    if isinstance(record, InvalidResourceError):
                        yield record, position
                        continue
                if datasource.filter is None or datasource.filter(record):
                    yield record, position
            skip = 0
        return
    yield from ((record, None) for record in _generic_listing(datasource, datasource.list(**query)))


# What RestDatasource.deserialize_record turns into an InvalidResourceError (anything else propagates).
_DESERIALISING_ERRORS = (InvalidResourceError, *NOT_DESERIALISABLE)


def _plain_deserializer(datasource: Any) -> Callable[[Any], Any] | None:
    """The function turning one item into a record as ``datasource.deserialize_record`` does when it succeeds,
    without that method's frame and the raw id it reads for an error that rarely comes (``None`` when the
    datasource overrides ``deserialize_record``: then that method is called for each item)."""
    cls = type(datasource)
    if cls.deserialize_record is not RestDatasource.deserialize_record:
        return None
    if cls.deserialize is not RestDatasource.deserialize:
        return datasource.deserialize
    return deserializer_for(datasource.resource_type, camel_case=datasource.camel_case)


def _explained(datasource: Any, item: Any, url: str, error: Exception, *, again: bool) -> Any:
    """What ``deserialize_record`` makes of an item that raised ``error``: the error naming the datasource, the
    page and the record (or, should a second try succeed, the record). ``again``: ``error`` came from the plain
    deserialiser, so ``deserialize_record`` is asked; otherwise it came from that method already."""
    if not again:
        if isinstance(error, InvalidResourceError):
            return error
        raise error
    try:
        return datasource.deserialize_record(item, url=url, record_id=datasource.get_raw_id(item))
    except InvalidResourceError as explained:
        return explained


def _generic_listing(datasource: Any, iterable: Iterable[Any]) -> Iterator[Any]:
    iterator = iter(iterable)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except InvalidResourceError as error:
            if inspect.isgenerator(iterator):
                raise  # a generator that raised is finished: the rest of the listing is lost
            yield error.with_context(datasource=datasource)

