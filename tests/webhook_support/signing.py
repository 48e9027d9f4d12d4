"""Sending signed webhook requests in tests: ``sign`` makes the Standard Webhooks headers of a body."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from standardwebhooks import Webhook

# The secret of the test receivers (tests/settings.py HELPDESK_WEBHOOK_SECRET): not secret, for tests only.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def sign(event_id: str, body: bytes, *, at: datetime | None = None, secret: str = SECRET) -> dict[str, str]:
    """The ``webhook-*`` headers of ``body`` sent as event ``event_id`` at ``at`` (default: now)."""
    at = at or datetime.now(timezone.utc)
    signature = Webhook(secret).sign(event_id, at, body)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def payload(*changes: dict[str, Any]) -> bytes:
    """The generic payload of ``changes``, as bytes."""
    return json.dumps({"changes": list(changes)}).encode()


def ticket(id: int, title: str = "", *, version: int | None = None, team: int | None = None, **more: Any) -> dict[str, Any]:
    """A change of ``Ticket`` ``id`` carrying its record (``version`` in both the record and the change)."""
    record = {"id": id, "title": title or f"ticket {id}", "version": version or 0, "team": team}
    change: dict[str, Any] = {"model": "webhook_support.Ticket", "id": id, "record": record, **more}
    if version is not None:
        change["version"] = version
    return change
