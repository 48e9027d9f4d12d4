"""Tests of the provided datasources under `pyck.contrib`."""
