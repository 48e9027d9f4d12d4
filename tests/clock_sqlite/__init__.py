"""Support for the tests that run a real clock process on a SQLite file (`tests/core/test_sqlite_clock.py`).

`settings` points Django at the SQLite file named in `PYCK_SQLITE_FILE` and installs this app, whose `Sample`
model syncs `PYCK_SQLITE_RECORDS` records from memory in batches; `clock_child` runs its sync in a child process,
under the clock (`run_cron_tasks --once`, with a lease heartbeat every `PYCK_CRON_LEASE / 3` seconds) or not.
"""

BATCH = 250
"""Records per batch of `Sample`'s sync."""
