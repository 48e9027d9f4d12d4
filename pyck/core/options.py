"""Sync options: per model, `SyncConfig`, `OnDelete`, `Incremental` and `ForEach`; per run,
`RunOptions` (a model's `SyncConfig` with the overrides of one `sync_model()` call).

This module imports no Django models, so datasource modules and settings files may import it freely.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from .base import Datasource, check_datasource
from .conf import pyck_settings
from .exceptions import ConfigurationError
from .page_ranges import PageRanges

__all__ = ["MODES", "RUN_OPTIONS", "ForEach", "Incremental", "OnDelete", "RunOptions", "SyncConfig", "check_fraction"]

MODES = ("auto", "full", "incremental")
"""The values of `sync_model(mode=...)`: `"auto"` (incremental when the model can be, full otherwise), `"full"`
or `"incremental"`."""


class OnDelete(enum.Enum):
    """What a sync does with local rows whose remote record has disappeared from the listing."""

    KEEP = "keep"
    """Leave them alone (the default): local data is never lost because a remote listing changed."""
    DELETE = "delete"
    """Delete them, but only after a listing that completed without any error (never after a partial one)."""


@dataclass(frozen=True)
class Incremental:
    """How to ask a datasource for only the records changed since the last run (`SyncConfig(incremental=...)`).

    The *cursor* is the largest value of `field` among the records of the last complete run: a timestamp
    such as `updated_at`, or an increasing id. An incremental run asks for the records whose value is at least
    `cursor - lookback`: the start is inclusive, so the records at the boundary are read again and the upsert
    makes that harmless. Incremental runs never delete; deletions are found by full runs (see
    `reconcile_interval`).

    Args:
        field: the resource attribute holding the cursor (a dotted path such as `"meta.modified"`). Its
            values must be comparable: datetimes, dates, numbers or strings.
        param: the `list()` keyword argument (for a `RestDatasource`: the query parameter) receiving the
            cursor, for example `"updated_since"`. `None`: the engine calls the datasource's
            `list_changed(since, **filter)` hook instead.
        lookback: how far before the cursor to start, for APIs whose timestamps arrive late (a `timedelta`
            for datetime cursors, a number for numeric ones). `None`: start at the cursor itself.
        format: turns the cursor into the value sent in `param`. `None`: ISO 8601 for datetimes and
            dates (`2026-11-27T10:00:00+00:00`), the value itself otherwise.
        reconcile_interval: how often a run is a full listing instead (the first run always is): it catches
            records an incremental query cannot see (deleted ones, with `OnDelete.DELETE`) and re-reads
            everything. `None`: only when asked (`sync_model(Model, mode="full")`, `run_cron_tasks
            --full`, or after a reset of the model's sync state).
    """

    field: str
    param: str | None = None
    lookback: timedelta | int | float | None = None
    format: Callable[[Any], Any] | None = None
    reconcile_interval: timedelta | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not self.field:
            raise ConfigurationError(f"Incremental(field=...): expected a resource attribute name, got {self.field!r}.")
        if self.param is not None and (not isinstance(self.param, str) or not self.param):
            raise ConfigurationError(f"Incremental(param=...): expected a list() argument name or None, got {self.param!r}.")
        if self.lookback is not None and (
            isinstance(self.lookback, bool)
            or not isinstance(self.lookback, (timedelta, int, float))
            or (self.lookback < timedelta(0) if isinstance(self.lookback, timedelta) else self.lookback < 0)
        ):
            raise ConfigurationError(
                f"Incremental(lookback=...): expected a timedelta or a number >= 0, or None, got {self.lookback!r}."
            )
        if self.format is not None and not callable(self.format):
            raise ConfigurationError(f"Incremental(format=...): expected a callable or None, got {self.format!r}.")
        if self.reconcile_interval is not None and (
            not isinstance(self.reconcile_interval, timedelta) or self.reconcile_interval <= timedelta(0)
        ):
            raise ConfigurationError(
                f"Incremental(reconcile_interval=...): expected a positive timedelta or None, got {self.reconcile_interval!r}."
            )

    def since(self, cursor: Any) -> Any:
        """Return where an incremental run starts: `cursor` minus `lookback`."""
        if self.lookback is None or cursor is None:
            return cursor
        try:
            return cursor - self.lookback
        except TypeError:
            raise ConfigurationError(
                f"Incremental(lookback={self.lookback!r}) cannot be subtracted from the cursor {cursor!r} of "
                f"field {self.field!r}: use a timedelta for datetime cursors and a number for numeric ones."
            ) from None

    def format_value(self, since: Any) -> Any:
        """Return the value sent in `param` for `since`."""
        if self.format is not None:
            return self.format(since)
        if isinstance(since, (datetime, date)):
            return since.isoformat()
        if isinstance(since, Decimal):
            return str(since)
        return since


def _check_through_map(through_map: Any) -> None:
    """Refuse a `SyncConfig(through_map=...)` that is not `{field: {column: "record.<path>" or "link.<path>"}}`."""
    example = '{"tags": {"weight": "link.weight"}}'
    if not isinstance(through_map, dict) or not all(isinstance(k, str) and isinstance(v, dict) for k, v in through_map.items()):
        raise ConfigurationError(
            f"SyncConfig(through_map=...): expected a dict of many-to-many field -> {{through column: path}}, such as "
            f"{example}, got {through_map!r}."
        )
    for name, columns in through_map.items():
        for column, source in columns.items():
            origin, _, path = source.partition(".") if isinstance(source, str) else ("", "", "")
            if not isinstance(column, str) or origin not in ("record", "link") or not path:
                raise ConfigurationError(
                    f"SyncConfig(through_map={{{name!r}: {{{column!r}: {source!r}}}}}): expected a through column name "
                    "and a path starting with 'record.' (read from the record) or 'link.' (read from the list item "
                    f"that makes the link), such as {example}."
                )

@dataclass(frozen=True)
class ForEach:
    """List the model's records once per row of a parent model (`SyncConfig(for_each=...)`): for an API whose
    records live under their parent's URL, such as Action Network's `/tags/{tag_id}/taggings`.

    ```python
    taggings = ActionNetwork(path="/tags/{tag_id}/taggings", resource_type=TaggingRecord)

    class Tagging(SyncedModel):
        tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
        sync_config = SyncConfig(datasource=taggings, for_each=ForEach("tag", param="tag_id"))
    ```

    A run reads the listing `list(**filter, tag_id=...)` of each `Tag` row in turn (a `RestDatasource` fills
    the `{tag_id}` of its `path` with it), and sets every record's `tag` to the parent it was listed under:
    the records need not carry it. `sync_models()` and the clock sync the parent model first. An interrupted
    run resumes at the parent and page it had reached. With `OnDelete.DELETE`, a row is deleted only when its
    parent's listing completed without it; see "Child listings" in "Writing datasources" for the details
    (a parent whose listing failed, or that is gone remotely).

    Args:
        field: the model's foreign key to the parent model (a `SyncedModel`). The sync sets it from the parent;
            it is never read from the records.
        param: the `list()` argument receiving the parent's value. For a `RestDatasource`, a `{param}`
            placeholder in `path` takes it (URL-quoted); otherwise it is sent as a query parameter.
        value: the parent model's field whose value is passed in `param`. `None`: the parent's
            `SyncConfig.external_id` (its remote id).
    """

    field: str
    param: str
    value: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not self.field:
            raise ConfigurationError(f"ForEach(field=...): expected the name of the model's foreign key to its parent, got {self.field!r}.")
        if not isinstance(self.param, str) or not self.param:
            raise ConfigurationError(f"ForEach(param=...): expected a list() argument name, got {self.param!r}.")
        if self.value is not None and (not isinstance(self.value, str) or not self.value):
            raise ConfigurationError(f"ForEach(value=...): expected a field name of the parent model or None, got {self.value!r}.")


@dataclass
class SyncConfig:
    """How a `SyncedModel` is kept in step with its datasource.

    Every option is validated when the config is created, and again, knowing the model, by `manage.py
    check`. The config is a plain (mutable) dataclass so tests can swap the datasource:

    ```python
    Constituency.sync_config.datasource = MockDatasource([...])
    ```

    Args:
        datasource: where the records come from (a `Datasource` instance).
        external_id: the model field holding the remote id (the datasource's `identifier` attribute). Give it
            `db_index=True` or `unique=True`: every batch looks rows up by it. Without either, each sync
            reads the whole column once into memory (about 18 MiB per 100,000 rows) rather than scan the table
            for every batch.
        field_map: model field -> resource attribute, added to (and overriding) the default mapping, which
            pairs every model field with the resource attribute of the same name. Dotted paths read nested
            attributes (`{"party_name": "latest_party.name"}`), and an integer step an item of a list
            (`"identifiers.0"`, `"links.-1.href"`; one out of range counts as absent). Map a field to `None` to
            never sync it.
            Model fields with no counterpart on the resource are never written: they are yours. The
            attributes are what the resource type declares (dataclass fields, annotations, and `@property`
            values); a path it does not declare is refused by `manage.py check` (`pyck.E018`) and by the sync.
        sync_interval: how often the cron clock syncs the model. `None`: never scheduled; the model is only
            synced when referenced by another model's records or when you call `Model.sync()`.
        filter: keyword arguments passed to the datasource's `list()` (for example `{"house": 1}`).
        batch_size: records written per batch, each batch in its own transaction. `None` uses the
            `SYNC_BATCH_SIZE` setting (500).
        on_delete: what to do with local rows missing from a complete listing (`OnDelete`). With
            `OnDelete.DELETE` a row is deleted only when all of these hold:

            * the listing completed: no page failed, and no paginator stopped early because of its `max_pages`
              (the result then has `truncated=True`). Records that failed in it do not stop deletion when each
              is accounted for: a failed record's row is kept as it was, a record with no id names no row; a
              failure whose id cannot be read stops it (see the docs page "How a sync works", step 6);
            * the rows missing from the listing are at most `max_delete_fraction` of the table; otherwise
              nothing is deleted and the result reports why (an API answering an empty list with 200 must not
              empty your table);
            * when `confirm_delete` is on, the datasource's `get()` raised
              `NotFoundError` for its id (or, for a `RestDatasource`, returned a
              record its `filter` predicate rejects). A record `get()` still returns was only skipped by the
              listing (offset paging shifts when records are deleted upstream during the read): its row is
              kept and refreshed from that record, and counted in `SyncResult.kept`. Any other error from
              `get()` stops the confirmations: the rows not yet confirmed are kept and the error is reported.
        fetch_missing: when a record references an id that is not stored locally, fetch it with the related
            model's datasource `get()` (once per run). `False`: treat it as unresolvable (null, or the
            record fails when the field is required).
        max_errors: how many record errors a `SyncResult` (and its `SyncRun`) keeps;
            the `failed` count always counts them all.
        max_delete_fraction: the largest share of the table (0 to 1) that one sync may delete; more rows missing
            from the listing than that and nothing is deleted. `None` uses the `SYNC_MAX_DELETE_FRACTION`
            setting (0.5). Override it for one run with `sync_model(Model, max_delete_fraction=1.0)` when
            records really did disappear en masse. It also bounds the `get()` calls of `confirm_delete`.
        confirm_delete: before deleting a row missing from the listing, ask the datasource's `get()` whether
            its record still exists (one request per missing row; usually few). Turn it off when the listing is
            filtered on the remote side (`filter`, a datasource's `list_query`) so that records leave it
            while `get()` still finds them, and you want those rows deleted: otherwise they are kept, and
            asked for again on every run. Without it, a record skipped by a shifting offset-paged listing loses
            its row (and your local-only columns) until the next run re-creates it.
        incremental: read only the records changed since the last run (`Incremental`); `None`: every
            run reads the whole listing.
        partitions: sync the model as separate listings, each with its own cursor and checkpoint: a mapping of
            partition name -> `list()` arguments (added to `filter`), or a callable returning one (called
            at the start of each sync, so partitions can come from the database, for example one per parent
            record). `Model.sync()` and the clock sync every partition in turn; deletion
            (`OnDelete.DELETE`) happens only after every partition completed a full listing.
        through_map: for a many-to-many field with a `through` model of its own, where the through rows' extra
            columns get their values: `{"tags": {"weight": "link.weight", "origin": "record.source"}}`. A
            `"record.<path>"` reads the record holding the list, a `"link.<path>"` the list's item that made the
            link (an embedded related record; a bare id carries nothing). Unmapped columns get their model
            defaults, and are never written again; a mapped column of an existing link is updated when its value
            changes. A required column (not nullable, no default) must be mapped: `manage.py check` says so
            (`pyck.E014`).
        for_each: list the records once per row of a parent model (`ForEach`), for records that live under
            their parent's URL. Not combined with `partitions` or `incremental`.
        version_field: the model field holding the record's version or modification time (a field the
            mapping fills from the record: an integer version, an `updated_at`...). A record older than the
            row (its value compares lower than the row's) is not written: the row keeps the newer data, and the
            record is counted in `SyncResult.stale_ids`. Records and rows without a value are written as usual.
            Pushes delivered out of order (webhooks) then never overwrite a newer row, nor does a listing read
            before a push arrived. `None`: every record is written.
        stale_after: how old the model's data may get (now minus the last complete listing or the last applied
            push) before the health page, `manage.py pyck_health` and the alerts call it stale (red); it is
            amber from half that age. `None`: twice `sync_interval` (one missed run is tolerated), or no age
            limit when `sync_interval` is `None` too (see the docs page "Operations").
    """

    datasource: Datasource[Any]
    external_id: str = "external_id"
    field_map: dict[str, str | None] | None = None
    sync_interval: timedelta | None = timedelta(days=1)
    filter: dict[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    on_delete: OnDelete = OnDelete.KEEP
    fetch_missing: bool = True
    max_errors: int = 100
    max_delete_fraction: float | None = None
    confirm_delete: bool = True
    incremental: Incremental | None = None
    partitions: Mapping[str, dict[str, Any]] | Callable[[], Mapping[str, dict[str, Any]]] | None = None
    through_map: dict[str, dict[str, str]] | None = None
    for_each: ForEach | None = None
    version_field: str | None = None
    stale_after: timedelta | None = None

    def __post_init__(self) -> None:
        check_datasource(self.datasource, where="SyncConfig(datasource=...)")
        if not isinstance(self.external_id, str) or not self.external_id:
            raise ConfigurationError(f"SyncConfig(external_id=...): expected a model field name, got {self.external_id!r}.")
        if self.field_map is not None:
            if not isinstance(self.field_map, dict):
                raise ConfigurationError(
                    f"SyncConfig(field_map=...): expected a dict of model field -> resource attribute, got {self.field_map!r}."
                )
            bad = {k: v for k, v in self.field_map.items() if not isinstance(k, str) or not (v is None or isinstance(v, str))}
            if bad:
                raise ConfigurationError(
                    f"SyncConfig(field_map=...): keys must be model field names and values attribute paths (or None), got {bad!r}."
                )
        if self.through_map is not None:
            _check_through_map(self.through_map)
        if self.sync_interval is not None and (
            not isinstance(self.sync_interval, timedelta) or self.sync_interval <= timedelta(0)
        ):
            raise ConfigurationError(
                f"SyncConfig(sync_interval=...): expected a positive timedelta or None, got {self.sync_interval!r}."
            )
        if self.stale_after is not None and (
            not isinstance(self.stale_after, timedelta) or self.stale_after <= timedelta(0)
        ):
            raise ConfigurationError(
                f"SyncConfig(stale_after=...): expected a positive timedelta or None, got {self.stale_after!r}."
            )
        if not isinstance(self.filter, dict):
            raise ConfigurationError(f"SyncConfig(filter=...): expected a dict of list() arguments, got {self.filter!r}.")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise ConfigurationError(f"SyncConfig(batch_size=...): expected a positive int or None, got {self.batch_size!r}.")
        if not isinstance(self.on_delete, OnDelete):
            raise ConfigurationError(
                f"SyncConfig(on_delete=...): expected OnDelete.KEEP or OnDelete.DELETE, got {self.on_delete!r}."
            )
        if self.max_delete_fraction is not None:
            check_fraction(self.max_delete_fraction, "SyncConfig(max_delete_fraction=...)")
        if not isinstance(self.confirm_delete, bool):
            raise ConfigurationError(f"SyncConfig(confirm_delete=...): expected True or False, got {self.confirm_delete!r}.")
        if not isinstance(self.max_errors, int) or self.max_errors < 0:
            raise ConfigurationError(f"SyncConfig(max_errors=...): expected an int >= 0, got {self.max_errors!r}.")
        if self.incremental is not None and not isinstance(self.incremental, Incremental):
            raise ConfigurationError(f"SyncConfig(incremental=...): expected an Incremental(...) or None, got {self.incremental!r}.")
        if self.partitions is not None and not callable(self.partitions):
            _check_partitions(self.partitions, "SyncConfig(partitions=...)")
        if self.for_each is not None:
            if not isinstance(self.for_each, ForEach):
                raise ConfigurationError(f"SyncConfig(for_each=...): expected a ForEach(...) or None, got {self.for_each!r}.")
            if self.partitions is not None or self.incremental is not None:
                raise ConfigurationError(
                    "SyncConfig(for_each=...) lists the records once per parent row, in one run with one checkpoint; "
                    "it cannot be combined with partitions=... or incremental=...."
                )
        if self.version_field is not None and (not isinstance(self.version_field, str) or not self.version_field):
            raise ConfigurationError(
                f"SyncConfig(version_field=...): expected a model field name or None, got {self.version_field!r}."
            )
        if isinstance(self.partitions, PageRanges) and self.incremental is not None:
            raise ConfigurationError(
                "SyncConfig(partitions=PageRanges(...), incremental=...): page ranges are positions in one full "
                "listing; each partition's incremental run would read a different listing, so records could be "
                "missed. Partition by the datasource's own criteria (date or id ranges) for incremental syncs."
            )

    def get_partitions(self) -> dict[str, dict[str, Any]]:
        """Return the partitions (name -> `list()` arguments), calling `partitions` if it is callable;
        `{}` when the model is not partitioned."""
        if self.partitions is None:
            return {}
        partitions = self.partitions() if callable(self.partitions) else self.partitions
        return _check_partitions(partitions, "SyncConfig(partitions=...)")

    def get_stale_after(self) -> timedelta | None:
        """Return the age past which the model's data is stale: `stale_after`, else twice `sync_interval`, else
        `None` (no limit)."""
        if self.stale_after is not None:
            return self.stale_after
        return 2 * self.sync_interval if self.sync_interval is not None else None

    def get_batch_size(self) -> int:
        """Return the batch size: `batch_size`, or the `SYNC_BATCH_SIZE` setting read now."""
        if self.batch_size is not None:
            return self.batch_size
        return int(pyck_settings.SYNC_BATCH_SIZE)

    def get_max_delete_fraction(self) -> float:
        """Return `max_delete_fraction`, or the `SYNC_MAX_DELETE_FRACTION` setting read now."""
        if self.max_delete_fraction is not None:
            return self.max_delete_fraction
        return check_fraction(pyck_settings.SYNC_MAX_DELETE_FRACTION, "The PYCK['SYNC_MAX_DELETE_FRACTION'] setting")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """The options of one sync run: a model's `SyncConfig`, with the keyword arguments of the `sync_model()` call
    taking precedence, checked once, when the object is made.

    Make one with `for_model` (or `from_config`); change one with `using`, which returns a checked copy and leaves
    the original alone.

    Attributes:
        filter: the `list()` arguments of the listing.
        batch_size: records written per batch (the engine also keeps it within the database's parameter limit).
        on_delete: what to do with rows missing from a complete listing.
        max_errors: how many record errors the result keeps.
        max_delete_fraction: the largest share of the table a run may delete.
        confirm_delete: whether each row missing from the listing is confirmed gone with `get()` first.
        mode: one of `MODES`.
        partition: the one partition to sync, or `None` (the whole model).
    """

    filter: dict[str, Any]
    batch_size: int
    on_delete: OnDelete
    max_errors: int
    max_delete_fraction: float
    confirm_delete: bool
    mode: str = "auto"
    partition: str | None = None

    def __post_init__(self) -> None:
        if self.partition is not None and (not isinstance(self.partition, str) or not self.partition):
            raise ConfigurationError(
                f"sync_model(partition=...): expected a non-empty partition name, got {self.partition!r}."
            )
        check_fraction(self.max_delete_fraction, "sync_model(max_delete_fraction=...)")
        if not isinstance(self.confirm_delete, bool):
            raise ConfigurationError(f"sync_model(confirm_delete=...): expected True or False, got {self.confirm_delete!r}.")
        if self.mode not in MODES:
            raise ConfigurationError(f"sync_model(mode=...): expected one of {', '.join(MODES)}, got {self.mode!r}.")

    @classmethod
    def from_config(cls, config: SyncConfig, /, **overrides: Any) -> RunOptions:
        """The options of a run of a model with `config`, and `overrides` (the keyword arguments of `sync_model()`).

        A `batch_size` of `None` or 0 and a `max_delete_fraction` of `None` keep the config's (or the setting's).

        Raises:
            TypeError: an override is not a run option.
            ConfigurationError: an option's value is wrong.
        """
        unknown = set(overrides) - RUN_OPTIONS
        if unknown:
            raise TypeError(
                f"sync_model() got unknown options {sorted(unknown)}; the known ones are {sorted(RUN_OPTIONS)}."
            )
        fraction = overrides.get("max_delete_fraction")
        return cls(
            filter=overrides.get("filter", config.filter),
            batch_size=overrides.get("batch_size") or config.get_batch_size(),
            on_delete=overrides.get("on_delete", config.on_delete),
            max_errors=overrides.get("max_errors", config.max_errors),
            max_delete_fraction=config.get_max_delete_fraction() if fraction is None else fraction,
            confirm_delete=overrides.get("confirm_delete", config.confirm_delete),
            mode=overrides.get("mode", "auto"),
            partition=overrides.get("partition"),
        )

    @classmethod
    def for_model(cls, model: Any, /, **overrides: Any) -> RunOptions:
        """The options of a run of `model` (a `SyncedModel`): `from_config` with its `SyncConfig`, also checking
        that an incremental run can be asked of it.

        Raises:
            TypeError: an override is not a run option.
            ConfigurationError: an option's value is wrong, or `mode="incremental"` for a model without
                `SyncConfig.incremental`.
        """
        config = model.sync_config
        options = cls.from_config(config, **overrides)
        if options.mode == "incremental" and config.incremental is None:
            raise ConfigurationError(
                f"sync_model({model.__name__}, mode='incremental'): the model's SyncConfig has no incremental=Incremental(...)."
            )
        return options

    def using(self, **changes: Any) -> RunOptions:
        """Return a copy with `changes` (checked as when made); this object does not change."""
        return replace(self, **changes)


RUN_OPTIONS = frozenset(f.name for f in fields(RunOptions))
"""The keyword arguments `sync_model()` takes besides `progress`: the fields of `RunOptions`."""


def check_fraction(value: Any, where: str) -> float:
    """Return `value` as a float if it is a number from 0 to 1, else raise a `ConfigurationError` naming `where`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigurationError(
            f"{where}: expected a number from 0 (never delete) to 1 (no limit), or None, got {value!r}."
        )
    return float(value)


def _check_partitions(value: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and k and isinstance(v, dict) for k, v in value.items()):
        raise ConfigurationError(
            f"{where}: expected a mapping of partition name (a non-empty str) -> dict of list() arguments, "
            f"or a callable returning one, got {value!r}."
        )
    return dict(value)
