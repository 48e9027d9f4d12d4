"""Support for the tests of many-to-many fields through a model of their own, and of list indexes in `field_map`
paths (`tests/core/test_sync_through.py`, `tests/core/test_sync_list_paths.py`).

Action Network-like records: a person carries its ids only in `identifiers`, its emails as a list of objects,
and its tags, each link with a weight (the embedded tag's) and the record's source.
"""
