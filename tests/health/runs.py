"""Helpers of the health tests: `SyncRun` rows made the way the engine writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyck.core.models import SyncRun

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
"""The moment the tests measure health at."""


def add_run(model: str, started: datetime, status: str = "succeeded", *, partition: str = "", mode: str = "full",
            seconds: float = 2.0, created: int = 0, updated: int = 0, deleted: int = 0, failed: int = 0) -> SyncRun:
    """Record one finished run of `model` started at `started`."""
    return SyncRun.objects.create(
        model=model, partition=partition, started=started, finished=started + timedelta(seconds=seconds),
        status=status, mode=mode, duration=seconds, created=created, updated=updated, deleted=deleted, failed=failed,
    )
