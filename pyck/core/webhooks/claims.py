"""Claiming events of the inbox: a worker takes a batch of due events for itself, for a while, so that no other
worker processes them meanwhile; and releasing them once they are applied or failed.

On PostgreSQL the due events are read with `SELECT ... FOR UPDATE SKIP LOCKED`: workers claiming at the same
time each get other events, without waiting for one another. Every database also re-checks, in the `UPDATE`
that claims them, that they are still due and unclaimed (SQLite has no `FOR UPDATE`; its writers take turns).
A claim lasts `WEBHOOK_CLAIM_DURATION`; a worker that died leaves its events to be claimed again after that.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from django.db import connections, router, transaction
from django.db.models import F, Q

from ..conf import pyck_settings
from ..models.webhooks import WebhookEvent

__all__ = ["claim_events", "claimable", "new_claim_token", "save_claimed"]


def new_claim_token() -> str:
    """A claim's owner id: this host and process, and a random part unique to the claim."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def claimable(now: datetime) -> Q:
    """The events a worker may claim at `now`: pending, or failed with attempts left, due, and not claimed by
    a worker whose claim still runs."""
    return (
        Q(status__in=[WebhookEvent.Status.PENDING, WebhookEvent.Status.FAILED])
        & Q(attempts__lt=int(pyck_settings.WEBHOOK_MAX_ATTEMPTS))
        & Q(next_attempt__lte=now)
        & (Q(claim_expires__isnull=True) | Q(claim_expires__lt=now))
    )


def claim_events(token: str, *, limit: int, now: datetime) -> list[WebhookEvent]:
    """Claim up to `limit` due events, oldest first, for the worker `token` names; return them.

    Each claimed event's `attempts` grows by one and its claim runs out `WEBHOOK_CLAIM_DURATION` seconds after
    `now`.

    Args:
        token: the claim's owner id (`new_claim_token`), stored in `claimed_by`.
        limit: the most events to claim.
        now: the current time.

    Returns:
        The claimed events, in the order they were received.
    """
    due = claimable(now)
    expires = now + timedelta(seconds=float(pyck_settings.WEBHOOK_CLAIM_DURATION))
    with transaction.atomic():
        ids = list(
            WebhookEvent.objects.filter(due)
            .order_by("received", "id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        WebhookEvent.objects.filter(due, id__in=ids).update(
            claimed_by=token, claim_expires=expires, attempts=F("attempts") + 1
        )
    return list(WebhookEvent.objects.filter(claimed_by=token, claim_expires=expires).order_by("received", "id"))


def save_claimed(token: str, events: list[WebhookEvent], fields: list[str]) -> int:
    """Write `fields` of `events` (each its own values), for the events the claim `token` still holds; return how
    many rows were written.

    One `UPDATE ... WHERE id = %s AND claimed_by = %s` statement, executed for every event in one batch
    (`executemany`): `bulk_update`'s `CASE WHEN` per field and row costs seconds for a batch of hundreds.
    """
    if not events:
        return 0
    alias = router.db_for_write(WebhookEvent)
    connection = connections[alias]
    meta = WebhookEvent._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {assignments} "
        f"WHERE {quote(meta.pk.column)} = %s AND {quote(meta.get_field('claimed_by').column)} = %s"
    )
    rows = [
        [column.get_db_prep_save(getattr(event, column.attname), connection) for column in columns] + [event.pk, token]
        for event in events
    ]
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        return max(cursor.rowcount, 0)
