"""App config of the partitioned-run test support app."""

from django.apps import AppConfig


class PartitionSupportConfig(AppConfig):
    """Holds ``Item``, synced by real workers in the partitioned-run tests."""

    name = "tests.partition_support"
    label = "partition_support"
    default_auto_field = "django.db.models.BigAutoField"
