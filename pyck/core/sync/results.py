"""What a sync reports: `SyncResult`, `SyncProgress`, `RecordError`, `SyncWarning`, and how record errors and
warnings are collected.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..models.runs import SyncStatus

__all__ = [
    "ProgressCallback", "RecordError", "SyncProgress", "SyncResult", "SyncWarning", "WarningKey", "add_outcome", "copy_result",
    "note", "record_failer", "warn",
]

logger = logging.getLogger("pyck.sync")


@dataclass
class RecordError:
    """A record that could not be synced: its remote id (`None` if unknown) and why."""

    record_id: Any
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class SyncWarning:
    """Data a run changed, or left as it was, without failing a record: worth checking, though the run
    succeeded. What happened (`kind`), to which model and field, and to how many records (`count`).

    `kind` is one of:

    - `"nulled"`: a nullable foreign key was stored as null because the record it names could not be resolved
      (not found remotely, or it failed);
    - `"dropped"`: links of a many-to-many (or inverse) field to records that could not be resolved were left
      out (`count` counts the links);
    - `"absent"`: records carried no value at all for the field (its JSON key was absent, which is not `null`):
      the column of the rows they update was left as it was, rather than emptied. A field removed or renamed
      upstream looks like this;
    - `"kept"`: rows missing from a complete listing still exist remotely (`get()` returned their records):
      they were kept, and refreshed. A listing that is silently shorter than it should be looks like this;
    - `"duplicated"`: external ids (`field`) found on more than one row of the model (`count` counts the ids):
      a sync updates one row of each and leaves the others as they were. `manage.py pyck_merge_duplicates`
      merges them;
    - `"restarted"`: the run could not go on from the checkpoint an interrupted run left (the API refused its
      position, an expired page token; or the previous run already failed on it): it read the listing from
      the start instead (`detail` says why);
    - `"failed_kept"`: rows missing from a complete listing whose records failed in it (a validation error,
      say): they were neither deleted nor changed, while the rows really gone were deleted;
    - `"no_id"`: records of the listing that carry no id at all (the id field absent or empty, as a Google
      Sheets row with an empty key cell): they failed, and cannot be the record of any row, so they did not
      stop deletions (`detail` says where the first ones were).
    """

    kind: str
    model: str
    """The model's `app_label.ModelName` (for `"nulled"`, `"dropped"` and `"absent"`, the model whose rows
    hold the field: a related model's, for records embedded in the listing's)."""
    field: str | None
    """The model field (`None` for `"kept"`, `"restarted"`, `"failed_kept"` and `"no_id"`)."""
    count: int
    detail: str | None = None
    """More about the first occurrence, when there is more to say (for `"restarted"` and `"no_id"`)."""

    @property
    def message(self) -> str:
        """The warning in words, with its count."""
        where = f"{self.model}.{self.field}" if self.field else self.model
        if self.kind == "nulled":
            return f"{where}: {self.count} references to records that could not be resolved were stored as null"
        if self.kind == "dropped":
            return f"{where}: {self.count} links to records that could not be resolved were left out"
        if self.kind == "absent":
            return (
                f"{where}: {self.count} records carried no value for it (the key was absent, not null): the column "
                "was left as it was. Was the field removed or renamed upstream?"
            )
        if self.kind == "kept":
            return (
                f"{where}: {self.count} rows missing from the listing still exist remotely (get() returned them): "
                "kept, and refreshed. Is the listing shorter than it should be?"
            )
        if self.kind == "duplicated":
            return (
                f"{where}: {self.count} external ids have more than one row: a sync updates one row of each and "
                f"leaves the others as they were. Merge them with `manage.py pyck_merge_duplicates {self.model}`"
            )
        more = f": {self.detail}" if self.detail else ""
        if self.kind == "restarted":
            return (
                f"{where}: the listing could not go on from the checkpoint of an interrupted run, and was read from "
                f"the start instead{more}"
            )
        if self.kind == "failed_kept":
            return (
                f"{where}: {self.count} rows missing from the listing were kept as they were, because their records "
                "failed in it (the rows really gone were deleted)"
            )
        if self.kind == "no_id":
            return (
                f"{where}: {self.count} records of the listing carry no id, so they failed and cannot be the record "
                f"of any row: they did not stop deletions{more}"
            )
        return f"{where}: {self.kind} ({self.count}){more}"

    def __str__(self) -> str:
        return self.message


# What a warning is counted under: (kind, model label, field), see SyncWarning.
WarningKey = tuple[str, str, str | None]


@dataclass
class SyncResult:
    """The outcome of syncing one model.

    `status` (a `SyncStatus`) is `"succeeded"` (every record written, and deletions done as configured),
    `"partial"` (the listing completed but some records failed, or it was cut short by a paginator's
    `max_pages`, or rows missing from it could not be deleted: too many of them, or `get()` could not confirm
    they are gone; the errors say which) or `"failed"` (the listing itself failed; what was written before the
    failure stays).
    """

    model: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    kept: int = 0
    """Rows missing from the listing whose record `get()` still returned: kept, and refreshed from it."""
    stale_ids: list[Any] = field(default_factory=list)
    """The ids of the records not written because their row already holds a newer version
    (`SyncConfig.version_field`)."""
    failed: int = 0
    errors: list[RecordError] = field(default_factory=list)
    """The first `SyncConfig.max_errors` record errors (`failed` counts them all)."""
    started: datetime | None = None
    finished: datetime | None = None
    duration: float = 0.0
    """Seconds."""
    status: SyncStatus = SyncStatus.SUCCEEDED
    truncated: bool = False
    """True when a paginator stopped the listing early because of its `max_pages`: nothing was deleted."""
    mode: str = "full"
    """`"full"` (the whole listing), `"incremental"` (the records changed since the cursor) or `"push"`
    (records given to `apply_records`).
    """
    partition: str = ""
    """The partition synced (`""`: the model is not partitioned, or the result combines every partition)."""
    resumed: bool = False
    """True when the run went on from the checkpoint of an earlier run that died."""
    cursor: Any = None
    """The incremental cursor after the run (`None` for a model without `SyncConfig.incremental`)."""
    notes: list[str] = field(default_factory=list)
    """Things worth knowing that are not errors (a run that had to start over, and why)."""
    partitions: list[SyncResult] = field(default_factory=list)
    """For a partitioned model synced as a whole: the result of each partition."""
    listing_started: datetime | None = None
    """When the listing this run read started: earlier than `started` when the run resumed an earlier one."""
    warnings: list[SyncWarning] = field(default_factory=list)
    """Data the run changed, or left as it was, without failing a record, with counts (see `SyncWarning`):
    references stored as null, links left out, fields absent from the records, rows kept though missing from
    the listing. Logged at WARNING and stored in the `SyncRun`; the run still succeeds."""

    @property
    def ok(self) -> bool:
        """True when every record was synced."""
        return self.status == SyncStatus.SUCCEEDED

    def __str__(self) -> str:
        where = f"{self.model} [{self.partition}]" if self.partition else self.model
        restarted = any(w.kind == "restarted" for w in self.warnings)
        how = (
            f" ({self.mode}{', resumed' if self.resumed else ''}{', started over' if restarted else ''})"
            if self.mode != "full" or self.resumed or restarted else ""
        )
        counts = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, {self.deleted} deleted"
        if self.status == "failed" and self.errors:
            # Failed as a whole: say what failed first; "0 failed" would read as if nothing had.
            failed = f", {self.failed} records failed" if self.failed else ""
            return f"Sync of {where}{how} failed: {self.errors[0].message} (before that: {counts}{failed} in {self.duration:.2f}s)"
        return f"Sync of {where}{how} {self.status}: {counts}, {self.failed} failed in {self.duration:.2f}s"


@dataclass(frozen=True)
class SyncProgress:
    """Where a running sync has got to; passed to the `progress` callback after each batch."""

    model: str
    batches: int
    records: int
    elapsed: float
    """Seconds since the model's sync started."""

    def __str__(self) -> str:
        return f"{self.model}: {self.records} records in {self.batches} batches, {self.elapsed:.1f}s"


