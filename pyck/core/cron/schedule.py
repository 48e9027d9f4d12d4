"""What `run_cron_tasks --list` prints: each task's schedule and, under a sync task, its model's sync mode
and state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from ..models import registry
from ..exceptions import ConfigurationError
from ..models import CronTask
from ..overview import describe_mode, human_duration, partition_states, when
from .clock import run_order
from .jobs import CronJob

__all__ = ["describe_jobs", "describe_sync_state", "format_jobs"]


def describe_jobs(jobs: Sequence[CronJob], now: datetime | None = None) -> list[dict[str, Any]]:
    """Return one dict per task for `--list`: name, interval, last_run, status, next_due (formatted text),
    and `sync`: for the sync task of a model, lines on its sync mode and the state of each partition
    (`describe_sync_state`), else `[]`."""
    now = now or timezone.now()
    rows = {row.name: row for row in CronTask.objects.filter(name__in=[job.name for job in jobs])}
    described = []
    for job in jobs:
        row = rows.get(job.name)
        if row is None:
            last_run, status, next_due = "-", "never run", "now"
        else:
            last_run = when(row.last_started, "-")
            status = row.last_status or "never run"
            if row.lease_owner and row.lease_expires and row.lease_expires >= now:
                status = f"{status} ({row.lease_owner})"
            next_due = "now" if row.next_due <= now else when(row.next_due)
        described.append(
            {
                "name": job.name,
                "interval": human_duration(job.interval),
                "last_run": last_run,
                "status": status,
                "next_due": next_due,
                "sync": describe_sync_state(job.model_label) if job.model_label else [],
            }
        )
    return described


def describe_sync_state(label: str) -> list[str]:
    """Lines on the sync of the model `label`: its mode, then per partition its cursor and when it moved
    (incremental models), the last complete full listing, and the checkpoint an unfinished run left (where the
    next run goes on) and when it was saved."""
    try:
        model = registry.get_model(label)
    except ConfigurationError:
        return [f"mode: unknown ({label} is not a registered synced model)"]
    incremental = model.sync_config.incremental is not None
    mode = f"mode: {describe_mode(model)}"
    lines = [mode]
    for state in partition_states(model):
        prefix = f"[{state.partition}] " if state.partition else ""
        parts = []
        if incremental:
            moved = f" (moved {when(state.cursor_updated)})" if state.cursor_updated else ""
            parts.append(f"cursor {state.cursor}{moved}")
        parts.append(f"last full sync {when(state.last_full_sync)}")
        if state.checkpoint_updated is None:
            lines.append(f"{prefix}{'; '.join(parts)}; checkpoint {state.checkpoint}")
        else:  # a long text: a line of its own
            lines.append(prefix + "; ".join(parts))
            lines.append(f"{prefix}checkpoint {state.checkpoint} (saved {when(state.checkpoint_updated)})")
    if len(lines) == 2 and not incremental and model.sync_config.partitions is None:
        return [f"{mode}; {lines[1]}"]  # the common case on one line: "mode: full; last full sync ...; checkpoint -"
    return lines


def format_jobs(jobs: Sequence[CronJob], now: datetime | None = None) -> str:
    """Return the `--list` table as text, in the order the clock runs the tasks; under each sync task, its
    sync mode and state (`describe_sync_state`), indented."""
    rows = describe_jobs(run_order(jobs), now)
    headers = {"name": "TASK", "interval": "EVERY", "last_run": "LAST RUN", "status": "STATUS", "next_due": "NEXT DUE"}
    table = [headers, *rows]
    widths = {key: max(len(str(row[key])) for row in table) for key in headers}
    lines = []
    for row in table:
        lines.append("  ".join(str(row[key]).ljust(widths[key]) for key in headers).rstrip())
        lines.extend(f"    {detail}" for detail in row.get("sync", ()))
    return "\n".join(lines)
