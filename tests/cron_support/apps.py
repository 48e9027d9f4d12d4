"""App config of the cron test support app."""

from django.apps import AppConfig


class CronSupportConfig(AppConfig):
    """Registers the cron tasks the subprocess tests drive (see ``cron.py``)."""

    name = "tests.cron_support"
    label = "cron_support"
    default_auto_field = "django.db.models.BigAutoField"
