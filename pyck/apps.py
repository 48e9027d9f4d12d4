"""Why `INSTALLED_APPS = ["pyck"]` fails: the Django app is `pyck.core`.

The package `pyck` is not a Django app (its app, labelled `pyck`, is `pyck.core`), but Django accepts any
importable package in `INSTALLED_APPS`: without this module, `"pyck"` would start silently, with no models and
no `run_cron_tasks` command. Django only imports this module when `"pyck"` itself is installed.
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class NotTheApp(AppConfig):
    """What Django finds for `"pyck"` in `INSTALLED_APPS`: refuses to start, naming the app to install."""

    default = True
    name = "pyck"

    def __init__(self, app_name: str, app_module: Any) -> None:
        raise ImproperlyConfigured(
            'INSTALLED_APPS names "pyck", which is the package, not the Django app: install "pyck.core" instead '
            '(INSTALLED_APPS = [..., "pyck.core"]). Its app label is "pyck".'
        )
