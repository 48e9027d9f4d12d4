"""App config of the Action Network test support app."""

from django.apps import AppConfig


class ActionNetworkSupportConfig(AppConfig):
    """Holds the models of the docs page "Action Network", synced from a (local) Action Network API."""

    name = "tests.action_network_support"
    label = "action_network_support"
    default_auto_field = "django.db.models.BigAutoField"
