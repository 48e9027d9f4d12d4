"""App config of the tombstone test support app."""

from django.apps import AppConfig


class TombstoneSupportConfig(AppConfig):
    """Holds ``Customer`` and the models referencing it, synced from a Stripe-like API in the tombstone tests."""

    name = "tests.tombstone_support"
    label = "tombstone_support"
    default_auto_field = "django.db.models.BigAutoField"
