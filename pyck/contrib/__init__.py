"""Provided datasources for services many organisations keep their data in (Airtable, Google Sheets...).

Each sub-package is a plain package, not a Django app: import its datasource and give it to a `SyncConfig`; it
needs no entry in `INSTALLED_APPS`.
"""
