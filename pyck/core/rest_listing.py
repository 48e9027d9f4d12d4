"""How the sync engine reads a `RestDatasource`'s listing: `read_pages`, the body of
`RestDatasource.read_listing`.

The pages are walked directly rather than through `list()`: fetched and parsed ahead in a background thread
when the listing can resume, each item deserialised in the caller's thread, each record yielded with the
position a later run resumes from, and an item that does not fit yielded as its error rather than ending the
listing.

Positions are stored (in `SyncState.checkpoint`), so they never hold the datasource's credentials: a next-page
link into which the API copied a secret query parameter the datasource sends (`?api_key=`, as Django REST
framework does) is stored without it. The datasource's own secret parameters are those it passes to
`RestDatasource.request` (from `list_query`, the filter, or an override of `request` adding them; see
`RestDatasource.sent_secret_params`) and those of its session's `params`; the secret-looking parameters of the
API's own making (`pageToken`) are kept. Resuming from such a link, `RestDatasource.walk` puts the current
values of `list_query` and the filter back (`secret_query`), and `request` and the session add theirs as they
always do: a rotated key is used, never the one the link was made with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .base import Listed, has_tombstones, skip_tombstone
from .conf import pyck_settings
from .exceptions import ConfigurationError, InvalidResourceError
from .lookahead import prefetch
from .redaction import is_secret_param, without_params

if TYPE_CHECKING:
    from .rest import RestDatasource

__all__ = ["NOT_DESERIALISABLE", "read_pages", "secret_query"]

# What RestDatasource.deserialize_record turns into an InvalidResourceError besides that error itself: what a
# deserialize() override reading a missing key or a value of the wrong type raises.
NOT_DESERIALISABLE = (KeyError, TypeError, ValueError)

# What read_pages() catches from the deserialiser: what deserialize_record turns into an InvalidResourceError
# (anything else propagates).
_DESERIALISING_ERRORS = (InvalidResourceError, *NOT_DESERIALISABLE)


def read_pages(
    datasource: RestDatasource[Any],
    filter: Mapping[str, Any],
    *,
    start: Any,
    to_record: Callable[[Any], Any] | None,
) -> Iterator[Listed]:
    """Yield `(record, position)` for each record of `datasource`'s listing, as `RestDatasource.read_listing`
    describes.

    Args:
        datasource: the datasource whose pages are read.
        filter: the `list()` arguments.
        start: the position to resume right after (`None`: the start of the listing).
        to_record: the function turning one item into a record as `deserialize_record` does when it succeeds;
            `None` to call `deserialize_record` for each item.
    """
    url = datasource.redact(datasource.url)
    resumable = datasource.resumable
    if resumable:
        start_page, skip = (start["page"], start["index"]) if start else (None, 0)
        depth = pyck_settings.SYNC_PREFETCH_PAGES
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise ConfigurationError(
                f"The SYNC_PREFETCH_PAGES setting must be a whole number, 0 or more (0: off), got {depth!r}."
            )
        # The next pages are fetched and parsed in another thread while the caller writes the current batch.
        pages = prefetch(datasource.walk(start_page, **filter), depth, name=f"pyck-prefetch {datasource}")
        # The credentials the session adds to every request; the others are those passed to request().
        session_credentials = frozenset(secret_query(datasource, datasource.get_session().params or {}))
    else:
        start_page, skip, pages = None, 0, ((None, [item]) for item in datasource.paginate(**filter))
    tombstones = has_tombstones(datasource)
    for page_position, items in pages:
        if resumable and isinstance(page_position, str):
            # A link the API may have copied the datasource's credentials into.
            page_position = without_params(page_position, datasource.sent_secret_params | session_credentials)
        for index, item in enumerate(items[skip:], start=skip):
            position = {"page": page_position, "index": index + 1} if resumable else None
            if tombstones and skip_tombstone(datasource, item, url=url):
                continue  # a record the API says is deleted: not in the listing
            try:
                if to_record is None:
                    record = datasource.deserialize_record(item, url=url, record_id=datasource.get_raw_id(item))
                else:
                    record = to_record(item)
            except _DESERIALISING_ERRORS as error:
                record = _explained(datasource, item, url, error, again=to_record is not None)
                if isinstance(record, InvalidResourceError):
                    # An object whose id is absent, null or empty names no row (see InvalidResourceError.keyless).
                    if isinstance(item, Mapping) and record.record_id in (None, ""):
                        record.keyless = True
                    yield record, position
                    continue
            if datasource.filter is None or datasource.filter(record):
                yield record, position
        skip = 0


def secret_query(datasource: RestDatasource[Any], query: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of `query` whose names are secret for `datasource` (see `redaction.is_secret_param` and
    `RestDatasource.secret_params`): the credentials a listing asked with `query` sends."""
    return {name: value for name, value in query.items() if is_secret_param(str(name), datasource.secret_params)}


def _explained(datasource: RestDatasource[Any], item: Any, url: str, error: Exception, *, again: bool) -> Any:
    # What deserialize_record() makes of an item that raised `error`: the error naming the datasource, the URL
    # and the record (or, should a second try succeed, the record). `again`: the error came from the plain
    # deserialiser, so deserialize_record() is asked; otherwise it came from that method already.
    if not again:
        if isinstance(error, InvalidResourceError):
            return error
        raise error
    try:
        return datasource.deserialize_record(item, url=url, record_id=datasource.get_raw_id(item))
    except InvalidResourceError as explained:
        return explained
