"""Tests of `pyck.contrib.google_sheets`."""
