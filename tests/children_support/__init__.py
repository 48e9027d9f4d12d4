"""Test support for child listings (`SyncConfig(for_each=...)`): Action Network-like tags and their taggings."""
