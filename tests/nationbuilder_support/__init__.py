"""The models of the docs page "NationBuilder", synced by the tests of `pyck.contrib.nationbuilder`."""
