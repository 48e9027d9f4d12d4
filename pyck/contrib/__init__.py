"""Datasources for particular services (Airtable, Google Sheets...), shipped with pyck; each is optional."""
