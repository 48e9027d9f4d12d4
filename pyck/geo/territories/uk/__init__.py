"""United Kingdom datasources.

- `parliament`: current MPs, constituencies and parties (UK Parliament Members API).
- `postcodes`: postcode geocoding (postcodes.io).
- `replay`: a local replay server of recorded responses of both APIs, for
  development and tests without internet access.

Import the modules themselves (`from pyck.geo.territories.uk import parliament`); this package imports
nothing, so importing it is free.
"""
