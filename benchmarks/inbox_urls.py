"""URLs of the webhook inbox benchmark: the webhook view only."""

from django.urls import include, path

urlpatterns = [path("webhooks/", include("pyck.core.webhooks.urls"))]
