"""App config of the webhook inbox test support app."""

from django.apps import AppConfig


class WebhookSupportConfig(AppConfig):
    """Holds ``Team`` and ``Ticket``, written by the webhook inbox in its tests."""

    name = "tests.webhook_support"
    label = "webhook_support"
    default_auto_field = "django.db.models.BigAutoField"
