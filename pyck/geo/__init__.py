"""Datasources for geographic and political data, grouped by territory (`pyck.geo.territories`)."""
