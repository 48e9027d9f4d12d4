"""Datasources for one territory each: :mod:`pyck.geo.territories.uk`."""
