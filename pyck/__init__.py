"""pyck: keep external data in local Django models, up to date, with relationships intact.

This module holds only the version; it imports nothing from Django, so it is safe to import from settings.
"""

__version__ = "0.1.0"
