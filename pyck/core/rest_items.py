"""How a `RestDatasource` reads one record: where it asks (`item_url`, from `RestDatasource.item_path`), which
ids it refuses to ask for (`check_item_url`), where the record is in the answer (`record_in`, at
`RestDatasource.record_path`), and the whole of `RestDatasource.get` (`read_record`), which turns a record that
says it is deleted into a `NotFoundError`; and `explain_tombstone`, which says so when a record does not fit its
type because a deleted record's stub is embedded in it.

`item_path` is a template under the API's root: `{id}` is the id URL-quoted as one path segment (so an id never
steers the request: `a/b` is `a%2Fb`, `?x=1` is `%3Fx%3D1`), and `{path}` the listing's path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from .base import has_tombstones
from .exceptions import ConfigurationError, DatasourceError, InvalidResourceError, NotFoundError, ResponseError
from .http import with_query
from .pagination import lookup
from .pagination.paginator import describe_value
from .path_params import fill_path, placeholders
from .records import to_camel_case
from .redaction import blank_out

if TYPE_CHECKING:
    from .rest import RestDatasource

__all__ = ["api_root", "check_item_url", "explain_tombstone", "item_url", "read_record", "record_in"]


def api_root(datasource: RestDatasource[Any]) -> str:
    """`datasource.base_url` without its trailing slash.

    Raises:
        ConfigurationError: there is no `base_url`.
    """
    if not datasource.base_url:
        raise ConfigurationError(
            f"{datasource} has no base_url: set it as a class attribute or pass base_url=... to the constructor"
        )
    return str(datasource.base_url).rstrip("/")


def item_url(datasource: RestDatasource[Any], id: Any) -> str:
    """The URL of the record `id`: see `RestDatasource.get_item_url`."""
    segment = quote(str(id), safe="")
    if segment in ("", ".", ".."):
        raise NotFoundError(
            "An empty, '.' or '..' id cannot name a record: in a URL path it would leave the resource path",
            datasource=datasource,
            url=datasource.redact(datasource.url),
            record_id=id,
        )
    template = datasource.item_path
    if template is None:
        raise NotImplementedError(f"{datasource} has no single-record endpoint: set item_path or override get().")
    try:
        filled = template.format(id=segment, path=datasource.path.strip("/"))
    except (KeyError, IndexError, ValueError, AttributeError) as error:
        raise ConfigurationError(
            f"{datasource}: item_path {template!r} is not a valid template ({type(error).__name__}: {error}); it "
            "may use {id} and {path}, and {{ and }} for literal braces"
        ) from None
    return f"{api_root(datasource)}/{filled.lstrip('/')}"


def check_item_url(datasource: RestDatasource[Any], url: str, id: Any) -> None:
    """Refuse an empty id, and an item URL with a `.` or `..` path segment: see `RestDatasource.check_item_url`."""
    if str(id) == "" or any(unquote(segment) in (".", "..") for segment in urlsplit(url).path.split("/")):
        raise NotFoundError(
            "This id cannot name a record: in a URL path it would leave the resource path",
            datasource=datasource,
            url=datasource.redact(datasource.url),
            record_id=id,
        )


def record_in(datasource: RestDatasource[Any], body: Any, *, url: str, record_id: Any) -> Any:
    """The raw record in a single GET's `body`, at `record_path`: see `RestDatasource.get_record`."""
    path = datasource.record_path
    if not path:
        return body
    data = lookup(body, path, None)
    if data is None:
        raise ResponseError(
            f"Expected the record at {path!r} (record_path), but the body has nothing there: it is "
            f"{blank_out(describe_value(body), datasource.sent_secrets)}",
            datasource=datasource,
            url=url,
            record_id=record_id,
        )
    return data


def read_record(datasource: RestDatasource[Any], id: Any, query: Mapping[str, Any]) -> Any:
    """`RestDatasource.get`: fetch the record `id` at `get_item_url` (checked by `check_item_url`, with the
    `{name}` placeholders of a `path` filled from `query`, see `pyck.core.path_params`), take it out
    of the answer with `get_record`, refuse a tombstone (see `Datasource.is_tombstone`) and `deserialize_record` it.

    Raises:
        NotFoundError: the API answered 404, or its answer is a tombstone.
    """
    url = datasource.get_item_url(id)
    datasource.check_item_url(url, id)
    if placeholders(datasource.path):
        # A child listing's path ("/tags/{tag_id}/taggings") names its parent: get(id, tag_id=...) fills it.
        url, query = fill_path(url, query, where=str(datasource))
    try:
        body = datasource.fetch_url(url, query)
    except DatasourceError as error:
        raise error.with_context(record_id=id)  # noqa: B904 (keeps the original cause)
    shown = datasource.redact(with_query(url, query))
    data = datasource.get_record(body, url=shown, record_id=id)
    if datasource.is_tombstone(data):
        raise NotFoundError(
            "The API says the record is deleted: its answer is a tombstone (see tombstone and is_tombstone)",
            datasource=datasource,
            url=shown,
            record_id=id,
        )
    return datasource.deserialize_record(data, url=shown, record_id=id)


def explain_tombstone(datasource: RestDatasource[Any], data: Any, error: InvalidResourceError) -> InvalidResourceError:
    """`error`, raised for the raw record `data`, with a hint added when the value at its `field` (or around it) is a
    tombstone of `datasource`'s (see `Datasource.is_tombstone`): a deleted record's stub embedded where the resource type allows
    only a live one (`customer: str | Customer`). Only called for a record that failed.
    """
    if not error.field or not has_tombstones(datasource):
        return error
    steps = re.sub(r"\[(\d+)\]", r".\1", error.field).split(".")
    keys = [steps, [to_camel_case(step) for step in steps]] if datasource.camel_case else [steps]
    # The field is where the value stopped fitting: the stub itself, or a field missing from it (`event.title`).
    if not any(
        datasource.is_tombstone(value)
        for end in range(len(steps), 0, -1)
        for path in keys
        if (value := lookup(data, ".".join(path[:end]), None)) is not None
    ):
        return error
    explained = type(error)(
        f"{error.reason}; that value is a tombstone (a deleted record): give the field a type that accepts it, tried "
        "before the live record's (see 'Records that say they are deleted' in Writing datasources)",
        datasource=error.datasource,
        url=error.url,
        record_id=error.record_id,
        field=error.field,
        status_code=error.status_code,
    )
    explained.__cause__ = error.__cause__
    return explained
