"""Django app configuration for pyck."""

from django.apps import AppConfig


class PyckConfig(AppConfig):
    """The ``pyck.core`` app. Its label is ``pyck`` (tables are named ``pyck_*``)."""

    name = "pyck.core"
    label = "pyck"
    verbose_name = "pyck"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
