"""Human summaries of a synced model's sync mode and `SyncState`, and its reset.

For `run_cron_tasks --list` / `--reset` and the admin; the engine itself never reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from .models import SyncedModel, SyncState
from .redaction import redact_url
from .sync import cursor as states

__all__ = [
    "PartitionState",
    "describe_checkpoint",
    "describe_mode",
    "human_duration",
    "human_interval",
    "human_seconds",
    "partition_states",
    "reset_sync_state",
    "when",
]

# Longest page position (a cursor token, a next-page URL) shown in a checkpoint summary.
MAX_POSITION_CHARS = 100


@dataclass(frozen=True)
class PartitionState:
    """What `--list` and the admin show of one partition's state (`partition` is `""` when unpartitioned).

    A partition with no `SyncState` row yet (never synced, or reset) has `cursor` and `checkpoint`
    `"-"` and no times.
    """

    partition: str
    cursor: str = "-"
    cursor_updated: datetime | None = None
    checkpoint: str = "-"
    checkpoint_updated: datetime | None = None
    last_full_sync: datetime | None = None


def human_duration(interval: timedelta) -> str:
    """`timedelta(hours=1, minutes=30)` as `"1h30m"`."""
    seconds = int(interval.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or f"{interval.total_seconds():g}s"


def human_seconds(seconds: float | None, default: str = "-") -> str:
    """A run's length for people: `0.01427` as `"14 ms"`, `2.31` as `"2.3 s"`, `65` as `"1 min 5 s"`, `3720` as
    `"1 h 2 min"`; `default` when it is `None`."""
    if seconds is None:
        return default
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(whole, 3600)
    return f"{hours} h {rest // 60} min" if rest // 60 else f"{hours} h"


def human_interval(interval: timedelta | None, default: str = "-") -> str:
    """An interval for people: `timedelta(days=1)` as `"1 day"`, `timedelta(minutes=15)` as `"15 min"`,
    `timedelta(days=2, hours=6)` as `"2 days 6 h"`; `default` when it is `None`."""
    if interval is None:
        return default
    seconds = int(interval.total_seconds())
    if seconds < 1:
        return human_seconds(interval.total_seconds())
    days, seconds = divmod(seconds, 86400)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    for unit, size in (("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts)


def when(moment: datetime | None, default: str = "never") -> str:
    """`moment` in the local time zone to the second, or `default` when it is `None`."""
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}" if moment is not None else default


def describe_mode(model: type[SyncedModel]) -> str:
    """How the model's runs read their listing, for example `"incremental on updated_at via updated_since,
    lookback 2m, full listing every 1d"` or `"full"`."""
    config = model.sync_config
    incremental = config.incremental
    if incremental is None:
        text = "full"
    else:
        via = incremental.param or "list_changed()"
        text = f"incremental on {incremental.field} via {via}"
        if incremental.lookback:
            lookback = incremental.lookback
            text += f", lookback {human_duration(lookback) if isinstance(lookback, timedelta) else lookback}"
        interval = incremental.reconcile_interval
        text += f", full listing every {human_duration(interval)}" if interval else ", full listing only when asked"
    if config.partitions is not None:
        try:
            count = len(config.get_partitions())
        except Exception as error:  # a callable reading the database: --list must still work
            text += f"; partitions: cannot be listed ({error})"
        else:
            text += f"; {count} partition{'s' if count != 1 else ''}"
    return text


def describe_checkpoint(checkpoint: dict[str, Any] | None, datasource: Any = None) -> str:
    """Where an unfinished run's listing had got to, for example `"after record 10 of page 20 of a full run
    started 2026-11-27 10:00:00"`; `"-"` when there is none.

    A page position that is a URL is redacted with `datasource.redact()` (any secret query value removed).
    """
    if not checkpoint:
        return "-"
    position = checkpoint.get("position") or {}
    page = position.get("page") if isinstance(position, dict) else position
    index = position.get("index") if isinstance(position, dict) else None
    page_text = "the first page" if page is None else f"page {_short(_redacted(page, datasource))}"
    where = f"after record {index} of {page_text}" if index is not None else page_text
    mode = checkpoint.get("mode") or "sync"
    run = f"{'an' if mode[0] in 'aeiou' else 'a'} {mode} run"
    try:
        run += f" started {when(datetime.fromisoformat(checkpoint['started']))}"
    except (KeyError, TypeError, ValueError):
        pass
    failed = checkpoint.get("failed") or 0
    return f"{where} of {run}" + (f", {failed} records failed" if failed else "")


def _redacted(page: Any, datasource: Any) -> str:
    text = str(page)
    if "://" not in text:
        return text
    redact = getattr(datasource, "redact", None)
    return redact(text) if callable(redact) else redact_url(text)


def _short(text: str) -> str:
    return text if len(text) <= MAX_POSITION_CHARS else text[: MAX_POSITION_CHARS - 1] + "…"


def partition_states(model: type[SyncedModel]) -> list[PartitionState]:
    """The state of each of the model's partitions: the declared ones (or `""` for an unpartitioned model)
    first, whether they have a `SyncState` row or not, then any other row (a partition synced by name)."""
    label = model._meta.label
    try:
        declared = list(model.sync_config.get_partitions()) or [""]
    except Exception:  # describe_mode() says why
        declared = []
    rows = {row.partition: row for row in SyncState.objects.filter(model=label)}
    whole = rows.get("")
    if "" not in declared and whole is not None and not (whole.cursor or whole.checkpoint or whole.last_full_sync):
        del rows[""]  # a partitioned model's row that only says pushes write it (SyncState.pushed): no partition
    datasource = model.sync_config.datasource
    shown = [*declared, *(name for name in rows if name not in declared)]
    return [_partition_state(name, rows.get(name), datasource) for name in shown]


def _partition_state(partition: str, row: Any, datasource: Any) -> PartitionState:
    if row is None:
        return PartitionState(partition)
    return PartitionState(
        partition=partition,
        cursor=states.describe(row.cursor),
        cursor_updated=row.cursor_updated if row.cursor is not None else None,
        checkpoint=describe_checkpoint(row.checkpoint, datasource),
        checkpoint_updated=row.checkpoint_updated if row.checkpoint else None,
        last_full_sync=row.last_full_sync,
    )


def reset_sync_state(labels: Iterable[str]) -> dict[str, int]:
    """Delete the `SyncState` rows (every partition) of the models labelled `labels`; return how many rows
    each had. Their next run is a full listing from the start (the cursor and any checkpoint are forgotten).

    A run going on meanwhile can no longer record its progress: its next run starts from the beginning too.
    """
    counts = {}
    for label in dict.fromkeys(labels):
        deleted, _ = SyncState.objects.filter(model=label).delete()
        counts[label] = deleted
    return counts