ProgressCallback = Callable[[SyncProgress], Any]


def record_failer(result: SyncResult, max_errors: int, label: str, datasource: Any) -> Callable[[Any, str], None]:
    """Return `fail(record_id, reason)`, which counts a failed record in `result` and keeps its error (the first
    `max_errors` of them), naming the model `label`, the datasource and the record id."""

    def fail(record_id: Any, reason: str) -> None:
        result.failed += 1
        if len(result.errors) < max_errors:
            result.errors.append(RecordError(record_id, f"{reason} (model {label}, datasource {datasource}, record id {_quote(record_id)})"))

    return fail


def add_outcome(result: SyncResult, outcome: Any, fail: Callable[[Any, str], None]) -> None:
    """Add the counts of a written batch's `outcome` (an `upsert.Outcome`) to `result`, and report its failed
    records through `fail` (see `record_failer`)."""
    result.created += outcome.created
    result.updated += outcome.updated
    result.unchanged += outcome.unchanged
    result.stale_ids.extend(outcome.stale)
    for record_id, reason in outcome.failures:
        fail(record_id, reason)
    for key, count in outcome.warnings.items():
        warn(result, key, count)


def warn(result: SyncResult, key: WarningKey, count: int, *, detail: str | None = None) -> None:
    """Count `count` more of the warning `key` (`(kind, model label, field)`) in `result.warnings`; `detail`
    is kept from the first warning of its key that has one."""
    if not count:
        return
    kind, model, field_name = key
    for warning in result.warnings:
        if (warning.kind, warning.model, warning.field) == key:
            warning.count += count
            warning.detail = warning.detail or detail
            return
    result.warnings.append(SyncWarning(kind, model, field_name, count, detail))


def copy_result(result: SyncResult) -> SyncResult:
    """A copy of `result` whose errors, notes and warnings can change without changing `result`'s."""
    return replace(
        result,
        errors=[replace(e) for e in result.errors],
        notes=list(result.notes),
        warnings=[replace(w) for w in result.warnings],
        stale_ids=list(result.stale_ids),
    )


def note(result: SyncResult, text: str, *, level: int = logging.INFO) -> None:
    """Log `text` (at `level`) and add it to `result.notes`."""
    logger.log(level, "%s", text)
    result.notes.append(text)


def _quote(value: Any, limit: int = 100) -> str:
    """`repr(value)`, shortened: a remote id may be any length, and error messages are stored and searched."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 25]}...({len(text)} characters)"
