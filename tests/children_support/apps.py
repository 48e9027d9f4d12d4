"""App config of the child-listing test support app."""

from django.apps import AppConfig


class ChildrenSupportConfig(AppConfig):
    """Holds ``Tag`` and ``Tagging``, the child-listing tests' models."""

    name = "tests.children_support"
    label = "children_support"
    default_auto_field = "django.db.models.BigAutoField"
