"""Provided datasources for services many organisations keep their data in (Airtable, Google Sheets...).

Each is optional: import its datasource and give it to a `SyncConfig`. Its docs page says what it needs
installed (an extra such as `django-pyck[google]`) and whether it needs an entry in `INSTALLED_APPS`.
"""
