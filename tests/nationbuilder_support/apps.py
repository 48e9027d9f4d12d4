"""App config of the NationBuilder test support app."""

from django.apps import AppConfig


class NationBuilderSupportConfig(AppConfig):
    """Holds the docs page's `Tag`, `Person`, `Donation` and `Note`."""

    name = "tests.nationbuilder_support"
    label = "nationbuilder_support"
    default_auto_field = "django.db.models.BigAutoField"
