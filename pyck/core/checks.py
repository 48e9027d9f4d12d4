"""Django system checks for pyck (``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from .conf import DEFAULTS


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn about keys in the ``PYCK`` setting that pyck does not know (usually a typo)."""
    user = getattr(settings, "PYCK", None)
    if user is None:
        return []
    if not isinstance(user, dict):
        return [checks.Error("The PYCK setting must be a dict.", hint="PYCK = {'HTTP_TIMEOUT': 10}", id="pyck.E001")]
    unknown = sorted(set(user) - set(DEFAULTS))
    return [
        checks.Warning(
            f"Unknown key {key!r} in the PYCK setting; it is ignored.",
            hint=f"The known keys are: {', '.join(sorted(DEFAULTS))}.",
            id="pyck.W001",
        )
        for key in unknown
    ]
