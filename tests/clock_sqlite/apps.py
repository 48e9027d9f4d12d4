"""App config of the SQLite clock test support app."""

from django.apps import AppConfig


class ClockSQLiteConfig(AppConfig):
    """Holds `Sample`, synced by a clock process on a SQLite file."""

    name = "tests.clock_sqlite"
    label = "clock_sqlite"
    default_auto_field = "django.db.models.BigAutoField"
