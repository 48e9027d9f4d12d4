"""App config of the Google Sheets test support app."""

from django.apps import AppConfig


class SheetsSupportConfig(AppConfig):
    """Holds ``Volunteer``, synced from a (local) Google Sheet by the Google Sheets tests and the docs page."""

    name = "tests.sheets_support"
    label = "sheets_support"
    default_auto_field = "django.db.models.BigAutoField"
