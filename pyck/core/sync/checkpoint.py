"""Where one run stands, and the checkpoints it leaves: `RunState` (its mode, where it resumes, its cursor's
high-water mark), read from and written to the model's `SyncState` row.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..exceptions import DatasourceError, RateLimitError
from ..models.state import SyncState
from ..models.synced import SyncedModel
from ..options import Incremental
from . import cursor as states
from .context import SeenRows
from .locks import load_state
from .results import SyncResult, warn
from .statements import RowUpdate
from .upsert import Outcome

__all__ = ["CHECKPOINT_INTERVAL", "RunState", "position_refused"]

logger = logging.getLogger("pyck.sync")

# Seconds between two checkpoints of a run whose batches write nothing (an unchanged re-sync).
CHECKPOINT_INTERVAL = 10.0

# Answers that refuse the account, not the position (credentials, a proxy's, a rate limit): they neither drop a
# checkpoint nor count against it.
_REFUSALS = frozenset({401, 403, 407, 429})

# 4xx answers that are no verdict on the position either (the server gave up waiting): a failure like a 5xx.
_TRANSIENT = frozenset({408})


def position_refused(error: BaseException) -> bool | None:
    """What an error raised before a resumed listing yielded its first record says about the checkpoint's
    position: `True` when the API refused the position itself (a 4xx answer other than 401, 403, 407, 408 and
    429: an expired or unknown page token, a page past the end), `None` when it refused the account (401, 403,
    407, 429, a rate limit), `False` otherwise (a 5xx, a timeout, an unreadable page, any other exception)."""
    if isinstance(error, RateLimitError):
        return None
    status = getattr(error, "status_code", None) if isinstance(error, DatasourceError) else None
    if not isinstance(status, int) or isinstance(status, bool):
        return False
    if status in _REFUSALS:
        return None
    return 400 <= status < 500 and status not in _TRANSIENT


class RunState:
    """The state of one run of one model (partition): its mode, where it resumes, its cursor's high-water mark.

    Loads the `SyncState` row at the start; `checkpoint` and `finisher`
    give the callbacks that update it inside each batch's transaction.
    """

    def __init__(
        self,
        model: type[SyncedModel],
        partition: str,
        filter_: dict[str, Any],
        requested: str,
        incremental: Incremental | None,
        result: SyncResult,
    ) -> None:
        self.model = model
        self.label = model._meta.label
        self.result = result
        self.incremental = incremental
        self.datasource = model.sync_config.datasource
        state, pushed = load_state(model, partition)
        # Whether pushes write a model this run writes: its batches then take the write lock.
        self.pushed = pushed
        self.state_pk = state.pk
        # Whether a listing run of this partition is recorded as running, and when the last checkpoint was
        # written: see history.close_dead_runs.
        self.unfinished: bool = state.unfinished
        self.checkpoint_updated: datetime | None = state.checkpoint_updated
        self.cursor = states.decode_value(state.cursor)
        self.filter_text = states.canonical(filter_)
        self.mode = self._pick_mode(requested, state)
        self.resume: dict[str, Any] | None = None
        # When the checkpoint this run goes on from was written.
        self.resumed_from: datetime | None = None
        if state.checkpoint:
            why_not = self._why_not_resume(state.checkpoint, requested)
            if why_not is None:
                self.resume = state.checkpoint
                self.resumed_from = state.checkpoint_updated
                self.mode = state.checkpoint["mode"]
            else:
                when = f"{state.checkpoint_updated:%Y-%m-%d %H:%M:%S}" if state.checkpoint_updated else "an unknown time"
                note = (
                    f"The previous run of {state} stopped part way through (last checkpoint at {when}); "
                    f"this run starts over: {why_not}"
                )
                logger.warning("%s", note)
                result.notes.append(note)
                if state.checkpoint.get("unresumable"):
                    warn(result, ("restarted", self.label, None), 1, detail=why_not)
        resume = self.resume or {}
        self.since: Any = states.decode_value(resume["since"]) if self.resume else (
            incremental.since(self.cursor) if self.mode == "incremental" and incremental is not None else None
        )
        self.listing_started: datetime = (
            datetime.fromisoformat(resume["started"]) if self.resume else result.started  # type: ignore[assignment]
        )
        self.high: Any = states.decode_value(resume.get("high"))
        self.failed_before: int = resume.get("failed", 0)
        self.start: Any = resume.get("position")
        # True once resuming failed at the checkpoint's own page and the checkpoint was marked (resume_failed).
        self.abandoned = False
        self.position: Any = None
        # True when this run resumed one that died with rows it had found unchanged unrecorded.
        self.unconfirmed = False
        # Where the rows this run finds unchanged are noted (``None``: stamped), and how many were there before.
        self.seen: SeenRows | None = None
        self._seen_before = 0
        self._lost_before: str | None = None
        self._checkpointed = time.monotonic()
        self._write_checkpoint = RowUpdate(SyncState, self.state_pk, ("checkpoint", "checkpoint_updated"))

    def track(self, seen: SeenRows | None) -> None:
        """Note that the rows this full listing finds unchanged go into `seen` (`None`: they are stamped);
        mark `seen` incomplete if the run this one resumes died with some of them unrecorded."""
        self.seen, self._seen_before = seen, len(seen.pks) if seen is not None else 0
        self._lost_before = seen.lost if seen is not None else None
        # A checkpoint without "confirmed" was written by a pyck that stamped every row it found unchanged.
        if seen is not None and self.resume is not None and not self.resume.get("confirmed", True):
            self.unconfirmed = True
            seen.lost = (
                "this run went on from an interrupted run that died before recording which rows it had found "
                "unchanged, so rows missing from the listing cannot be told apart from those; the next complete "
                "full listing deletes them"
            )

    def resume_failed(self, error: BaseException) -> bool:
        """Decide what becomes of the checkpoint when the listing resumed from it failed before yielding its
        first record (at the checkpoint's own page); return `True` when the run should read the listing again,
        from the start.

        - The API refused the position (see `position_refused`: an expired page token, Airtable's 422
          `LIST_RECORDS_ITERATOR_NOT_AVAILABLE`): the checkpoint is dropped and the listing starts over in this
          run, which says so (a `"restarted"` warning).
        - It refused the account (401, 403, 407, 429): the checkpoint stays as it was; the next run tries it
          again once the account is let in.
        - Anything else (a 5xx, a timeout, an unreadable page): the checkpoint is marked as having failed a run;
          the run fails, and the next run starts over instead of failing on it again. A checkpoint never fails
          more than one run.
        """
        verdict = position_refused(error)
        if verdict is None or self.resume is None:
            return False
        reason = _short(error)
        if not verdict:
            SyncState.objects.filter(pk=self.state_pk).update(checkpoint={**self.resume, "unresumable": reason})
            self.abandoned = True
            return False
        when = f"{self.resumed_from:%Y-%m-%d %H:%M:%S}" if self.resumed_from else "an unknown time"
        detail = f"the API refused the position of the checkpoint of {when}: {reason}"
        logger.warning(
            "%s: the listing could not go on from the previous run's checkpoint, so it starts over from the "
            "beginning: %s", self.label, detail,
        )
        SyncState.objects.filter(pk=self.state_pk).update(checkpoint=None, checkpoint_updated=timezone.now())
        self.resume = self.resumed_from = self.start = None
        self.since = self.incremental.since(self.cursor) if self.mode == "incremental" and self.incremental else None
        self.listing_started = self.result.started  # type: ignore[assignment]
        self.high, self.failed_before = None, 0
        if self.unconfirmed and self.seen is not None:
            self.seen.lost = self._lost_before  # a listing from the start sees every row itself
        self.unconfirmed = False
        self.result.resumed = False
        self.result.listing_started = self.listing_started
        warn(self.result, ("restarted", self.label, None), 1, detail=detail)
        return True

    def _pick_mode(self, requested: str, state: Any) -> str:
        if requested != "auto":
            return requested
        if self.incremental is None or self.cursor is None:
            return "full"
        interval = self.incremental.reconcile_interval
        if interval is not None and (state.last_full_sync is None or state.last_full_sync + interval <= timezone.now()):
            return "full"
        return "incremental"

    def _why_not_resume(self, checkpoint: dict[str, Any], requested: str) -> str | None:
        if checkpoint.get("unresumable"):
            # A checkpoint fails one run at most (see resume_failed).
            return f"the previous run could not go on from this checkpoint either: {checkpoint['unresumable']}"
        # A child listing resumes at its parent whatever the datasource (inside it, only if the datasource can).
        child = self.model.sync_config.for_each is not None
        if not child and not _resumable(self.datasource, checkpoint["mode"], self.incremental):
            return f"the listing of {self.datasource} cannot start part way through (see RestDatasource.resumable)"
        if checkpoint.get("filter") != self.filter_text:
            return "the listing's filter is not the same"
        if requested != "auto" and checkpoint["mode"] != requested:
            return f"a {requested} run was asked for, and the interrupted run was {checkpoint['mode']}"
        return None

    def query(self, filter_: dict[str, Any]) -> dict[str, Any]:
        """The `list()` arguments: the filter, plus the cursor for an incremental run with a `param`."""
        if self.mode == "incremental" and self.incremental is not None and self.incremental.param:
            return {**filter_, self.incremental.param: self.incremental.format_value(self.since)}
        return filter_

    def see(self, resource: Any) -> None:
        """Raise the high-water mark to `resource`'s cursor value."""
        if self.incremental is not None:
            value = states.read_cursor(resource, self.incremental.field)
            self.high = states.later(self.high, value, field=self.incremental.field)

    def _checkpoint_data(self, failed: int) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "filter": self.filter_text,
            "since": states.encode_value(self.since),
            "started": self.listing_started.isoformat(),
            "position": self.position,
            "high": states.encode_value(self.high),
            "failed": failed,
            # Whether every row the listing found unchanged so far is stamped (see keep_confirmations).
            "confirmed": not self.unconfirmed and (self.seen is None or len(self.seen.pks) == self._seen_before),
        }

    def checkpoint(self, outcome: Outcome, failed_so_far: int) -> None:
        """Record where the listing has got to; called inside the transaction of the batch just written.

        A batch that wrote nothing records nothing either, unless `CHECKPOINT_INTERVAL` seconds passed since
        the last checkpoint: an unchanged re-sync then writes almost nothing, and a run that dies re-reads at
        most that much of the listing (reading again is harmless, the upsert makes it so).
        """
        if self.position is None:
            return  # a listing that cannot resume: nothing worth recording
        if not outcome.wrote and time.monotonic() - self._checkpointed < CHECKPOINT_INTERVAL:
            return
        self._save_checkpoint(self._checkpoint_data(self.failed_before + failed_so_far + len(outcome.failures)))

    def _save_checkpoint(self, data: dict[str, Any]) -> None:
        self._write_checkpoint(data, timezone.now())
        self._checkpointed = time.monotonic()

    def keep_confirmations(self, seen: SeenRows, failed_so_far: int) -> None:
        """Stamp the rows found unchanged before a listing failed, with a checkpoint saying so: the run that
        resumes this one can then still tell the rows the whole listing included, and delete the others."""
        pks = [uuid.UUID(int=pk) for pk in seen.pks]
        manager = self.model._base_manager
        with transaction.atomic():
            now = timezone.now()
            for start in range(0, len(pks), 500):
                manager.filter(pk__in=pks[start : start + 500]).update(last_sync_time=now)
            self._save_checkpoint({**self._checkpoint_data(self.failed_before + failed_so_far), "confirmed": not self.unconfirmed})

    def finisher(self, *, complete: bool) -> Callable[[Outcome, int], None]:
        """The callback ending the run in the last batch's transaction: clear the checkpoint, advance the cursor
        (only after a complete listing in which no record failed), note a complete full listing."""
        def finish(outcome: Outcome, failed_so_far: int) -> None:
            now = timezone.now()
            changes: dict[str, Any] = {"checkpoint": None, "checkpoint_updated": now}
            clean = complete and not (self.failed_before or failed_so_far or outcome.failures)
            if clean and self.incremental is not None and self.high is not None:
                new = self.high if self.cursor is None else states.later(self.cursor, self.high, field=self.incremental.field)
                changes.update(cursor=states.encode_value(new), cursor_updated=now)
                self.cursor = new
            if complete and self.mode == "full" and not self.unconfirmed:
                changes["last_full_sync"] = now
            SyncState.objects.filter(pk=self.state_pk).update(**changes)

        return finish


def _short(error: BaseException, limit: int = 300) -> str:
    text = str(error) if isinstance(error, DatasourceError) else f"{type(error).__name__}: {error}"
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _resumable(datasource: Any, mode: str, incremental: Incremental | None) -> bool:
    if mode == "incremental" and incremental is not None and incremental.param is None:
        return False  # list_changed() is the datasource's own: no positions
    return bool(datasource.resumable)

