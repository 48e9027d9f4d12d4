"""Test app of the Action Network tests and the docs page "Action Network"."""
