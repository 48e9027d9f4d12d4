"""Internals of the sync engine; the public entry points are in :mod:`pyck.core.sync`."""
