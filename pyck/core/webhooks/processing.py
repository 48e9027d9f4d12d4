"""Processing the webhook inbox: claim a batch of due events, read their changes, apply them model by model
through `apply_records` (one call per model and batch), and mark each event applied, or failed with the reason
and the time of its next attempt.

`process_inbox` is one batch; `drain_inbox` batches until no event is due. The `run_cron_tasks` clock calls
`process_inbox` between its ticks; a Django Task calls `drain_inbox` (`pyck.core.webhooks.tasks`).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from ..conf import pyck_settings
from ..models.synced import SyncedModel
from ..models.webhooks import WebhookEvent
from ..redaction import redact_secrets
from ..sync import apply_records, sync_order
from .claims import claim_events, new_claim_token, save_claimed
from .mapping import ModelWrite, Pending, plan_write
from .receivers import Change, WebhookReceiver
from .registry import get_receiver

__all__ = ["BatchOutcome", "drain_inbox", "process_inbox", "retry_delay"]

logger = logging.getLogger("pyck.webhooks")

# The longest error message kept on an event.
_MAX_ERROR_CHARS = 4000


@dataclass
class BatchOutcome:
    """What `process_inbox` did with one batch: how many events it claimed, applied and failed, and how many
    changes were stale (skipped: older than what the row already reflects)."""

    claimed: int = 0
    applied: int = 0
    failed: int = 0
    stale: int = 0
    failures: dict[int, str] = field(default_factory=dict)


def retry_delay(attempts: int) -> timedelta:
    """The wait before the next attempt of an event that failed `attempts` times: `WEBHOOK_RETRY_DELAY`,
    doubled for each further attempt, at most `WEBHOOK_MAX_RETRY_DELAY`."""
    base = float(pyck_settings.WEBHOOK_RETRY_DELAY)
    longest = float(pyck_settings.WEBHOOK_MAX_RETRY_DELAY)
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), longest))


def process_inbox(*, limit: int | None = None, now: Callable[[], datetime] = timezone.now) -> BatchOutcome:
    """Claim up to `limit` due events (default `WEBHOOK_BATCH_SIZE`), apply them, and record each one's fate.

    Each model's changes are applied together, in the engine's dependency order (a model after the models it
    references), with one `apply_records` call. An event fails, and is retried later, when reading it fails
    (no receiver, a payload its receiver cannot parse), when one of its records cannot be fetched or written,
    or when the write of its model fails as a whole; the other events of the batch are applied all the same.

    Returns:
        What the batch did (`claimed` is 0 when no event was due).
    """
    token = new_claim_token()
    events = claim_events(token, limit=int(limit or pyck_settings.WEBHOOK_BATCH_SIZE), now=now())
    outcome = BatchOutcome(claimed=len(events))
    if not events:
        return outcome
    failures: dict[int, str] = {}
    parsed: dict[int, tuple[WebhookReceiver, Any, Sequence[Change]]] = {}
    described: dict[int, tuple[set[str], list[str]]] = {}
    by_model: dict[type[SyncedModel], list[Pending]] = defaultdict(list)
    for event in events:
        try:
            for item in _read(event, parsed):
                by_model[item.change.model].append(item)  # type: ignore[index]
                labels, ids = described.setdefault(event.pk, (set(), []))
                labels.add(item.change.model._meta.label)  # type: ignore[union-attr]
                ids.append(str(item.change.external_id))
        except Exception as error:
            failures[event.pk] = f"{event.source} event {event.event_id}: cannot read it ({error})"
    writes = []
    for model in sync_order(list(by_model)):
        write = plan_write(model, by_model[model])
        _apply(write)
        failures.update({pk: reason for pk, reason in write.failures.items() if pk not in failures})
        writes.append(write)
    outcome.failures = failures
    _release(token, events, writes, described, failures, outcome, now())
    _committed(events, parsed)
    logger.info(
        "Webhook inbox: %d event(s) applied, %d failed, %d stale change(s) skipped.",
        outcome.applied,
        outcome.failed,
        outcome.stale,
    )
    return outcome


def drain_inbox(*, now: Callable[[], datetime] = timezone.now) -> int:
    """Process batch after batch until no event is due; return how many events were claimed in all."""
    total = 0
    while True:
        batch = process_inbox(now=now)
        total += batch.claimed
        if not batch.claimed:
            return total


def _read(event: WebhookEvent, parsed: dict[int, tuple[WebhookReceiver, Any, Sequence[Change]]]) -> list[Pending]:
    """The changes of `event`, with their models resolved, as its receiver parses them (noted in `parsed`)."""
    receiver = get_receiver(event.source)
    if receiver is None:
        raise LookupError(f"no webhook receiver is registered as {event.source!r}")
    payload = json.loads(bytes(event.body))
    changes = receiver.parse(payload, event.headers)
    parsed[event.pk] = (receiver, payload, changes)
    pending = []
    for change in changes:
        model = receiver.resolve_model(change.model)
        if model is not change.model:
            change = replace(change, model=model)
        pending.append(Pending(event=event.pk, change=change, fetch=receiver.fetch))
    return pending


def _apply(write: ModelWrite) -> None:
    """Write `write`'s records and deletions with `apply_records`; fail the events of the records it could not
    write (all of them when the write failed as a whole)."""
    if not write.records and not write.deleted:
        return
    model = write.model
    datasource = model.sync_config.datasource
    try:
        result = apply_records(model, write.records, deleted=write.deleted)
    except Exception as error:
        message = redact_secrets(f"{model._meta.label} ({datasource}): writing the batch failed: {error!r}", datasource)
        for events in write.events.values():
            for event in events:
                write.failures.setdefault(event, message)
        return
    for raw_id in result.stale_ids:
        event = write.latest.get(write.key(raw_id))
        if event is not None:
            write.stale[event] += 1
    for error in result.errors:
        if error.record_id is None:
            for key in list(write.events):
                write.fail(key, error.message)
            continue
        try:
            key = write.key(error.record_id)
        except Exception:
            key = error.record_id
        write.fail(key, error.message)


def _release(
    token: str,
    events: list[WebhookEvent],
    writes: list[ModelWrite],
    described: dict[int, tuple[set[str], list[str]]],
    failures: dict[int, str],
    outcome: BatchOutcome,
    now: datetime,
) -> None:
    """Mark the claimed events applied or failed (those whose claim this worker still holds), and release them."""
    stale: dict[int, int] = defaultdict(int)
    kept: dict[int, int] = defaultdict(int)
    for write in writes:
        for pk, count in write.stale.items():
            stale[pk] += count
        for pk, count in write.kept.items():
            kept[pk] += count
    held = set(WebhookEvent.objects.filter(claimed_by=token).values_list("pk", flat=True))
    lost = [event.event_id for event in events if event.pk not in held]
    if lost:
        logger.warning(
            "Webhook inbox: the claim on %d event(s) ran out before they were applied (another worker took them "
            "over): %s. Raise WEBHOOK_CLAIM_DURATION above the time a batch takes.",
            len(lost),
            ", ".join(lost[:20]),
        )
    changed = []
    for event in events:
        if event.pk not in held:
            continue
        labels, ids = described.get(event.pk, (set(), []))
        event.model = ", ".join(sorted(labels))[:500]
        event.record_ids = ", ".join(ids)[:500]
        event.stale = stale.get(event.pk, 0)
        event.claimed_by = ""
        event.claim_expires = None
        if event.pk in failures:
            event.status = WebhookEvent.Status.FAILED
            event.error = failures[event.pk][:_MAX_ERROR_CHARS]
            event.next_attempt = now + retry_delay(event.attempts)
            gives_up = event.attempts >= int(pyck_settings.WEBHOOK_MAX_ATTEMPTS)
            event.outcome = "failed; gave up (reprocess it from the admin)" if gives_up else (
                f"failed; attempt {event.attempts + 1} at {timezone.localtime(event.next_attempt):%Y-%m-%d %H:%M:%S %Z}"
            )
            outcome.failed += 1
            logger.warning("Webhook %s event %s failed (attempt %d): %s", event.source, event.event_id, event.attempts, event.error)
        else:
            event.status = WebhookEvent.Status.APPLIED
            event.applied = now
            event.error = ""
            event.outcome = _describe(len(ids), event.stale, kept.get(event.pk, 0))
            outcome.applied += 1
        outcome.stale += event.stale
        changed.append(event)
    save_claimed(
        token,
        changed,
        ["model", "record_ids", "stale", "claimed_by", "claim_expires", "status", "error", "next_attempt", "outcome", "applied"],
    )


def _committed(events: list[WebhookEvent], parsed: dict[int, tuple[WebhookReceiver, Any, Sequence[Change]]]) -> None:
    """Tell the receivers of the events this batch applied that their changes are written (`committed`)."""
    for event in events:
        if event.status != WebhookEvent.Status.APPLIED or event.pk not in parsed or event.claimed_by:
            continue
        receiver, payload, changes = parsed[event.pk]
        try:
            receiver.committed(payload, event.headers, changes)
        except Exception:
            logger.exception("Webhook %s event %s: applied, but its receiver's committed() failed.", event.source, event.event_id)


def _describe(changes: int, stale: int, kept: int) -> str:
    parts = [f"{max(changes - stale - kept, 0)} change(s) applied"]
    if stale:
        parts.append(f"{stale} stale (a newer version was written)")
    if kept:
        parts.append(f"{kept} deletion(s) kept (OnDelete.KEEP)")
    return "; ".join(parts)
