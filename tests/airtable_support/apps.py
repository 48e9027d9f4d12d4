"""App config of the Airtable test support app."""

from django.apps import AppConfig


class AirtableSupportConfig(AppConfig):
    """Holds `Team` and `Member`, synced from the "Teams" and "Members" tables of one Airtable base."""

    name = "tests.airtable_support"
    label = "airtable_support"
    default_auto_field = "django.db.models.BigAutoField"
