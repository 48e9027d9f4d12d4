"""Tests of `pyck.contrib.airtable`."""
