"""Datasources for one territory each: `pyck.geo.territories.uk`."""
