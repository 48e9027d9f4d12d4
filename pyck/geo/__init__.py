"""Datasources for geographic and political data, grouped by territory (:mod:`pyck.geo.territories`)."""
