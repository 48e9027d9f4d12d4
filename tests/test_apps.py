"""`INSTALLED_APPS`: `"pyck.core"` is the app; `"pyck"` (an easy mistake) fails at start-up saying so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_START = """
import django
from django.conf import settings

settings.configure(INSTALLED_APPS={apps!r}, DATABASES={{}})
django.setup()
from django.apps import apps
print(sorted(config.name for config in apps.get_app_configs()))
"""


def _start(*apps: str) -> subprocess.CompletedProcess[str]:
    """Run `django.setup()` in a fresh interpreter with `INSTALLED_APPS = apps` and nothing else."""
    code = _START.format(apps=list(apps))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_installing_pyck_instead_of_pyck_core_fails_at_start_up_naming_the_app() -> None:
    started = _start("django.contrib.contenttypes", "pyck")
    assert started.returncode != 0, started.stdout
    assert "django.core.exceptions.ImproperlyConfigured" in started.stderr
    assert '"pyck.core"' in started.stderr.strip().splitlines()[-1]


def test_installing_pyck_core_starts() -> None:
    started = _start("django.contrib.contenttypes", "pyck.core")
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["['django.contrib.contenttypes',", "'pyck.core']"]
