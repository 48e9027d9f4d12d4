"""App config of the Stripe test support app."""

from django.apps import AppConfig


class StripeSupportConfig(AppConfig):
    """Holds the models of the docs page "Stripe", synced from the local Stripe server by the Stripe tests."""

    name = "tests.stripe_support"
    label = "stripe_support"
    default_auto_field = "django.db.models.BigAutoField"
