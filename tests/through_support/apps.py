"""App config of the through-model test support app."""

from django.apps import AppConfig


class ThroughSupportConfig(AppConfig):
    """Holds `Tag`, `Person` (tags through `Tagging`) and `Contact` (tags through Django's own table)."""

    name = "tests.through_support"
    label = "through_support"
    default_auto_field = "django.db.models.BigAutoField"
