"""App config of the webhook inbox benchmark app."""

from django.apps import AppConfig


class InboxAppConfig(AppConfig):
    """Holds ``Item``, which the benchmark's webhook events change."""

    name = "benchmarks.inboxapp"
    label = "inboxapp"
    default_auto_field = "django.db.models.BigAutoField"
