"""The admin's Events list of the webhook inbox: each event's status, source, models and record ids, when it was
received and applied, its lag and its error; "reprocess" and "discard" actions; filters by status, source and
stale changes. Registered by `pyck.core.admin`.

Events are read-only: only the actions change them. A body is shown as received (it carries data, never a
secret: signatures are not stored).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from ..models.webhooks import WebhookEvent

__all__ = ["StaleFilter", "WebhookEventAdmin"]


class StaleFilter(admin.SimpleListFilter):
    """Events with changes skipped because the row already reflected a newer version, or without."""

    title = "stale changes"
    parameter_name = "stale"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        """Yes or no."""
        return [("yes", "some skipped"), ("no", "none")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> QuerySet[WebhookEvent]:
        """The events with (`yes`) or without (`no`) stale changes."""
        if self.value() == "yes":
            return queryset.filter(stale__gt=0)
        if self.value() == "no":
            return queryset.filter(stale=0)
        return queryset


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The webhook inbox's events, newest first."""

    list_display = [
        "event_id",
        "source",
        "status",
        "model",
        "record_ids",
        "received",
        "applied",
        "lag_text",
        "attempts",
        "stale",
        "error_text",
    ]
    list_filter = ["status", "source", StaleFilter]
    search_fields = ["event_id", "record_ids"]
    date_hierarchy = "received"
    actions = ["reprocess", "discard"]
    fields = [
        "source",
        "event_id",
        "status",
        "model",
        "record_ids",
        "received",
        "applied",
        "lag_text",
        "attempts",
        "next_attempt",
        "claimed_by",
        "claim_expires",
        "stale",
        "outcome",
        "error",
        "headers",
        "body_text",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Events come from webhook requests only."""
        return False

    @admin.display(description="lag", ordering="applied")
    def lag_text(self, obj: WebhookEvent) -> str:
        """Seconds from receiving the event to applying it."""
        lag = obj.lag
        return "" if lag is None else f"{lag:.2f}s"

    @admin.display(description="error")
    def error_text(self, obj: WebhookEvent) -> str:
        """The start of the last error."""
        return obj.error if len(obj.error) <= 120 else obj.error[:119] + "…"

    @admin.display(description="body")
    def body_text(self, obj: WebhookEvent) -> str:
        """The body as received, as text."""
        return bytes(obj.body).decode("utf-8", errors="replace")

    @admin.action(description="Reprocess the selected events", permissions=["change"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        """Make the selected events due now, with all their attempts again (applied ones are applied again)."""
        count = queryset.update(
            status=WebhookEvent.Status.PENDING,
            attempts=0,
            next_attempt=timezone.now(),
            claimed_by="",
            claim_expires=None,
            error="",
        )
        self.message_user(request, f"{count} event(s) will be processed again.", messages.SUCCESS)

    @admin.action(description="Discard the selected events", permissions=["change"])
    def discard(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        """Never process the selected events (those not applied yet); they stay listed."""
        count = queryset.exclude(status=WebhookEvent.Status.APPLIED).update(
            status=WebhookEvent.Status.DISCARDED, claimed_by="", claim_expires=None
        )
        self.message_user(request, f"{count} event(s) discarded.", messages.SUCCESS)
