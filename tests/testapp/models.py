"""Small synced models the engine tests sync into."""
