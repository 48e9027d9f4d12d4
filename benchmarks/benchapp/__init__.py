"""The benchmark's models: a Region <- Party <- Member chain, once as SyncedModels and once as plain models."""
