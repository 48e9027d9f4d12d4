"""Operations: the health of the synced data, the alerts sent about it, and its metrics.

- `status`: per synced model, partition and webhook receiver, the data's age, its recent runs and its level
  (`data_health`).
"""
