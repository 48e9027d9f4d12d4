"""The admin's health page (pyck section, "Data health"), and the history of incidents ("Health incidents").

The page shows one row per synced model, per partition and per webhook receiver (`data_health`) with a chart of
its last runs (`run_chart`); staff with the view permission of `DataHealth` see it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from ..models import DataHealth, HealthIncident
from ..overview import human_interval, when
from .chart import COLOURS, legend, run_chart
from .status import data_health, worst

__all__ = ["DataHealthAdmin", "HealthIncidentAdmin"]


@admin.register(DataHealth)
class DataHealthAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The health page in place of a list: nothing to add, change or delete."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Nothing to add: the page is computed."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nothing to change."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nothing to delete."""
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Render the health page (`admin/pyck/health.html`)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        now = timezone.now()
        rows = data_health(now)
        context = {
            **self.admin_site.each_context(request),
            "title": "Data health",
            "opts": self.model._meta,
            "now": when(now),
            "level": worst(row.level for row in rows),
            "colours": COLOURS,
            "legend": legend(),
            "rows": [
                {
                    "health": row,
                    "age": human_interval(row.age, "never"),
                    "stale_after": human_interval(row.stale_after, "no limit"),
                    "last_success": when(row.last_success),
                    "next_due": when(row.next_due, "-"),
                    "chart": run_chart(row.runs),
                }
                for row in rows
            ],
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/pyck/health.html", context)


@admin.register(HealthIncident)
class HealthIncidentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The incidents the alerts opened and closed, read-only."""

    list_display = ("subject", "kind", "opened", "closed", "message")
    list_filter = ("kind", "closed")
    search_fields = ("subject",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Incidents are opened by the alerts only."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Incidents are closed by the alerts only."""
        return False
