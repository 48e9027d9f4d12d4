"""The webhook URLs: mount them with `path("webhooks/", include("pyck.core.webhooks.urls"))`; each receiver then
answers at `webhooks/<its name>/`."""

from __future__ import annotations

from django.urls import path

from .views import receive_webhook

__all__ = ["app_name", "urlpatterns"]

app_name = "pyck_webhooks"

urlpatterns = [path("<str:source>/", receive_webhook, name="receive")]
