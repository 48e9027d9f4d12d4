"""The pyck Django app: datasources, the sync engine and the cron clock.

Add `"pyck.core"` to `INSTALLED_APPS`. The public API lives in `pyck.core.datasources`.
"""
